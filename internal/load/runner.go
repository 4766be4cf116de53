package load

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cectl/cectl/internal/client"
)

// Clock is the time source of a run; tests use a fake one.
type Clock interface {
	Now() time.Time
	// SleepUntil waits until t or until ctx ends.
	SleepUntil(ctx context.Context, t time.Time) error
}

// RealClock is the wall clock.
type RealClock struct{}

// Now returns the current time.
func (RealClock) Now() time.Time { return time.Now() }

// SleepUntil waits until t.
func (RealClock) SleepUntil(ctx context.Context, t time.Time) error {
	d := time.Until(t)
	if d <= 0 {
		return ctx.Err()
	}
	tm := time.NewTimer(d)
	defer tm.Stop()
	select {
	case <-tm.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Pacer spaces requests evenly at a rate across all workers: request i (from 0) is due at
// start + i/rate, so bursts never build up and a late request does not delay the schedule.
type Pacer struct {
	Start time.Time
	Rate  float64 // requests per second; 0 means as fast as possible
}

// Due returns when request i may go.
func (p Pacer) Due(i int64) time.Time {
	if p.Rate <= 0 {
		return p.Start
	}
	return p.Start.Add(time.Duration(float64(i) / p.Rate * float64(time.Second)))
}

// Config describes a run.
type Config struct {
	// Count is how many requests to make after the warmup; 0 means until Duration ends.
	Count int64
	// Duration bounds the measured phase; 0 means until Count is reached.
	Duration time.Duration
	// Concurrency is how many requests are in flight at once (at least 1).
	Concurrency int
	// Rate is requests per second across all workers; 0 is as fast as possible.
	Rate float64
	// Warmup requests go first and are not counted.
	Warmup int64
	// MaxFailures, when above 0, stops the run after that many events in a row were not
	// acknowledged.
	MaxFailures int64
	// Deadline, when not zero, ends the run, requests in flight included.
	Deadline time.Time
	Clock    Clock
}

// SendFunc makes request seq (1-based, counting from the first measured request; warmup
// requests get 0 and below) and returns how many events it carried and what came of it. rnd
// belongs to the calling worker alone.
type SendFunc func(ctx context.Context, seq int64, rnd *rand.Rand) (events int, res client.Result)

// Progress is a snapshot for a progress display.
type Progress struct {
	Requests, Events, Failed int64
	Elapsed                  time.Duration
}

// Report is the outcome of a run.
type Report struct {
	Requests    int64
	Events      int64
	ACK         int64 // events acknowledged
	NACK        int64
	Undelivered int64
	// NoResponse counts the events whose request went out and got no response: maybe
	// delivered.
	NoResponse int64
	// Published counts the events sent where the transport has no acknowledgement (core
	// NATS): successes, but not among ACK.
	Published   int64
	StatusCodes map[int]int64
	Elapsed     time.Duration
	Latency     Histogram
	Errors      []ErrorCount
	Interrupted bool
	Warmup      int64
	// Stop says why the run stopped before its end when it was not interrupted: too many
	// failures in a row, the deadline.
	Stop string
	// Unsent lists the requests (by seq) of a Count-bound run that were never sent;
	// UnsentFrom is the first seq no worker took (every seq from it to Count was not sent).
	Unsent     []int64
	UnsentFrom int64
}

// UnsentRequests counts the requests of a run of count that were never sent.
func (r *Report) UnsentRequests(count int64) int64 {
	if count <= 0 {
		return 0
	}
	return int64(len(r.Unsent)) + max(0, count-r.UnsentFrom+1)
}

// EventsPerSecond is the throughput of the measured phase.
func (r *Report) EventsPerSecond() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Events) / r.Elapsed.Seconds()
}

type workerStats struct {
	rnd    *rand.Rand
	hist   Histogram
	codes  map[int]int64
	errs   errorSet
	ack    int64
	pub    int64
	nack   int64
	undel  int64
	noresp int64
	events int64
	reqs   int64
}

