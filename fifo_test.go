//go:build linux || darwin

package main

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// send --data @FIFO takes what the FIFO's writer writes: the check for a large file to stream
// must not open the FIFO, which would take the writer's data and drop it on close.
func TestSendDataFromFIFO(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "data")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skipf("no FIFO: %v", err)
	}
	got := make(chan string, 1)
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got <- string(b)
		w.WriteHeader(http.StatusAccepted)
	}))
	defer recv.Close()
	cmd := exec.Command("cectl", "send", "--to", recv.URL, "--type", "com.example.t", "--data", "@"+fifo)
	cmd.Env = append(os.Environ(), "NO_COLOR=1")
	_, stderr, done := start(t, cmd)
	w, err := os.OpenFile(fifo, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	_, werr := w.WriteString(`{"a":1}`)
	w.Close()
	if werr != nil {
		t.Errorf("writing the FIFO: %v", werr)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("send: %v\n%s", err, stderr)
		}
	case <-time.After(5 * time.Second):
		cmd.Process.Kill()
		<-done
		t.Fatalf("send did not end 5s after the FIFO's writer closed it; stderr:\n%s", stderr)
	}
	select {
	case b := <-got:
		if b != `{"a":1}` {
			t.Errorf("received data %q, want {\"a\":1}", b)
		}
	default:
		t.Error("nothing received")
	}
}

// A FIFO named as the file to read waits for a writer when opened; Ctrl-C ends that wait as
// it ends a read (exit 130), for validate, send --from and --data @FILE alike.
func TestInterruptWhileFIFOWaitsForWriter(t *testing.T) {
	for _, args := range [][]string{
		{"validate", "FIFO"},
		{"send", "--to", "http://127.0.0.1:1", "--from", "FIFO"},
		{"send", "--to", "http://127.0.0.1:1", "--type", "com.example.t", "--data", "@FIFO"},
	} {
		t.Run(strings.Join(args[:len(args)-1], " "), func(t *testing.T) {
			fifo := filepath.Join(t.TempDir(), "events")
			if err := syscall.Mkfifo(fifo, 0o600); err != nil {
				t.Skipf("no FIFO: %v", err)
			}
			args[len(args)-1] = strings.Replace(args[len(args)-1], "FIFO", fifo, 1)
			cmd := exec.Command("cectl", args...)
			cmd.Env = append(os.Environ(), "NO_COLOR=1")
			_, stderr, done := start(t, cmd)
			time.Sleep(500 * time.Millisecond) // waiting in the open now
			if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
				t.Fatal(err)
			}
			select {
			case err := <-done:
				var ee *exec.ExitError
				if !errors.As(err, &ee) || ee.ExitCode() != 130 {
					t.Errorf("exit %v, want 130; stderr:\n%s", err, stderr)
				}
			case <-time.After(3 * time.Second):
				// Open the writer side so that the command gets past its open and ends.
				if w, err := os.OpenFile(fifo, os.O_WRONLY, 0); err == nil {
					w.Close()
				}
				<-done
				t.Fatalf("still waiting for the FIFO's writer 3s after Ctrl-C; stderr:\n%s", stderr)
			}
		})
	}
}
