package listen

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/textproto"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/net/http/httpguts"
)

// The fast path serves the requests that carry events over plain HTTP/1.1 — a POST or PUT
// to the events path with a Content-Length — itself, and hands every other request, with
// its connection, to net/http. An event request then costs what taking the event costs:
// net/http's machinery per request (a goroutine reading ahead on the connection, a
// context, response buffers) was most of what a small event cost.
//
// The fast path parses only what it is sure of. The first request on a connection that is
// anything else — another method or path, HTTP/1.0, chunked or Expect: 100-continue, an
// Upgrade, headers it does not take as they are (obsolete line folding, a bare LF, a name
// or value with characters RFC 9110 §5 does not allow, more than one Host or
// Content-Length), a header block larger than its buffer, a body beyond --max-body — goes,
// unread, to net/http, which then serves that connection to its end: refusals of malformed
// requests, the page of --ui and its stream, TLS, all stay net/http's. Both answer an
// event request the same, through the same handler.

// fastBufSize is the read buffer of a connection: the request line and headers of a
// request taken by the fast path fit in it, or the connection goes to net/http.
const fastBufSize = 8 << 10

// maxDrain is how much of an unread body is read and dropped to keep the connection, as
// net/http does (its maxPostHandlerReadBytes); a longer one closes it.
const maxDrain = 256 << 10

// handoff is the listener net/http serves: it yields the connections the fast path hands
// over.
type handoff struct {
	addr net.Addr
	ch   chan net.Conn
	done chan struct{}
	once sync.Once
}

func newHandoff(addr net.Addr) *handoff {
	return &handoff{addr: addr, ch: make(chan net.Conn), done: make(chan struct{})}
}

func (l *handoff) Accept() (net.Conn, error) {
	select {
	case c := <-l.ch:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *handoff) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}

func (l *handoff) Addr() net.Addr { return l.addr }

// give hands c to net/http, or closes it once net/http serves no more.
func (l *handoff) give(c net.Conn) {
	select {
	case l.ch <- c:
	case <-l.done:
		c.Close()
	}
}

// replayConn is a connection handed over with what was already read from it: net/http reads
// that first.
type replayConn struct {
	net.Conn
	pending []byte
}

func (c *replayConn) Read(p []byte) (int, error) {
	if len(c.pending) > 0 {
		n := copy(p, c.pending)
		c.pending = c.pending[n:]
		return n, nil
	}
	return c.Conn.Read(p)
}

// fastConns are the connections the fast path serves, for Shutdown.
type fastConns struct {
	mu       sync.Mutex
	conns    map[*fastConn]struct{}
	stopping bool
	wg       sync.WaitGroup
	// served counts the requests the fast path answered; handedOver the connections it
	// gave to net/http.
	served, handedOver atomic.Int64
}

// fastConn is one connection served by the fast path.
type fastConn struct {
	s      *Server
	c      net.Conn
	tc     *trackedConn
	br     *bufio.Reader
	out    []byte
	remote string
	// ctx is the connection's context; each request's is cancelled when it is answered.
	ctx context.Context
	// idle is set while the connection waits for a request (under fastConns.mu): Shutdown
	// closes it then.
	idle bool
	// afterPost: the last request served was a POST (see skipEmptyLines).
	afterPost bool
	// accepted is when the connection was accepted; fresh, that no request has come on it.
	accepted time.Time
	fresh    bool
}

var fastReaders = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, fastBufSize) }}

// serveFast serves c until it closes, or hands it to net/http.
func (s *Server) serveFast(c net.Conn) {
	fc := &fastConn{s: s, c: c, tc: tracked(c), remote: c.RemoteAddr().String(), accepted: time.Now(), fresh: true}
	ctx, cancel := context.WithCancel(context.WithValue(s.baseCtx, http.LocalAddrContextKey, c.LocalAddr()))
	defer cancel()
	fc.ctx = connContext(ctx, c)
	fc.br = fastReaders.Get().(*bufio.Reader)
	fc.br.Reset(c)
	defer func() {
		if fc.br != nil {
			fc.br.Reset(nil)
			fastReaders.Put(fc.br)
		}
	}()
	if !s.fast.add(fc) {
		c.Close()
		return
	}
	defer s.fast.done(fc)
	for {
		keep, handOver := fc.serveOne()
		if handOver {
			pending := slices.Clone(peekBuffered(fc.br))
			s.fast.remove(fc)
			s.fast.handedOver.Add(1)
			s.handoff.give(&replayConn{Conn: c, pending: pending})
			return
		}
		if !keep {
			c.Close()
			return
		}
	}
}

