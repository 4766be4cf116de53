package send

import (
	"context"
	"fmt"
	"math"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/cectl/cectl/internal/ce"
	"github.com/cloudevents/sdk-go/v2/event"
)

// stampOf returns the instant --pace replays an event at: the receive time listen --record
// kept (ce.ReceivedExtension), which it takes out of the event, as it describes the recording
// and not the event; else the event's time attribute (spec v1.0.2 OPTIONAL Attributes,
// time); else zero.
func stampOf(e *event.Event) time.Time {
	if t, ok := ce.TakeReceived(e); ok {
		return t
	}
	return e.Time()
}

// ParsePace parses --pace: "original" keeps the recorded gaps, "10x" makes them ten times
// shorter, "0.5x" twice as long. It returns the speed factor.
func ParsePace(s string) (float64, error) {
	if strings.EqualFold(s, "original") {
		return 1, nil
	}
	num, ok := strings.CutSuffix(strings.ToLower(s), "x")
	if ok {
		f, err := strconv.ParseFloat(num, 64)
		if err == nil && f > 0 && !math.IsInf(f, 0) {
			return f, nil
		}
	}
	return 0, fmt.Errorf("%q: want original or a speed such as 10x or 0.5x", s)
}

// Pacer holds each event of a file back until its place in the recording comes: an event
// stamped d after the first stamped one is due d/Speed after that one was sent. Due times are
// reckoned from the start, not from the event before, so that the time each send takes and
// the lateness of timers do not add up over a long file.
type Pacer struct {
	Speed float64
	// Warn is told, once, of the first event without a usable time; such events go at once.
	Warn func(line int)
	// Spin is how long before an event is due the wait stops sleeping and watches the clock
	// instead (at most a quarter of the wait): a timer wakes a goroutine late, by a few
	// hundred microseconds on a busy machine, and the clock is exact. 0: timers alone.
	Spin time.Duration

	origin, start time.Time
	warned        bool
	timer         *time.Timer
}

// Wait returns when the event is due, or when ctx is done.
func (p *Pacer) Wait(ctx context.Context, it Item) {
	if it.At.IsZero() {
		if !p.warned && p.Warn != nil {
			p.warned = true
			p.Warn(it.Line)
		}
		return
	}
	if p.start.IsZero() {
		p.start, p.origin = time.Now(), it.At
		return
	}
	offset := float64(it.At.Sub(p.origin)) / p.Speed
	if offset <= 0 {
		return // stamped before the first event: the file is out of order, so no gap to keep
	}
	due := p.start.Add(time.Duration(min(offset, math.MaxInt64/2)))
	wait := time.Until(due) // the monotonic clock: a change of the wall clock does not move it
	if wait <= 0 {
		return
	}
	spin := min(p.Spin, wait/4)
	if sleep := wait - spin; sleep > 0 {
		if p.timer == nil {
			p.timer = time.NewTimer(sleep)
		} else {
			p.timer.Reset(sleep)
		}
		select {
		case <-p.timer.C:
		case <-ctx.Done():
			p.timer.Stop()
			return
		}
	}
	// The last stretch: the goroutine is running when the event is due, whatever the
	// timer's lateness, as long as it stayed within spin. It yields while it watches, and
	// costs at most a quarter of the time between events.
	for spin > 0 && time.Until(due) > 0 && ctx.Err() == nil {
		runtime.Gosched()
	}
}
