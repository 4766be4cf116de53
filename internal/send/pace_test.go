package send

import (
	"context"
	"slices"
	"testing"
	"testing/synctest"
	"time"

	"github.com/cectl/cectl/internal/ce"
	"github.com/cloudevents/sdk-go/v2/event"
)

func TestParsePace(t *testing.T) {
	for in, want := range map[string]float64{"original": 1, "Original": 1, "10x": 10, "0.5x": 0.5, "1X": 1} {
		if got, err := ParsePace(in); err != nil || got != want {
			t.Errorf("ParsePace(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "10", "x", "0x", "-2x", "fast", "infx", "NaNx"} {
		if _, err := ParsePace(in); err == nil {
			t.Errorf("ParsePace(%q) accepted", in)
		}
	}
}

// An event is never sent before its place in the recording, and the time each send takes
// does not add up: due times are reckoned from the start, not from the event before. The
// test runs on synctest's fake clock, so a busy machine cannot make it pass or fail.
func TestPacerKeepsGapsFromTheStart(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		const gap, work, n = 30 * time.Millisecond, 20 * time.Millisecond, 10
		p := &Pacer{Speed: 1}
		start := time.Now()
		for i := range n {
			p.Wait(context.Background(), Item{At: base.Add(time.Duration(i) * gap)})
			if got, want := time.Since(start), time.Duration(i)*gap; got != want {
				t.Fatalf("event %d went at %s, want %s", i, got, want)
			}
			time.Sleep(work) // the send
		}
		// Waiting a whole gap after each send would take n×(gap+work) = 500ms.
		if got, want := time.Since(start), time.Duration(n-1)*gap+work; got != want {
			t.Errorf("took %s, want %s: the time of the sends added up", got, want)
		}
	})
}

func TestPacerSpeedAndEventsWithoutTime(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		var warned []int
		p := &Pacer{Speed: 10, Warn: func(line int) { warned = append(warned, line) }}
		start := time.Now()
		p.Wait(context.Background(), Item{At: base, Line: 1})
		p.Wait(context.Background(), Item{Line: 2}) // no time: at once
		p.Wait(context.Background(), Item{Line: 3})
		if d := time.Since(start); d != 0 {
			t.Errorf("events without a time waited %s", d)
		}
		p.Wait(context.Background(), Item{At: base.Add(2 * time.Second), Line: 4})
		if d := time.Since(start); d != 200*time.Millisecond {
			t.Errorf("2s at 10x took %s, want 200ms", d)
		}
		if len(warned) != 1 || warned[0] != 2 {
			t.Errorf("warnings for lines %v, want one for line 2", warned)
		}
		// Out of order: stamped before the first event, it goes at once.
		before := time.Now()
		p.Wait(context.Background(), Item{At: base.Add(-time.Hour)})
		if d := time.Since(before); d != 0 {
			t.Errorf("an event stamped before the first waited %s", d)
		}
	})
}

func TestPacerStopsWaitingOnCancel(t *testing.T) {
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	p := &Pacer{Speed: 1}
	p.Wait(context.Background(), Item{At: base})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	p.Wait(ctx, Item{At: base.Add(time.Hour)})
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("waited %s after the context ended", d)
	}
}

// The receive time listen --record keeps wins over the time attribute and is not sent on.
func TestStampOf(t *testing.T) {
	e := event.New()
	e.SetID("1")
	e.SetSource("/s")
	e.SetType("t")
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	e.SetTime(at)
	if got := stampOf(&e); !got.Equal(at) {
		t.Errorf("from time: %v", got)
	}
	e.SetExtension(ce.ReceivedExtension, "2026-01-02T00:00:00.5Z")
	if got := stampOf(&e); !got.Equal(at.Add(24*time.Hour + 500*time.Millisecond)) {
		t.Errorf("from the receive time: %v", got)
	}
	if _, has := e.Extensions()[ce.ReceivedExtension]; has {
		t.Error("the receive time stays in the event that is sent")
	}
	n := event.New()
	if got := stampOf(&n); !got.IsZero() {
		t.Errorf("no time: %v", got)
	}
}

// With Spin, an event goes when it is due, not when a timer happens to wake the goroutine:
// it is never early, and typically within microseconds (a timer alone is a few hundred
// microseconds late on a busy machine, rarely under 50). On the real clock: spinning cannot
// be shown on synctest's, which stands still while a goroutine runs.
func TestPacerSpinsToTheDueTime(t *testing.T) {
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	const gap, n = 8 * time.Millisecond, 21
	p := &Pacer{Speed: 1, Spin: time.Millisecond}
	p.Wait(context.Background(), Item{At: base})
	start := time.Now()
	late := make([]time.Duration, 0, n-1)
	for i := 1; i < n; i++ {
		p.Wait(context.Background(), Item{At: base.Add(time.Duration(i) * gap)})
		d := time.Since(start) - time.Duration(i)*gap
		if d < 0 {
			t.Fatalf("event %d went %s early", i, -d)
		}
		late = append(late, d)
	}
	slices.Sort(late)
	if m := late[len(late)/2]; m > 50*time.Microsecond {
		t.Errorf("median lateness %s, want under 50µs (all: %v)", m, late)
	}
}
