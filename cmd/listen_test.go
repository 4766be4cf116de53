package cmd

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cectl/cectl/internal/binding"
	"github.com/cectl/cectl/internal/ce"
	"github.com/cectl/cectl/internal/client"
	"github.com/cectl/cectl/internal/testutil"
	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/spf13/pflag"
)

// parseListen parses a listen command line without running it.
func parseListen(t *testing.T, out, errOut io.Writer, args ...string) (*ListenOptions, error) {
	t.Helper()
	f := &Factory{IO: &IOStreams{In: strings.NewReader(""), Out: out, ErrOut: errOut}, Getenv: func(string) string { return "" }}
	var got *ListenOptions
	root := NewCmdRoot(f)
	for _, c := range root.Commands() {
		if c.Name() == "listen" {
			root.RemoveCommand(c)
		}
	}
	root.AddCommand(NewCmdListen(f, func(_ context.Context, o *ListenOptions) error { got = o; return nil }))
	root.SetArgs(append([]string{"listen"}, args...))
	_, err := root.ExecuteC()
	return got, err
}

func TestListenFlags(t *testing.T) {
	dir := t.TempDir()
	reply := filepath.Join(dir, "reply.json")
	os.WriteFile(reply, []byte(`{"specversion":"1.0","source":"/s","type":"t"}`), 0o644)
	badReply := filepath.Join(dir, "bad.json")
	os.WriteFile(badReply, []byte("{\"specversion\":\"1.0\",\"source\":\"/s\",\n\"type\":\"t\",\"time\":\"soon\"}"), 0o644)

	tests := []struct {
		args []string
		want string // error substring; "" for valid
	}{
		{nil, ""},
		{[]string{"-p", "0", "--path", "/events", "--count", "3", "--duration", "5s", "--type", "com.*", "--filter", "subject = 'x'"}, ""},
		{[]string{"--addr", ":9999", "--reply", reply, "--reply-mode", "structured", "--status", "201", "--fail-rate", "0.5", "--retry-after", "Wed, 21 Oct 2026 07:28:00 GMT"}, ""},
		{[]string{"--max-body", "64KiB", "--token", "s", "--forward-to", "http://a/", "--forward-to", "https://b/", "--delay", "1s", "--tls-cert", reply, "--tls-key", reply}, "--tls-cert/--tls-key:"},
		{[]string{"--from", "kafka://h/t", "--group", "g", "--start", "oldest", "--count", "1", "--record", "r", "--dedupe"}, ""},
		{[]string{"-p", "70000"}, `invalid argument "70000" for "-p, --port" flag: "70000" is not a port: a port is a whole number from 1 to 65535, such as 8080 (0 picks any free port)`},
		{[]string{"-p", "abc"}, `"abc" is not a port: a port is a whole number from 1 to 65535`},
		{[]string{"--addr", "localhost"}, `invalid argument "localhost" for "--addr" flag: want host:port`},
		{[]string{"--addr", ":1", "-p", "2"}, "--addr and --port both give the port"},
		{[]string{"--path", "events"}, `invalid argument "events" for "--path" flag: must start with /`},
		{[]string{"--max-body", "4 parsecs"}, `invalid argument "4 parsecs" for "--max-body" flag: unknown unit "parsecs"`},
		{[]string{"--max-body", "0"}, "must be positive"},
		{[]string{"--count", "-1"}, `"--count" flag: must not be negative`},
		{[]string{"--count", "x"}, `"--count" flag: want a whole number`},
		{[]string{"-p", "99999999999999999999"}, `"-p, --port" flag: "99999999999999999999" is not a port`},
		{[]string{"--duration", "-1s"}, `"--duration" flag: must not be negative`},
		{[]string{"--duration", "soon"}, `"--duration" flag: want a duration`},
		{[]string{"--timeout", "-1s"}, `"--timeout" flag: must not be negative`},
		{[]string{"--duration", "1s", "--timeout", "2s"}, "--timeout is the old name of --duration; use one"},
		{[]string{"--timeout", "soon"}, `"--timeout" flag: want a duration`},
		{[]string{"--delay", "-1s"}, `"--delay" flag: must not be negative`},
		{[]string{"--fail-rate", "30"}, `invalid argument "30" for "--fail-rate" flag: want a share from 0 to 1`},
		{[]string{"--fail-rate", "NaN"}, "want a share from 0 to 1"},
		{[]string{"--status", "99"}, `invalid argument "99" for "--status" flag: want an HTTP status from 200 to 599`},
		{[]string{"--retry-after", "soon"}, `invalid argument "soon" for "--retry-after" flag: want seconds or an HTTP date`},
		{[]string{"--reply-mode", "batch"}, `invalid argument "batch" for "--reply-mode" flag: want binary or structured`},
		{[]string{"--reply", reply, "--status", "204"}, "--status 204 has no body"},
		{[]string{"--reply", filepath.Join(dir, "missing.json")}, "--reply: open"},
		{[]string{"--reply", badReply}, "bad.json:2:20: time \"soon\" is not an RFC 3339 timestamp"},
		{[]string{"--filter", "type = "}, `--filter "type = ": syntax error`},
		{[]string{"--type", ""}, `invalid argument "" for "--type" flag: must not be empty`},
		{[]string{"--forward-to", "http://ok/", "--forward-to", "ftp://x"}, `invalid argument "ftp://x" for "--forward-to" flag: want an http or https URL`},
		{[]string{"--tls-cert", "c.pem"}, "--tls-cert and --tls-key go together"},
		{[]string{"--tls-key", "k.pem"}, "--tls-cert and --tls-key go together"},
		{[]string{"--tls-cert", reply, "--tls-key", reply}, "--tls-cert/--tls-key:"},
		{[]string{"--token", ""}, `invalid argument "" for "--token" flag: must not be empty`},
		{[]string{"--from", "nats://h/s", "--reply", reply}, ""},
		{[]string{"--from", "kafka://h/t", "--reply", reply}, "--reply answers requests, and Kafka has none"},
		{[]string{"--from", "jetstream://h/S/s", "--reply", reply}, "--reply answers requests, and JetStream has none"},
		{[]string{"--from", "kafka://h/t", "--until-end"}, ""},
		{[]string{"--from", "mqtt://h/t", "--until-end"}, "--until-end reads a stream or topic to its end"},
		{[]string{"--until-end"}, "--until-end goes with --from"},
		{[]string{"--template", "{{.x"}, "--template: line 1, column 1: unclosed action"},
		{[]string{"--template", "{{.x}}", "-q"}, "use one"},
		{[]string{"--from", "nats://h/s", "--fail-rate", "0.5"}, "--fail-rate is for listening on HTTP; it does not go with --from"},
		{[]string{"--from", "nats://h/s", "-p", "1"}, "--port is for listening on HTTP; it does not go with --from"},
		{[]string{"--durable", "d"}, "--durable goes with --from"},
		{[]string{"--start", "oldest"}, "--start goes with --from"},
		{[]string{"extra"}, "takes no arguments"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			opts, err := parseListen(t, io.Discard, io.Discard, tt.args...)
			if err == nil {
				_, err = opts.resolve()
			}
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Fatalf("error %v, want %q", err, tt.want)
			case tt.want != "" && ExitCode(context.Background(), err) != ExitUsage:
				t.Errorf("exit code %d for %v", ExitCode(context.Background(), err), err)
			}
		})
	}
}

