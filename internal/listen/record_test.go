package listen

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

func TestRecorderConcurrentAppendsStayWhole(t *testing.T) {
	name := filepath.Join(t.TempDir(), "events.jsonl")
	r, err := OpenRecorder(name, RecordOptions{})
	if err != nil {
		t.Fatal(err)
	}
	const writers, each = 16, 200
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				line := fmt.Sprintf(`{"w":%d,"i":%d,"pad":"%s"}`+"\n", w, i, strings.Repeat("x", i%50))
				if err := r.Append([]byte(line)); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	if len(lines) != writers*each || r.Lines() != writers*each {
		t.Fatalf("%d lines in the file, %d counted, want %d", len(lines), r.Lines(), writers*each)
	}
	seen := map[string]bool{}
	for _, l := range lines {
		if !strings.HasPrefix(l, `{"w":`) || !strings.HasSuffix(l, `"}`) || seen[l] {
			t.Fatalf("torn or repeated line %q", l)
		}
		seen[l] = true
	}
}

func TestRecorderAppendsToExistingFile(t *testing.T) {
	name := filepath.Join(t.TempDir(), "events.jsonl")
	if err := os.WriteFile(name, []byte("{\"a\":1}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, line := range []string{`{"b":2}`, `{"c":3}`} {
		r, err := OpenRecorder(name, RecordOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if err := r.Append([]byte(line + "\n")); err != nil {
			t.Fatal(err)
		}
		if err := r.Close(); err != nil {
			t.Fatal(err)
		}
	}
	b, _ := os.ReadFile(name)
	if string(b) != "{\"a\":1}\n{\"b\":2}\n{\"c\":3}\n" {
		t.Errorf("file %q", b)
	}
	if _, err := OpenRecorder(filepath.Join(t.TempDir(), "no", "such", "dir", "x"), RecordOptions{}); err == nil {
		t.Error("opening in a missing directory worked")
	}
}

// flakyWriter fails from the nth write on.
type flakyWriter struct {
	n   int
	buf bytes.Buffer
}

func (w *flakyWriter) Write(p []byte) (int, error) {
	if w.n == 0 {
		return 0, errors.New("no space left on device")
	}
	w.n--
	return w.buf.Write(p)
}

func TestRecorderWriteErrors(t *testing.T) {
	w := &flakyWriter{n: 1}
	r := NewRecorder(w, "events.jsonl")
	if err := r.Append([]byte("1\n")); err != nil {
		t.Fatal(err)
	}
	err := r.Append([]byte("2\n"))
	if err == nil || err.Error() != "recording to events.jsonl: no space left on device" {
		t.Fatalf("second append: %v", err)
	}
	// Once the file failed, nothing more is taken: the lines after it would be out of order.
	if err := r.Append([]byte("3\n")); err == nil {
		t.Error("append after a failure worked")
	}
	if r.Lines() != 1 || w.buf.String() != "1\n" {
		t.Errorf("%d lines: %q", r.Lines(), w.buf.String())
	}
	if err := r.Close(); err != nil {
		t.Errorf("close: %v", err)
	}
}
