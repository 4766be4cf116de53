package listen

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cectl/cectl/internal/ce"
	"github.com/cectl/cectl/internal/testutil"
)

// gateWriter blocks every write until the gate opens, and counts the writes.
type gateWriter struct {
	gate   chan struct{}
	writes atomic.Int32
	buf    testutil.Buffer
}

func (g *gateWriter) Write(p []byte) (int, error) {
	<-g.gate
	g.writes.Add(1)
	return g.buf.Write(p)
}

// TestOutputCommitReturnsAfterItsWrite: Commit returns only once its bytes are written, and
// the lines given while a write is in progress share the next write (group commit).
func TestOutputCommitReturnsAfterItsWrite(t *testing.T) {
	w := &gateWriter{gate: make(chan struct{})}
	o := NewOutput(w, OutputOptions{Wait: 10 * time.Second})
	defer o.Close()
	const n = 200
	var returned atomic.Int32
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			line := fmt.Sprintf("%03d %s\n", i, strings.Repeat("y", 50))
			if err := o.Commit([]byte(line)); err != nil {
				t.Error(err)
				return
			}
			if !strings.Contains(w.buf.String(), line) {
				t.Errorf("Commit returned before %q was written", line)
			}
			returned.Add(1)
		})
	}
	time.Sleep(100 * time.Millisecond)
	if r := returned.Load(); r != 0 {
		t.Fatalf("%d commits returned while the writer had written nothing", r)
	}
	close(w.gate)
	wg.Wait()
	lines := strings.Split(strings.TrimSuffix(w.buf.String(), "\n"), "\n")
	if len(lines) != n {
		t.Fatalf("%d lines", len(lines))
	}
	for _, l := range lines {
		if len(l) != 54 {
			t.Fatalf("torn line %q", l)
		}
	}
	// One write was blocked when the others came; they all went out in very few writes.
	if wr := w.writes.Load(); wr > 3 {
		t.Errorf("%d writes for %d lines given during one blocked write", wr, n)
	}
}

