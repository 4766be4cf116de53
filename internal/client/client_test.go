package client

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cectl/cectl/internal/binding"
	"github.com/cectl/cectl/internal/ce"
	"github.com/cloudevents/sdk-go/v2/event"
)

func testEvent(t testing.TB) *event.Event {
	t.Helper()
	e, err := ce.Decode([]byte(`{"specversion":"1.0","id":"abc","source":"/src","type":"com.example.test",
		"subject":"héllo wörld \"q\" 100%","datacontenttype":"application/json","count":5,"data":{"k":"v"}}`))
	if err != nil {
		t.Fatal(err)
	}
	return &e
}

// noSleep records the waits instead of sleeping.
type noSleep struct{ waits []time.Duration }

func (n *noSleep) sleep(ctx context.Context, d time.Duration) error {
	n.waits = append(n.waits, d)
	return ctx.Err()
}

func TestPostResultClasses(t *testing.T) {
	tests := []struct {
		name      string
		statuses  []int // answered in turn; the last repeats
		retries   int
		header    http.Header
		delivered bool
		ack       bool
		status    int
		attempts  int
	}{
		{name: "202 is ACK", statuses: []int{202}, delivered: true, ack: true, status: 202, attempts: 1},
		{name: "204 is ACK", statuses: []int{204}, delivered: true, ack: true, status: 204, attempts: 1},
		{name: "400 is NACK, not retried", statuses: []int{400}, retries: 3, delivered: true, status: 400, attempts: 1},
		{name: "404 is not retried", statuses: []int{404}, retries: 3, delivered: true, status: 404, attempts: 1},
		{name: "500 is NACK", statuses: []int{500}, delivered: true, status: 500, attempts: 1},
		{name: "503 retried then ACK", statuses: []int{503, 503, 200}, retries: 3, delivered: true, ack: true, status: 200, attempts: 3},
		{name: "429 retried until retries run out", statuses: []int{429}, retries: 2, delivered: true, status: 429, attempts: 3},
		{name: "408 retried", statuses: []int{408, 201}, retries: 1, delivered: true, ack: true, status: 201, attempts: 2},
		{name: "3xx is not followed", statuses: []int{302}, delivered: true, status: 302, attempts: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var n atomic.Int32
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				i := int(n.Add(1)) - 1
				if r.Header.Get("Ce-Id") != "abc" {
					t.Errorf("attempt %d: ce-id %q", i, r.Header.Get("Ce-Id"))
				}
				b, _ := io.ReadAll(r.Body)
				if string(b) != `{"k":"v"}` {
					t.Errorf("attempt %d: body %q", i, b)
				}
				if tt.statuses[min(i, len(tt.statuses)-1)] == 302 {
					w.Header().Set("Location", "/elsewhere")
				}
				w.WriteHeader(tt.statuses[min(i, len(tt.statuses)-1)])
			}))
			defer srv.Close()
			ns := &noSleep{}
			c := New(Options{Retries: tt.retries, Timeout: 5 * time.Second, Sleep: ns.sleep})
			defer c.Close()
			msg, err := binding.Encode(binding.Binary, testEvent(t))
			if err != nil {
				t.Fatal(err)
			}
			res := c.Post(context.Background(), srv.URL, msg)
			if res.Delivered != tt.delivered || res.ACK != tt.ack || res.Status != tt.status || res.Attempts != tt.attempts {
				t.Errorf("got delivered=%v ack=%v status=%d attempts=%d, want %v %v %d %d (err %v)",
					res.Delivered, res.ACK, res.Status, res.Attempts, tt.delivered, tt.ack, tt.status, tt.attempts, res.Err)
			}
			if len(ns.waits) != tt.attempts-1 {
				t.Errorf("waited %d times for %d attempts", len(ns.waits), tt.attempts)
			}
		})
	}
}

