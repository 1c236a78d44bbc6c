package main

import (
	"fmt"
	"io"
	"os"

	"github.com/mattn/go-isatty"
	"github.com/schollz/progressbar/v3"

	"github.com/lothub/lothub/runner"
)

// progress shows a sync's progress: a spinner bar counting records on a
// terminal, one plain line per batch otherwise (cron mail, CI logs). The
// total is unknown: a source does not say how much is left.
type progress struct {
	w   io.Writer
	bar *progressbar.ProgressBar
}

func newProgress(w io.Writer, connector string) *progress {
	p := &progress{w: w}
	if f, ok := w.(*os.File); ok && isatty.IsTerminal(f.Fd()) {
		p.bar = progressbar.NewOptions64(-1,
			progressbar.OptionSetWriter(w),
			progressbar.OptionSetDescription("sync "+connector),
			progressbar.OptionSetItsString("records"),
			progressbar.OptionShowIts(),
			progressbar.OptionShowCount(),
			progressbar.OptionSpinnerType(14),
			progressbar.OptionClearOnFinish(),
		)
	}
	return p
}

func (p *progress) update(pr runner.Progress) {
	if p.bar != nil {
		p.bar.Set64(int64(pr.Run.Records))
		return
	}
	rate := 0.0
	if s := pr.Elapsed.Seconds(); s > 0 {
		rate = float64(pr.Run.Records) / s
	}
	fmt.Fprintf(p.w, "sync %s run %d: batch %d, %d records, %d events, %d quarantined (%.0f records/s)\n",
		pr.Run.Connector, pr.Run.ID, pr.Run.Batches, pr.Run.Records, pr.Run.Events, pr.Run.Quarant, rate)
}

func (p *progress) done() {
	if p.bar != nil {
		p.bar.Finish()
	}
}