func peekBuffered(br *bufio.Reader) []byte {
	b, _ := br.Peek(br.Buffered())
	return b
}

func (f *fastConns) add(fc *fastConn) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.stopping {
		return false
	}
	if f.conns == nil {
		f.conns = map[*fastConn]struct{}{}
	}
	f.conns[fc] = struct{}{}
	f.wg.Add(1)
	return true
}

// remove forgets fc, handed to net/http.
func (f *fastConns) remove(fc *fastConn) {
	f.mu.Lock()
	delete(f.conns, fc)
	f.mu.Unlock()
}

func (f *fastConns) done(fc *fastConn) {
	f.remove(fc)
	f.wg.Done()
}

// setIdle marks fc as waiting for a request; false when the server is stopping.
func (f *fastConns) setIdle(fc *fastConn, idle bool) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	fc.idle = idle
	return !f.stopping
}

// stop closes the idle connections and makes the others close after their answer.
func (f *fastConns) stop() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.stopping = true
	for fc := range f.conns {
		if fc.idle {
			fc.c.Close()
		}
	}
}

// closeAll closes every connection, served or not.
func (f *fastConns) closeAll() {
	f.mu.Lock()
	defer f.mu.Unlock()
	for fc := range f.conns {
		fc.c.Close()
	}
}

func (f *fastConns) isStopping() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.stopping
}

