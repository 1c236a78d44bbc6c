package runner

import (
	"context"
	"sync"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/lothub/lothub/config"
	"github.com/lothub/lothub/core"
)

// Scheduler runs the connectors' syncs on their cron schedules. A
// schedule never starts a sync of a connector while one is running (the
// tick is skipped and logged), whether that sync came from the schedule or
// from an operator, in this process or another.
//
// On a store shared by several hub processes (core.Claimer), one process
// at a time runs the schedules: the one holding the store's "scheduler"
// claim. The others try to take it every Poll, so when the scheduling
// process dies (even by kill -9) another takes over within Poll of the
// store freeing its claim; the new scheduler at once resumes every
// scheduled connector whose last run was left running by a dead process,
// and keeps looking for such runs every Poll.
type Scheduler struct {
	Runner *Runner
	// OnRun, when not nil, is called after each scheduled or resumed run.
	OnRun func(core.Run, error)
	// Poll is how often a process that does not run the schedules tries
	// to, and how often the one that does looks for syncs a dead process
	// left unfinished: DefaultPoll when zero.
	Poll time.Duration

	loc     *time.Location
	stop    chan struct{}
	done    chan struct{}
	syncs   sync.WaitGroup
	started bool
}

// DefaultPoll is the scheduler's Poll when unset.
const DefaultPoll = 2 * time.Second

// Start checks every schedule, then schedules every connector that has
// one and starts the clock — at once, or, on a shared store, once this
// process holds the scheduler claim. It returns how many connectors have
// a schedule. Syncs run with ctx; Stop ends them.
func (s *Scheduler) Start(ctx context.Context) (int, error) {
	s.loc = time.UTC
	if tz := s.Runner.Config.Timezone; tz != "" {
		l, err := time.LoadLocation(tz)
		if err != nil {
			return 0, core.Errorf(core.EINVALID, "time zone %q: %v", tz, err)
		}
		s.loc = l
	}
	c, n, err := s.newCron(ctx)
	if err != nil {
		return 0, err
	}
	s.stop, s.done, s.started = make(chan struct{}), make(chan struct{}), true
	cl, shared := s.Runner.Store.(core.Claimer)
	if !shared || n == 0 {
		for _, cc := range s.Runner.Config.Connectors {
			if cc.Schedule != "" {
				s.Runner.log().Info("scheduled", "connector", cc.Name, "schedule", cc.Schedule)
			}
		}
		c.Start()
		go func() {
			defer close(s.done)
			<-s.stop
			<-c.Stop().Done()
		}()
		return n, nil
	}
	go s.lead(ctx, cl, c)
	return n, nil
}

// newCron makes the clock with every connector's schedule.
func (s *Scheduler) newCron(ctx context.Context) (*cron.Cron, int, error) {
	c := cron.New(cron.WithParser(config.CronParser), cron.WithLocation(s.loc))
	n := 0
	for _, cc := range s.Runner.Config.Connectors {
		if cc.Schedule == "" {
			continue
		}
		name := cc.Name
		if _, err := c.AddFunc(cc.Schedule, func() { s.run(ctx, name, "schedule") }); err != nil {
			return nil, 0, core.Errorf(core.EINVALID, "schedule of %s %q: %v", name, cc.Schedule, err)
		}
		n++
	}
	return c, n, nil
}

func (s *Scheduler) run(ctx context.Context, name, trigger string) {
	run, err := s.Runner.Sync(ctx, name, trigger)
	if core.ErrorCode(err) == core.ECONFLICT && run.ID == 0 {
		if trigger == "resume" {
			return // another process resumed it first
		}
		s.Runner.log().Warn("scheduled sync skipped: the previous one is still running", "connector", name, "err", err)
	}
	if s.OnRun != nil {
		s.OnRun(run, err)
	}
}

func (s *Scheduler) poll() time.Duration {
	if s.Poll > 0 {
		return s.Poll
	}
	return DefaultPoll
}

// lead waits for the scheduler claim, runs the clock while it holds it,
// and waits again if it is lost, until Stop.
func (s *Scheduler) lead(ctx context.Context, cl core.Claimer, c *cron.Cron) {
	defer close(s.done)
	log := s.Runner.log()
	t := time.NewTicker(s.poll())
	defer t.Stop()
	waiting := ""
	for {
		claim, err := cl.Claim(ctx, "scheduler")
		switch {
		case err == nil:
			log.Info("this hub runs the schedules", "holder", claim.Holder())
			for _, cc := range s.Runner.Config.Connectors {
				if cc.Schedule != "" {
					log.Info("scheduled", "connector", cc.Name, "schedule", cc.Schedule)
				}
			}
			c.Start()
			s.resume(ctx)
			lost := false
			for !lost {
				select {
				case <-s.stop:
					<-c.Stop().Done()
					s.syncs.Wait()
					claim.Release()
					return
				case <-claim.Lost():
					lost = true
				case <-t.C:
					s.resume(ctx)
				}
			}
			log.Warn("this hub lost the scheduler claim (its database session ended): stopping its schedules; another hub takes them over")
			<-c.Stop().Done()
			claim.Release()
			// A stopped cron.Cron starts again with its entries.
			waiting = ""
		case core.ErrorCode(err) == core.ECONFLICT:
			if msg := err.Error(); msg != waiting {
				log.Info("another hub runs the schedules: this one takes over if it stops", "detail", msg)
				waiting = msg
			}
		default:
			log.Warn("cannot take the scheduler claim; trying again", "err", err)
		}
		select {
		case <-s.stop:
			s.syncs.Wait()
			return
		case <-t.C:
		}
	}
}

// resume starts, in the background, the sync of each scheduled connector
// whose last run is still marked running while no process holds its
// claim: a hub died during it. The run is closed as interrupted and a new
// one goes on from the last committed batch (Runner.Sync).
func (s *Scheduler) resume(ctx context.Context) {
	for _, cc := range s.Runner.Config.Connectors {
		if cc.Schedule == "" {
			continue
		}
		runs, err := s.Runner.Store.Runs(ctx, core.RunFilter{Connector: cc.Name, Limit: 1})
		if err != nil {
			s.Runner.log().Warn("cannot read the last run", "connector", cc.Name, "err", err)
			continue
		}
		if len(runs) == 0 || runs[0].Status != core.RunRunning || s.Runner.Syncing(cc.Name) {
			continue
		}
		name, id := cc.Name, runs[0].ID
		s.syncs.Add(1)
		go func() {
			defer s.syncs.Done()
			s.Runner.log().Debug("trying to resume a sync left running", "connector", name, "run", id)
			s.run(ctx, name, "resume")
		}()
	}
}

// Stop stops the clock and waits for running syncs to end (cancel their
// context to make them end sooner), and gives up the scheduler claim.
func (s *Scheduler) Stop() {
	if !s.started {
		return
	}
	s.started = false
	close(s.stop)
	<-s.done
}
