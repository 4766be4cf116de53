package cmd

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
)

// closingReceiver reads each request whole and closes the connection without a status line:
// with a FIN, or with linger 0, a reset.
func closingReceiver(t *testing.T, reset bool) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			if req, err := http.ReadRequest(bufio.NewReader(c)); err == nil {
				_, _ = io.Copy(io.Discard, req.Body)
			}
			if reset {
				_ = c.(*net.TCPConn).SetLinger(0)
			}
			c.Close()
		}
	}()
	return "http://" + ln.Addr().String()
}

// A connection the receiver closes after the request and before a status line is NO
// RESPONSE, and its reason says so instead of Go's bare "EOF" or "connection reset by peer".
func TestNoResponseSaysTheConnectionClosed(t *testing.T) {
	for _, tt := range []struct {
		reset bool
		why   string
	}{{false, "EOF"}, {true, "reset by peer"}} {
		to := closingReceiver(t, tt.reset)
		want := "the connection was closed before the status line (" + tt.why + ")"

		f, out, _ := testFactory("", nil)
		code := Run(context.Background(), f.IO, BuildInfo{}, []string{"send", "--to", to, "--type", "com.example.t"}, f.Getenv)
		if code != ExitUndelivered || !strings.HasPrefix(out.String(), "NO RESPONSE (maybe delivered)") || !strings.HasSuffix(out.String(), ": "+want+"\n") {
			t.Errorf("send: exit %d, stdout %q; want 3 and a NO RESPONSE line ending %q", code, out, want)
		}

		f, out, _ = testFactory("", nil)
		Run(context.Background(), f.IO, BuildInfo{}, []string{"send", "--to", to, "--type", "com.example.t", "-o", "json"}, f.Getenv)
		var rec struct{ Error, Outcome string }
		if err := json.Unmarshal(out.Bytes(), &rec); err != nil || rec.Error != want || rec.Outcome != "no_response" {
			t.Errorf("send -o json: %s (%v); want error %q, outcome no_response", out, err, want)
		}

		f, out, _ = testFactory("", nil)
		Run(context.Background(), f.IO, BuildInfo{}, []string{"send", "--to", to, "--type", "com.example.t", "--count", "2"}, f.Getenv)
		if !strings.Contains(out.String(), "2 × "+want) {
			t.Errorf("send --count: the report does not say %q:\n%s", want, out)
		}

		// request says so too, and its error object under -o json has the outcome.
		f, _, errOut := testFactory("", nil)
		code = Run(context.Background(), f.IO, BuildInfo{}, []string{"request", "--to", to, "--type", "com.example.t"}, f.Getenv)
		if code != ExitUndelivered || !strings.HasSuffix(errOut.String(), ": "+want+"\n") {
			t.Errorf("request: exit %d, stderr %q; want 3 and %q", code, errOut, want)
		}
		f, _, errOut = testFactory("", nil)
		Run(context.Background(), f.IO, BuildInfo{}, []string{"request", "--to", to, "--type", "com.example.t", "-o", "json"}, f.Getenv)
		var er struct {
			Kind, Error, Outcome string
			ExitCode             int `json:"exit_code"`
		}
		if err := json.Unmarshal(errOut.Bytes(), &er); err != nil || er.Kind != "error" || er.Outcome != "no_response" || er.ExitCode != 3 || !strings.HasSuffix(er.Error, want) {
			t.Errorf("request -o json: %s (%v); want an error object with outcome no_response", errOut, err)
		}
	}
}

// A request that reached nothing has the outcome not_delivered in its error object.
func TestRequestErrorJSONNotDelivered(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	to := "http://" + ln.Addr().String()
	ln.Close()
	f, _, errOut := testFactory("", nil)
	Run(context.Background(), f.IO, BuildInfo{}, []string{"request", "--to", to, "--type", "com.example.t", "-o", "json"}, f.Getenv)
	if !strings.Contains(errOut.String(), `"outcome":"not_delivered"`) || !strings.Contains(errOut.String(), `"exit_code":3`) {
		t.Errorf("stderr %s: want an error object with outcome not_delivered", errOut)
	}
}
