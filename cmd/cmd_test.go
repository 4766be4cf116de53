package cmd

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cectl/cectl/internal/eventspec"
	"github.com/cectl/cectl/internal/format"
	"github.com/spf13/cobra"
)

func testFactory(stdin string, env map[string]string) (*Factory, *bytes.Buffer, *bytes.Buffer) {
	var out, errOut bytes.Buffer
	f := &Factory{
		IO:     &IOStreams{In: strings.NewReader(stdin), Out: &out, ErrOut: &errOut},
		Build:  BuildInfo{Version: "v1.2.3"},
		Getenv: func(k string) string { return env[k] },
	}
	return f, &out, &errOut
}

// runCmd parses args through the real command tree with the run replaced.
func runCmd(t *testing.T, f *Factory, newCmd func(*Factory) *cobra.Command, args ...string) error {
	t.Helper()
	root := NewCmdRoot(f)
	c := newCmd(f)
	root.RemoveCommand(findCmd(root, c.Name()))
	root.AddCommand(c)
	root.SetArgs(append([]string{c.Name()}, args...))
	_, err := root.ExecuteContextC(context.Background())
	return err
}

func findCmd(root *cobra.Command, name string) *cobra.Command {
	for _, c := range root.Commands() {
		if c.Name() == name {
			return c
		}
	}
	return nil
}

func TestExitCodes(t *testing.T) {
	interrupted, cancel := context.WithCancelCause(context.Background())
	cancel(&InterruptError{Signal: syscall.SIGINT})
	tests := []struct {
		name string
		ctx  context.Context
		err  error
		want int
	}{
		{"success", context.Background(), nil, 0},
		{"failure", context.Background(), errors.New("boom"), 1},
		{"rejected, reported already", context.Background(), &SilentError{Code: ExitFailure}, 1},
		{"flag error", context.Background(), flagErrorf("--to is required"), 2},
		{"wrapped flag error", context.Background(), fmt.Errorf("x: %w", &FlagError{Err: errors.New("y")}), 2},
		{"cobra unknown command", context.Background(), errors.New(`unknown command "sned" for "cectl"`), 2},
		{"not delivered", context.Background(), &UndeliveredError{Err: errors.New("refused")}, 3},
		{"not delivered, reported already", context.Background(), &SilentError{Code: ExitUndelivered}, 3},
		{"interrupted", interrupted, context.Canceled, 130},
		{"interrupt error", context.Background(), &InterruptError{Signal: syscall.SIGTERM}, 130},
		{"event spec error", context.Background(), &eventspec.UsageError{Err: errors.New("--time")}, 2},
		{"all acknowledged", context.Background(), summaryError(format.Summary{Sent: 3, ACK: 3}), 0},
		{"nothing sent", context.Background(), summaryError(format.Summary{}), 0},
		{"one refused", context.Background(), summaryError(format.Summary{Sent: 3, ACK: 2, NACK: 1}), 1},
		{"one not delivered", context.Background(), summaryError(format.Summary{Sent: 3, ACK: 2, Undelivered: 1}), 1},
		{"one invalid", context.Background(), summaryError(format.Summary{Sent: 2, ACK: 2, Invalid: 1}), 1},
		{"only invalid (dry run)", context.Background(), summaryError(format.Summary{Invalid: 1}), 1},
		{"none delivered", context.Background(), summaryError(format.Summary{Sent: 3, Undelivered: 3}), 3},
	}
	for _, tt := range tests {
		if got := ExitCode(tt.ctx, tt.err); got != tt.want {
			t.Errorf("%s: ExitCode = %d, want %d", tt.name, got, tt.want)
		}
	}
}

func TestRunReportsErrors(t *testing.T) {
	f, _, errOut := testFactory("", nil)
	code := Run(context.Background(), f.IO, f.Build, []string{"send", "--type", "t"}, f.Getenv)
	if code != ExitUsage {
		t.Errorf("exit %d", code)
	}
	want := "error: --to is required (or set K_SINK)\nRun 'cectl send --help' for usage.\n"
	if errOut.String() != want {
		t.Errorf("stderr %q, want %q", errOut.String(), want)
	}
}

func TestVersion(t *testing.T) {
	f, out, _ := testFactory("", nil)
	f.Build = BuildInfo{Version: "v1.2.3", Commit: "abc", Date: "2026-11-25"}
	if code := Run(context.Background(), f.IO, f.Build, []string{"--version"}, f.Getenv); code != 0 {
		t.Fatal(code)
	}
	if got := out.String(); got != "cectl v1.2.3 (commit abc, built 2026-11-25)\n" {
		t.Errorf("version %q", got)
	}
}

