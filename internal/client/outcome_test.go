package client

import (
	"bufio"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cectl/cectl/internal/binding"
	"github.com/cloudevents/sdk-go/v2/event"
)

// hangingServer reads each request in full and then, per connection, does what answer says:
// "close" closes the connection before any status line, "hang" waits until the test ends,
// anything else is written as the raw response.
func hangingServer(t *testing.T, answer func(n int) string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	t.Cleanup(func() { close(done); ln.Close() })
	var n atomic.Int32
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer conn.Close()
				req, err := http.ReadRequest(bufio.NewReader(conn))
				if err != nil {
					return
				}
				_, _ = req.Body.Read(make([]byte, 1<<16))
				switch a := answer(int(n.Add(1))); a {
				case "close":
				case "hang":
					<-done
				default:
					_, _ = conn.Write([]byte(a))
				}
			}()
		}
	}()
	return "http://" + ln.Addr().String() + "/"
}

func TestOutcomeNotDeliveredAndNoResponse(t *testing.T) {
	msg, _ := binding.Encode(binding.Binary, testEvent(t))
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	refused := "http://" + ln.Addr().String() + "/"
	ln.Close()

	tests := []struct {
		name    string
		url     string
		retries int
		want    Outcome
		written int
		errText string
	}{
		{"refused", refused, 0, OutcomeNotDelivered, 0, "connection refused"},
		{"refused, retried", refused, 2, OutcomeNotDelivered, 0, "connection refused"},
		{"timeout after the request went out", hangingServer(t, func(int) string { return "hang" }), 0, OutcomeNoResponse, 1, "no response within"},
		{"closed before the status line", hangingServer(t, func(int) string { return "close" }), 0, OutcomeNoResponse, 1, "EOF"},
		{"every retry went out", hangingServer(t, func(int) string { return "close" }), 2, OutcomeNoResponse, 3, "EOF"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ns := &noSleep{}
			c := New(Options{Timeout: 300 * time.Millisecond, Retries: tt.retries, Sleep: ns.sleep})
			defer c.Close()
			res := c.Post(context.Background(), tt.url, msg)
			if got := res.Outcome(); got != tt.want || res.Written != tt.written {
				t.Fatalf("outcome %s written %d, want %s written %d (err %v)", got, res.Written, tt.want, tt.written, res.Err)
			}
			if res.Err == nil || !strings.Contains(res.Err.Error(), tt.errText) {
				t.Errorf("error %v, want it to say %q", res.Err, tt.errText)
			}
		})
	}
}

// A retry that finally gets an ACK still says that earlier attempts went out: the receiver
// may have the event more than once.
func TestOutcomeACKAfterNoResponseKeepsWritten(t *testing.T) {
	url := hangingServer(t, func(n int) string {
		if n < 3 {
			return "close"
		}
		return "HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
	})
	ns := &noSleep{}
	c := New(Options{Timeout: time.Second, Retries: 3, Sleep: ns.sleep})
	defer c.Close()
	msg, _ := binding.Encode(binding.Binary, testEvent(t))
	res := c.Post(context.Background(), url, msg)
	if res.Outcome() != OutcomeACK || res.Attempts != 3 || res.Written != 2 {
		t.Fatalf("outcome %s attempts %d written %d, want ack 3 2 (err %v)", res.Outcome(), res.Attempts, res.Written, res.Err)
	}
}

// An interrupted request that went out is "no response", not "not delivered".
func TestOutcomeInterruptedInFlight(t *testing.T) {
	url := hangingServer(t, func(int) string { return "hang" })
	c := New(Options{Timeout: 10 * time.Second})
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	msg, _ := binding.Encode(binding.Binary, testEvent(t))
	res := c.Post(ctx, url, msg)
	if res.Outcome() != OutcomeNoResponse {
		t.Fatalf("outcome %s, want no_response (err %v)", res.Outcome(), res.Err)
	}
}

// A Retry-After that ends after the context's deadline is not waited for: the last answer
// is the result, at once.
func TestRetryAfterNeverPastTheDeadline(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "20")
		w.WriteHeader(503)
	}))
	defer srv.Close()
	ns := &noSleep{}
	c := New(Options{Retries: 5, Sleep: ns.sleep})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	msg, _ := binding.Encode(binding.Binary, testEvent(t))
	res := c.Post(ctx, srv.URL, msg)
	var de *DeadlineError
	if res.Status != 503 || res.Attempts != 1 || len(ns.waits) != 0 || !errors.As(res.Err, &de) {
		t.Fatalf("status %d attempts %d waits %v err %v, want one 503 and no wait", res.Status, res.Attempts, ns.waits, res.Err)
	}
}

