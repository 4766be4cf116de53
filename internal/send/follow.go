package send

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"time"
)

// Follower reads a file of JSON lines the way tail -f does (send --from FILE --follow): what
// is in it, then what is appended, until its context ends. It hands out whole lines only, so
// a line being written waits for its newline. It notices when the file is truncated or
// replaced (log rotation) — by its identity (os.SameFile), its size, and its first bytes, so
// that a file truncated and written again to at least its old size between two looks is
// noticed too — says so through Notice, and starts again at the beginning.
type Follower struct {
	// Name is the file's path, looked at again to notice a replacement.
	Name string
	// Poll is how often the end of the file is looked at again (default 100ms).
	Poll time.Duration
	// Notice is told what happened to the file: truncated, replaced, removed.
	Notice func(msg string)

	ctx     context.Context
	f       *os.File
	off     int64  // bytes read from f
	ready   []byte // whole lines not yet handed out
	partial []byte // the bytes after the last newline read
	buf     []byte
	head    []byte // the first bytes read (up to headSize): when they change, the file was rewritten
	waited  bool   // the end of the file was reached, and more may have come from a rewrite
	restart bool   // the file started again: the reader of its lines starts again too
	missing bool   // the path was gone when last looked at
	ended   bool   // Read returned io.EOF because ctx ended
}

// OpenFollower opens the file to follow until ctx ends.
func OpenFollower(ctx context.Context, name string) (*Follower, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	if !st.Mode().IsRegular() {
		f.Close()
		return nil, fmt.Errorf("%s is not a regular file, so it cannot be followed", name)
	}
	return &Follower{Name: name, ctx: ctx, f: f}, nil
}

// Close closes the file.
func (fl *Follower) Close() error { return fl.f.Close() }

// Restarted reports, once, that the file was truncated or replaced and its lines are read
// from the beginning again: whoever reads them (and counts their lines) starts again.
func (fl *Follower) Restarted() bool {
	r := fl.restart
	fl.restart = false
	return r
}

// Drained reports whether everything of the file up to its last newline was handed out
// when following ended: nothing complete was left unread.
func (fl *Follower) Drained() bool { return len(fl.ready) == 0 }

// Partial is the number of bytes of an unfinished last line, still waiting for its newline.
func (fl *Follower) Partial() int { return len(fl.partial) }

// Read hands out whole lines; at the end of the file it waits for more. It returns io.EOF
// when the context ends or when the file started again (Restarted).
func (fl *Follower) Read(p []byte) (int, error) {
	for {
		if len(fl.ready) > 0 {
			n := copy(p, fl.ready)
			fl.ready = fl.ready[n:]
			return n, nil
		}
		if fl.restart {
			return 0, io.EOF
		}
		if fl.ctx.Err() != nil {
			fl.ended = true
			return 0, io.EOF
		}
		if fl.buf == nil {
			fl.buf = make([]byte, 64<<10)
		}
		n, err := fl.f.Read(fl.buf)
		if n > 0 && fl.waited {
			// More after the end: appended, or the file was truncated and written again
			// while we waited, and these bytes are the middle of new content.
			fl.waited = false
			if rewritten, err := fl.rewritten(); err != nil {
				return 0, err
			} else if rewritten {
				continue
			}
		}
		if n > 0 {
			if len(fl.head) < headSize {
				fl.head = append(fl.head, fl.buf[:min(n, headSize-len(fl.head))]...)
			}
			fl.off += int64(n)
			data := append(fl.partial, fl.buf[:n]...)
			if i := bytes.LastIndexByte(data, '\n'); i >= 0 {
				fl.ready = data[:i+1]
				fl.partial = bytes.Clone(data[i+1:])
			} else {
				fl.partial = data
			}
			continue
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return 0, err
		}
		if err := fl.look(); err != nil {
			return 0, err
		}
		if fl.restart {
			continue
		}
		fl.waited = true
		t := time.NewTimer(fl.poll())
		select {
		case <-t.C:
		case <-fl.ctx.Done():
			t.Stop()
		}
	}
}

func (fl *Follower) poll() time.Duration {
	if fl.Poll > 0 {
		return fl.Poll
	}
	return 100 * time.Millisecond
}

// look checks, at the end of the file, whether it was truncated or replaced.
func (fl *Follower) look() error {
	cur, err := fl.f.Stat()
	if err != nil {
		return err
	}
	st, err := os.Stat(fl.Name)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if !fl.missing {
			fl.missing = true
			fl.notice(fmt.Sprintf("%s was removed; waiting for it to come back", fl.Name))
		}
		return nil
	case err != nil:
		return err
	case !os.SameFile(st, cur):
		f, err := os.Open(fl.Name)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil // replaced and gone again before it could be opened: look later
			}
			return err
		}
		fl.f.Close()
		fl.f = f
		fl.notice(fmt.Sprintf("%s was replaced; following the new file from its start%s", fl.Name, fl.dropped()))
		fl.startAgain()
	case cur.Size() < fl.off:
		if _, err := fl.f.Seek(0, io.SeekStart); err != nil {
			return err
		}
		fl.notice(fmt.Sprintf("%s was truncated; following it from its start%s", fl.Name, fl.dropped()))
		fl.startAgain()
	default:
		if _, err := fl.rewritten(); err != nil {
			return err
		}
	}
	fl.missing = false
	return nil
}

// headSize is how much of the start of the file is kept to tell a rewrite from an append.
const headSize = 4 << 10

// rewritten checks whether the file's first bytes are still those read: a file truncated and
// written again to at least its old size between two looks has a size that says nothing. If
// they changed, it says so and starts again at the beginning.
func (fl *Follower) rewritten() (bool, error) {
	if len(fl.head) == 0 {
		return false, nil
	}
	b := make([]byte, len(fl.head))
	n, err := fl.f.ReadAt(b, 0)
	if err != nil && !errors.Is(err, io.EOF) {
		return false, err
	}
	if bytes.Equal(b[:n], fl.head) {
		return false, nil
	}
	if _, err := fl.f.Seek(0, io.SeekStart); err != nil {
		return false, err
	}
	fl.notice(fmt.Sprintf("%s was rewritten; following it from its start%s", fl.Name, fl.dropped()))
	fl.startAgain()
	return true, nil
}

// dropped says what becomes of an unfinished last line when the file starts again.
func (fl *Follower) dropped() string {
	if len(fl.partial) == 0 {
		return ""
	}
	return fmt.Sprintf(" (the unfinished last line before, %d bytes without a newline, is not sent)", len(fl.partial))
}

func (fl *Follower) startAgain() {
	fl.off = 0
	fl.partial = nil
	fl.head = fl.head[:0]
	fl.waited = false
	fl.restart = true
}

func (fl *Follower) notice(msg string) {
	if fl.Notice != nil {
		fl.Notice(msg)
	}
}

// FollowFile sends the events of a followed file as they come (SendFile with Trickle), and
// starts reading again whenever the file was truncated or replaced, so that positions in
// reports count from the new start. Following ends with ctx.
func (s *Session) FollowFile(ctx context.Context, r *FileReader, fl *Follower, opts FileOptions) (readErr, err error) {
	opts.Trickle = true
	for {
		r.In = fl
		readErr, err = s.SendFile(ctx, r, opts)
		if err != nil || readErr != nil || !fl.Restarted() || ctx.Err() != nil {
			break
		}
		r.Unsent, r.Stopped = 0, false
	}
	if ctx.Err() != nil && fl.ended && fl.Drained() && s.Summary.Unread == r.Name {
		// Every whole line was read: the file was followed to its end, not left unread.
		s.Summary.Unread = ""
	}
	return readErr, err
}
