package send

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// readFor reads from fl in the background until Read fails, and fails the test if that takes
// longer than d.
func readFor(t *testing.T, fl *Follower, d time.Duration) string {
	t.Helper()
	got := make(chan string, 1)
	go func() {
		var b strings.Builder
		buf := make([]byte, 7) // small reads: whole lines are handed out in pieces too
		for {
			n, err := fl.Read(buf)
			b.Write(buf[:n])
			if err != nil {
				got <- b.String()
				return
			}
		}
	}()
	select {
	case s := <-got:
		return s
	case <-time.After(d):
		t.Fatalf("Read did not end within %s", d)
		return ""
	}
}

func TestFollowerHandsOutWholeLinesAndWaitsForMore(t *testing.T) {
	name := filepath.Join(t.TempDir(), "f.jsonl")
	if err := os.WriteFile(name, []byte("one\ntw"), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	fl, err := OpenFollower(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	defer fl.Close()
	fl.Poll = 5 * time.Millisecond
	buf := make([]byte, 64)
	n, err := fl.Read(buf)
	if err != nil || string(buf[:n]) != "one\n" {
		t.Fatalf("first read %q, %v", buf[:n], err)
	}
	// "tw" has no newline yet: Read waits. Finish it from another writer.
	go func() {
		time.Sleep(30 * time.Millisecond)
		f, _ := os.OpenFile(name, os.O_APPEND|os.O_WRONLY, 0)
		f.WriteString("o\nthree\nfou")
		f.Close()
	}()
	n, err = fl.Read(buf)
	if err != nil || string(buf[:n]) != "two\nthree\n" {
		t.Fatalf("after the append %q, %v", buf[:n], err)
	}
	time.AfterFunc(30*time.Millisecond, cancel)
	if rest := readFor(t, fl, 5*time.Second); rest != "" {
		t.Errorf("an unfinished line was handed out: %q", rest)
	}
	if fl.Partial() != 3 || !fl.Drained() || !fl.ended {
		t.Errorf("partial %d, drained %v, ended %v", fl.Partial(), fl.Drained(), fl.ended)
	}
}

func TestFollowerNoticesTruncationAndReplacement(t *testing.T) {
	dir := t.TempDir()
	name := filepath.Join(dir, "f.jsonl")
	fl, notes := followNew(t, name, "first line\nsecond line\n", 5*time.Millisecond)
	if got, _ := io.ReadAll(io.LimitReader(fl, 23)); string(got) != "first line\nsecond line\n" {
		t.Fatalf("got %q", got)
	}
	if err := os.WriteFile(name, []byte("short\n"), 0o644); err != nil { // truncates
		t.Fatal(err)
	}
	if rest := readFor(t, fl, 5*time.Second); rest != "" || !fl.Restarted() {
		t.Fatalf("truncation: read %q, restarted %v", rest, fl.restart)
	}
	if got, _ := io.ReadAll(io.LimitReader(fl, 6)); string(got) != "short\n" {
		t.Fatalf("after the truncation: %q", got)
	}
	other := filepath.Join(dir, "new")
	if err := os.WriteFile(other, []byte("new\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(other, name); err != nil {
		t.Fatal(err)
	}
	if rest := readFor(t, fl, 5*time.Second); rest != "" || !fl.Restarted() {
		t.Fatalf("replacement: read %q", rest)
	}
	if got, _ := io.ReadAll(io.LimitReader(fl, 4)); string(got) != "new\n" {
		t.Fatalf("after the replacement: %q", got)
	}
	want := []string{name + " was truncated; following it from its start", name + " was replaced; following the new file from its start"}
	if strings.Join(*notes, "|") != strings.Join(want, "|") {
		t.Errorf("notes %q, want %q", *notes, want)
	}
}

func TestFollowerRefusesWhatIsNotAFile(t *testing.T) {
	if _, err := OpenFollower(context.Background(), t.TempDir()); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("a directory: %v", err)
	}
}

// A file truncated and written again to at least its old size between two looks keeps its
// identity and does not shrink: its first bytes tell that it was rewritten.
func TestFollowerNoticesARewriteInPlace(t *testing.T) {
	for _, tc := range []struct{ name, rewrite string }{
		{"same size", "FIRST LINE\n"},
		{"larger", "first-line-2\nnext\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			name := filepath.Join(t.TempDir(), "f.jsonl")
			fl, notes := followNew(t, name, "first line\n", 50*time.Millisecond)
			if got, _ := io.ReadAll(io.LimitReader(fl, 11)); string(got) != "first line\n" {
				t.Fatalf("got %q", got)
			}
			// Read reaches the end and waits; meanwhile the file is rewritten in place. (Written
			// over from its start in one write rather than truncated first, so that no look
			// can fall between the two and see a truncation.)
			go func() {
				time.Sleep(20 * time.Millisecond)
				f, err := os.OpenFile(name, os.O_WRONLY, 0)
				if err != nil {
					return
				}
				f.WriteAt([]byte(tc.rewrite), 0)
				f.Close()
			}()
			if rest := readFor(t, fl, 5*time.Second); rest != "" || !fl.Restarted() {
				t.Fatalf("read %q, restarted %v; want the file started again", rest, fl.restart)
			}
			if got, _ := io.ReadAll(io.LimitReader(fl, int64(len(tc.rewrite)))); string(got) != tc.rewrite {
				t.Fatalf("after the rewrite: %q", got)
			}
			if want := name + " was rewritten; following it from its start"; strings.Join(*notes, "|") != want {
				t.Errorf("notes %q, want %q", *notes, want)
			}
		})
	}
}

// followNew writes content to a new file name and follows it, looking every poll; the
// notices it gives are collected in notes. Both end with the test.
func followNew(t *testing.T, name, content string, poll time.Duration) (fl *Follower, notes *[]string) {
	t.Helper()
	if err := os.WriteFile(name, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	fl, err := OpenFollower(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { fl.Close() })
	fl.Poll = poll
	notes = new([]string)
	fl.Notice = func(m string) { *notes = append(*notes, m) }
	return fl, notes
}
