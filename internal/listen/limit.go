package listen

import (
	"context"
	"net"
	"sync"

	"golang.org/x/sync/semaphore"
)

// budget bounds the bytes of request bodies held in memory at once, so that a flood of
// requests is slowed down or turned away instead of exhausting memory. Waiters are served in
// order, and a release wakes only those it can satisfy.
type budget struct {
	sem *semaphore.Weighted
}

func newBudget(n int64) *budget { return &budget{sem: semaphore.NewWeighted(n)} }

// acquire takes n bytes, waiting until they are free or ctx ends.
func (b *budget) acquire(ctx context.Context, n int64) error { return b.sem.Acquire(ctx, n) }

// tryAcquire takes n bytes if they are free now. Growing a reservation never waits: two
// requests each holding half the budget and waiting for the other would wait forever.
func (b *budget) tryAcquire(n int64) bool { return b.sem.TryAcquire(n) }

func (b *budget) release(n int64) {
	if n > 0 {
		b.sem.Release(n)
	}
}

// limitListener accepts at most n connections at a time; further ones wait in the kernel's
// backlog until one closes. Each connection costs buffers and a goroutine however idle it is.
type limitListener struct {
	net.Listener
	sem  chan struct{}
	done chan struct{}
	once sync.Once
}

func newLimitListener(l net.Listener, n int) *limitListener {
	return &limitListener{Listener: l, sem: make(chan struct{}, n), done: make(chan struct{})}
}

func (l *limitListener) Accept() (net.Conn, error) {
	select {
	case l.sem <- struct{}{}:
	case <-l.done:
		return nil, net.ErrClosed
	}
	c, err := l.Listener.Accept()
	if err != nil {
		<-l.sem
		return nil, err
	}
	return &limitConn{Conn: c, release: func() { <-l.sem }}, nil
}

func (l *limitListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return l.Listener.Close()
}

type limitConn struct {
	net.Conn
	once    sync.Once
	release func()
}

func (c *limitConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.release)
	return err
}
