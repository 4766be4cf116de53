package listen

import (
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// connTracker bounds the open connections and, once the bound is reached, makes room for a
// new one by closing the connections that do least, rather than letting the new one wait in
// the kernel's backlog: idle keep-alive connections first (the longest idle first), then
// those that have been sending the headers of a request for longer than slowHeaders
// (slowloris). A connection whose request is being served is never closed. A server may close
// an idle connection at any time (RFC 9112 §9.6); a client that reuses one retries on a new
// connection.
type connTracker struct {
	net.Listener
	max   int
	mu    sync.Mutex
	conns map[*trackedConn]struct{}
	open  int
	freed chan struct{}
	done  chan struct{}
	once  sync.Once
	now   func() time.Time
	start time.Time // connection times are counted from here
	// sweeping starts the goroutine that enforces the connections' deadlines (sweep).
	sweeping sync.Once
	// swept is when the sweep last ran (Unix nanoseconds): a deadline before it has passed.
	swept atomic.Int64
}

// deadlineTick is how often the connections' deadlines are checked: a deadline takes effect
// at most this late. The server's deadlines are seconds long (readHeaderTimeout and longer).
const deadlineTick = 250 * time.Millisecond

// slowHeaders is how long a connection may take to send a request's headers before, under
// pressure, it may be closed to make room. Headers come in one packet from a client that is
// not an attacker; readHeaderTimeout bounds it without pressure.
const slowHeaders = 100 * time.Millisecond

// The phases of a connection, as far as making room goes.
type connPhase uint8

const (
	// phaseHeaders: accepted, or a request has begun and its headers are being read.
	phaseHeaders connPhase = iota
	// phaseServing: the handler has the request.
	phaseServing
	// phaseIdle: between requests, kept alive.
	phaseIdle
)

type trackedConn struct {
	net.Conn
	t *connTracker
	// state is the phase and when it began (nanoseconds since the tracker's start), as
	// phase | since<<2: set without a lock on every request, read when room must be made.
	state atomic.Int64
	once  sync.Once
	// The read and write deadlines asked for, enforced by the tracker's sweep rather than by
	// a runtime timer each: net/http moves them several times per request (header, whole
	// request, write, idle), and each move of a real deadline re-arms a timer. A deadline
	// that has passed is handed to the connection itself, which then fails the blocked Read
	// or Write with os.ErrDeadlineExceeded exactly as before.
	dmu sync.Mutex
	rd  deadline
	wd  deadline
}

// deadline is one direction's deadline: when it is (zero: none), and whether the connection
// itself holds it (applied), in which case a new deadline must reach the connection too.
type deadline struct {
	at      time.Time
	applied bool
}

const phaseBits = 3

func (c *trackedConn) load() (connPhase, int64) {
	s := c.state.Load()
	return connPhase(s & phaseBits), s >> 2
}

func newConnTracker(l net.Listener, max int) *connTracker {
	return &connTracker{Listener: l, max: max, conns: make(map[*trackedConn]struct{}, min(max, 1024)),
		freed: make(chan struct{}, 1), done: make(chan struct{}), now: time.Now, start: time.Now()}
}

// Accept takes the next connection, closing one that does little first when the bound is
// reached.
func (t *connTracker) Accept() (net.Conn, error) {
	for {
		t.mu.Lock()
		if t.open < t.max {
			t.open++
			t.mu.Unlock()
			break
		}
		victim := t.victimLocked()
		t.mu.Unlock()
		if victim != nil {
			victim.Close()
			continue
		}
		// Everything is busy serving, or sending headers for too short a time yet.
		timer := time.NewTimer(slowHeaders / 2)
		select {
		case <-t.freed:
		case <-timer.C:
		case <-t.done:
			timer.Stop()
			return nil, net.ErrClosed
		}
		timer.Stop()
	}
	c, err := t.Listener.Accept()
	if err != nil {
		t.release()
		return nil, err
	}
	t.sweeping.Do(func() {
		t.swept.Store(time.Now().UnixNano())
		go t.sweep()
	})
	tc := &trackedConn{Conn: c, t: t}
	tc.setPhase(phaseHeaders)
	t.mu.Lock()
	t.conns[tc] = struct{}{}
	t.mu.Unlock()
	return tc, nil
}

// victimLocked picks the connection to close to make room, or nil.
func (t *connTracker) victimLocked() *trackedConn {
	now := t.elapsed()
	var idle, slow *trackedConn
	var idleSince, slowSince int64
	for c := range t.conns {
		switch phase, since := c.load(); phase {
		case phaseIdle:
			if idle == nil || since < idleSince {
				idle, idleSince = c, since
			}
		case phaseHeaders:
			if now-since >= int64(slowHeaders) && (slow == nil || since < slowSince) {
				slow, slowSince = c, since
			}
		}
	}
	victim := idle
	if victim == nil {
		victim = slow
	}
	if victim != nil {
		// Picked once: it leaves the table now, though its Close may come a moment later.
		delete(t.conns, victim)
	}
	return victim
}

func (t *connTracker) elapsed() int64 { return int64(t.now().Sub(t.start)) }

func (t *connTracker) release() {
	t.mu.Lock()
	t.open--
	t.mu.Unlock()
	select {
	case t.freed <- struct{}{}:
	default:
	}
}

func (t *connTracker) isClosed() bool {
	select {
	case <-t.done:
		return true
	default:
		return false
	}
}

func (t *connTracker) Close() error {
	t.once.Do(func() { close(t.done) })
	return t.Listener.Close()
}

// Open is the number of open connections.
func (t *connTracker) Open() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.open
}

