//go:build linux || darwin

package main

import (
	"errors"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cectl/cectl/internal/testutil"
	"github.com/creack/pty"
)

// Ctrl-C typed at the terminal ends a command that reads standard input from that terminal,
// with exit code 130, and the command said on stderr that it was reading the terminal. A
// read from a terminal is not interrupted by the signal: before, only Ctrl-D ended it.
func TestCtrlCWhileReadingTerminal(t *testing.T) {
	for _, args := range [][]string{
		{"validate", "-"},
		{"send", "--to", "http://127.0.0.1:9/", "--type", "com.example.t", "--data", "-"},
		{"send", "--to", "http://127.0.0.1:9/", "--from", "-"},
	} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			ptmx, tty, err := pty.Open()
			if err != nil {
				t.Fatalf("no pseudo-terminal: %v", err)
			}
			defer ptmx.Close()
			cmd := exec.Command("cectl", args...)
			var stdout, stderr testutil.Buffer
			cmd.Stdin, cmd.Stdout, cmd.Stderr = tty, &stdout, &stderr
			// The terminal becomes the command's controlling terminal, and the command the
			// foreground process group that Ctrl-C signals.
			cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			tty.Close()
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			// Some of the input typed, then Ctrl-C once the command waits for more.
			if _, err := ptmx.Write([]byte(`{"specversion":"1.0",`)); err != nil {
				t.Fatal(err)
			}
			deadline := time.Now().Add(10 * time.Second)
			for !strings.Contains(stderr.String(), "reading standard input from the terminal") && time.Now().Before(deadline) {
				time.Sleep(20 * time.Millisecond)
			}
			if !strings.Contains(stderr.String(), "end it with Ctrl-D on a line of its own, or press Ctrl-C to cancel") {
				t.Errorf("stderr does not say it reads the terminal: %q", stderr.String())
			}
			time.Sleep(100 * time.Millisecond)
			if _, err := ptmx.Write([]byte{3}); err != nil { // ^C, the terminal's INTR character
				t.Fatal(err)
			}
			select {
			case err := <-done:
				var ee *exec.ExitError
				if !errors.As(err, &ee) || ee.ExitCode() != 130 {
					t.Errorf("after Ctrl-C: %v, want exit code 130\nstderr: %s", err, stderr.String())
				}
				if strings.Contains(stderr.String(), "cannot read") || strings.Contains(stdout.String(), "cannot read") {
					t.Errorf("an interruption reported as an unreadable input:\n%s%s", stdout.String(), stderr.String())
				}
			case <-time.After(5 * time.Second):
				_ = cmd.Process.Kill()
				<-done
				t.Fatalf("still reading 5s after Ctrl-C\nstderr: %s", stderr.String())
			}
		})
	}
}
