package cmd

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"sync/atomic"
	"time"

	"github.com/cectl/cectl/internal/binding"
	"github.com/cectl/cectl/internal/client"
	"github.com/cectl/cectl/internal/format"
	"github.com/cectl/cectl/internal/load"
	"github.com/cectl/cectl/internal/send"
	"github.com/spf13/pflag"
)

// loadFlags turn send into a load generator.
type loadFlags struct {
	Count       int64
	Duration    time.Duration
	Concurrency int
	Rate        float64
	Warmup      int64
	MetricsAddr string
}

func (lf *loadFlags) register(fs *pflag.FlagSet) {
	wholeVar(fs, &lf.Count, "count", 0, 0, math.MaxInt64, "want a whole number of events, such as 1000", "send `N` events and report throughput and latency")
	durationVar(fs, &lf.Duration, "duration", "keep sending for this long, then report")
	wholeVar(fs, &lf.Concurrency, "concurrency", 1, 1, 10000, "want a whole number of requests in flight from 1 to 10000", "requests in flight at once, over kept-alive connections")
	rateVar(fs, &lf.Rate, "rate", "want a number of requests per second, such as 100 or 0.5 (0: as fast as possible)", "requests per second across all workers, evenly paced (0: as fast as possible)")
	wholeVar(fs, &lf.Warmup, "warmup", 0, 0, math.MaxInt64, "want a whole number of requests, 0 or more", "send `N` requests first that the report does not count")
	registerSendMetricsFlag(fs, lf)
}

// active reports whether any load flag was given: then send reports a run instead of
// printing a line per event.
func (lf *loadFlags) active(fs *pflag.FlagSet) bool {
	for _, name := range []string{"count", "duration", "concurrency", "rate", "warmup", "metrics-addr"} {
		if fs.Changed(name) {
			return true
		}
	}
	return false
}

func (lf *loadFlags) check() error {
	switch {
	case lf.Count < 0:
		return flagErrorf("--count must not be negative")
	case lf.Duration < 0:
		return flagErrorf("--duration must not be negative")
	case lf.Concurrency < 1:
		return flagErrorf("--concurrency must be at least 1")
	case lf.Concurrency > 10000:
		return flagErrorf("--concurrency %d is more than 10000", lf.Concurrency)
	case lf.Rate < 0:
		return flagErrorf("--rate must not be negative")
	case lf.Warmup < 0:
		return flagErrorf("--warmup must not be negative")
	}
	return nil
}

