package cmd

import (
	"context"
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
)

// eventsFile returns n JSON lines of events with ids 0..n-1.
func eventsFile(n int) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, `{"specversion":"1.0","id":"%d","source":"/a","type":"t","time":"2026-11-25T10:00:00Z"}`+"\n", i)
	}
	return b.String()
}

// TestSendFromEveryMode sends a file of more events than one read-ahead batch (64) in each
// mode and checks that the receiver got them all, in order, encoded as the mode says.
func TestSendFromEveryMode(t *testing.T) {
	const n = 64 + 10
	file := filepath.Join(t.TempDir(), "events.jsonl")
	if err := os.WriteFile(file, []byte(eventsFile(n)), 0o600); err != nil {
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
