package listen

import (
	"bufio"
	"io"
	"sync"
	"time"
)

// Output serialises what concurrent requests print. Writes are buffered and flushed a moment
// later (FlushDelay), so that a flood of events costs a few large writes instead of one system
// call each, while a person still sees every event at once.
type Output struct {
	mu      sync.Mutex
	w       *bufio.Writer
	err     error
	delay   time.Duration
	timer   *time.Timer
	pending bool
	onError func(error)
}

// FlushDelay is how long printed output may wait in the buffer.
const FlushDelay = 5 * time.Millisecond

// NewOutput returns an Output writing to w, flushing delay after a write (0: at once).
// onError, when not nil, is told of the first write error, including one that happens in a
// delayed flush.
func NewOutput(w io.Writer, delay time.Duration, onError func(error)) *Output {
	return &Output{w: bufio.NewWriterSize(w, 64<<10), delay: delay, onError: onError}
}

// Write writes p whole, or not at all once an earlier write has failed; the first error is
// returned by every later call.
func (o *Output) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.err != nil {
		return 0, o.err
	}
	n, err := o.w.Write(p)
	switch {
	case err != nil:
	case o.delay <= 0:
		err = o.w.Flush()
	case !o.pending:
		o.pending = true
		if o.timer == nil {
			o.timer = time.AfterFunc(o.delay, o.flushLater)
		} else {
			o.timer.Reset(o.delay)
		}
	}
	if err != nil {
		o.failLocked(err)
	}
	return n, err
}

func (o *Output) flushLater() {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.pending = false
	if o.err == nil {
		if err := o.w.Flush(); err != nil {
			o.failLocked(err)
		}
	}
}

func (o *Output) failLocked(err error) {
	o.err = err
	if o.onError != nil {
		o.onError(err)
	}
}

// Flush writes what is buffered now.
func (o *Output) Flush() error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.timer != nil {
		o.timer.Stop()
		o.pending = false
	}
	if o.err != nil {
		return o.err
	}
	if err := o.w.Flush(); err != nil {
		o.failLocked(err)
	}
	return o.err
}
