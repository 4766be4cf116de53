package listen

import (
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"sync"
)

// Recorder appends events to a file as JSON lines. Append returns only when the event has
// been handed to the operating system, so an event whose 2xx was sent survives the end of the
// process. Concurrent appends are grouped: whoever finds no write in progress writes what
// everyone has queued so far in one call while the others wait for it (group commit), so the
// file sees few large writes and every line stays whole.
type Recorder struct {
	name string
	w    io.Writer
	c    io.Closer

	mu      sync.Mutex
	cond    sync.Cond
	queue   []byte // lines not yet written
	spare   []byte
	queued  uint64 // number of the last line queued
	written uint64 // number of the last line whose write has returned
	writing bool
	err     error // the first write error; every later Append fails with it
	failed  uint64
	lines   uint64
}

// maxSpare is the largest write buffer kept for the next group.
const maxSpare = 1 << 20

// OpenRecorder opens (creating it if needed) the file for appending. When the file does not
// end with a newline one is added first, so the first new event starts a line of its own.
func OpenRecorder(name string) (*Recorder, error) {
	f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	if err := endLine(f, name); err != nil {
		f.Close()
		return nil, err
	}
	r := NewRecorder(f, name)
	r.c = f
	return r, nil
}

func endLine(f *os.File, name string) error {
	st, err := f.Stat()
	if err != nil || st.Size() == 0 || !st.Mode().IsRegular() {
		return err
	}
	rf, err := os.Open(name)
	if err != nil {
		return err
	}
	defer rf.Close()
	last := make([]byte, 1)
	if _, err := rf.ReadAt(last, st.Size()-1); err != nil {
		return err
	}
	if last[0] != '\n' {
		_, err = f.Write([]byte{'\n'})
	}
	return err
}

// NewRecorder records to w; name is used in errors.
func NewRecorder(w io.Writer, name string) *Recorder {
	r := &Recorder{name: name, w: w}
	r.cond.L = &r.mu
	return r
}

// Name is the file name given to OpenRecorder.
func (r *Recorder) Name() string { return r.name }

// Append writes line, which must end in a newline, and returns once it is written.
func (r *Recorder) Append(line []byte) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.err != nil {
		return r.err
	}
	r.queue = append(r.queue, line...)
	r.queued++
	mine := r.queued
	for r.written < mine {
		if r.writing {
			r.cond.Wait()
			continue
		}
		r.flushLocked()
	}
	if r.err != nil && mine > r.failed {
		return r.err
	}
	return nil
}

// flushLocked writes the queue with the lock released during the write. Before it takes the
// queue it lets the other runnable goroutines go first: requests about to be recorded then
// join this write instead of each making their own.
func (r *Recorder) flushLocked() {
	r.writing = true
	r.mu.Unlock()
	runtime.Gosched()
	r.mu.Lock()
	buf, upto := r.queue, r.queued
	r.queue = r.spare[:0]
	r.mu.Unlock()
	_, err := r.w.Write(buf)
	r.mu.Lock()
	r.writing = false
	if cap(buf) <= maxSpare {
		r.spare = buf[:0]
	} else {
		r.spare = nil
	}
	if err != nil && r.err == nil {
		r.err = fmt.Errorf("recording to %s: %w", r.name, err)
		// Lines queued before this group were written; this group and all later ones fail.
		r.failed = r.written
	}
	if err == nil {
		r.lines += upto - r.written
	}
	r.written = upto
	r.cond.Broadcast()
}

// Lines is the number of lines written.
func (r *Recorder) Lines() uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.lines
}

// Close waits for pending writes and closes the file. Write errors were returned by Append.
func (r *Recorder) Close() error {
	r.mu.Lock()
	for r.writing || r.written < r.queued {
		if r.writing {
			r.cond.Wait()
			continue
		}
		r.flushLocked()
	}
	if r.err == nil {
		r.err = errors.New("recorder closed")
	}
	r.mu.Unlock()
	if r.c == nil {
		return nil
	}
	if err := r.c.Close(); err != nil {
		return fmt.Errorf("closing %s: %w", r.name, err)
	}
	return nil
}