func TestSendFlags(t *testing.T) {
	f, _, _ := testFactory("", nil)
	var got *SendOptions
	err := runCmd(t, f, func(f *Factory) *cobra.Command {
		return NewCmdSend(f, func(_ context.Context, o *SendOptions) error { got = o; return nil })
	}, "--to", "http://x", "--type", "t", "-e", "a=1", "-e", "b:=2", "-H", "X-A: 1", "--mode", "structured",
		"--retries", "2", "--timeout", "5s", "-d", "hi", "--from", "f.jsonl", "--dry-run", "--batch-size", "10")
	if err != nil {
		t.Fatal(err)
	}
	if got.Delivery.To != "http://x" || got.Event.Type != "t" || len(got.Event.Extensions) != 2 ||
		got.Delivery.Headers[0] != "X-A: 1" || got.Delivery.Mode != "structured" || got.Delivery.Retries != 2 ||
		got.Delivery.Timeout != 5*time.Second || got.Event.Data != "hi" || got.From != "f.jsonl" || !got.DryRun ||
		got.BatchSize != 10 || got.Event.Source != "cectl" {
		t.Errorf("parsed %+v", got)
	}
}

func TestRequestFlags(t *testing.T) {
	f, _, _ := testFactory("", nil)
	var got *RequestOptions
	err := runCmd(t, f, func(f *Factory) *cobra.Command {
		return NewCmdRequest(f, func(_ context.Context, o *RequestOptions) error { got = o; return nil })
	}, "--to", "http://x", "--type", "t", "-q", "--specversion", "0.3")
	if err != nil {
		t.Fatal(err)
	}
	if got.Delivery.To != "http://x" || !got.Quiet || got.Event.SpecVersion != "0.3" {
		t.Errorf("parsed %+v", got)
	}
}

func TestParseHeader(t *testing.T) {
	tests := []struct{ arg, name, value, err string }{
		{"X-A: 1", "X-A", "1", ""},
		{"Authorization:Bearer a:b", "Authorization", "Bearer a:b", ""},
		{"X-Empty:", "X-Empty", "", ""},
		{"NoColon", "", "", "want 'Name: value'"},
		{": v", "", "", "empty header name"},
		{"Bad Name: v", "", "", "not allowed in a header name"},
		{"X: a\r\nInjected: 1", "", "", "line break"},
		{"Ce-Type: other", "", "", "for type use --type"},
		{"ce-foo: 1", "", "", "for foo use --ext foo=…"},
		{"CE-Data: x", "", "", "use --data"},
		{"Content-Type: text/plain", "", "", "set the first with --datacontenttype, the second with --mode"},
		{"content-type: application/cloudevents+json", "", "", "--datacontenttype"},
	}
	for _, tt := range tests {
		name, value, err := parseHeader(tt.arg)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("%q: err %v, want %q", tt.arg, err, tt.err)
			}
			continue
		}
		if err != nil || name != tt.name || value != tt.value {
			t.Errorf("%q: got %q %q %v", tt.arg, name, value, err)
		}
	}
}

func TestColorDecision(t *testing.T) {
	tests := []struct {
		name    string
		tty     bool
		env     map[string]string
		noColor bool
		output  string
		want    bool
	}{
		{"terminal", true, nil, false, "text", true},
		{"pipe", false, nil, false, "text", false},
		{"--no-color", true, nil, true, "text", false},
		{"NO_COLOR", true, map[string]string{"NO_COLOR": "1"}, false, "text", false},
		{"TERM=dumb", true, map[string]string{"TERM": "dumb"}, false, "text", false},
		{"json", true, nil, false, "json", false},
	}
	for _, tt := range tests {
		f, _, _ := testFactory("", tt.env)
		f.IO.OutTTY = tt.tty
		f.NoColor = tt.noColor
		f.Output = tt.output
		if got := f.Styles().Enabled; got != tt.want {
			t.Errorf("%s: colour %v, want %v", tt.name, got, tt.want)
		}
	}
}

func FuzzParseHeader(f *testing.F) {
	for _, s := range []string{"X-A: 1", "a:b", ":", "x: \r\n", "Bad Name: v", "X:\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, arg string) {
		name, value, err := parseHeader(arg)
		if err != nil {
			return
		}
		if name == "" || strings.ContainsAny(value, "\r\n\x00") || strings.ContainsAny(name, " :\r\n") {
			t.Fatalf("%q parsed to %q %q", arg, name, value)
		}
	})
}

func TestShownURLMasksPasswords(t *testing.T) {
	tests := map[string]string{
		"amqp://guest:guest@127.0.0.1:5672/q": "amqp://guest:xxxxx@127.0.0.1:5672/q",
		"nats://token@127.0.0.1:4222/s":       "nats://xxxxx@127.0.0.1:4222/s",
		"http://user@127.0.0.1:8080/":         "http://user@127.0.0.1:8080/",
		"http://localhost:8080/":              "http://localhost:8080/",
		"%zz":                                 "%zz",
	}
	for in, want := range tests {
		if got := shownURL(in); got != want {
			t.Errorf("shownURL(%q) = %q, want %q", in, got, want)
		}
	}
}