// Run makes the requests of cfg with send and returns the report. When ctx ends no new
// request starts, and the ones in flight finish (they run under a context that only their
// own timeout ends). progress, if not nil, is called from the workers; it must be cheap.
func Run(ctx context.Context, cfg Config, send SendFunc, progress func(Progress)) *Report {
	if cfg.Concurrency < 1 {
		cfg.Concurrency = 1
	}
	if cfg.Clock == nil {
		cfg.Clock = RealClock{}
	}
	sendCtx := context.WithoutCancel(ctx)
	runCtx, stopRun := context.WithCancelCause(ctx)
	defer stopRun(nil)
	if !cfg.Deadline.IsZero() {
		// The deadline ends what is in flight too; nothing else does.
		var cancelSend, cancelRun context.CancelFunc
		sendCtx, cancelSend = context.WithDeadline(sendCtx, cfg.Deadline)
		defer cancelSend()
		var rc context.Context
		rc, cancelRun = context.WithDeadline(runCtx, cfg.Deadline)
		defer cancelRun()
		runCtx = rc
	}
	if cfg.Warmup > 0 {
		var next atomic.Int64
		runWorkers(cfg.Concurrency, func(w *workerStats) {
			for runCtx.Err() == nil {
				i := next.Add(1)
				if i > cfg.Warmup {
					return
				}
				send(sendCtx, i-cfg.Warmup, w.rnd)
			}
		}, nil)
	}

	start := cfg.Clock.Now()
	pacer := Pacer{Start: start, Rate: cfg.Rate}
	var deadline time.Time
	if cfg.Duration > 0 {
		deadline = start.Add(cfg.Duration)
	}
	// Duration is measured on cfg.Clock, not by a context deadline, so a fake clock in
	// tests governs it too.
	var next, doneReqs, doneEvents, failed, inARow atomic.Int64
	var skippedMu sync.Mutex
	var skipped []int64
	skip := func(i int64) {
		skippedMu.Lock()
		skipped = append(skipped, i)
		skippedMu.Unlock()
	}
	var stopWhy atomic.Pointer[string]
	stats := runWorkers(cfg.Concurrency, func(w *workerStats) {
		// sendCtx and runCtx carry the deadline on two timers: a request ended by its
		// deadline must not be followed by another one before runCtx's timer fires.
		for runCtx.Err() == nil && sendCtx.Err() == nil {
			i := next.Add(1)
			if cfg.Count > 0 && i > cfg.Count {
				return
			}
			if cfg.Rate > 0 {
				// Unpaced runs do not ask the clock: it was read several times per request.
				due := pacer.Due(i - 1)
				if !deadline.IsZero() && !due.Before(deadline) {
					skip(i)
					return
				}
				if err := cfg.Clock.SleepUntil(runCtx, due); err != nil {
					skip(i)
					return
				}
			}
			if (!deadline.IsZero() && !cfg.Clock.Now().Before(deadline)) || runCtx.Err() != nil || sendCtx.Err() != nil {
				skip(i)
				return
			}
			t0 := cfg.Clock.Now()
			n, res := send(sendCtx, i, w.rnd)
			w.hist.Record(cfg.Clock.Now().Sub(t0))
			w.reqs++
			w.events += int64(n)
			if res.ACK {
				inARow.Store(0)
			} else if cfg.MaxFailures > 0 && inARow.Add(int64(n)) >= cfg.MaxFailures {
				why := fmt.Sprintf("stopped after %d events in a row not acknowledged", inARow.Load())
				if stopWhy.CompareAndSwap(nil, &why) {
					stopRun(errStopped)
				}
			}
			switch {
			case res.Unacknowledged:
				w.pub += int64(n)
			case res.ACK:
				w.ack += int64(n)
			case res.Delivered:
				w.nack += int64(n)
				failed.Add(int64(n))
			case res.Written > 0:
				w.noresp += int64(n)
				failed.Add(int64(n))
			default:
				w.undel += int64(n)
				failed.Add(int64(n))
			}
			if res.Delivered && res.Status != 0 {
				// Brokers answer without an HTTP status.
				w.codes[res.Status]++
			}
			if res.Err != nil {
				w.errs.add(res.Err.Error())
			} else if res.Delivered && !res.ACK {
				w.errs.add(statusLine(res))
			}
			doneReqs.Add(1)
			doneEvents.Add(int64(n))
			if progress != nil {
				progress(Progress{Requests: doneReqs.Load(), Events: doneEvents.Load(), Failed: failed.Load(), Elapsed: cfg.Clock.Now().Sub(start)})
			}
		}
	}, func() *workerStats { return &workerStats{codes: map[int]int64{}, errs: errorSet{limit: 5}} })

	r := &Report{StatusCodes: map[int]int64{}, Warmup: cfg.Warmup}
	r.Elapsed = cfg.Clock.Now().Sub(start)
	errs := errorSet{limit: 5}
	for _, w := range stats {
		r.Latency.Merge(&w.hist)
		r.Requests += w.reqs
		r.Events += w.events
		r.ACK += w.ack
		r.Published += w.pub
		r.NACK += w.nack
		r.Undelivered += w.undel
		r.NoResponse += w.noresp
		for c, n := range w.codes {
			r.StatusCodes[c] += n
		}
		errs.merge(&w.errs)
	}
	r.Errors = errs.list()
	r.Interrupted = ctx.Err() != nil
	if why := stopWhy.Load(); why != nil && !r.Interrupted {
		r.Stop = *why
	} else if !r.Interrupted && (errors.Is(runCtx.Err(), context.DeadlineExceeded) || errors.Is(sendCtx.Err(), context.DeadlineExceeded)) {
		r.Stop = "stopped at the deadline"
	}
	if cfg.Count > 0 {
		slices.Sort(skipped)
		r.Unsent = skipped
		r.UnsentFrom = min(next.Load(), cfg.Count) + 1
	}
	return r
}

var errStopped = errors.New("stop condition met")

func statusLine(res client.Result) string {
	if res.Response != nil && res.Response.Status != "" {
		return res.Response.Status
	}
	return "status " + strconv.Itoa(res.Status)
}

// runWorkers runs n workers and returns their stats.
func runWorkers(n int, work func(*workerStats), newStats func() *workerStats) []*workerStats {
	stats := make([]*workerStats, n)
	var wg sync.WaitGroup
	for i := range stats {
		if newStats != nil {
			stats[i] = newStats()
		} else {
			stats[i] = &workerStats{codes: map[int]int64{}, errs: errorSet{limit: 5}}
		}
		stats[i].rnd = rand.New(rand.NewPCG(rand.Uint64(), uint64(i)))
		wg.Add(1)
		go func(w *workerStats) {
			defer wg.Done()
			work(w)
		}(stats[i])
	}
	wg.Wait()
	return stats
}
