package listen

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"sync"
	"time"
)

// Sync is when the record file is flushed to stable storage (fsync).
type Sync int

// The fsync policies of --fsync.
const (
	// SyncNever leaves flushing to the operating system: an acknowledged event has been
	// written to the file (it survives the end of listen, even by SIGKILL), but may be lost
	// with the machine (a power cut, a kernel crash) until the system writes it back.
	SyncNever Sync = iota
	// SyncInterval flushes in the background every SyncPeriod: losing the machine loses at
	// most the events of the last period.
	SyncInterval
	// SyncAlways flushes before anything is acknowledged; concurrent events share one flush.
	SyncAlways
)

// SyncPeriod is how often SyncInterval flushes.
const SyncPeriod = time.Second

// RecordOptions say how a record file is kept.
type RecordOptions struct {
	Sync Sync
}

// Recorder appends events to a file as JSON lines. Append returns only when the event has
// been handed to the operating system (and, with SyncAlways, flushed to stable storage), so
// an event whose 2xx was sent survives the end of the process. Concurrent appends are
// grouped: whoever finds no write in progress writes what everyone has queued so far in one
// call while the others wait for it (group commit), so the file sees few large writes (and
// flushes) and every line stays whole.
type Recorder struct {
	name string
	w    io.Writer
	c    io.Closer
	// sync flushes the file to stable storage; nil when there is nothing to flush (not a
	// regular file, or SyncNever).
	sync   func() error
	always bool
	torn   *Torn
	stop   chan struct{}
	done   chan struct{}

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
	synced  uint64 // lines when the last interval flush began
}

// Torn is an incomplete last line found when a record file was opened: what a crash or a
// full disk leaves of a write that was cut short. Such a line was never acknowledged (the
// answer waits for the whole write). It is cut off, so that it does not break every later
// replay, and kept in KeptIn unless that could not be written.
type Torn struct {
	Offset int64 // where the line began
	Size   int64 // its bytes
	KeptIn string
	// KeepErr says why it could not be kept.
	KeepErr error
}

// maxSpare is the largest write buffer kept for the next group.
const maxSpare = 1 << 20

// OpenRecorder opens (creating it if needed) the file for appending. An incomplete last
// line is cut off first (Recorder.Torn says so), so that the first new event starts a line
// of its own and the file stays a valid sequence of JSON lines. A file that cannot be
// written is an error now, not at the first event: for a regular file, room for the first
// events is reserved where the file system allows it, so a full disk shows at start.
func OpenRecorder(name string, opts RecordOptions) (*Recorder, error) {
	return openRecorder(name, opts, reserve)
}

// openRecorder is OpenRecorder with the reservation of room given.
func openRecorder(name string, opts RecordOptions, reserve func(*os.File, int64) error) (*Recorder, error) {
	f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	var torn *Torn
	if st.Mode().IsRegular() {
		if torn, err = cutTornLine(f, name, st.Size()); err != nil {
			f.Close()
			return nil, err
		}
		if err := reserve(f, st.Size()); err != nil {
			f.Close()
			return nil, fmt.Errorf("%s: %w", name, err)
		}
	}
	r := NewRecorder(f, name)
	r.c = f
	r.torn = torn
	if st.Mode().IsRegular() && opts.Sync != SyncNever {
		r.sync = f.Sync
		r.always = opts.Sync == SyncAlways
		if opts.Sync == SyncInterval {
			r.stop, r.done = make(chan struct{}), make(chan struct{})
			go r.syncEvery(SyncPeriod)
		}
	}
	return r, nil
}

// Torn is the incomplete last line cut off when the file was opened, nil for none.
func (r *Recorder) Torn() *Torn { return r.torn }

// cutTornLine cuts off what follows the last newline of the file, size bytes long.
func cutTornLine(f *os.File, name string, size int64) (*Torn, error) {
	if size == 0 {
		return nil, nil
	}
	// Look for the last newline from the end, a block at a time.
	const block = 64 << 10
	buf := make([]byte, block)
	end := size
	for end > 0 {
		start := max(end-block, 0)
		b := buf[:end-start]
		if _, err := f.ReadAt(b, start); err != nil && !errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("reading %s: %w", name, err)
		}
		if i := bytes.LastIndexByte(b, '\n'); i >= 0 {
			end = start + int64(i) + 1
			break
		}
		end = start
	}
	if end == size {
		return nil, nil
	}
	t := &Torn{Offset: end, Size: size - end, KeptIn: name + ".torn"}
	t.KeepErr = keepTorn(f, t)
	if t.KeepErr != nil {
		t.KeptIn = ""
	}
	if err := f.Truncate(end); err != nil {
		return nil, fmt.Errorf("cutting the incomplete last line of %s: %w", name, err)
	}
	return t, nil
}

// keepTorn appends the torn line, and a newline, to t.KeptIn.
func keepTorn(f *os.File, t *Torn) error {
	out, err := os.OpenFile(t.KeptIn, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	_, err = io.Copy(out, io.NewSectionReader(f, t.Offset, t.Size))
	if err == nil {
		_, err = out.Write([]byte{'\n'})
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	return err
}

// NewRecorder records to w; name is used in errors.
func NewRecorder(w io.Writer, name string) *Recorder {
	r := &Recorder{name: name, w: w}
	r.cond.L = &r.mu
	return r
}

// syncEvery flushes the file every period while lines were written since the last flush.
func (r *Recorder) syncEvery(period time.Duration) {
	defer close(r.done)
	t := time.NewTicker(period)
	defer t.Stop()
	for {
		select {
		case <-r.stop:
			return
		case <-t.C:
		}
		r.mu.Lock()
		lines := r.lines
		fresh := lines != r.synced
		r.synced = lines
		r.mu.Unlock()
		if !fresh {
			continue
		}
		if err := r.sync(); err != nil {
			r.mu.Lock()
			if r.err == nil {
				r.err = fmt.Errorf("flushing %s to disk: %w", r.name, err)
				r.failed = r.written
			}
			r.mu.Unlock()
			return
		}
	}
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
	if err == nil && r.always {
		if err = r.sync(); err != nil {
			err = fmt.Errorf("flushing to disk: %w", err)
		}
	}
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
	if r.stop != nil {
		close(r.stop)
		<-r.done
	}
	if r.c == nil {
		return nil
	}
	if r.sync != nil {
		if err := r.sync(); err != nil {
			r.c.Close()
			return fmt.Errorf("flushing %s to disk: %w", r.name, err)
		}
	}
	if err := r.c.Close(); err != nil {
		return fmt.Errorf("closing %s: %w", r.name, err)
	}
	return nil
}