// wait waits until every connection is done, or ctx is.
func (f *fastConns) wait(ctx context.Context) error {
	done := make(chan struct{})
	go func() {
		f.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// fastRequest is what the fast path parsed of a request.
type fastRequest struct {
	method, target, host string
	url                  *url.URL
	header               http.Header
	contentLength        int64
	close                bool
	// wire is the header fields as they came, when asked for.
	wire [][2]string
}

// wireCtx is a request's context that carries its header fields as they came (Report.Wire).
type wireCtx struct {
	context.Context
	wire [][2]string
}

type wireKey struct{}

func (c *wireCtx) Value(key any) any {
	if key == (wireKey{}) {
		return c.wire
	}
	return c.Context.Value(key)
}

// wireOf returns the header fields as they came of the request with context ctx, if known.
func wireOf(ctx context.Context) [][2]string {
	w, _ := ctx.Value(wireKey{}).([][2]string)
	return w
}

// serveOne waits for the next request and serves it. keep says whether the connection
// stays open; handOver that the request goes to net/http, unread.
func (fc *fastConn) serveOne() (keep, handOver bool) {
	s := fc.s
	c := fc.c
	if !s.fast.setIdle(fc, true) {
		return false, false
	}
	if fc.fresh {
		// A new connection has readHeaderTimeout from its accept for its first request's
		// headers, as under net/http: one that sends nothing is a slow sender of headers,
		// not a kept-alive connection (idleTimeout, and the first closed to make room).
		c.SetReadDeadline(fc.accepted.Add(readHeaderTimeout))
	} else {
		if fc.tc != nil {
			fc.tc.setPhase(phaseIdle)
		}
		c.SetReadDeadline(time.Now().Add(idleTimeout))
	}
	_, err := fc.br.Peek(1)
	if !s.fast.setIdle(fc, false) || err != nil {
		return false, false
	}
	t0 := time.Now()
	if !fc.fresh {
		if fc.tc != nil {
			fc.tc.setPhase(phaseHeaders)
		}
		c.SetReadDeadline(t0.Add(readHeaderTimeout))
	}
	fc.fresh = false
	if fc.afterPost {
		fc.afterPost = false
		fc.skipEmptyLines()
	}
	head, err := fc.readHead()
	if err != nil {
		return false, false
	}
	if head == nil {
		return true, true
	}
	req, ok := parseHead(head, s.h.cfg.Observer != nil || s.h.cfg.ShowHeaders)
	if !ok || req.contentLength > s.h.cfg.MaxBody || !samePath(req.url.Path, s.h.cfg.Path) {
		return true, true
	}
	fc.br.Discard(len(head))
	fc.afterPost = req.method == http.MethodPost
	c.SetReadDeadline(t0.Add(readTimeout))
	c.SetWriteDeadline(t0.Add(s.srv.WriteTimeout))

	body := &fastBody{r: fc.br, n: req.contentLength}
	ctx, cancel := context.WithCancel(fc.ctx)
	if req.wire != nil {
		ctx = &wireCtx{Context: ctx, wire: req.wire}
	}
	r := (&http.Request{
		Method: req.method, URL: req.url, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: req.header, Body: body, ContentLength: req.contentLength, Host: req.host,
		RemoteAddr: fc.remote, RequestURI: req.target, Close: req.close,
	}).WithContext(ctx)
	w := &fastResponse{header: http.Header{}}
	ok = fc.handle(w, r)
	cancel()
	s.fast.served.Add(1)
	if !ok {
		return false, false
	}
	// Whatever of the body the handler left is read and dropped, up to a point.
	closeAfter := req.close || s.fast.isStopping()
	if body.n > 0 {
		if body.n > maxDrain || body.sawErr {
			closeAfter = true
		} else if _, err := io.Copy(io.Discard, body); err != nil {
			closeAfter = true
		}
	}
	if hasToken(w.header["Connection"], "close") {
		// Stopped answers and 411 ask for it.
		closeAfter = true
	}
	fc.out = w.appendTo(fc.out[:0], closeAfter)
	if _, err := c.Write(fc.out); err != nil {
		return false, false
	}
	if cap(fc.out) > 64<<10 {
		fc.out = nil
	}
	c.SetWriteDeadline(time.Time{})
	return !closeAfter, false
}

// handle runs the server's handler; false when it panicked (the connection is closed, as
// net/http does).
func (fc *fastConn) handle(w *fastResponse, r *http.Request) (ok bool) {
	defer func() {
		if v := recover(); v != nil {
			if v == http.ErrAbortHandler {
				return
			}
			if l := fc.s.srv.ErrorLog; l != nil {
				l.Printf("http: panic serving %s: %v", fc.remote, v)
			}
		}
	}()
	fc.s.srv.Handler.ServeHTTP(w, r)
	return true
}

// skipEmptyLines drops up to four CR or LF bytes before the next request line, as net/http
// does after a POST (RFC 9112 §2.2: a server SHOULD ignore at least one empty line before the
// request-line; old clients end a POST body with CRLF). Without it, a request the fast path
// does not take would reach net/http beginning with an empty line, which net/http, seeing a
// new connection, refuses with 400 where it alone would have served it.
func (fc *fastConn) skipEmptyLines() {
	peek, _ := fc.br.Peek(4) // an error is met again by readHead
	n := 0
	for n < len(peek) && (peek[n] == '\r' || peek[n] == '\n') {
		n++
	}
	fc.br.Discard(n)
}

// readHead reads up to the end of the request's header block and returns it, still
// buffered; nil when it does not fit in the buffer, uses a bare LF or is cut short by the end
// of the stream, for net/http.
func (fc *fastConn) readHead() ([]byte, error) {
	br := fc.br
	for {
		b := peekBuffered(br)
		if i := bytes.IndexByte(b, '\n'); i >= 0 && !fastRequestLine(b[:i+1]) {
			// Not a request the fast path takes (a GET, HTTP/1.0, garbage): net/http has
			// it at once, rather than when, or whether, its header block ends.
			return nil, nil
		}
		end, bare := bytes.Index(b, []byte("\n\r\n")), bytes.Index(b, []byte("\n\n"))
		if bare >= 0 && (end < 0 || bare < end) {
			// A header block ended by bare line feeds: net/http's to judge.
			return nil, nil
		}
		if end >= 0 {
			head := b[:end+3]
			if bytes.Count(head, []byte("\n")) != bytes.Count(head, []byte("\r\n")) {
				return nil, nil
			}
			return head, nil
		}
		if len(b) == br.Size() {
			return nil, nil
		}
		if _, err := br.Peek(len(b) + 1); err != nil {
			if len(b) > 0 && errors.Is(err, bufio.ErrBufferFull) {
				return nil, nil
			}
			if br.Buffered() > 0 && err == io.EOF {
				// A header block cut short: net/http answers it 400. (A timeout is not
				// handed over: net/http would give the sender a new readHeaderTimeout.)
				return nil, nil
			}
			return nil, err
		}
	}
}

// fastRequestLine reports whether line, up to its LF, may start a request the fast path
// takes: POST or PUT, HTTP/1.1, ended by CRLF. parseHead checks the rest.
func fastRequestLine(line []byte) bool {
	return (bytes.HasPrefix(line, []byte("POST ")) || bytes.HasPrefix(line, []byte("PUT "))) &&
		bytes.HasSuffix(line, []byte(" HTTP/1.1\r\n"))
}

// parseHead parses a request line and header block that ends in CRLF CRLF (RFC 9112 §2.1),
// taking only what the fast path serves; false for anything else. With wire, it keeps the
// header fields as they came too.
func parseHead(head []byte, wire bool) (fastRequest, bool) {
	var req fastRequest
	// One string holds the whole head; names and values are slices of it.
	s := string(head[:len(head)-2])
	line, rest, _ := strings.Cut(s, "\r\n")
	method, line, ok1 := strings.Cut(line, " ")
	target, proto, ok2 := strings.Cut(line, " ")
	if !ok1 || !ok2 || proto != "HTTP/1.1" || (method != http.MethodPost && method != http.MethodPut) {
		return req, false
	}
	if len(target) == 0 || target[0] != '/' || !visibleASCII(target) {
		return req, false
	}
	u, err := url.ParseRequestURI(target)
	if err != nil {
		return req, false
	}
	req.method, req.target, req.url = method, target, u
	n := strings.Count(rest, "\r\n")
	req.header = make(http.Header, n)
	values := make([]string, n)
	if wire {
		req.wire = make([][2]string, 0, n)
	}
	hosts, lengths := 0, 0
	for i := 0; rest != ""; i++ {
		var ln string
		ln, rest, _ = strings.Cut(rest, "\r\n")
		name, value, ok := strings.Cut(ln, ":")
		if !ok || !httpguts.ValidHeaderFieldName(name) {
			// Includes obsolete line folding: a line beginning with white space.
			return req, false
		}
		value = strings.Trim(value, " \t") // optional white space, RFC 9110 §5.6.3
		if !httpguts.ValidHeaderFieldValue(value) {
			return req, false
		}
		if wire {
			req.wire = append(req.wire, [2]string{name, value})
		}
		key := canonicalKey(name)
		switch key {
		case "Host":
			hosts++
			if !httpguts.ValidHostHeader(value) {
				return req, false
			}
			req.host = value
			continue // net/http keeps Host out of the header map too
		case "Content-Length":
			lengths++
			cl, ok := parseLength(value)
			if !ok {
				return req, false
			}
			req.contentLength = cl
		case "Transfer-Encoding", "Expect", "Upgrade", "Te", "Trailer":
			return req, false
		case "Connection":
			if hasToken([]string{value}, "upgrade") {
				return req, false
			}
			if hasToken([]string{value}, "close") {
				req.close = true
			}
		}
		if vs, ok := req.header[key]; ok {
			req.header[key] = append(vs, value)
		} else {
			values[i] = value
			req.header[key] = values[i : i+1 : i+1]
		}
	}
	// HTTP/1.1 requires exactly one Host (RFC 9112 §3.2); one length (RFC 9110 §8.6).
	if hosts != 1 || lengths > 1 {
		return req, false
	}
	// net/http reads Pragma: no-cache without Cache-Control as Cache-Control: no-cache too
	// (RFC 9111 §5.4): the handler sees the same header map either way.
	if p := req.header["Pragma"]; len(p) > 0 && p[0] == "no-cache" {
		if _, ok := req.header["Cache-Control"]; !ok {
			req.header["Cache-Control"] = []string{"no-cache"}
		}
	}
	return req, true
}

func visibleASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] >= 0x7f || s[i] == '#' {
			return false
		}
	}
	return true
}