func TestPostRefusedIsNotDelivered(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	ns := &noSleep{}
	c := New(Options{Retries: 2, Sleep: ns.sleep})
	msg, _ := binding.Encode(binding.Binary, testEvent(t))
	res := c.Post(context.Background(), "http://"+addr+"/", msg)
	if res.Delivered || res.ACK || res.Status != 0 {
		t.Fatalf("refused connection classified as delivered=%v ack=%v status=%d", res.Delivered, res.ACK, res.Status)
	}
	if res.Attempts != 3 {
		t.Errorf("network errors are retried: %d attempts", res.Attempts)
	}
	if res.Err == nil || !strings.Contains(res.Err.Error(), "connection refused") {
		t.Errorf("error %v, want connection refused", res.Err)
	}
	// Backoff grows: each wait is in [d/2, d] of a doubling d.
	if len(ns.waits) != 2 || ns.waits[0] > 200*time.Millisecond || ns.waits[1] < 200*time.Millisecond || ns.waits[1] > 400*time.Millisecond {
		t.Errorf("waits %v", ns.waits)
	}
}

func TestPostTimeout(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)
	c := New(Options{Timeout: 50 * time.Millisecond})
	msg, _ := binding.Encode(binding.Structured, testEvent(t))
	res := c.Post(context.Background(), srv.URL, msg)
	var te *TimeoutError
	if res.Delivered || !errors.As(res.Err, &te) {
		t.Fatalf("got delivered=%v err=%v, want a timeout", res.Delivered, res.Err)
	}
}

// A Retry-After is waited for, up to MaxRetryAfter (RFC 9110 §10.2.3).
func TestRetryAfterIsHonoured(t *testing.T) {
	for header, want := range map[string]time.Duration{"7": 7 * time.Second, "3600": MaxRetryAfter} {
		var n atomic.Int32
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if n.Add(1) == 1 {
				w.Header().Set("Retry-After", header)
				w.WriteHeader(503)
				return
			}
			w.WriteHeader(200)
		}))
		ns := &noSleep{}
		c := New(Options{Retries: 1, Sleep: ns.sleep})
		msg, _ := binding.Encode(binding.Binary, testEvent(t))
		res := c.Post(context.Background(), srv.URL, msg)
		srv.Close()
		if !res.ACK || len(ns.waits) != 1 || ns.waits[0] != want {
			t.Errorf("Retry-After %s: ack=%v waits=%v, want one wait of %s", header, res.ACK, ns.waits, want)
		}
	}
}

func TestRetryAfterParse(t *testing.T) {
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"0", 0, true},
		{"120", 2 * time.Minute, true},
		{"Wed, 25 Nov 2026 12:00:30 GMT", 30 * time.Second, true},
		{"Wed, 25 Nov 2026 11:00:00 GMT", 0, true},
		{"-1", 0, false},
		{"soon", 0, false},
		{"", 0, false},
	}
	for _, tt := range tests {
		got, ok := RetryAfter(tt.in, now)
		if got != tt.want || ok != tt.ok {
			t.Errorf("RetryAfter(%q) = %v, %v; want %v, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

func TestResponseBodyKept(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		w.WriteHeader(400)
		io.WriteString(w, "bad event: missing subject")
	}))
	defer srv.Close()
	c := New(Options{})
	msg, _ := binding.Encode(binding.Binary, testEvent(t))
	res := c.Post(context.Background(), srv.URL, msg)
	if res.Response == nil || string(res.Response.Body) != "bad event: missing subject" {
		t.Fatalf("response %+v", res.Response)
	}
}

func TestCancelStopsRetries(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(503) }))
	defer srv.Close()
	ctx, cancel := context.WithCancel(context.Background())
	c := New(Options{Retries: 100, Sleep: func(ctx context.Context, d time.Duration) error {
		cancel()
		return ctx.Err()
	}})
	msg, _ := binding.Encode(binding.Binary, testEvent(t))
	res := c.Post(ctx, srv.URL, msg)
	if res.Attempts != 1 || !errors.Is(res.Err, context.Canceled) {
		t.Fatalf("attempts=%d err=%v", res.Attempts, res.Err)
	}
}

func TestConnectionsAreReused(t *testing.T) {
	var conns atomic.Int32
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(202)
		io.WriteString(w, "ok")
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	defer srv.Close()
	c := New(Options{})
	msg, _ := binding.Encode(binding.Binary, testEvent(t))
	for i := 0; i < 20; i++ {
		if res := c.Post(context.Background(), srv.URL, msg); !res.ACK {
			t.Fatal(res.Err)
		}
	}
	if n := conns.Load(); n != 1 {
		t.Errorf("20 sequential posts opened %d connections", n)
	}
}
