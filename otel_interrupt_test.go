//go:build linux || darwin

package main

import (
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// A collector that takes the connection and never answers keeps send waiting for the export
// timeout at exit; Ctrl-C during that wait ends it at once, with a warning.
func TestSendInterruptEndsWaitForCollector(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		var conns []net.Conn
		defer func() {
			for _, c := range conns {
				c.Close()
			}
		}()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns = append(conns, c) // never read, never answered
		}
	}()
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusAccepted) }))
	defer recv.Close()

	cmd := exec.Command("cectl", "send", "--to", recv.URL, "--type", "com.example.t")
	cmd.Env = append(os.Environ(), "OTEL_EXPORTER_OTLP_ENDPOINT=http://"+ln.Addr().String(), "OTEL_EXPORTER_OTLP_TIMEOUT=20000", "NO_COLOR=1")
	stdout, stderr, done := start(t, cmd)
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(stdout.String(), "ACK") {
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatalf("no ACK; stderr:\n%s", stderr)
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond) // in the wait for the collector now
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	select {
	case <-done:
	case <-time.After(3 * time.Second):
		cmd.Process.Kill()
		<-done
		t.Fatalf("send still waited for the collector 3s after Ctrl-C; stderr:\n%s", stderr)
	}
	if !strings.Contains(stderr.String(), "warning: interrupted") {
		t.Errorf("stderr does not say the export was interrupted:\n%s", stderr)
	}
}
