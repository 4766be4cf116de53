package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/cectl/cectl/cmd"
	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/hooks/auth"
	"github.com/mochi-mqtt/server/v2/listeners"
	natsserver "github.com/nats-io/nats-server/v2/server"
	"github.com/rogpeppe/go-internal/testscript"
	"github.com/twmb/franz-go/pkg/kfake"
)

var update = flag.Bool("update", false, "rewrite golden files and testscript output")

func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"cectl": func() {
			os.Exit(cmd.Main(cmd.BuildInfo{Version: "v0.0.0-test", Commit: "abc1234", Date: "2026-11-25"}))
		},
		"testreceiver": func() { os.Exit(testReceiver(os.Args[1:])) },
		"httpreq":      func() { os.Exit(httpReq(os.Args[1:])) },
	})
}

// TestScripts runs the end-to-end scripts in testdata/script: the real cectl binary, typed as
// a user would, against receivers the scripts start.
func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir:           "testdata/script",
		UpdateScripts: *update,
		Setup: func(env *testscript.Env) error {
			env.Setenv("NO_COLOR", "")
			env.Setenv("TERM", "xterm")
			env.Setenv("K_SINK", "")
			return nil
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"freeport":  cmdFreeport,
			"waitport":  cmdWaitport,
			"exitcode":  cmdExitcode,
			"waitlines": cmdWaitlines,
			"broker":    cmdBroker,
			"termafter": cmdTermAfter,
		},
	})
}

// cmdBroker starts a broker embedded in the test process for the rest of the script and sets
// VAR to its base URL and VAR_ADDR to its host:port (NATS): broker nats|kafka|mqtt VAR.
// (JetStream is on in the NATS server.)
func cmdBroker(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: broker nats|kafka|mqtt VAR")
	}
	switch args[0] {
	case "nats":
		dir, err := os.MkdirTemp("", "cectl-nats-")
		ts.Check(err)
		s, err := natsserver.NewServer(&natsserver.Options{
			Host: "127.0.0.1", Port: -1, JetStream: true, StoreDir: dir, NoLog: true, NoSigs: true,
		})
		ts.Check(err)
		go s.Start()
		if !s.ReadyForConnections(10 * time.Second) {
			ts.Fatalf("nats server did not start")
		}
		ts.Defer(func() {
			s.Shutdown()
			s.WaitForShutdown()
			os.RemoveAll(dir)
		})
		ts.Setenv(args[1], s.ClientURL())
		ts.Setenv(args[1]+"_ADDR", strings.TrimPrefix(s.ClientURL(), "nats://"))
	case "mqtt":
		s := mqtt.New(&mqtt.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
		ts.Check(s.AddHook(new(auth.AllowHook), nil))
		l := listeners.NewTCP(listeners.Config{ID: "tcp", Address: "127.0.0.1:0"})
		ts.Check(s.AddListener(l))
		go func() { _ = s.Serve() }()
		ts.Defer(func() { s.Close() })
		ts.Setenv(args[1], "mqtt://"+l.Address())
	case "kafka":
		c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.AllowAutoTopicCreation(), kfake.DefaultNumPartitions(1))
		ts.Check(err)
		ts.Defer(c.Close)
		ts.Setenv(args[1], "kafka://"+c.ListenAddrs()[0])
	default:
		ts.Fatalf("unknown broker %q", args[0])
	}
}

// cmdFreeport sets the named variable to a TCP port on 127.0.0.1 that was free a moment ago.
func cmdFreeport(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: freeport VAR")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	ts.Check(err)
	port := ln.Addr().(*net.TCPAddr).Port
	ts.Check(ln.Close())
	ts.Setenv(args[0], strconv.Itoa(port))
}

// cmdExitcode runs a program like exec and checks its exact exit code:
// exitcode 3 cectl send ...
func cmdExitcode(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: exitcode CODE program [args...]")
	}
	want, err := strconv.Atoi(args[0])
	ts.Check(err)
	err = ts.Exec(args[1], args[2:]...)
	got := 0
	if err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			ts.Fatalf("%s: %v", args[1], err)
		}
		got = ee.ExitCode()
	}
	if got != want {
		ts.Fatalf("%s exited with %d, want %d", args[1], got, want)
	}
}