// parseLength parses a Content-Length: digits only (RFC 9110 §8.6).
func parseLength(s string) (int64, bool) {
	if s == "" || len(s) > 18 {
		return 0, false
	}
	var n int64
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
		n = n*10 + int64(s[i]-'0')
	}
	return n, true
}

// canonicalKey is the canonical form of a header name, as net/http keys its map; a name
// already canonical, as most clients send them, costs no allocation.
func canonicalKey(name string) string { return textproto.CanonicalMIMEHeaderKey(name) }

// hasToken reports whether a comma-separated header holds token, in any case.
func hasToken(values []string, token string) bool {
	for _, v := range values {
		for v != "" {
			var t string
			t, v, _ = strings.Cut(v, ",")
			if strings.EqualFold(strings.Trim(t, " \t"), token) {
				return true
			}
		}
	}
	return false
}

// fastBody is a request body of known length.
type fastBody struct {
	r      *bufio.Reader
	n      int64
	sawErr bool
}

func (b *fastBody) Read(p []byte) (int, error) {
	if b.n <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > b.n {
		p = p[:b.n]
	}
	n, err := b.r.Read(p)
	b.n -= int64(n)
	if err != nil {
		b.sawErr = true
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return n, err
	}
	if b.n == 0 {
		return n, io.EOF
	}
	return n, nil
}

