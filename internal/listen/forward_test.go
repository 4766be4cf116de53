package listen

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/cectl/cectl/internal/client"
)

// TestHandlerAnswersWithTheRelayOutcome: with --forward-to, the sender gets a 2xx only when
// the downstream acknowledged; otherwise the downstream's status, 502 or 504.
func TestHandlerAnswersWithTheRelayOutcome(t *testing.T) {
	var status int
	var retryAfter string
	var hold time.Duration
	down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(hold)
		if retryAfter != "" {
			w.Header().Set("Retry-After", retryAfter)
		}
		w.WriteHeader(status)
	}))
	defer down.Close()
	refused := httptest.NewServer(http.NotFoundHandler())
	refused.Close() // nothing listens there any more

	c := client.New(client.Options{Timeout: 5 * time.Second})
	defer c.Close()
	tests := []struct {
		name       string
		to         string
		status     int
		retryAfter string
		hold       time.Duration
		want       int
		wantRetry  string
		wantReason string
	}{
		{name: "downstream 2xx", to: down.URL, status: 201, want: 202},
		{name: "downstream 400 passed back", to: down.URL, status: 400, want: 400, wantReason: "400 Bad Request"},
		{name: "downstream 503 with its Retry-After", to: down.URL, status: 503, retryAfter: "7", want: 503, wantRetry: "7"},
		{name: "downstream 500", to: down.URL, status: 500, want: 500, wantRetry: "1"},
		{name: "downstream 3xx", to: down.URL, status: 304, want: 502, wantRetry: "1", wantReason: "answered 304, not a 2xx"},
		{name: "not delivered", to: refused.URL, want: 502, wantRetry: "1", wantReason: "not delivered"},
		{name: "no answer in time", to: down.URL, status: 202, hold: 300 * time.Millisecond, want: 504, wantRetry: "1", wantReason: "no answer in time"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, retryAfter, hold = tt.status, tt.retryAfter, tt.hold
			h, _ := newTestHandler(Config{Dedupe: true, Count: 5, ForwardTimeout: 100 * time.Millisecond,
				Forwarder: NewForwarder([]string{tt.to}, c)})
			w := serve(h, request("POST", "/", "", binaryHeaders...))
			if w.Code != tt.want || w.Header().Get("Retry-After") != tt.wantRetry || !strings.Contains(w.Body.String(), tt.wantReason) {
				t.Fatalf("answered %d, Retry-After %q: %s", w.Code, w.Header().Get("Retry-After"), w.Body)
			}
			s := h.Summary()
			if tt.want >= 300 {
				if s.RelayFailed != 1 {
					t.Errorf("summary counts %d relay failures", s.RelayFailed)
				}
				// Not acknowledged: the retry is no duplicate, and nothing counts yet.
				if h.seen.has(seenKey("/s", "1")) || h.counted.Load() != 0 {
					t.Errorf("a relay failure was remembered (counted %d)", h.counted.Load())
				}
			} else if s.RelayFailed != 0 || h.counted.Load() != 1 {
				t.Errorf("summary %+v, counted %d", s, h.counted.Load())
			}
		})
	}
}
