package cmd

import (
	"context"
	"io"
	"os"
	"sync"
)

// stdinNotice is what cectl says when it reads standard input from a terminal: otherwise
// `cectl validate -` looks hung.
const stdinNotice = "reading standard input from the terminal: end it with Ctrl-D on a line of its own, or press Ctrl-C to cancel"

// cancelInput is an input that may block for as long as someone else likes: a terminal, a
// pipe or a FIFO whose writer neither writes nor closes it. A read from one is not
// interrupted by a signal, so reads run in a goroutine of their own and Read returns the
// interruption as soon as Ctrl-C (or SIGTERM) cancels ctx. A regular file needs none of
// this: its reads end.
type cancelInput struct {
	ctx context.Context
	in  io.Reader
	// notice, when set, is called once, before the first read: for a terminal it says that
	// cectl waits for input typed there, and how to end it.
	notice func()
	// tty says that in is a terminal.
	tty bool

	once    sync.Once
	mu      sync.Mutex // one Read at a time
	done    chan readResult
	pending bool   // a read is in flight, its result due on done
	buf     []byte // what the reads read into; reused once handed out
	rest    []byte // read and not handed out yet
	restErr error  // the error that came with rest
}

type readResult struct {
	n   int
	err error
}

func newCancelInput(ctx context.Context, in io.Reader, notice func()) *cancelInput {
	return &cancelInput{ctx: ctx, in: in, notice: notice, done: make(chan readResult, 1)}
}

func (c *cancelInput) Read(p []byte) (int, error) {
	c.once.Do(func() {
		if c.notice != nil {
			c.notice()
		}
	})
	if len(p) == 0 {
		return 0, nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.rest) > 0 || c.restErr != nil {
		return c.handOut(p)
	}
	if err := c.ctx.Err(); err != nil {
		return 0, context.Cause(c.ctx)
	}
	if !c.pending {
		// A read that ctx abandoned goes on in the background (it cannot be taken back);
		// its result is kept for the next Read.
		if cap(c.buf) < len(p) {
			c.buf = make([]byte, len(p))
		}
		buf := c.buf[:len(p)]
		c.pending = true
		go func() {
			n, err := c.in.Read(buf)
			c.done <- readResult{n, err}
		}()
	}
	select {
	case r := <-c.done:
		c.pending = false
		c.rest, c.restErr = c.buf[:r.n], r.err
		return c.handOut(p)
	case <-c.ctx.Done():
		return 0, context.Cause(c.ctx)
	}
}

// handOut copies what was read into p, and the read's error once all of it is handed out.
func (c *cancelInput) handOut(p []byte) (int, error) {
	n := copy(p, c.rest)
	c.rest = c.rest[n:]
	if len(c.rest) > 0 {
		return n, nil
	}
	err := c.restErr
	c.restErr = nil
	return n, err
}

// mayBlock reports whether reads from f may wait for ever: a terminal or another device, a
// pipe, a FIFO, a socket.
func mayBlock(f *os.File) bool {
	fi, err := f.Stat()
	return err == nil && fi.Mode()&(os.ModeCharDevice|os.ModeDevice|os.ModeNamedPipe|os.ModeSocket) != 0
}

// readsStdin reports whether name, given where a file is read, names the process's standard
// input when that is no regular file: /dev/stdin, /dev/fd/0 or the terminal's own device. Such
// a name is read as - is (a terminal announced, Ctrl-C heard); opened anew it would be
// neither. A regular file redirected to stdin is opened as any file.
func (f *Factory) readsStdin(name string) bool {
	if name == "-" {
		return true
	}
	if f.IO.StdinFile == nil || !mayBlock(f.IO.StdinFile) {
		return false
	}
	in, err := f.IO.StdinFile.Stat()
	if err != nil {
		return false
	}
	fi, err := os.Stat(name)
	return err == nil && os.SameFile(fi, in)
}

// openInput opens a file the command reads: standard input when name names it (see
// readsStdin), else the file, read through a cancelInput when it is a terminal (announced
// as stdin is) or a FIFO, which may block. close releases what was opened.
func (f *Factory) openInput(ctx context.Context, name string) (r io.Reader, done func(), err error) {
	if f.readsStdin(name) {
		return f.IO.In, func() {}, nil
	}
	file, err := openFile(ctx, name)
	if err != nil {
		return nil, nil, err
	}
	return f.blockingInput(ctx, file), func() { file.Close() }, nil
}

// openFile opens name for reading. Opening a FIFO waits until a writer opens it too, in a
// system call that no signal ends: that open runs in a goroutine of its own, and Ctrl-C (or
// SIGTERM) ends the wait with ctx's cause. A FIFO opened after that is closed.
func openFile(ctx context.Context, name string) (*os.File, error) {
	if fi, err := os.Stat(name); err != nil || fi.Mode()&os.ModeNamedPipe == 0 {
		return os.Open(name)
	}
	type opened struct {
		file *os.File
		err  error
	}
	ch := make(chan opened, 1)
	go func() {
		file, err := os.Open(name)
		ch <- opened{file, err}
	}()
	select {
	case o := <-ch:
		return o.file, o.err
	case <-ctx.Done():
		go func() {
			if o := <-ch; o.file != nil {
				o.file.Close()
			}
		}()
		return nil, context.Cause(ctx)
	}
}

// blockingInput is file, read through a cancelInput when its reads may block for ever (a
// terminal, announced as stdin is, or a FIFO).
func (f *Factory) blockingInput(ctx context.Context, file *os.File) io.Reader {
	if !mayBlock(file) {
		return file
	}
	ci := newCancelInput(ctx, file, nil)
	if ci.tty = isTerminal(file); ci.tty {
		ci.notice = func() {
			f.notice("reading " + file.Name() + ", a terminal: end it with Ctrl-D on a line of its own, or press Ctrl-C to cancel")
		}
	}
	return ci
}

// dataOpener opens the file of --data @file as openInput does.
func (f *Factory) dataOpener(ctx context.Context) func(string) (io.Reader, func(), error) {
	return func(name string) (io.Reader, func(), error) { return f.openInput(ctx, name) }
}

// notice says something about how the command runs on stderr: a line of text, or with -o json
// a warning object like every other message there, so that a program reading stderr gets
// JSON only.
func (f *Factory) notice(msg string) {
	if f.JSON() {
		warn(f, msg)
		return
	}
	io.WriteString(f.IO.ErrOut, msg+"\n")
}
