package listen

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

const fastEvent = "POST /events HTTP/1.1\r\nHost: x\r\nCe-Specversion: 1.0\r\nCe-Id: 1\r\nCe-Source: /s\r\nCe-Type: t\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"

// startFast serves a handler for /events both ways: through Server (fast path first) and
// through net/http alone, for comparison.
func startFast(t *testing.T, cfg Config) (fast *Server, plain *httptest.Server) {
	t.Helper()
	cfg.Path = "/events"
	if cfg.Report == nil {
		cfg.Report = func(*Report) {}
	}
	srv, err := Listen(NewHandler(cfg), ServerOptions{Addr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve()
	t.Cleanup(func() { srv.Shutdown(context.Background()) })
	plain = httptest.NewServer(NewHandler(cfg))
	t.Cleanup(plain.Close)
	return srv, plain
}

// exchange sends raw bytes on a new connection and reads the answers until the server
// closes the connection or wait passes.
func rawExchange(t *testing.T, addr, raw string, wait time.Duration) string {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := io.WriteString(c, raw); err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(wait))
	out, _ := io.ReadAll(c)
	return string(out)
}

// statuses are the status codes of the answers in out, in order.
func statuses(t *testing.T, out string) []int {
	t.Helper()
	var codes []int
	br := bufio.NewReader(strings.NewReader(out))
	for {
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			return codes
		}
		io.Copy(io.Discard, resp.Body)
		codes = append(codes, resp.StatusCode)
	}
}