// sendLoad sends events at volume and reports the run instead of a line per event.
func sendLoad(ctx context.Context, opts *SendOptions, t client.Target, mode binding.Mode) error {
	f := opts.F
	lf := &opts.Load
	if !opts.Flags.Changed("count") && lf.Duration == 0 {
		if opts.From == "" {
			return flagErrorf("give --count or --duration to say how many events to send")
		}
	}
	if opts.DryRun {
		return flagErrorf("--dry-run does not go with --count, --duration, --concurrency, --rate or --warmup")
	}
	defer tuneProcess(f.Getenv, processTuning{throughput: true})()
	perRequest := int64(1)
	if mode == binding.Batch {
		perRequest = int64(max(opts.BatchSize, 1))
	}
	src, err := eventSource(ctx, opts)
	if err != nil {
		return err
	}
	total := lf.Count
	if total == 0 && lf.Duration == 0 {
		total = int64(len(src.File)) // --from without a count: each event of the file once
	}
	run, err := send.NewLoad(ctx, t, mode, src, perRequest, total, send.FreshOf(&opts.Event.Spec))
	if err != nil {
		return err
	}
	if run.DeadLetter, err = opts.Stop.open(); err != nil {
		return err
	}
	cfg := load.Config{Count: (total + perRequest - 1) / perRequest, Duration: lf.Duration, Concurrency: lf.Concurrency, Rate: lf.Rate, Warmup: lf.Warmup,
		MaxFailures: int64(opts.Stop.MaxFailures)}
	if opts.Stop.Deadline > 0 {
		cfg.Deadline = time.Now().Add(opts.Stop.Deadline)
	}
	var progress func(load.Progress)
	stopBar := func() {}
	if f.IO.ErrTTY {
		progress, stopBar = progressBar(f, total, lf.Duration)
	}
	sendFn, stopMetrics, err := lf.serveMetrics(f, run.Send)
	if err != nil {
		return err
	}
	defer stopMetrics()
	report := load.Run(ctx, cfg, sendFn, progress)
	stopBar()

	info := format.LoadInfo{To: shownURL(t.URL()), Mode: mode.String(), Concurrency: lf.Concurrency, Rate: lf.Rate}
	if w, ok := t.(interface{ WireBytes() (int64, int64) }); ok {
		info.Wire, info.Gzip = true, opts.Delivery.Gzip
		info.WireSent, info.WireReceived = w.WireBytes()
	}
	info.Unsent = min(report.UnsentRequests(cfg.Count)*perRequest, max(total-report.Events, 0))
	if run.DeadLetter != nil {
		// What was never sent goes to the dead-letter file too, so that sending it
		// completes the run.
		_, kerr := run.KeepUnsent(report, cfg.Count)
		info.DeadLetters, info.DeadLetterFile = int64(run.DeadLetter.Count()), run.DeadLetter.Name
		if cerr := run.DeadLetter.Close(); kerr == nil {
			kerr = cerr
		}
		if kerr != nil {
			return kerr
		}
	}
	if f.JSON() {
		err = format.LoadJSON(f.IO.Out, report, info)
	} else {
		err = format.LoadText(f.IO.Out, f.Styles(), report, info)
	}
	if err != nil {
		return err
	}
	if report.Interrupted {
		return context.Cause(ctx)
	}
	return summaryError(format.Summary{Sent: int(report.Events), NACK: int(report.NACK), Undelivered: int(report.Undelivered), NoResponse: int(report.NoResponse),
		Unsent: int(info.Unsent), Stop: report.Stop})
}

// eventSource makes the events of a load run: from the flags, or the events of a --from file.
func eventSource(ctx context.Context, opts *SendOptions) (*send.Source, error) {
	f := opts.F
	if opts.From == "" {
		tpl, err := send.ParseTemplates(&opts.Event.Spec, f.IO.In)
		if err != nil {
			return nil, err
		}
		// The first event is built and checked before anything is sent, so that a mistake
		// in the flags is a usage error, not a run full of failures.
		first, err := tpl.Build(&load.Env{Seq: 1, Now: time.Now(), Rand: rand.New(rand.NewPCG(1, 1))})
		if err != nil {
			return nil, err
		}
		if err := checkFlagEvent(f, first); err != nil {
			return nil, err
		}
		return &send.Source{Templates: tpl, First: first}, nil
	}
	// A file is read whole, since a run may cycle through it; invalid events are reported
	// and left out.
	r, closeFile, err := fileReader(ctx, f, opts)
	if err != nil {
		return nil, err
	}
	defer closeFile()
	events, err := send.ReadAll(r)
	if errors.Is(err, send.ErrInvalid) {
		return nil, &SilentError{Code: ExitFailure}
	}
	if err != nil {
		return nil, err
	}
	return &send.Source{File: events}, nil
}

// progressBar draws a progress line on stderr, refreshed a few times a second.
func progressBar(f *Factory, total int64, limit time.Duration) (func(load.Progress), func()) {
	var last atomic.Pointer[load.Progress]
	st := f.ErrStyles()
	start := time.Now()
	done := make(chan struct{})
	stopped := make(chan struct{})
	draw := func() {
		p := last.Load()
		if p == nil {
			p = &load.Progress{}
		}
		fmt.Fprintf(f.IO.ErrOut, "\r%s\x1b[K", format.ProgressLine(st, p.Events, total, p.Failed, time.Since(start), limit))
	}
	go func() {
		defer close(stopped)
		tick := time.NewTicker(200 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-tick.C:
				draw()
			case <-done:
				fmt.Fprint(f.IO.ErrOut, "\r\x1b[K")
				return
			}
		}
	}()
	return func(p load.Progress) { last.Store(&p) }, func() { close(done); <-stopped }
}
