package cmd

import (
	"context"
	"fmt"
	"io"
	"sync"
)

// terminalInput is standard input when it is a terminal. A read from a terminal blocks until
// a line is typed or Ctrl-D ends the input, and no signal interrupts it: reads run in a
// goroutine of their own so that a read returns the interruption as soon as Ctrl-C (or
// SIGTERM) cancels ctx. The first read also says on stderr that cectl is waiting for input
// typed at the terminal, and how to end it — otherwise `cectl validate -` looks hung.
type terminalInput struct {
	ctx    context.Context
	in     io.Reader
	notice io.Writer

	once    sync.Once
	mu      sync.Mutex // one read at a time
	pending chan readResult
}

type readResult struct {
	b   []byte
	err error
}

func newTerminalInput(ctx context.Context, in io.Reader, notice io.Writer) *terminalInput {
	return &terminalInput{ctx: ctx, in: in, notice: notice}
}

func (t *terminalInput) Read(p []byte) (int, error) {
	t.once.Do(func() {
		fmt.Fprintln(t.notice, "reading standard input from the terminal: end it with Ctrl-D on a line of its own, or press Ctrl-C to cancel")
	})
	if len(p) == 0 {
		return 0, nil
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if err := t.ctx.Err(); err != nil {
		return 0, context.Cause(t.ctx)
	}
	if t.pending == nil {
		// The read goes on in the background; its result is kept for the next Read when
		// ctx ends first (a read that was abandoned cannot be taken back).
		ch := make(chan readResult, 1)
		size := len(p)
		go func() {
			buf := make([]byte, size)
			n, err := t.in.Read(buf)
			ch <- readResult{buf[:n], err}
		}()
		t.pending = ch
	}
	select {
	case r := <-t.pending:
		t.pending = nil
		n := copy(p, r.b)
		if n < len(r.b) {
			// p shrank since the read began: keep the rest for the next Read.
			rest := make(chan readResult, 1)
			rest <- readResult{r.b[n:], r.err}
			t.pending = rest
			return n, nil
		}
		return n, r.err
	case <-t.ctx.Done():
		return 0, context.Cause(t.ctx)
	}
}
