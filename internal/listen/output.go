package listen

import (
	"bufio"
	"io"
	"sync"
	"sync/atomic"
)

// Output serialises what concurrent requests print. Writes are buffered and flushed as soon as
// no other write is waiting, so a burst of events costs few system calls and a lone event is
// on the screen at once.
type Output struct {
	waiting atomic.Int32
	mu      sync.Mutex
	w       *bufio.Writer
	err     error
}

// NewOutput returns an Output writing to w.
func NewOutput(w io.Writer) *Output {
	return &Output{w: bufio.NewWriterSize(w, 64<<10)}
}

// Write writes p whole, or not at all once an earlier write has failed; the first error is
// returned by every later call.
func (o *Output) Write(p []byte) (int, error) {
	o.waiting.Add(1)
	o.mu.Lock()
	defer o.mu.Unlock()
	o.waiting.Add(-1)
	if o.err != nil {
		return 0, o.err
	}
	n, err := o.w.Write(p)
	if err == nil && o.waiting.Load() == 0 {
		err = o.w.Flush()
	}
	if err != nil {
		o.err = err
	}
	return n, err
}

// Flush writes what is buffered.
func (o *Output) Flush() error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.err != nil {
		return o.err
	}
	o.err = o.w.Flush()
	return o.err
}