// cmdWaitport waits until something accepts connections on 127.0.0.1:PORT (at most 15s).
func cmdWaitport(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: waitport PORT")
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", "127.0.0.1:"+args[0], time.Second)
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			ts.Fatalf("nothing listens on port %s: %v", args[0], err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// testReceiver is a minimal HTTP receiver for scripts: it prints every request as one JSON
// line (method, path, headers, body) on stdout and answers with a fixed status, headers and
// body. It stops after -count requests or on SIGINT.
func testReceiver(args []string) int {
	fs := flag.NewFlagSet("testreceiver", flag.ContinueOnError)
	port := fs.Int("port", 0, "port on 127.0.0.1")
	statuses := fs.String("status", "202", "status codes answered in turn, comma-separated; the last repeats")
	body := fs.String("body", "", "response body")
	var headers multiFlag
	fs.Var(&headers, "header", "response header 'Name: value' (repeatable)")
	count := fs.Int("count", 0, "exit after this many requests")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	var codes []int
	for _, s := range strings.Split(*statuses, ",") {
		n, err := strconv.Atoi(s)
		if err != nil {
			fmt.Fprintln(os.Stderr, "bad -status:", err)
			return 2
		}
		codes = append(codes, n)
	}
	ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", *port))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	var mu sync.Mutex
	n := 0
	done := make(chan struct{})
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		defer mu.Unlock()
		h := map[string]string{}
		keys := make([]string, 0, len(r.Header))
		for k := range r.Header {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			if k == "User-Agent" || k == "Accept-Encoding" || k == "Content-Length" {
				continue
			}
			h[strings.ToLower(k)] = strings.Join(r.Header[k], ",")
		}
		line, _ := json.Marshal(map[string]any{"method": r.Method, "path": r.URL.Path, "headers": h, "body": string(b)})
		fmt.Fprintf(os.Stdout, "%s\n", line)
		for _, hv := range headers {
			k, v, _ := strings.Cut(hv, ":")
			w.Header().Add(strings.TrimSpace(k), strings.TrimSpace(v))
		}
		w.WriteHeader(codes[min(n, len(codes)-1)])
		io.WriteString(w, *body)
		n++
		if *count > 0 && n == *count {
			close(done)
		}
	})}
	go srv.Serve(ln)
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	select {
	case <-done:
		time.Sleep(50 * time.Millisecond) // let the last response reach the client
	case <-sig:
	}
	srv.Close()
	return 0
}

type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ", ") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

// cmdWaitlines waits until FILE exists and has at least N lines (at most 15s):
// waitlines events.jsonl 3
func cmdWaitlines(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: waitlines FILE N")
	}
	n, err := strconv.Atoi(args[1])
	ts.Check(err)
	deadline := time.Now().Add(15 * time.Second)
	for {
		b, _ := os.ReadFile(ts.MkAbs(args[0]))
		if strings.Count(string(b), "\n") >= n {
			return
		}
		if time.Now().After(deadline) {
			ts.Fatalf("%s has %d lines, want %d", args[0], strings.Count(string(b), "\n"), n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// httpReq sends one raw HTTP request, for what cectl itself would refuse to send, and prints
// the status line, the response headers (but Date and Content-Length) and the body:
// httpreq [-X METHOD] [-H 'Name: value']... URL [BODY]
func httpReq(args []string) int {
	fs := flag.NewFlagSet("httpreq", flag.ContinueOnError)
	method := fs.String("X", "POST", "method")
	var headers multiFlag
	fs.Var(&headers, "H", "request header 'Name: value' (repeatable)")
	if err := fs.Parse(args); err != nil || fs.NArg() < 1 || fs.NArg() > 2 {
		return 2
	}
	req, err := http.NewRequest(*method, fs.Arg(0), strings.NewReader(fs.Arg(1)))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	for _, h := range headers {
		k, v, _ := strings.Cut(h, ":")
		req.Header.Add(strings.TrimSpace(k), strings.TrimSpace(v))
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	fmt.Println(resp.Proto, resp.Status)
	keys := make([]string, 0, len(resp.Header))
	for k := range resp.Header {
		if k != "Date" && k != "Content-Length" {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Printf("%s: %s\n", k, strings.Join(resp.Header[k], ", "))
	}
	fmt.Printf("\n%s", b)
	return 0
}