func TestListenDefaults(t *testing.T) {
	opts, err := parseListen(t, io.Discard, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	s, err := opts.resolve()
	if err != nil {
		t.Fatal(err)
	}
	if s.addr != "127.0.0.1:8080" || s.cfg.Faults.Status != 0 || s.cfg.MaxBody != 4<<20 || s.cfg.Path != "/" || s.cfg.ReplyMode != binding.Binary {
		t.Errorf("defaults: %s %+v", s.addr, s.cfg)
	}
	// Typed flags arrive parsed.
	opts, err = parseListen(t, io.Discard, io.Discard, "--max-body", "64KiB", "--reply-mode", "Structured", "--fail-rate", "0.25",
		"--type", "a.*", "--type", "b", "--forward-to", "http://x/", "--addr", ":9", "--delay", "2s")
	if err != nil {
		t.Fatal(err)
	}
	if opts.MaxBody != 64<<10 || opts.ReplyMode != binding.Structured || opts.FailRate != 0.25 || fmt.Sprint(opts.Types) != "[a.* b]" ||
		fmt.Sprint(opts.ForwardTo) != "[http://x/]" || opts.Delay != 2*time.Second {
		t.Errorf("parsed %+v", opts)
	}
	if s, err := opts.resolve(); err != nil || s.addr != ":9" || s.cfg.MaxBody != 64<<10 {
		t.Errorf("resolved %v %+v", err, s)
	}
}

// The banner names a status only when it is not the one listen answers with anyway.
func TestListenBannerStatus(t *testing.T) {
	reply := filepath.Join(t.TempDir(), "r.json")
	os.WriteFile(reply, []byte(`{"specversion":"1.0","source":"/s","type":"t"}`), 0o644)
	for _, tt := range []struct {
		args []string
		want string
	}{
		{nil, ""},
		{[]string{"--status", "202"}, ""},
		{[]string{"--status", "503"}, "answering 503 Service Unavailable"},
		{[]string{"--status", "200"}, "answering 200 OK"},
		{[]string{"--reply", reply}, ""},
		{[]string{"--reply", reply, "--status", "200"}, ""},
		{[]string{"--reply", reply, "--status", "202"}, "answering 202 Accepted"},
	} {
		opts, err := parseListen(t, io.Discard, io.Discard, tt.args...)
		if err != nil {
			t.Fatal(err)
		}
		s, err := opts.resolve()
		if err != nil {
			t.Fatal(err)
		}
		got := ""
		for _, line := range s.settings {
			if strings.HasPrefix(line, "answering ") {
				got = line
			}
		}
		if got != tt.want {
			t.Errorf("%v: banner says %q, want %q", tt.args, got, tt.want)
		}
	}
}

func TestParseSize(t *testing.T) {
	for in, want := range map[string]int64{"65536": 65536, "64KiB": 64 << 10, "4MiB": 4 << 20, "1 GiB": 1 << 30, "10MB": 10e6, "5kb": 5000, "100B": 100} {
		if got, err := parseSize(in); err != nil || got != want {
			t.Errorf("parseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "MiB", "-1", "1.5MiB", "99999999999999999999", "2000GiB"} {
		if _, err := parseSize(in); err == nil {
			t.Errorf("parseSize(%q) worked", in)
		}
	}
	for n, want := range map[int64]string{4 << 20: "4MiB", 1536: "1536", 64 << 10: "64KiB", 1 << 30: "1GiB", 10e6: "10000000"} {
		if got := formatSize(n); got != want {
			t.Errorf("formatSize(%d) = %q, want %q", n, got, want)
		}
	}
}

// The help shows listen's flags in groups, each flag once, none left out.
func TestListenHelpGroupsFlags(t *testing.T) {
	var out bytes.Buffer
	if _, err := parseListen(t, &out, io.Discard, "--help"); err != nil {
		t.Fatal(err)
	}
	help := out.String()
	var at []int
	for _, title := range []string{"Receive flags:", "HTTP server flags (not with --from):", "Fake answer flags, to test senders (not with --from):",
		"Broker flags:", "Other flags:", "Global Flags:"} {
		i := strings.Index(help, "\n"+title+"\n")
		if i < 0 {
			t.Fatalf("no %q in help:\n%s", title, help)
		}
		at = append(at, i)
	}
	if !slices.IsSorted(at) {
		t.Errorf("sections out of order: %v", at)
	}
	flags := help[at[0]:]
	cmd := NewCmdListen(&Factory{}, nil)
	cmd.Flags().VisitAll(func(f *pflag.Flag) {
		line := regexp.MustCompile(`(?m)^ +(-\w, )?--` + f.Name + ` `)
		want := 1
		if f.Hidden {
			want = 0 // an old name kept working
		}
		if n := len(line.FindAllString(flags, -1)); n != want {
			t.Errorf("--%s shown %d times", f.Name, n)
		}
	})
	for _, want := range []string{"--max-body size ", "(default 4MiB)", `--path path `, `(default "/")`, "--reply-mode mode", `(default "binary")`, "-p, --port port"} {
		if !strings.Contains(help, want) {
			t.Errorf("help lacks %q:\n%s", want, help)
		}
	}
	if strings.Contains(help, "(default 0") || strings.Contains(help, "(default [])") {
		t.Errorf("help shows an empty default:\n%s", help)
	}
}

// startListen runs listen with the given flags until the returned stop is called or it ends
// by itself; it returns the listener's URL and a channel with the run's error.
func startListen(t *testing.T, out, errOut io.Writer, args ...string) (string, context.CancelFunc, chan error) {
	t.Helper()
	opts, err := parseListen(t, out, errOut, append([]string{"-p", "0"}, args...)...)
	if err != nil {
		t.Fatal(err)
	}
	if opts.F.Output == "" {
		opts.F.Output = "text"
	}
	ready := make(chan string, 1)
	opts.Ready = func(url string) { ready <- url }
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- listenRun(ctx, opts) }()
	select {
	case url := <-ready:
		return url, cancel, done
	case err := <-done:
		cancel()
		t.Fatalf("listen ended at once: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("listen did not start")
	}
	return "", cancel, done
}

func post(t *testing.T, url string, mode binding.Mode, id, typ string) int {
	t.Helper()
	e := mustEvent(t, fmt.Sprintf(`{"specversion":"1.0","id":%q,"source":"/test","type":%q,"data":{"n":1}}`, id, typ))
	msg, err := binding.Encode(mode, e)
	if err != nil {
		t.Fatal(err)
	}
	c := client.New(client.Options{Timeout: 5 * time.Second})
	defer c.Close()
	res := c.Post(context.Background(), url, msg)
	return res.Status
}

func wait(t *testing.T, done chan error) error {
	t.Helper()
	select {
	case err := <-done:
		return err
	case <-time.After(15 * time.Second):
		t.Fatal("listen did not stop")
	}
	return nil
}

func TestListenJSONOutputIsOnlyEvents(t *testing.T) {
	var out, errOut testutil.Buffer
	record := filepath.Join(t.TempDir(), "events.jsonl")
	url, stop, done := startListen(t, &out, &errOut, "-o", "json", "--record", record, "--dedupe")
	for i, mode := range []binding.Mode{binding.Binary, binding.Structured, binding.Batch} {
		if s := post(t, url, mode, fmt.Sprint(i), "com.example.t"); s != http.StatusAccepted {
			t.Fatalf("%s: status %d", mode, s)
		}
	}
	post(t, url, binding.Binary, "0", "com.example.t") // a duplicate
	resp, err := http.Post(url, "application/json", strings.NewReader(`{}`))
	if err != nil || resp.StatusCode != http.StatusUnsupportedMediaType {
		t.Fatalf("not an event: %v %v", resp, err)
	}
	resp.Body.Close()
	stop()
	if err := wait(t, done); err != nil {
		t.Fatal(err)
	}
	// Every mode carries the event as it was: binary mode adds no content type.
	want := `{"specversion":"1.0","id":"0","source":"/test","type":"com.example.t","data":{"n":1}}` + "\n" +
		`{"specversion":"1.0","id":"1","source":"/test","type":"com.example.t","data":{"n":1}}` + "\n" +
		`{"specversion":"1.0","id":"2","source":"/test","type":"com.example.t","data":{"n":1}}` + "\n"
	if out.String() != want {
		t.Errorf("stdout:\n%s\nwant:\n%s", out.String(), want)
	}
	// The record holds the same events, each with the instant it was received.
	stamp := regexp.MustCompile(`,"cectlreceivedtime":"[^"]+"}\n`)
	if b, _ := os.ReadFile(record); stamp.ReplaceAllString(string(b), "}\n") != want || len(stamp.FindAll(b, -1)) != 3 {
		t.Errorf("record:\n%s", b)
	}
	for _, s := range []string{"Listening on http://127.0.0.1:", "recording to " + record, "id=0  duplicate",
		"rejected 415 Unsupported Media Type  POST /", "4 events in 4 requests (2 binary, 1 structured, 1 batch)",
		"1 duplicate", "3 events recorded to " + record} {
		if !strings.Contains(errOut.String(), s) {
			t.Errorf("stderr lacks %q:\n%s", s, errOut.String())
		}
	}
}

func TestListenTextOutput(t *testing.T) {
	var out, errOut testutil.Buffer
	url, stop, done := startListen(t, &out, &errOut, "-q", "--count", "2")
	post(t, url, binding.Binary, "a", "com.example.first")
	resp, _ := http.Post(url, "application/cloudevents+json", strings.NewReader(`{"specversion":"1.0"}`))
	resp.Body.Close()
	post(t, url, binding.Structured, "b", "com.example.second")
	err := wait(t, done) // --count ends it
	stop()
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 2 || !strings.Contains(lines[0], "com.example.first  source=/test  id=a  (binary)") ||
		!strings.Contains(lines[1], "com.example.second  source=/test  id=b  (structured)") {
		t.Errorf("stdout:\n%s", out.String())
	}
	if !strings.Contains(errOut.String(), "rejected 400 Bad Request") || strings.Contains(out.String(), "rejected") {
		t.Errorf("rejections belong on stderr:\n%s", errOut.String())
	}
}

func TestListenDuration(t *testing.T) {
	var errOut testutil.Buffer
	url, stop, done := startListen(t, io.Discard, &errOut, "--count", "3", "--duration", "300ms")
	defer stop()
	post(t, url, binding.Binary, "1", "t")
	err := wait(t, done)
	if err == nil || err.Error() != "--duration 300ms: 1 of 3 events arrived" || ExitCode(context.Background(), err) != ExitFailure {
		t.Errorf("error %v", err)
	}
	// Without --count, the duration is just how long to listen.
	_, stop2, done2 := startListen(t, io.Discard, io.Discard, "--duration", "100ms")
	defer stop2()
	if err := wait(t, done2); err != nil {
		t.Errorf("timeout without count: %v", err)
	}
}

func TestListenOutputErrorFails(t *testing.T) {
	url, stop, done := startListen(t, failingWriter{}, io.Discard, "-o", "json")
	defer stop()
	post(t, url, binding.Binary, "1", "t")
	err := wait(t, done)
	if err == nil || !strings.Contains(err.Error(), "writing the output: device gone") {
		t.Errorf("error %v", err)
	}
}

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("device gone") }

func TestListenAddressInUse(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := ln.Addr().(*net.TCPAddr).Port
	opts, err := parseListen(t, io.Discard, io.Discard, "-p", fmt.Sprint(port))
	if err != nil {
		t.Fatal(err)
	}
	opts.F.Output = "text"
	err = listenRun(context.Background(), opts)
	want := fmt.Sprintf("cannot listen on 127.0.0.1:%d: address already in use (another port: -p N; any free port: -p 0)", port)
	if err == nil || err.Error() != want || ExitCode(context.Background(), err) != ExitFailure {
		t.Errorf("error %v", err)
	}
}

func TestListenRefusesToForwardToItself(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	opts, err := parseListen(t, io.Discard, io.Discard, "-p", fmt.Sprint(port), "--forward-to", fmt.Sprintf("http://localhost:%d/x", port))
	if err != nil {
		t.Fatal(err)
	}
	opts.F.Output = "text"
	err = listenRun(context.Background(), opts)
	if err == nil || !strings.Contains(err.Error(), "points back at this listener") || ExitCode(context.Background(), err) != ExitUsage {
		t.Errorf("error %v", err)
	}
}

func mustEvent(t *testing.T, doc string) *event.Event {
	t.Helper()
	e, err := ce.Decode([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	return &e
}

// --timeout, which send uses for each attempt, is listen's old name for --duration: it still
// works, says it is deprecated, and is not offered in the help.
func TestListenTimeoutIsAnOldName(t *testing.T) {
	var errOut bytes.Buffer
	opts, err := parseListen(t, io.Discard, &errOut, "--timeout", "5s")
	if err != nil {
		t.Fatal(err)
	}
	if opts.Duration != 5*time.Second {
		t.Errorf("--timeout 5s gives a duration of %s", opts.Duration)
	}
	if want := "warning: --timeout is deprecated: use --duration ("; !strings.Contains(errOut.String(), want) {
		t.Errorf("stderr %q lacks %q", errOut.String(), want)
	}
	var help bytes.Buffer
	if _, err := parseListen(t, &help, io.Discard, "--help"); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(help.String(), "--duration duration ") || strings.Contains(help.String(), "--timeout ") {
		t.Errorf("help:\n%s", help.String())
	}
}