func (b *fastBody) Close() error { return nil }

// fastResponse is the answer to a request of the fast path, written in one piece when the
// handler returns.
type fastResponse struct {
	header      http.Header
	status      int
	wroteHeader bool
	body        []byte
}

func (w *fastResponse) Header() http.Header { return w.header }

func (w *fastResponse) WriteHeader(code int) {
	if w.wroteHeader || code < 200 {
		return
	}
	w.status, w.wroteHeader = code, true
}

func (w *fastResponse) Write(p []byte) (int, error) {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	if !bodyAllowed(w.status) {
		return 0, http.ErrBodyNotAllowed
	}
	w.body = append(w.body, p...)
	return len(p), nil
}

func bodyAllowed(status int) bool {
	return status != http.StatusNoContent && status != http.StatusNotModified
}

// appendTo appends the response as HTTP/1.1 puts it on the wire, with the headers net/http
// would add: Date, Content-Length, a sniffed Content-Type for a body without one
// (RFC 9110 §8.3), and Connection: close when the connection is closed after it.
func (w *fastResponse) appendTo(b []byte, closeAfter bool) []byte {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	// The handler's header map is left as it is: an observer may hold it.
	h := w.header
	b = append(b, "HTTP/1.1 "...)
	b = strconv.AppendInt(b, int64(w.status), 10)
	b = append(b, ' ')
	b = append(b, http.StatusText(w.status)...)
	b = append(b, "\r\n"...)
	if _, ok := h["Date"]; !ok {
		b = append(b, "Date: "...)
		b = appendDate(b)
		b = append(b, "\r\n"...)
	}
	if bodyAllowed(w.status) {
		if _, ok := h["Content-Type"]; !ok && len(w.body) > 0 {
			b = append(b, "Content-Type: "...)
			b = append(b, http.DetectContentType(w.body)...)
			b = append(b, "\r\n"...)
		}
		b = append(b, "Content-Length: "...)
		b = strconv.AppendInt(b, int64(len(w.body)), 10)
		b = append(b, "\r\n"...)
	}
	if closeAfter {
		b = append(b, "Connection: close\r\n"...)
	}
	var keys []string
	if len(h) > 0 {
		keys = make([]string, 0, len(h))
		for k := range h {
			switch k {
			case "Content-Length", "Transfer-Encoding", "Connection":
				// Written above, from what was answered.
			default:
				keys = append(keys, k)
			}
		}
		slices.Sort(keys)
	}
	for _, k := range keys {
		if !httpguts.ValidHeaderFieldName(k) {
			continue
		}
		for _, v := range h[k] {
			b = append(b, k...)
			b = append(b, ": "...)
			b = appendHeaderValue(b, v)
			b = append(b, "\r\n"...)
		}
	}
	b = append(b, "\r\n"...)
	if bodyAllowed(w.status) {
		b = append(b, w.body...)
	}
	return b
}

// appendHeaderValue appends v with line breaks made spaces, as net/http writes values.
func appendHeaderValue(b []byte, v string) []byte {
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c == '\r' || c == '\n' {
			c = ' '
		}
		b = append(b, c)
	}
	return b
}

// The Date header changes once a second; it is formatted once a second.
var dateCache atomic.Pointer[cachedDate]

type cachedDate struct {
	sec int64
	s   string
}

func appendDate(b []byte) []byte {
	now := time.Now()
	d := dateCache.Load()
	if d == nil || d.sec != now.Unix() {
		d = &cachedDate{sec: now.Unix(), s: now.UTC().Format(http.TimeFormat)}
		dateCache.Store(d)
	}
	return append(b, d.s...)
}
