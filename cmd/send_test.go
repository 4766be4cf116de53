package cmd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/cectl/cectl/internal/binding"
	"github.com/spf13/pflag"
)

// noEventFlags are event flags none of which was given.
func noEventFlags() *eventFlags {
	return &eventFlags{flags: pflag.NewFlagSet("send", pflag.ContinueOnError)}
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
	f, _, errOut := testFactory("", nil)
	s := &sender{f: f, st: f.Styles(), est: f.ErrStyles()}
	var got []string
	invalid, err := s.readAhead(context.Background(), "events.jsonl", strings.NewReader(eventsFile(n, bad)), noEventFlags(), func(it fileItem) error {
		// Mark where in stderr each event stands, to check the reports' order.
		got = append(got, fmt.Sprintf("%s@%d", it.e.ID(), strings.Count(errOut.String(), "\n")))
		return nil
	})
	if err != nil {
		t.Fatalf("readAhead: %v", err)
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
		t.Errorf("%d reports on stderr, want %d:\n%s", c, n/bad, errOut)
	}
	if !strings.Contains(errOut.String(), fmt.Sprintf("events.jsonl:%d:", bad)) {
		t.Errorf("first report does not name line %d:\n%s", bad, errOut)
	}
}

// TestReadAheadReportsAtTheEnd checks that reports after the last valid event are shown too.
func TestReadAheadReportsAtTheEnd(t *testing.T) {
	f, _, errOut := testFactory("", nil)
	s := &sender{f: f, st: f.Styles(), est: f.ErrStyles()}
	in := eventsFile(2, 0) + `{"specversion":"1.0","id":"x","source":"/a","type":"t","time":"never"}` + "\n"
	emitted := 0
	invalid, err := s.readAhead(context.Background(), "f", strings.NewReader(in), noEventFlags(), func(fileItem) error {
		emitted++
		return nil
	})
	if err != nil || invalid != 1 || emitted != 2 {
		t.Fatalf("readAhead = %d invalid, %v; emitted %d, want 1 invalid, nil, 2", invalid, err, emitted)
	}
	if !strings.Contains(errOut.String(), "f:3:") {
		t.Errorf("report on line 3 missing:\n%s", errOut)
	}
}

// TestReadAheadStops checks that an emit error and a cancelled context end the read early,
// without emitting anything more.
func TestReadAheadStops(t *testing.T) {
	boom := errors.New("stdout closed")
	f, _, _ := testFactory("", nil)
	s := &sender{f: f, st: f.Styles(), est: f.ErrStyles()}
	emitted := 0
	_, err := s.readAhead(context.Background(), "f", strings.NewReader(eventsFile(10*readAheadBatch, 0)), noEventFlags(), func(fileItem) error {
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
	_, err = s.readAhead(ctx, "f", strings.NewReader(eventsFile(10*readAheadBatch, 0)), noEventFlags(), func(fileItem) error {
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

// TestSendFromEveryMode sends a file of more events than one read-ahead batch in each mode
// and checks that the receiver got them all, in order, encoded as the mode says.
func TestSendFromEveryMode(t *testing.T) {
	const n = readAheadBatch + 10
	file := filepath.Join(t.TempDir(), "events.jsonl")
	if err := os.WriteFile(file, []byte(eventsFile(n, 0)), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, mode := range []string{"binary", "structured", "batch"} {
		t.Run(mode, func(t *testing.T) {
			var mu sync.Mutex
			var ids []string
			var modes []binding.Mode
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				body, err := io.ReadAll(r.Body)
				if err != nil {
					t.Errorf("receiver: %v", err)
				}
				events, m, err := binding.Decode(r.Header, body)
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					t.Errorf("receiver: %v", err)
				}
				modes = append(modes, m)
				for _, e := range events {
					ids = append(ids, e.ID())
				}
				w.WriteHeader(http.StatusAccepted)
			}))
			defer srv.Close()
			f, out, errOut := testFactory("", nil)
			code := Run(context.Background(), f.IO, f.Build, []string{"send", "--to", srv.URL, "--from", file, "--mode", mode, "-o", "json"}, f.Getenv)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, errOut)
			}
			var want []string
			for i := range n {
				want = append(want, fmt.Sprint(i))
			}
			if strings.Join(ids, ",") != strings.Join(want, ",") {
				t.Errorf("receiver got ids %v, want 0..%d in order", ids, n-1)
			}
			if c := strings.Count(out.String(), `"ack":true`); c != n {
				t.Errorf("%d results acknowledged, want %d", c, n)
			}
			for _, m := range modes {
				if m.String() != mode {
					t.Errorf("%s mode: a request arrived in %s mode", mode, m)
					break
				}
			}
			if mode == "batch" && len(modes) != 1 {
				t.Errorf("batch mode: %d requests, want 1", len(modes))
			}
		})
	}
}