// Every request, taken by the fast path or handed to net/http, is answered as net/http
// alone answers it; the fast path serves only event requests it parses with certainty.
func TestFastPathAnswersAsNetHTTP(t *testing.T) {
	fast, plain := startFast(t, Config{MaxBody: 100})
	const ev = "Ce-Specversion: 1.0\r\nCe-Id: 1\r\nCe-Source: /s\r\nCe-Type: t\r\n"
	cases := []struct {
		name, raw string
		served    bool // by the fast path
	}{
		{"binary event", fastEvent, true},
		{"structured event", "POST /events HTTP/1.1\r\nHost: x\r\nContent-Type: application/cloudevents+json\r\nContent-Length: 58\r\n\r\n" +
			`{"specversion":"1.0","id":"1","source":"/s","type":"t"}  `, true},
		{"PUT with trailing slash", "PUT /events/ HTTP/1.1\r\nHost: x\r\n" + ev + "Content-Length: 0\r\n\r\n", true},
		{"no body", "POST /events HTTP/1.1\r\nHost: x\r\n" + ev + "\r\n", true},
		{"not an event", "POST /events HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}", true},
		{"invalid JSON data", "POST /events HTTP/1.1\r\nHost: x\r\n" + ev + "Content-Type: application/json\r\nContent-Length: 2\r\n\r\n{]", true},
		{"query", "POST /events?a=1 HTTP/1.1\r\nHost: x\r\n" + ev + "Content-Length: 0\r\n\r\n", true},
		{"repeated header", "POST /events HTTP/1.1\r\nHost: x\r\n" + ev + "Ce-Id: 2\r\nContent-Length: 0\r\n\r\n", true},
		{"other path", "POST /other HTTP/1.1\r\nHost: x\r\n" + ev + "Content-Length: 0\r\n\r\n", false},
		{"GET", "GET /events HTTP/1.1\r\nHost: x\r\n\r\n", false},
		{"OPTIONS handshake", "OPTIONS /events HTTP/1.1\r\nHost: x\r\nWebHook-Request-Origin: a.example\r\n\r\n", false},
		{"HTTP/1.0 with length", "POST /events HTTP/1.0\r\nHost: x\r\n" + ev + "Content-Length: 0\r\n\r\n", false},
		{"HTTP/1.0 without length", "POST /events HTTP/1.0\r\n" + ev + "\r\n", false},
		{"chunked", "POST /events HTTP/1.1\r\nHost: x\r\n" + ev + "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n", false},
		{"length and chunked", "POST /events HTTP/1.1\r\nHost: x\r\n" + ev + "Content-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", false},
		{"two lengths", "POST /events HTTP/1.1\r\nHost: x\r\n" + ev + "Content-Length: 0\r\nContent-Length: 1\r\n\r\nx", false},
		{"signed length", "POST /events HTTP/1.1\r\nHost: x\r\n" + ev + "Content-Length: +0\r\n\r\n", false},
		{"no Host", "POST /events HTTP/1.1\r\n" + ev + "Content-Length: 0\r\n\r\n", false},
		{"two Hosts", "POST /events HTTP/1.1\r\nHost: x\r\nHost: y\r\n" + ev + "Content-Length: 0\r\n\r\n", false},
		{"folded header", "POST /events HTTP/1.1\r\nHost: x\r\n" + ev + "X-A: 1\r\n 2\r\nContent-Length: 0\r\n\r\n", false},
		{"space before colon", "POST /events HTTP/1.1\r\nHost: x\r\n" + ev + "X-A : 1\r\nContent-Length: 0\r\n\r\n", false},
		{"control in value", "POST /events HTTP/1.1\r\nHost: x\r\n" + ev + "X-A: a\x01b\r\nContent-Length: 0\r\n\r\n", false},
		{"bare LF", "POST /events HTTP/1.1\nHost: x\n" + strings.ReplaceAll(ev, "\r\n", "\n") + "Content-Length: 0\n\n", false},
		{"expect continue", "POST /events HTTP/1.1\r\nHost: x\r\n" + ev + "Expect: 100-continue\r\nContent-Length: 0\r\n\r\n", false},
		{"body over --max-body", "POST /events HTTP/1.1\r\nHost: x\r\n" + ev + "Content-Length: 101\r\n\r\n" + strings.Repeat("x", 101), false},
		{"huge header", "POST /events HTTP/1.1\r\nHost: x\r\n" + ev + "X-Big: " + strings.Repeat("b", fastBufSize) + "\r\nContent-Length: 0\r\n\r\n", false},
		{"absolute target", "POST http://x/events HTTP/1.1\r\nHost: x\r\n" + ev + "Content-Length: 0\r\n\r\n", false},
		{"garbage", "HELLO\r\n\r\n", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := fast.fast.served.Load()
			raw := c.raw + "GET /nothing-after HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
			got := statuses(t, rawExchange(t, fast.Addr().String(), raw, 2*time.Second))
			want := statuses(t, rawExchange(t, plain.Listener.Addr().String(), raw, 2*time.Second))
			if len(want) == 0 || !equalInts(got, want) {
				t.Errorf("answers %v, net/http alone %v", got, want)
			}
			if served := fast.fast.served.Load() > before; served != c.served {
				t.Errorf("served by the fast path: %v, want %v", served, c.served)
			}
		})
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// Requests pipelined on one connection are answered in order, each taken whole; the
// connection is closed after the one that asks for it.
func TestFastPathKeepAliveAndPipelining(t *testing.T) {
	var ids []string
	fast, _ := startFast(t, Config{Report: func(r *Report) {
		for _, a := range r.Events {
			ids = append(ids, a.Event.ID())
		}
	}})
	var raw strings.Builder
	for i := range 5 {
		raw.WriteString(strings.Replace(fastEvent, "Ce-Id: 1", "Ce-Id: "+string(rune('a'+i)), 1))
	}
	raw.WriteString(strings.Replace(fastEvent, "Host: x\r\n", "Host: x\r\nConnection: close\r\n", 1))
	raw.WriteString(fastEvent) // after the close: never read
	out := rawExchange(t, fast.Addr().String(), raw.String(), 5*time.Second)
	if got := statuses(t, out); !equalInts(got, []int{202, 202, 202, 202, 202, 202}) {
		t.Fatalf("answers %v\n%s", got, out)
	}
	if strings.Join(ids, ",") != "a,b,c,d,e,1" {
		t.Errorf("events %v", ids)
	}
	if !strings.Contains(out, "Connection: close\r\n") || !strings.Contains(out, "Date: ") || !strings.Contains(out, "Content-Length: 0\r\n") {
		t.Errorf("answer headers:\n%s", out)
	}
}

// A body that stops short of its Content-Length is not taken; the connection closes.
func TestFastPathShortBody(t *testing.T) {
	fast, _ := startFast(t, Config{})
	c, err := net.Dial("tcp", fast.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(c, strings.Replace(fastEvent, "Content-Length: 2", "Content-Length: 10", 1))
	c.(*net.TCPConn).CloseWrite()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	out, _ := io.ReadAll(c)
	c.Close()
	if got := statuses(t, string(out)); len(got) != 1 || got[0] != http.StatusBadRequest {
		t.Errorf("answers %v:\n%s", got, out)
	}
}

// Shutdown closes idle connections of the fast path at once, lets a request in flight be
// answered (with Connection: close), and then returns.
func TestFastPathShutdown(t *testing.T) {
	started, release := make(chan struct{}, 1), make(chan struct{})
	fast, _ := startFast(t, Config{Report: func(r *Report) {
		if r.Kind == KindEvents {
			started <- struct{}{}
			<-release
		}
	}})
	idle, err := net.Dial("tcp", fast.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer idle.Close()
	busy, err := net.Dial("tcp", fast.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	io.WriteString(busy, fastEvent)
	<-started
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	shut := make(chan error, 1)
	go func() { shut <- fast.Shutdown(ctx) }()
	waitFor(t, fast.fast.isStopping)
	idle.SetReadDeadline(time.Now().Add(2 * time.Second))
	if n, err := idle.Read(make([]byte, 1)); n != 0 || err == nil {
		t.Errorf("idle connection still open: %d, %v", n, err)
	}
	select {
	case err := <-shut:
		t.Fatalf("Shutdown returned before the request in flight was answered: %v", err)
	case <-time.After(50 * time.Millisecond):
	}
	close(release)
	if err := <-shut; err != nil {
		t.Fatal(err)
	}
	busy.SetReadDeadline(time.Now().Add(2 * time.Second))
	out, _ := io.ReadAll(busy)
	if got := statuses(t, string(out)); !equalInts(got, []int{202}) || !strings.Contains(string(out), "Connection: close") {
		t.Errorf("in-flight answer:\n%s", out)
	}
}

// Where an answer may wait long, net/http serves every request: it notices a sender that
// hangs up.
func TestFastPathNotForLongWaits(t *testing.T) {
	for _, cfg := range []Config{{Faults: Faults{Delay: time.Millisecond}}} {
		fast, _ := startFast(t, cfg)
		if got := statuses(t, rawExchange(t, fast.Addr().String(), strings.Replace(fastEvent, "Host: x", "Host: x\r\nConnection: close", 1), 2*time.Second)); !equalInts(got, []int{202}) {
			t.Errorf("answers %v", got)
		}
		if n := fast.fast.served.Load(); n != 0 {
			t.Errorf("%d requests served by the fast path", n)
		}
	}
}

// A handler that panics loses its connection, not the listener.
func TestFastPathPanic(t *testing.T) {
	h := NewHandler(Config{Path: "/events", Report: func(*Report) { panic("boom") }})
	srv, err := Listen(h, ServerOptions{Addr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	srv.srv.ErrorLog = nil
	go srv.Serve()
	defer srv.Shutdown(context.Background())
	for range 2 {
		out := rawExchange(t, srv.Addr().String(), fastEvent, 2*time.Second)
		if out != "" {
			t.Errorf("answer after a panic: %q", out)
		}
	}
}

// FuzzParseHead: what the fast path takes, net/http reads the same way: method, target,
// Host, headers and length.
func FuzzParseHead(f *testing.F) {
	f.Add([]byte(fastEvent))
	f.Add([]byte("PUT /e?x=%41 HTTP/1.1\r\nHost: h:1\r\nA: b, c\r\na: d\r\nConnection: keep-alive, close\r\nContent-Length: 007\r\n\r\n"))
	f.Add([]byte("POST / HTTP/1.1\r\nHost: [::1]:80\r\nX: \t v \t\r\n\r\n"))
	// net/http adds Cache-Control: no-cache to a request with Pragma: no-cache alone.
	f.Add([]byte("POST /e HTTP/1.1\r\nHost: h\r\nPragma: no-cache\r\n\r\n"))
	f.Fuzz(func(t *testing.T, raw []byte) {
		i := bytes.Index(raw, []byte("\r\n\r\n"))
		if i < 0 {
			return
		}
		head := raw[:i+4]
		req, ok := parseHead(head, true)
		if !ok {
			return
		}
		r, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(head)))
		if err != nil {
			t.Fatalf("fast path took what net/http refuses (%v): %q", err, head)
		}
		if r.Method != req.method || r.RequestURI != req.target || r.Host != req.host || r.ContentLength != req.contentLength || r.Close != req.close {
			t.Fatalf("fast %+v, net/http %s %s host %q length %d close %v", req, r.Method, r.RequestURI, r.Host, r.ContentLength, r.Close)
		}
		if len(req.wire) != strings.Count(string(head), "\r\n")-2 {
			t.Fatalf("wire fields %q of %q", req.wire, head)
		}
		if len(r.Header) != len(req.header) {
			t.Fatalf("headers %v, net/http %v", req.header, r.Header)
		}
		for k, vs := range r.Header {
			if strings.Join(req.header[k], "\x00") != strings.Join(vs, "\x00") {
				t.Fatalf("header %s: %q, net/http %q", k, req.header[k], vs)
			}
		}
	})
}

// After a POST, net/http skips up to four CR or LF bytes before the next request line (old
// clients end a body with CRLF; RFC 9112 §2.2): the fast path does the same, rather than
// handing net/http a connection whose next request now begins with an empty line.
func TestFastPathEmptyLinesAfterPost(t *testing.T) {
	fast, plain := startFast(t, Config{})
	const last = "GET /nothing-after HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
	put := strings.Replace(fastEvent, "POST", "PUT", 1)
	for _, raw := range []string{
		fastEvent + "\r\n" + fastEvent + last,
		fastEvent + "\r\n\r\n" + fastEvent + last,
		fastEvent + "\n" + last,
		fastEvent + "\r\n\r\n\r\n" + fastEvent + last,
		put + "\r\n" + fastEvent + last,
	} {
		got := statuses(t, rawExchange(t, fast.Addr().String(), raw, 2*time.Second))
		want := statuses(t, rawExchange(t, plain.Listener.Addr().String(), raw, 2*time.Second))
		if len(want) == 0 || !equalInts(got, want) {
			t.Errorf("%q: answers %v, net/http alone %v", raw, got, want)
		}
	}
}

// A new connection has readHeaderTimeout, from its accept, for the headers of its first
// request, as under net/http alone: one that sends nothing is not kept for the idle
// timeout of a connection that has been served.
func TestFastPathFirstRequestHeaderTimeout(t *testing.T) {
	fast, _ := startFast(t, Config{})
	c, err := net.Dial("tcp", fast.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	dialed := time.Now()
	readDeadline := func() time.Time {
		fast.ln.mu.Lock()
		defer fast.ln.mu.Unlock()
		for tc := range fast.ln.conns {
			tc.dmu.Lock()
			defer tc.dmu.Unlock()
			return tc.rd.at
		}
		return time.Time{}
	}
	waitFor(t, func() bool { return !readDeadline().IsZero() })
	time.Sleep(50 * time.Millisecond) // the deadline is settled before the first byte
	if d := readDeadline(); d.After(dialed.Add(readHeaderTimeout + time.Second)) {
		t.Errorf("a silent new connection is kept %v, want at most %v", d.Sub(dialed).Round(time.Second), readHeaderTimeout)
	}
}

// A header block cut short by the sender's end of stream is net/http's to refuse (400), as
// it does alone, not closed without an answer.
func TestFastPathTruncatedHead(t *testing.T) {
	fast, plain := startFast(t, Config{})
	send := func(addr, raw string) []int {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		io.WriteString(c, raw)
		c.(*net.TCPConn).CloseWrite()
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		out, _ := io.ReadAll(c)
		return statuses(t, string(out))
	}
	for _, raw := range []string{
		"POST /events HTTP/1.1\r\nHost: x\r\n",
		"POST /events HTTP/1.1\r\nHost: x",
		fastEvent + "POST /events HTTP/1.1\r\nHost: x\r\n",
	} {
		got, want := send(fast.Addr().String(), raw), send(plain.Listener.Addr().String(), raw)
		if len(want) == 0 || !equalInts(got, want) {
			t.Errorf("%q: answers %v, net/http alone %v", raw, got, want)
		}
	}
}

// A request line the fast path does not take goes to net/http at once, without waiting for
// the end of a header block that may never come: net/http answers a bad one 400 now.
func TestFastPathBadRequestLineAnsweredAtOnce(t *testing.T) {
	fast, _ := startFast(t, Config{})
	c, err := net.Dial("tcp", fast.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	io.WriteString(c, "HELLO\r\n")
	c.SetReadDeadline(time.Now().Add(3 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("no answer to a bad request line: %v", err)
	}
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("answer %d", resp.StatusCode)
	}
}

// With ShowHeaders (-v) the report carries the header fields as they came; without it (and
// without an observer) nothing is spent on them.
func TestFastPathWireForShowHeaders(t *testing.T) {
	raw := "POST /events HTTP/1.1\r\nce-specversion: 1.0\r\nHost: x\r\nce-id: 1\r\nCE-SOURCE: /s\r\nce-type: t\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
	for _, show := range []bool{true, false} {
		wires := make(chan [][2]string, 1)
		fast, _ := startFast(t, Config{ShowHeaders: show, Report: func(r *Report) {
			if r.Kind == KindEvents {
				wires <- r.Wire
			}
		}})
		if got := statuses(t, rawExchange(t, fast.Addr().String(), raw, 2*time.Second)); !equalInts(got, []int{202}) {
			t.Fatalf("answers %v", got)
		}
		wire := <-wires
		want := [][2]string{{"ce-specversion", "1.0"}, {"Host", "x"}, {"ce-id", "1"}, {"CE-SOURCE", "/s"}, {"ce-type", "t"}, {"Content-Length", "0"}, {"Connection", "close"}}
		if show && fmt.Sprint(wire) != fmt.Sprint(want) {
			t.Errorf("wire %q, want %q", wire, want)
		}
		if !show && wire != nil {
			t.Errorf("wire kept without -v: %q", wire)
		}
	}
}