// TestOutputBlockedIsBounded: a writer that takes nothing holds a Commit no longer than the
// wait bound, queues no more than MaxPending, and Close ends every wait.
func TestOutputBlockedIsBounded(t *testing.T) {
	w := &gateWriter{gate: make(chan struct{})}
	defer close(w.gate)
	o := NewOutput(w, OutputOptions{Wait: 100 * time.Millisecond, MaxPending: 1000})
	defer o.Close()
	start := time.Now()
	if err := o.Commit([]byte("first\n")); !errors.Is(err, ErrOutputBlocked) {
		t.Fatalf("Commit on a blocked writer: %v", err)
	}
	if d := time.Since(start); d < 90*time.Millisecond || d > 2*time.Second {
		t.Errorf("Commit waited %s with a wait bound of 100ms", d)
	}
	// Queued behind the blocked write: 900 bytes fit, the next 900 do not and are refused
	// at once.
	go o.Commit(make([]byte, 900))
	waitFor(t, func() bool { o.mu.Lock(); defer o.mu.Unlock(); return len(o.buf) == 900 })
	start = time.Now()
	if err := o.Commit(make([]byte, 900)); !errors.Is(err, ErrOutputBlocked) || time.Since(start) > 50*time.Millisecond {
		t.Errorf("Commit beyond MaxPending: %v after %s", err, time.Since(start))
	}
	// Write does not wait; what does not fit is dropped and counted.
	if n, err := o.Write(make([]byte, 900)); err != nil || n != 900 || o.Dropped() != 1 {
		t.Errorf("Write: %d %v, %d dropped", n, err, o.Dropped())
	}
	if err := o.Flush(); !errors.Is(err, ErrOutputBlocked) {
		t.Errorf("Flush on a blocked writer: %v", err)
	}
	done := make(chan error, 1)
	o2 := NewOutput(w, OutputOptions{Wait: time.Hour})
	go func() { done <- o2.Commit([]byte("x\n")) }()
	time.Sleep(20 * time.Millisecond)
	o2.Close()
	select {
	case err := <-done:
		if !errors.Is(err, ErrOutputBlocked) {
			t.Errorf("Commit after Close: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not end the wait")
	}
}

// TestOutputErrorSticks: a failed write fails its Commit and every later one, and is
// reported once.
func TestOutputErrorSticks(t *testing.T) {
	var reported atomic.Int32
	o := NewOutput(failWriter{}, OutputOptions{OnError: func(error) { reported.Add(1) }})
	defer o.Close()
	if err := o.Commit([]byte("x\n")); err == nil || err.Error() != "disk full" {
		t.Fatalf("Commit: %v", err)
	}
	if err := o.Commit([]byte("y\n")); err == nil || err.Error() != "disk full" {
		t.Errorf("second Commit: %v", err)
	}
	if _, err := o.Write([]byte("z\n")); err == nil || o.Flush() == nil {
		t.Error("the error did not stick")
	}
	if n := reported.Load(); n != 1 {
		t.Errorf("reported %d times", n)
	}
}

// TestOutputWriteIsWrittenSoon: Write does not wait, and what it queued is written by itself
// and by Flush.
func TestOutputWriteIsWrittenSoon(t *testing.T) {
	var b testutil.Buffer
	o := NewOutput(&b, OutputOptions{})
	defer o.Close()
	for i := range 100 {
		o.Write(fmt.Appendf(nil, "%d\n", i))
	}
	if err := o.Flush(); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(b.String(), "\n"); n != 100 {
		t.Errorf("%d lines after Flush", n)
	}
}

// countWriter counts the writes it takes.
type countWriter struct{ n atomic.Int64 }

func (c *countWriter) Write(p []byte) (int, error) { c.n.Add(1); return len(p), nil }

// TestOutputGroupsConcurrentCommits: on one processor, as a listener pinned to a core runs,
// the lines of concurrent requests share writes instead of each waking the writer for one of
// its own.
func TestOutputGroupsConcurrentCommits(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	w := &countWriter{}
	o := NewOutput(w, OutputOptions{})
	defer o.Close()
	const goroutines, each = 32, 200
	var wg sync.WaitGroup
	for range goroutines {
		wg.Go(func() {
			for range each {
				if err := o.Commit([]byte("x\n")); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	if perWrite := float64(goroutines*each) / float64(w.n.Load()); perWrite < 4 {
		t.Errorf("%.1f lines per write from %d concurrent committers", perWrite, goroutines)
	}
}

// BenchmarkOutputCommit is one line committed by one of many concurrent requests; it reports
// how many lines share a write.
func BenchmarkOutputCommit(b *testing.B) {
	w := &countWriter{}
	o := NewOutput(w, OutputOptions{})
	defer o.Close()
	line := []byte(strings.Repeat("x", 200) + "\n")
	b.SetParallelism(16)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := o.Commit(line); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/float64(max(w.n.Load(), 1)), "lines/write")
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

// TestHandlerAcknowledgesOnlyShownEvents: the answer waits for Show, and an event that
// could not be written is answered 503 with Retry-After, not remembered as seen and not
// counted; a broker message is not acknowledged.
func TestHandlerAcknowledgesOnlyShownEvents(t *testing.T) {
	for _, tt := range []struct {
		err     error
		outcome Outcome
	}{
		{ErrOutputBlocked, Busy},
		{errors.New("write /dev/stdout: broken pipe"), Failed},
	} {
		var fail atomic.Bool
		h := NewHandler(Config{Dedupe: true, Count: 3, Show: func(r *Report) error {
			if r.Kind == KindEvents && fail.Load() {
				return tt.err
			}
			return nil
		}})
		fail.Store(true)
		w := serve(h, request("POST", "/", "", binaryHeaders...))
		if w.Code != http.StatusServiceUnavailable || w.Header().Get("Retry-After") == "" ||
			!strings.Contains(w.Body.String(), "could not be written to the output: "+tt.err.Error()) {
			t.Fatalf("%v: answered %d %q: %s", tt.err, w.Code, w.Header().Get("Retry-After"), w.Body)
		}
		if h.seen.has(seenKey("/s", "1")) || h.counted.Load() != 0 {
			t.Errorf("%v: an unshown event was remembered or counted", tt.err)
		}
		if err := h.Deliver(context.Background(), structuredDelivery(brokerJSON)); err == nil {
			t.Errorf("%v: a broker message was acknowledged", tt.err)
		}
		// Once the output takes it again, the same event is accepted, not a duplicate.
		fail.Store(false)
		if w := serve(h, request("POST", "/", "", binaryHeaders...)); w.Code != http.StatusAccepted {
			t.Errorf("%v: then answered %d", tt.err, w.Code)
		}
		if s := h.Summary(); s.Duplicates != 0 || s.RejectedTotal() != 2 {
			t.Errorf("%v: summary %+v", tt.err, s)
		}
	}
}

// BenchmarkHandlerShownToOutput is a binary-mode event through the handler with its JSON
// line committed to an Output, from many requests at once, as listen -o json runs.
func BenchmarkHandlerShownToOutput(b *testing.B) {
	o := NewOutput(discard{}, OutputOptions{})
	defer o.Close()
	h := NewHandler(Config{Show: func(r *Report) error {
		var buf [512]byte
		out := buf[:0]
		for _, a := range r.Events {
			out = ce.AppendJSON(out, a.Event)
			out = append(out, '\n')
		}
		return o.Commit(out)
	}})
	body := []byte(`{"order":42,"item":"book","qty":1}`)
	header := http.Header{
		"Ce-Specversion": {"1.0"}, "Ce-Id": {"12345"}, "Ce-Source": {"/bench"}, "Ce-Type": {"com.example.order.placed"},
		"Ce-Time": {"2026-11-25T10:00:00Z"}, "Content-Type": {"application/json"}}
	b.ReportAllocs()
	b.SetParallelism(16)
	b.RunParallel(func(pb *testing.PB) {
		serve := benchRequest(h, header, body)
		for pb.Next() {
			serve()
		}
	})
}
