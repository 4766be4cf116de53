package listen

import (
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// A torn last line (a write cut short by a crash or a full disk) is cut off when the record
// is opened and kept aside, so that the file replays; whole lines stay.
func TestRecorderCutsTornLine(t *testing.T) {
	dir := t.TempDir()
	name := filepath.Join(dir, "events.jsonl")
	whole := "{\"a\":1}\n{\"b\":2}\n"
	torn := `{"specversion":"1.0","id":"3","sou`
	if err := os.WriteFile(name, []byte(whole+torn), 0o644); err != nil {
		t.Fatal(err)
	}
	r, err := OpenRecorder(name, RecordOptions{})
	if err != nil {
		t.Fatal(err)
	}
	tr := r.Torn()
	if tr == nil || tr.Offset != int64(len(whole)) || tr.Size != int64(len(torn)) || tr.KeptIn != name+".torn" || tr.KeepErr != nil {
		t.Fatalf("torn %+v", tr)
	}
	if err := r.Append([]byte("{\"c\":3}\n")); err != nil {
		t.Fatal(err)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(name); string(b) != whole+"{\"c\":3}\n" {
		t.Errorf("record %q", b)
	}
	if b, _ := os.ReadFile(name + ".torn"); string(b) != torn+"\n" {
		t.Errorf("kept %q", b)
	}
	// A file of one torn line, longer than a read block, and a whole file.
	big := make([]byte, 200<<10)
	for i := range big {
		big[i] = 'x'
	}
	if err := os.WriteFile(name, big, 0o644); err != nil {
		t.Fatal(err)
	}
	r, err = OpenRecorder(name, RecordOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if tr := r.Torn(); tr == nil || tr.Offset != 0 || tr.Size != int64(len(big)) {
		t.Errorf("torn %+v", tr)
	}
	r.Close()
	if st, _ := os.Stat(name); st.Size() != 0 {
		t.Errorf("size %d after the cut", st.Size())
	}
	os.WriteFile(name, []byte(whole), 0o644)
	r, _ = OpenRecorder(name, RecordOptions{})
	if r.Torn() != nil {
		t.Errorf("a whole file taken for torn: %+v", r.Torn())
	}
	r.Close()
}

// syncWriter counts flushes and can hold one.
type syncWriter struct {
	writes, syncs atomic.Int32
	hold          chan struct{}
	err           error
}

func (w *syncWriter) Write(b []byte) (int, error) { w.writes.Add(1); return len(b), nil }
func (w *syncWriter) Sync() error {
	if w.hold != nil {
		<-w.hold
	}
	w.syncs.Add(1)
	return w.err
}

// With --fsync always, Append returns only after the flush; with interval, flushes come in
// the background; with never, none.
func TestRecorderSyncPolicies(t *testing.T) {
	w := &syncWriter{hold: make(chan struct{})}
	r := NewRecorder(w, "always")
	r.sync, r.always = w.Sync, true
	done := make(chan error, 1)
	go func() { done <- r.Append([]byte("{}\n")) }()
	select {
	case <-done:
		t.Fatal("Append returned before the flush")
	case <-time.After(50 * time.Millisecond):
	}
	close(w.hold)
	if err := <-done; err != nil || w.syncs.Load() != 1 {
		t.Fatalf("err %v, %d flushes", err, w.syncs.Load())
	}

	// A failing flush fails the event: it is not acknowledged.
	w = &syncWriter{err: syscall.EIO}
	r = NewRecorder(w, "always")
	r.sync, r.always = w.Sync, true
	if err := r.Append([]byte("{}\n")); !errors.Is(err, syscall.EIO) {
		t.Fatalf("failed flush: %v", err)
	}

	w = &syncWriter{}
	r = NewRecorder(w, "interval")
	r.sync = w.Sync
	r.stop, r.done = make(chan struct{}), make(chan struct{})
	go r.syncEvery(10 * time.Millisecond)
	r.Append([]byte("{}\n"))
	deadline := time.Now().Add(5 * time.Second)
	for w.syncs.Load() == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if w.syncs.Load() == 0 {
		t.Fatal("no flush within the interval")
	}
	r.Close()

	// Opened with a policy: a regular file is flushed; never means never.
	name := filepath.Join(t.TempDir(), "r.jsonl")
	for _, p := range []Sync{SyncNever, SyncInterval, SyncAlways} {
		r, err := OpenRecorder(name, RecordOptions{Sync: p})
		if err != nil {
			t.Fatal(err)
		}
		if (r.sync != nil) != (p != SyncNever) || r.always != (p == SyncAlways) || (r.stop != nil) != (p == SyncInterval) {
			t.Errorf("policy %d: sync %v always %v", p, r.sync != nil, r.always)
		}
		r.Close()
	}
}

// A full disk is found when the record is opened where the file system can reserve room,
// and on /dev/full at the first event, which is then not acknowledged.
func TestRecorderFullDisk(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("/dev/full is Linux's")
	}
	r, err := OpenRecorder("/dev/full", RecordOptions{Sync: SyncAlways})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if err := r.Append([]byte("{}\n")); !errors.Is(err, syscall.ENOSPC) {
		t.Errorf("append to /dev/full: %v", err)
	}
}

// A file system that has no room for the first events fails the opening with the reason.
func TestRecorderFullDiskAtStart(t *testing.T) {
	name := filepath.Join(t.TempDir(), "r.jsonl")
	full := func(*os.File, int64) error { return syscall.ENOSPC }
	if _, err := openRecorder(name, RecordOptions{}, full); !errors.Is(err, syscall.ENOSPC) || err.Error() != name+": no space left on device" {
		t.Fatalf("open on a full disk: %v", err)
	}
	// The real reservation on a file system with room succeeds and leaves the size alone.
	r, err := OpenRecorder(name, RecordOptions{})
	if err != nil {
		t.Fatal(err)
	}
	r.Close()
	if st, _ := os.Stat(name); st.Size() != 0 {
		t.Errorf("size %d after opening", st.Size())
	}
}