// A certificate the client does not trust is not delivered, and the error says how to skip
// the check.
func TestTLSVerificationFailureHintsInsecure(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(202) }))
	defer srv.Close()
	msg, _ := binding.Encode(binding.Binary, testEvent(t))
	c := New(Options{Timeout: 5 * time.Second})
	defer c.Close()
	res := c.Post(context.Background(), srv.URL, msg)
	if res.Outcome() != OutcomeNotDelivered || res.Err == nil || !strings.Contains(res.Err.Error(), "--insecure skips the check") ||
		!strings.Contains(res.Err.Error(), "cannot verify the TLS certificate of 127.0.0.1:") {
		t.Fatalf("outcome %s err %v, want not delivered with an --insecure hint", res.Outcome(), res.Err)
	}
	ci := New(Options{Timeout: 5 * time.Second, Insecure: true})
	defer ci.Close()
	if res := ci.Post(context.Background(), srv.URL, msg); !res.ACK {
		t.Fatalf("--insecure: %v", res.Err)
	}
}

// --gzip: every request body, of a plain send, a prepared event and its copies, goes
// gzipped with Content-Encoding: gzip and decodes to what would have been sent; the bytes on
// the wire show the saving.
func TestGzipBodiesAndWireBytes(t *testing.T) {
	var bodies []string
	var encodings []string
	var mu sync.Mutex
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var rd io.Reader = r.Body
		if r.Header.Get("Content-Encoding") == "gzip" {
			zr, err := gzip.NewReader(r.Body)
			if err != nil {
				t.Errorf("not gzip: %v", err)
				return
			}
			rd = zr
		}
		b, _ := io.ReadAll(rd)
		mu.Lock()
		bodies = append(bodies, string(b))
		encodings = append(encodings, r.Header.Get("Content-Encoding"))
		mu.Unlock()
		w.WriteHeader(202)
	}))
	defer srv.Close()
	e := testEvent(t)
	e.SetData("application/json", json.RawMessage(`{"text":"`+strings.Repeat("compress me ", 500)+`"}`))
	wire := map[bool]int64{}
	for _, gz := range []bool{false, true} {
		bodies, encodings = nil, nil
		tg, err := Open(srv.URL, Options{Gzip: gz, Timeout: 5 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		for _, mode := range []binding.Mode{binding.Binary, binding.Structured} {
			if res := tg.Send(context.Background(), mode, e); !res.ACK {
				t.Fatalf("send: %v", res.Err)
			}
			s, err := tg.Prepare(context.Background(), mode, e)
			if err != nil {
				t.Fatal(err)
			}
			if res := s.SendCopy(context.Background(), "copy", time.Now()); !res.ACK {
				t.Fatalf("copy: %v", res.Err)
			}
		}
		for i, enc := range encodings {
			if (enc == "gzip") != gz {
				t.Errorf("gzip=%v: request %d has Content-Encoding %q", gz, i, enc)
			}
			if !strings.Contains(bodies[i], "compress me compress me") {
				t.Errorf("gzip=%v: request %d body %.60q", gz, i, bodies[i])
			}
		}
		sent, received := tg.(interface{ WireBytes() (int64, int64) }).WireBytes()
		if sent == 0 || received == 0 {
			t.Errorf("gzip=%v: wire bytes %d/%d", gz, sent, received)
		}
		wire[gz] = sent
		tg.Close()
	}
	if wire[true]*4 > wire[false] {
		t.Errorf("gzip sent %d bytes, plain %d: expected far fewer", wire[true], wire[false])
	}
}

// A streamed body is opened again for each attempt: a retry sends all of it, gzipped as it
// is read when asked.
func TestSendStreamRetriesWholeBody(t *testing.T) {
	for _, gz := range []bool{false, true} {
		var n atomic.Int32
		var sizes []int
		var chunked []bool
		var mu sync.Mutex
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			body := io.Reader(r.Body)
			if r.Header.Get("Content-Encoding") == "gzip" {
				zr, err := gzip.NewReader(r.Body)
				if err != nil {
					t.Error(err)
					return
				}
				body = zr
			}
			b, _ := io.ReadAll(body)
			mu.Lock()
			sizes = append(sizes, len(b))
			chunked = append(chunked, len(r.TransferEncoding) > 0)
			mu.Unlock()
			if n.Add(1) == 1 {
				w.WriteHeader(503)
				return
			}
			w.WriteHeader(202)
		}))
		ns := &noSleep{}
		tg, err := Open(srv.URL, Options{Retries: 1, Sleep: ns.sleep, Gzip: gz})
		if err != nil {
			t.Fatal(err)
		}
		e := testEvent(t)
		data := strings.Repeat("x", 100000)
		opens := 0
		open := func() (io.ReadCloser, error) { opens++; return io.NopCloser(strings.NewReader(data)), nil }
		d := &binding.StreamData{Open: open, Size: int64(len(data)), Form: binding.FormString}
		e.DataEncoded = d.StandIn()
		res := tg.(interface {
			SendStream(context.Context, binding.Mode, *event.Event, *binding.StreamData) Result
		}).SendStream(context.Background(), binding.Binary, e, d)
		if !res.ACK || res.Attempts != 2 || opens != 2 || len(sizes) != 2 || sizes[0] != len(data) || sizes[1] != len(data) {
			t.Fatalf("gzip %v: ack %v attempts %d opens %d sizes %v (err %v)", gz, res.ACK, res.Attempts, opens, sizes, res.Err)
		}
		if chunked[0] != gz || chunked[1] != gz {
			t.Errorf("gzip %v: in chunks %v", gz, chunked)
		}
		tg.Close()
		srv.Close()
	}
}
