//go:build linux || darwin

package main

import (
	"errors"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cectl/cectl/internal/testutil"
	"github.com/creack/pty"
)

// startOnTerminal starts cectl with a new pseudo-terminal as its controlling terminal and
// standard input, and returns the terminal's master side, the command's output and a channel
// that gets what Wait returns.
func startOnTerminal(t *testing.T, args ...string) (*os.File, *testutil.Buffer, *testutil.Buffer, chan error, *exec.Cmd) {
	t.Helper()
	ptmx, tty, err := pty.Open()
	if err != nil {
		t.Fatalf("no pseudo-terminal: %v", err)
	}
	t.Cleanup(func() { ptmx.Close() })
	cmd := exec.Command("cectl", args...)
	cmd.Stdin = tty
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	stdout, stderr, done := start(t, cmd)
	tty.Close()
	return ptmx, stdout, stderr, done, cmd
}

// start starts cmd with its stdout and stderr going to the buffers it returns, and a
// channel that gets what Wait returns.
func start(t *testing.T, cmd *exec.Cmd) (stdout, stderr *testutil.Buffer, done chan error) {
	t.Helper()
	stdout, stderr = new(testutil.Buffer), new(testutil.Buffer)
	cmd.Stdout, cmd.Stderr = stdout, stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done = make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	return stdout, stderr, done
}

// waitFor waits up to 10s for stderr to hold want.
func waitFor(stderr *testutil.Buffer, want string) bool {
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(stderr.String(), want) {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
	return true
}

// exitedWith waits up to 5s for the command to end and checks its exit code.
func exitedWith(t *testing.T, cmd *exec.Cmd, done chan error, want int, stderr *testutil.Buffer) {
	t.Helper()
	select {
	case err := <-done:
		got := 0
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			got = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Errorf("exit code %d, want %d\nstderr: %s", got, want, stderr.String())
		}
	case <-time.After(5 * time.Second):
		_ = cmd.Process.Kill()
		<-done
		t.Fatalf("still running 5s after the signal\nstderr: %s", stderr.String())
	}
}

// Ctrl-C while an event of `send --from -` is half typed (its first lines) drops it: it is not an invalid
// event, the run ends interrupted (exit 130) with the summary that says so.
func TestCtrlCDropsHalfTypedLine(t *testing.T) {
	ptmx, stdout, stderr, done, cmd := startOnTerminal(t, "send", "--to", "http://127.0.0.1:9/", "--from", "-")
	if !waitFor(stderr, "reading standard input from the terminal") {
		t.Fatalf("no notice on stderr: %q", stderr.String())
	}
	if _, err := ptmx.Write([]byte("{\"specversion\":\"1.0\",\n\"id\":\"1\",\n")); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond)
	if _, err := ptmx.Write([]byte{3}); err != nil { // ^C
		t.Fatal(err)
	}
	exitedWith(t, cmd, done, 130, stderr)
	all := stdout.String() + stderr.String()
	if strings.Contains(all, "invalid event") || strings.Contains(all, "invalid (not sent)") {
		t.Errorf("the half-typed line is reported as an invalid event:\n%s", all)
	}
	if !strings.Contains(stderr.String(), "sent 0,") || !strings.Contains(stderr.String(), "interrupted") {
		t.Errorf("no interrupted summary on stderr: %q", stderr.String())
	}
}

// A path that names the terminal (/dev/stdin, /dev/fd/0) is read as - is: with the notice,
// and Ctrl-C ends it.
func TestCtrlCWhileReadingTerminalByPath(t *testing.T) {
	for _, args := range [][]string{
		{"validate", "/dev/stdin"},
		{"send", "--to", "http://127.0.0.1:9/", "--from", "/dev/stdin"},
		{"send", "--to", "http://127.0.0.1:9/", "--type", "com.example.t", "--data", "@/dev/stdin"},
	} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			ptmx, _, stderr, done, cmd := startOnTerminal(t, args...)
			if !waitFor(stderr, "reading standard input from the terminal") {
				_ = cmd.Process.Kill()
				<-done
				t.Fatalf("no notice on stderr: %q", stderr.String())
			}
			time.Sleep(100 * time.Millisecond)
			if _, err := ptmx.Write([]byte{3}); err != nil {
				t.Fatal(err)
			}
			exitedWith(t, cmd, done, 130, stderr)
		})
	}
}

// SIGINT or SIGTERM ends a command that waits on a pipe whose writer has not closed it: a
// read from a pipe is not interrupted by a signal either.
func TestSignalWhileReadingIdlePipe(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM} {
		for _, args := range [][]string{
			{"validate", "-"},
			{"send", "--to", "http://127.0.0.1:9/", "--from", "-"},
			{"send", "--to", "http://127.0.0.1:9/", "--type", "com.example.t", "--data", "-"},
		} {
			t.Run(sig.String()+"/"+strings.Join(args, " "), func(t *testing.T) {
				cmd := exec.Command("cectl", args...)
				w, err := cmd.StdinPipe()
				if err != nil {
					t.Fatal(err)
				}
				defer w.Close()
				_, stderr, done := start(t, cmd)
				// Half a line, and then nothing more for as long as the writer likes.
				if _, err := w.Write([]byte(`{"specversion":"1.0",`)); err != nil {
					t.Fatal(err)
				}
				time.Sleep(300 * time.Millisecond)
				if err := cmd.Process.Signal(sig); err != nil {
					t.Fatal(err)
				}
				exitedWith(t, cmd, done, 130, stderr)
				if strings.Contains(stderr.String(), "reading standard input from the terminal") {
					t.Errorf("a pipe announced as the terminal: %q", stderr.String())
				}
			})
		}
	}
}

// A FIFO named on the command line is read as a pipe on stdin is: SIGINT ends the wait for a
// writer that neither writes nor closes it.
func TestSignalWhileReadingIdleFIFO(t *testing.T) {
	fifo := t.TempDir() + "/events.fifo"
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skipf("no FIFO: %v", err)
	}
	// The writer's end, held open and idle (read-write, so that opening it does not wait).
	w, err := os.OpenFile(fifo, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	for _, args := range [][]string{
		{"validate", fifo},
		{"send", "--to", "http://127.0.0.1:9/", "--from", fifo},
	} {
		t.Run(strings.Join(args[:1], " "), func(t *testing.T) {
			cmd := exec.Command("cectl", args...)
			_, stderr, done := start(t, cmd)
			time.Sleep(300 * time.Millisecond)
			if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
				t.Fatal(err)
			}
			exitedWith(t, cmd, done, 130, stderr)
		})
	}
}

// Under -o json the notice that stdin is the terminal is a warning object, as every other
// message on stderr is.
func TestTerminalNoticeIsJSON(t *testing.T) {
	ptmx, _, stderr, done, cmd := startOnTerminal(t, "validate", "-", "-o", "json")
	const want = `{"kind":"warning","warning":"reading standard input from the terminal: end it with Ctrl-D on a line of its own, or press Ctrl-C to cancel"}`
	if !waitFor(stderr, want) {
		_ = cmd.Process.Kill()
		<-done
		t.Fatalf("stderr %q, want %s", stderr.String(), want)
	}
	if _, err := ptmx.Write([]byte{3}); err != nil {
		t.Fatal(err)
	}
	exitedWith(t, cmd, done, 130, stderr)
	for _, line := range strings.Split(strings.TrimSpace(stderr.String()), "\n") {
		if !strings.HasPrefix(line, "{") {
			t.Errorf("a line of stderr is no JSON object: %q", line)
		}
	}
}
