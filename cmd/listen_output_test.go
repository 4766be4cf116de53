package cmd

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/cectl/cectl/internal/binding"
	"github.com/cectl/cectl/internal/ce"
	"github.com/cectl/cectl/internal/client"
	"github.com/cectl/cectl/internal/listen"
	"github.com/cectl/cectl/internal/testutil"
)

// postFull sends one binary-mode event and returns the status and Retry-After it got.
func postFull(t *testing.T, url, id string) (int, string) {
	t.Helper()
	e := mustEvent(t, fmt.Sprintf(`{"specversion":"1.0","id":%q,"source":"/test","type":"t","data":{"n":1}}`, id))
	msg, err := binding.Encode(binding.Binary, e)
	if err != nil {
		t.Fatal(err)
	}
	c := client.New(client.Options{Timeout: 10 * time.Second})
	defer c.Close()
	res := c.Post(context.Background(), url, msg)
	if res.Response == nil {
		t.Fatalf("no answer: %v", res.Err)
	}
	return res.Status, res.Response.Header.Get("Retry-After")
}

// TestListenClosedStdout: once the reader of stdout has gone, an event is answered 503 with
// Retry-After, never 2xx, and listen ends with exit 1 and its summary on stderr.
func TestListenClosedStdout(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	r.Close()
	var errOut testutil.Buffer
	url, stop, done := startListen(t, w, &errOut, "-o", "json")
	defer stop()
	if st, ra := postFull(t, url, "1"); st != http.StatusServiceUnavailable || ra == "" {
		t.Errorf("answered %d, Retry-After %q", st, ra)
	}
	err = wait(t, done)
	if err == nil || !strings.Contains(err.Error(), "stdout was closed") || ExitCode(context.Background(), err) != ExitFailure {
		t.Errorf("ended with %v", err)
	}
	if !strings.Contains(errOut.String(), "listened for ") || !strings.Contains(errOut.String(), "1 request rejected (503 ×1)") {
		t.Errorf("no summary on stderr:\n%s", errOut.String())
	}
}

// TestListenBlockedStdout: a stdout nobody reads holds an answer no longer than the output's
// wait bound (503 with Retry-After then), and a stop (SIGTERM, Ctrl-C) ends listen within the
// shutdown grace all the same.
func TestListenBlockedStdout(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	fillPipe(t, w)
	var errOut testutil.Buffer
	url, stop, done := startListen(t, w, &errOut, "-o", "json")
	start := time.Now()
	st, ra := postFull(t, url, "1")
	if st != http.StatusServiceUnavailable || ra == "" {
		t.Errorf("answered %d, Retry-After %q", st, ra)
	}
	if d := time.Since(start); d > 4*time.Second {
		t.Errorf("the answer took %s", d)
	}
	start = time.Now()
	go func() { // in flight when the stop comes
		req, _ := http.NewRequest("POST", url, nil)
		for k, v := range map[string]string{"Ce-Specversion": "1.0", "Ce-Id": "2", "Ce-Source": "/s", "Ce-Type": "t"} {
			req.Header.Set(k, v)
		}
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
		}
	}()
	time.Sleep(100 * time.Millisecond)
	stop()
	wait(t, done)
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("listen took %s to stop with a blocked stdout", d)
	}
	if !strings.Contains(errOut.String(), "listened for ") {
		t.Errorf("no summary on stderr:\n%s", errOut.String())
	}
}

// fillPipe writes to w until the pipe is full.
func fillPipe(t *testing.T, w *os.File) {
	t.Helper()
	if err := w.SetWriteDeadline(time.Now().Add(200 * time.Millisecond)); err != nil {
		t.Fatal("a pipe write deadline:", err)
	}
	chunk := make([]byte, 4096)
	for {
		if _, err := w.Write(chunk); err != nil {
			break
		}
	}
	w.SetWriteDeadline(time.Time{})
}

// TestListenFailingStderr: stderr failing ends listening with exit 1, naming stderr; events
// already on stdout are not answered 503 for it.
func TestListenFailingStderr(t *testing.T) {
	var out testutil.Buffer
	opts, err := parseListen(t, &out, failingWriter{}, "-p", "0", "-o", "json")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err = listenRun(ctx, opts)
	if err == nil || err.Error() != "writing to stderr: device gone" || ExitCode(context.Background(), err) != ExitFailure {
		t.Errorf("ended with %v", err)
	}
}

// BenchmarkShowerReport is what showing one accepted event costs, as -o json and as -q text,
// up to its line being written (to a discarding stdout).
func BenchmarkShowerReport(b *testing.B) {
	for _, args := range [][]string{{"-o", "json"}, {"-q"}} {
		b.Run(strings.Join(args, " "), func(b *testing.B) {
			f := &Factory{IO: &IOStreams{In: strings.NewReader(""), Out: io.Discard, ErrOut: io.Discard}, Getenv: func(string) string { return "" }}
			f.Output = "text"
			if args[0] == "-o" {
				f.Output = "json"
			}
			sh := newShower(f, &ListenOptions{Quiet: args[0] == "-q"}, nil)
			defer sh.close()
			e, err := ce.Decode([]byte(`{"specversion":"1.0","id":"12345","source":"/bench","type":"com.example.order.placed","time":"2026-11-25T10:00:00Z","datacontenttype":"application/json","data":{"order":42,"item":"book","qty":1}}`))
			if err != nil {
				b.Fatal(err)
			}
			rep := &listen.Report{Kind: listen.KindEvents, Received: time.Now(), Method: "POST", Target: "/", Status: 202,
				Events: []listen.Arrival{{Event: &e}}, Total: 1}
			b.ReportAllocs()
			for b.Loop() {
				if err := sh.report(rep); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
