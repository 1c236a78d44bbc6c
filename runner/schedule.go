package runner

import (
	"context"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/lothub/lothub/config"
	"github.com/lothub/lothub/core"
)

// Scheduler runs the connectors' syncs on their cron schedules. A
// schedule never starts a sync of a connector while one is running (the
// tick is skipped and logged), whether that sync came from the schedule or
// from an operator.
type Scheduler struct {
	Runner *Runner
	// OnRun, when not nil, is called after each scheduled run.
	OnRun func(core.Run, error)

	cron *cron.Cron
}

// Start schedules every connector that has a schedule and starts the
// clock. Syncs run with ctx; Stop ends them.
func (s *Scheduler) Start(ctx context.Context) (int, error) {
	loc := time.UTC
	if tz := s.Runner.Config.Timezone; tz != "" {
		l, err := time.LoadLocation(tz)
		if err != nil {
			return 0, core.Errorf(core.EINVALID, "time zone %q: %v", tz, err)
		}
		loc = l
	}
	s.cron = cron.New(cron.WithParser(config.CronParser), cron.WithLocation(loc))
	n := 0
	for _, cc := range s.Runner.Config.Connectors {
		if cc.Schedule == "" {
			continue
		}
		name := cc.Name
		_, err := s.cron.AddFunc(cc.Schedule, func() {
			run, err := s.Runner.Sync(ctx, name, "schedule")
			if core.ErrorCode(err) == core.ECONFLICT {
				s.Runner.log().Warn("scheduled sync skipped: the previous one is still running", "connector", name)
			}
			if s.OnRun != nil {
				s.OnRun(run, err)
			}
		})
		if err != nil {
			return 0, core.Errorf(core.EINVALID, "schedule of %s %q: %v", name, cc.Schedule, err)
		}
		s.Runner.log().Info("scheduled", "connector", name, "schedule", cc.Schedule)
		n++
	}
	s.cron.Start()
	return n, nil
}

// Stop stops the clock and waits for running syncs to end (cancel their
// context to make them end sooner).
func (s *Scheduler) Stop() {
	if s.cron != nil {
		<-s.cron.Stop().Done()
	}
}
