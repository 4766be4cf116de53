package send

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/cectl/cectl/internal/format"
)

// reader reads in from a file named name, reporting to errOut.
func reader(name, in string, errOut io.Writer) *FileReader {
	return &FileReader{Name: name, In: strings.NewReader(in), Styles: format.NewStyles(false), Diag: errOut}
}

// eventsFile returns n JSON lines of events with ids 0..n-1; every line whose number is a
// multiple of bad (when bad > 0) has an invalid time instead.
func eventsFile(n, bad int) string {
	var b strings.Builder
	for i := range n {
		t := "2026-11-25T10:00:00Z"
		if bad > 0 && (i+1)%bad == 0 {
			t = "yesterday"
		}
		fmt.Fprintf(&b, `{"specversion":"1.0","id":"%d","source":"/a","type":"t","time":"%s"}`+"\n", i, t)
	}
	return b.String()
}

// TestReadAheadKeepsOrder checks that events read ahead in batches reach emit in file order,
// each once, with every report shown before the events that follow it in the file.
func TestReadAheadKeepsOrder(t *testing.T) {
	const n, bad = 3*readAheadBatch + 7, 10
	var errOut bytes.Buffer
	var got []string
	invalid, err := reader("events.jsonl", eventsFile(n, bad), &errOut).ReadAhead(context.Background(), func(it Item) error {
		// Mark where in stderr each event stands, to check the reports' order.
		got = append(got, fmt.Sprintf("%s@%d", it.Event.ID(), strings.Count(errOut.String(), "\n")))
		return nil
	})
	if err != nil {
		t.Fatalf("ReadAhead: %v", err)
	}
	if want := n / bad; invalid != want {
		t.Errorf("invalid = %d, want %d", invalid, want)
	}
	var want []string
	reports := 0
	for i := range n {
		if (i+1)%bad == 0 {
			reports++
			continue
		}
		want = append(want, fmt.Sprintf("%d@%d", i, reports))
	}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("events and reports out of order:\n got %v\nwant %v", got, want)
	}
	if c := strings.Count(errOut.String(), "invalid event, not sent"); c != n/bad {
		t.Errorf("%d reports on stderr, want %d:\n%s", c, n/bad, errOut.String())
	}
	if !strings.Contains(errOut.String(), fmt.Sprintf("events.jsonl:%d:", bad)) {
		t.Errorf("first report does not name line %d:\n%s", bad, errOut.String())
	}
}

// TestReadAheadReportsAtTheEnd checks that reports after the last valid event are shown too.
func TestReadAheadReportsAtTheEnd(t *testing.T) {
	var errOut bytes.Buffer
	in := eventsFile(2, 0) + `{"specversion":"1.0","id":"x","source":"/a","type":"t","time":"never"}` + "\n"
	emitted := 0
	invalid, err := reader("f", in, &errOut).ReadAhead(context.Background(), func(Item) error {
		emitted++
		return nil
	})
	if err != nil || invalid != 1 || emitted != 2 {
		t.Fatalf("ReadAhead = %d invalid, %v; emitted %d, want 1 invalid, nil, 2", invalid, err, emitted)
	}
	if !strings.Contains(errOut.String(), "f:3:") {
		t.Errorf("report on line 3 missing:\n%s", errOut.String())
	}
}

// TestReadAheadStops checks that an emit error and a cancelled context end the read early,
// without emitting anything more.
func TestReadAheadStops(t *testing.T) {
	boom := errors.New("stdout closed")
	emitted := 0
	_, err := reader("f", eventsFile(10*readAheadBatch, 0), io.Discard).ReadAhead(context.Background(), func(Item) error {
		emitted++
		if emitted == 5 {
			return boom
		}
		return nil
	})
	if !errors.Is(err, boom) || emitted != 5 {
		t.Errorf("after an emit error: err %v, emitted %d; want %v after 5", err, emitted, boom)
	}

	ctx, cancel := context.WithCancel(context.Background())
	emitted = 0
	_, err = reader("f", eventsFile(10*readAheadBatch, 0), io.Discard).ReadAhead(ctx, func(Item) error {
		emitted++
		if emitted == 3 {
			cancel()
		}
		return nil
	})
	if emitted != 3 {
		t.Errorf("after cancel: emitted %d events, want 3 (err %v)", emitted, err)
	}
}

// TestInterruptedReadCountsUnsent checks what an interrupted read says it left: the events
// read but not handed over, and whether the file was read to its end.
func TestInterruptedReadCountsUnsent(t *testing.T) {
	// A small file is read to its end ahead of the sending: what was not sent is counted.
	ctx, cancel := context.WithCancel(context.Background())
	r := reader("f", eventsFile(5, 0), io.Discard)
	emitted := 0
	r.ReadAhead(ctx, func(Item) error {
		if emitted++; emitted == 3 {
			cancel()
		}
		return nil
	})
	if emitted != 3 || r.Unsent != 2 || r.Stopped {
		t.Errorf("5 events, cancel after 3: emitted %d, Unsent %d, Stopped %v; want 3, 2, false", emitted, r.Unsent, r.Stopped)
	}

	// A long one is not: reading stops, and every event is sent, counted unsent or unread.
	const n = 10 * readAheadBatch
	ctx, cancel = context.WithCancel(context.Background())
	r = reader("f", eventsFile(n, 0), io.Discard)
	emitted = 0
	r.ReadAhead(ctx, func(Item) error {
		if emitted++; emitted == 3 {
			cancel()
		}
		return nil
	})
	if emitted != 3 || !r.Stopped || r.Unsent < 0 || emitted+r.Unsent >= n {
		t.Errorf("%d events, cancel after 3: emitted %d, Unsent %d, Stopped %v; want 3, fewer than %d, true", n, emitted, r.Unsent, r.Stopped, n-3)
	}

	// Read (stdin) reads one event at a time: nothing is left read but unsent.
	ctx, cancel = context.WithCancel(context.Background())
	r = reader("f", eventsFile(5, 0), io.Discard)
	emitted = 0
	r.Read(ctx, func(Item) error {
		if emitted++; emitted == 3 {
			cancel()
		}
		return nil
	})
	if emitted != 3 || r.Unsent != 0 || !r.Stopped {
		t.Errorf("Read, cancel after 3 of 5: emitted %d, Unsent %d, Stopped %v; want 3, 0, true", emitted, r.Unsent, r.Stopped)
	}
}
