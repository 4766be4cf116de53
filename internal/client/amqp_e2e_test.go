package client_test

// End-to-end request/reply over AMQP 1.0 with the commands a user types: `cectl listen --from
// amqp://… --reply FILE` answers `cectl request --to amqp://…`. The scripts of
// testdata/script do the same over NATS and MQTT with the brokers they embed; the embedded
// AMQP broker is this package's, so the commands run here.

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/cectl/cectl/cmd"
	"github.com/cectl/cectl/internal/client"
	"github.com/cectl/cectl/internal/testutil"
)

func run(ctx context.Context, stdout, stderr *testutil.Buffer, args ...string) int {
	streams := &cmd.IOStreams{In: strings.NewReader(""), Out: stdout, ErrOut: stderr}
	return cmd.Run(ctx, streams, cmd.BuildInfo{Version: "test"}, args, func(string) string { return "" })
}

func TestAMQPRequestReplyCommands(t *testing.T) {
	url := client.StartAMQP(t) + "/queue/quotes"
	reply := filepath.Join(t.TempDir(), "pong.jsonl")
	if err := os.WriteFile(reply, []byte(`{"specversion":"1.0","source":"/svc","type":"com.example.pong","data":{"pong":1}}
{"specversion":"1.0","id":"fixed","source":"/svc","type":"com.example.pong2","datacontenttype":"text/plain","data":"second"}
`), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var lout, lerr testutil.Buffer
	listened := make(chan int, 1)
	go func() {
		listened <- run(ctx, &lout, &lerr, "listen", "--from", url, "--reply", reply, "--reply-mode", "structured", "--count", "2", "-q")
	}()
	for !strings.Contains(lerr.String(), "Listening on") {
		select {
		case code := <-listened:
			t.Fatalf("listen ended with %d: %s", code, lerr.String())
		case <-time.After(10 * time.Millisecond):
		}
	}

	var out, errOut testutil.Buffer
	if code := run(ctx, &out, &errOut, "request", "--to", url, "--type", "com.example.quote", "--data", `{"id":1}`, "-o", "json"); code != 0 {
		t.Fatalf("request: exit %d: %s", code, errOut.String())
	}
	if !regexp.MustCompile(`^\{"specversion":"1.0","id":"[0-9a-f-]{36}","source":"/svc","type":"com.example.pong",.*"data":\{"pong":1\}\}\n$`).MatchString(out.String()) {
		t.Errorf("request printed %q", out.String())
	}
	out, errOut = testutil.Buffer{}, testutil.Buffer{}
	if code := run(ctx, &out, &errOut, "request", "--to", url, "--type", "com.example.quote", "--template", "{{.id}} {{.data}}"); code != 0 {
		t.Fatalf("second request: exit %d: %s", code, errOut.String())
	}
	if out.String() != "fixed second\n" || !strings.Contains(errOut.String(), "structured reply") {
		t.Errorf("second request printed %q, %q", out.String(), errOut.String())
	}

	if code := <-listened; code != 0 {
		t.Fatalf("listen: exit %d: %s", code, lerr.String())
	}
	if n := strings.Count(lout.String(), "replied"); n != 2 {
		t.Errorf("listen showed %d replies:\n%s", n, lout.String())
	}

	// Nobody listens: no response (exit 3) within --timeout.
	out, errOut = testutil.Buffer{}, testutil.Buffer{}
	if code := run(ctx, &out, &errOut, "request", "--to", url, "--type", "com.example.quote", "--timeout", "300ms"); code != 3 {
		t.Errorf("request without a responder: exit %d, want 3: %s", code, errOut.String())
	}
}
