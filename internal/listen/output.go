package listen

import (
	"errors"
	"io"
	"runtime"
	"sync"
	"time"
)

// Output serialises what concurrent requests print, and is a sink like the record: Commit
// returns only once the bytes given are written, so that an event is acknowledged only after
// its line left the process (group commit). One goroutine does the writing; every line given
// while a write is in progress waits for the next one, and all of them share it. A flood of
// events therefore costs a few large writes, not one system call each, and a lone event is
// written at once.
//
// A writer that stops taking bytes (a full pipe nobody reads, a terminal paused with Ctrl-S)
// cannot hold a request for longer than Wait: Commit then returns ErrOutputBlocked and the
// caller answers 503. A writer that fails (the reader of a pipe has gone: EPIPE) fails every
// Commit from then on with its error.
type Output struct {
	w       io.Writer
	wait    time.Duration
	max     int
	onError func(error)

	mu      sync.Mutex
	buf     []byte      // what the next write carries
	next    *generation // the write buf belongs to; nil while buf is empty
	writing *generation // the write in progress, if any
	spare   []byte
	err     error
	dropped int64
	// isClosed is set by Close.
	isClosed bool
	wake     chan struct{}
	closed   chan struct{}
	once     sync.Once
}

// generation is one write and everyone waiting for it. It is finished once: by the write
// returning, by the wait bound passing first (ErrOutputBlocked), or by Close.
type generation struct {
	done  chan struct{} // closed when finished; err is set before
	err   error
	once  sync.Once
	timer *time.Timer
}

func (g *generation) finish(err error) {
	g.once.Do(func() {
		g.err = err
		close(g.done)
	})
}

// OutputOptions say how an Output waits and how much it holds.
type OutputOptions struct {
	// Wait bounds how long Commit waits for its bytes to be written (0: DefaultOutputWait).
	Wait time.Duration
	// MaxPending bounds the bytes waiting for a write that has not started
	// (0: DefaultOutputPending). A line is always taken when nothing else waits.
	MaxPending int
	// OnError, when not nil, is told of the first write error.
	OnError func(error)
}

// Defaults of an Output.
const (
	// DefaultOutputWait is how long an event waits for stdout before it is answered 503: long
	// enough for a pipe reader that is merely slow, short enough that a sender waiting on a
	// paused terminal is told to come back rather than left to time out.
	DefaultOutputWait = 2 * time.Second
	// DefaultOutputPending is what may queue up behind a write in progress.
	DefaultOutputPending = 4 << 20
)

// ErrOutputBlocked is what Commit returns when the writer took nothing for the Output's wait
// bound, or when too much is queued behind it.
var ErrOutputBlocked = errors.New("the output is blocked: nothing was written for a while")

// NewOutput returns an Output writing to w, with its writing goroutine running.
func NewOutput(w io.Writer, opts OutputOptions) *Output {
	if opts.Wait <= 0 {
		opts.Wait = DefaultOutputWait
	}
	if opts.MaxPending <= 0 {
		opts.MaxPending = DefaultOutputPending
	}
	o := &Output{
		w: w, wait: opts.Wait, max: opts.MaxPending, onError: opts.OnError,
		wake: make(chan struct{}, 1), closed: make(chan struct{}),
	}
	go o.flusher()
	return o
}

// Commit queues p whole and returns once it is written: nil, the writer's error (which
// sticks), or ErrOutputBlocked when that did not happen within the wait bound. After
// ErrOutputBlocked the bytes may still be written later.
func (o *Output) Commit(p []byte) error {
	g, err := o.queue(p)
	if err != nil || g == nil {
		return err
	}
	<-g.done
	return g.err
}

// Write queues p whole without waiting for it to be written, for what no answer depends on
// (notes and rejections on stderr). What does not fit behind a blocked writer is dropped and
// counted (Dropped). The first write error is returned by every later call.
func (o *Output) Write(p []byte) (int, error) {
	_, err := o.queue(p)
	if errors.Is(err, ErrOutputBlocked) {
		o.mu.Lock()
		o.dropped++
		o.mu.Unlock()
		return len(p), nil
	}
	if err != nil {
		return 0, err
	}
	return len(p), nil
}

// queue appends p to the next write and returns that write.
func (o *Output) queue(p []byte) (*generation, error) {
	if len(p) == 0 {
		return nil, nil
	}
	o.mu.Lock()
	if o.err != nil {
		err := o.err
		o.mu.Unlock()
		return nil, err
	}
	if o.isClosed {
		o.mu.Unlock()
		return nil, ErrOutputBlocked
	}
	if len(o.buf) > 0 && len(o.buf)+len(p) > o.max {
		o.mu.Unlock()
		return nil, ErrOutputBlocked
	}
	g := o.next
	if g == nil {
		g = o.newGeneration()
		o.next = g
	}
	o.buf = append(o.buf, p...)
	o.mu.Unlock()
	select {
	case o.wake <- struct{}{}:
	default:
	}
	return g, nil
}

// newGeneration starts the wait bound of a write when its first bytes are queued, so that
// time spent behind a blocked write counts too.
func (o *Output) newGeneration() *generation {
	g := &generation{done: make(chan struct{})}
	g.timer = time.AfterFunc(o.wait, func() { g.finish(ErrOutputBlocked) })
	return g
}

// flusher writes what is queued, one write at a time, until Close.
func (o *Output) flusher() {
	for {
		select {
		case <-o.wake:
		case <-o.closed:
			return
		}
		// The goroutine that woke the writer is run next in its place (the scheduler's
		// runnext), so without a yield every line would get a write of its own: let the
		// requests that are ready now queue their lines first, and share this write.
		runtime.Gosched()
		for o.writeOnce() {
		}
	}
}

// writeOnce writes what is queued, if anything, and reports whether it wrote.
func (o *Output) writeOnce() bool {
	o.mu.Lock()
	if len(o.buf) == 0 {
		o.mu.Unlock()
		return false
	}
	b, g, err := o.buf, o.next, o.err
	o.buf, o.next, o.writing = o.spare[:0], nil, g
	o.spare = nil
	o.mu.Unlock()

	if err == nil {
		_, err = o.w.Write(b)
	}
	g.timer.Stop()

	o.mu.Lock()
	o.writing = nil
	if cap(b) <= 2*o.max {
		o.spare = b[:0]
	}
	if err != nil && o.err == nil {
		o.err = err
		if o.onError != nil {
			o.onError(err)
		}
	}
	o.mu.Unlock()
	g.finish(err)
	return true
}

// Flush waits until everything queued so far is written, at most the wait bound, and
// returns the first write error or ErrOutputBlocked.
func (o *Output) Flush() error {
	o.mu.Lock()
	g := o.next
	if g == nil {
		g = o.writing
	}
	err := o.err
	o.mu.Unlock()
	if g == nil {
		return err
	}
	// The write's own wait bound ends this wait too.
	<-g.done
	return g.err
}

// Dropped is the number of Writes dropped because the writer was blocked.
func (o *Output) Dropped() int64 {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.dropped
}

// Close stops the writing goroutine once it is not writing, and ends every wait; it does not
// flush (Flush does).
func (o *Output) Close() {
	o.once.Do(func() {
		o.mu.Lock()
		o.isClosed = true
		pending := []*generation{o.next, o.writing}
		o.mu.Unlock()
		for _, g := range pending {
			if g != nil {
				g.finish(ErrOutputBlocked)
			}
		}
		close(o.closed)
	})
}