func (c *trackedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() {
		c.t.mu.Lock()
		delete(c.t.conns, c)
		c.t.mu.Unlock()
		c.t.release()
	})
	return err
}

// SetDeadline sets both deadlines (net.Conn).
func (c *trackedConn) SetDeadline(t time.Time) error {
	if err := c.SetReadDeadline(t); err != nil {
		return err
	}
	return c.SetWriteDeadline(t)
}

// SetReadDeadline records the read deadline for the sweep (net.Conn).
func (c *trackedConn) SetReadDeadline(t time.Time) error {
	return c.setDeadline(&c.rd, t, c.Conn.SetReadDeadline)
}

// SetWriteDeadline records the write deadline for the sweep (net.Conn).
func (c *trackedConn) SetWriteDeadline(t time.Time) error {
	return c.setDeadline(&c.wd, t, c.Conn.SetWriteDeadline)
}

// setDeadline records t as d. A deadline already past when the sweep last ran (net/http
// uses one long past to interrupt a read at once) goes to the connection at once; any other
// waits for the sweep, without reading the clock. A deadline the connection holds is replaced
// there too, so that it does not fire late.
func (c *trackedConn) setDeadline(d *deadline, t time.Time, set func(time.Time) error) error {
	c.dmu.Lock()
	defer c.dmu.Unlock()
	d.at = t
	if !t.IsZero() && t.UnixNano() <= c.t.swept.Load() {
		d.applied = true
		return set(t)
	}
	if d.applied {
		d.applied = false
		return set(time.Time{})
	}
	return nil
}

// expire hands the deadlines that have passed by now to the connection.
func (c *trackedConn) expire(now time.Time) {
	c.dmu.Lock()
	defer c.dmu.Unlock()
	if c.rd.due(now) {
		c.Conn.SetReadDeadline(c.rd.at)
	}
	if c.wd.due(now) {
		c.Conn.SetWriteDeadline(c.wd.at)
	}
}

// due reports whether d has passed by now and is not yet held by the connection, and marks it
// held.
func (d *deadline) due(now time.Time) bool {
	if d.at.IsZero() || d.applied || now.Before(d.at) {
		return false
	}
	d.applied = true
	return true
}

// sweep enforces the deadlines of the open connections every deadlineTick, until the
// listener is closed and the last connection (drained by a graceful shutdown) has gone.
func (t *connTracker) sweep() {
	tick := time.NewTicker(deadlineTick)
	defer tick.Stop()
	var conns []*trackedConn
	for range tick.C {
		t.mu.Lock()
		conns = conns[:0]
		for c := range t.conns {
			conns = append(conns, c)
		}
		t.mu.Unlock()
		if len(conns) == 0 && t.isClosed() {
			return
		}
		now := time.Now()
		t.swept.Store(now.UnixNano())
		for _, c := range conns {
			c.expire(now)
		}
		clear(conns)
	}
}

// setPhase records that the connection entered phase p now. A connection being served
// needs no time: it is never closed to make room.
func (c *trackedConn) setPhase(p connPhase) {
	var since int64
	if p != phaseServing {
		since = c.t.elapsed()
	}
	c.state.Store(since<<2 | int64(p))
}

// tracked finds the tracked connection under c, which TLS wraps, or the fast path hands to
// net/http.
func tracked(c net.Conn) *trackedConn {
	if tc, ok := c.(*tls.Conn); ok {
		c = tc.NetConn()
	}
	if rc, ok := c.(*replayConn); ok {
		c = rc.Conn
	}
	tc, _ := c.(*trackedConn)
	return tc
}

// connState follows the server's view of each connection (http.Server.ConnState).
func connState(c net.Conn, s http.ConnState) {
	tc := tracked(c)
	if tc == nil {
		return
	}
	switch s {
	case http.StateActive:
		tc.setPhase(phaseHeaders)
	case http.StateIdle:
		tc.setPhase(phaseIdle)
	}
}

type connKey struct{}

// connContext puts the connection in every request's context (http.Server.ConnContext).
func connContext(ctx context.Context, c net.Conn) context.Context {
	if tc := tracked(c); tc != nil {
		return context.WithValue(ctx, connKey{}, tc)
	}
	return ctx
}

// serving marks a request's connection as serving once its headers are read: it is then
// doing what it is for, and is not closed to make room.
func serving(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if tc, ok := r.Context().Value(connKey{}).(*trackedConn); ok {
			tc.setPhase(phaseServing)
		}
		next.ServeHTTP(w, r)
	})
}

// Connection limits derived from the open-file limit.
const (
	// reservedFiles are kept for what is not an incoming connection: the record, relays to
	// --forward-to targets, the process's own files.
	reservedFiles = 256
	// maxConnsCap bounds connections even where files are plentiful: each costs buffers and
	// a goroutine, about 16 KiB, however idle.
	maxConnsCap = 16384
	// minConns is the least taken when the file limit is very low.
	minConns = 64
)
