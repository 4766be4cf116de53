// Command send measures cectl send against baselines in one run and prints the ratios:
//
//   - one-shot: `cectl send` of one binary-mode event versus curl posting the same request,
//     wall time per process, alternating so both see the same machine state;
//   - throughput: `cectl send --from` of N events versus a plain net/http keep-alive client
//     posting the same requests one after another.
//
// Both talk to the same bare net/http receiver (read the body, answer 202).
package main

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync/atomic"
	"time"
)

func main() {
	cectl := flag.String("cectl", "cectl", "path of the cectl binary")
	curl := flag.String("curl", "curl", "path of curl")
	runs := flag.Int("runs", 100, "one-shot runs of each command")
	events := flag.Int("events", 10000, "events for the throughput test")
	rounds := flag.Int("rounds", 5, "throughput rounds of each client, taking turns; the best counts")
	clientURL := flag.String("baseline-client", "", "internal: act as the baseline client, posting -events requests to this URL")
	postURL := flag.String("baseline-post", "", "internal: post the one-shot request once to this URL and exit")
	flag.Parse()
	if *clientURL != "" {
		baselineClient(*clientURL, *events)
		return
	}
	if *postURL != "" {
		baselinePost(*postURL)
		return
	}

	var received atomic.Int64
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	check(err)
	go http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		received.Add(1)
		w.WriteHeader(http.StatusAccepted)
	}))
	url := "http://" + ln.Addr().String() + "/"

	oneShot(*cectl, *curl, url, *runs)
	throughput(*cectl, url, *events, *rounds, &received)
}

func oneShot(cectl, curl, url string, runs int) {
	data := `{"id":42,"name":"Ada"}`
	cectlArgs := []string{"send", "--to", url, "--type", "com.example.user.created", "--id", "1",
		"--source", "/bench", "--time", "2026-11-25T10:00:00Z", "--data", data}
	curlArgs := []string{"-s", "-o", "/dev/null", "-X", "POST", url,
		"-H", "ce-specversion: 1.0", "-H", "ce-id: 1", "-H", "ce-source: /bench",
		"-H", "ce-type: com.example.user.created", "-H", "ce-time: 2026-11-25T10:00:00Z",
		"-H", "Content-Type: application/json", "--data-binary", data}
	// The floor: this program itself (a static Go binary with net/http) posting the same
	// request and nothing else, so the ratio can be read against what any Go program costs.
	self, err := os.Executable()
	check(err)
	floorArgs := []string{"-baseline-post", url}
	// Warm the page cache for all binaries.
	run(cectl, cectlArgs)
	run(curl, curlArgs)
	run(self, floorArgs)
	var tc, tk, tf []time.Duration
	for i := 0; i < runs; i++ {
		tk = append(tk, run(curl, curlArgs))
		tc = append(tc, run(cectl, cectlArgs))
		tf = append(tf, run(self, floorArgs))
	}
	mc, mk, mf := median(tc), median(tk), median(tf)
	fmt.Printf("one-shot send, median of %d runs: cectl %v, curl %v\n", runs, mc.Round(time.Microsecond), mk.Round(time.Microsecond))
	fmt.Printf("  ratio cectl/curl wall time: %.2fx (target <= 0.80x)\n", float64(mc)/float64(mk))
	fmt.Printf("  floor: a Go program that only posts the request: %v, %.2fx curl\n", mf.Round(time.Microsecond), float64(mf)/float64(mk))
}

// baselinePost posts the one-shot request once, as a minimal Go program would.
func baselinePost(url string) {
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(`{"id":42,"name":"Ada"}`))
	check(err)
	req.Header["Ce-Specversion"] = []string{"1.0"}
	req.Header["Ce-Id"] = []string{"1"}
	req.Header["Ce-Source"] = []string{"/bench"}
	req.Header["Ce-Type"] = []string{"com.example.user.created"}
	req.Header["Ce-Time"] = []string{"2026-11-25T10:00:00Z"}
	req.Header["Content-Type"] = []string{"application/json"}
	resp, err := http.DefaultClient.Do(req)
	check(err)
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		check(fmt.Errorf("baseline: %s", resp.Status))
	}
}

func throughput(cectl, url string, n, rounds int, received *atomic.Int64) {
	dir, err := os.MkdirTemp("", "cectl-bench-")
	check(err)
	defer os.RemoveAll(dir)
	file := filepath.Join(dir, "events.jsonl")
	var b bytes.Buffer
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, `{"specversion":"1.0","id":"%d","source":"/bench","type":"com.example.bench","time":"2026-11-25T10:00:00Z","datacontenttype":"application/json","data":{"n":%d,"name":"Ada"}}`+"\n", i, i)
	}
	check(os.WriteFile(file, b.Bytes(), 0o644))

	self, err := os.Executable()
	check(err)
	devNull, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	check(err)
	defer devNull.Close()
	// timed runs a command that must deliver n events and returns how long it took.
	timed := func(what string, name string, args ...string) time.Duration {
		before := received.Load()
		cmd := exec.Command(name, args...)
		// A file, as when a user redirects the results: a pipe would have this process,
		// which also runs the receiver, copy every line.
		cmd.Stdout = devNull
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		start := time.Now()
		if err := cmd.Run(); err != nil {
			check(fmt.Errorf("%s: %w\n%s", what, err, stderr.String()))
		}
		took := time.Since(start)
		if got := received.Load() - before; got != int64(n) {
			panic(fmt.Sprintf("receiver got %d of %d %s events", got, n, what))
		}
		return took
	}
	// The machine's speed drifts between runs, so the two take turns and each keeps its
	// best round. The baseline posts the same binary-mode requests from a plain keep-alive
	// client, in a process of its own like cectl.
	var base, took time.Duration
	for round := 0; round < rounds; round++ {
		b := timed("baseline", self, "-baseline-client", url, "-events", fmt.Sprint(n))
		c := timed("cectl", cectl, "send", "--from", file, "--to", url)
		if round == 0 || b < base {
			base = b
		}
		if round == 0 || c < took {
			took = c
		}
	}
	be, ce := float64(n)/base.Seconds(), float64(n)/took.Seconds()
	fmt.Printf("send --from %d events, best of %d rounds: cectl %.0f events/s, net/http client %.0f events/s\n", n, rounds, ce, be)
	fmt.Printf("  ratio cectl/net/http throughput: %.2fx (target >= 0.90x)\n", ce/be)
}

// baselineClient posts n binary-mode events one after another over one kept-alive
// connection, the way a hand-written net/http client would.
func baselineClient(url string, n int) {
	client := &http.Client{}
	for i := 0; i < n; i++ {
		body := fmt.Appendf(nil, `{"n":%d,"name":"Ada"}`, i)
		req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
		check(err)
		req.Header["Ce-Specversion"] = []string{"1.0"}
		req.Header["Ce-Id"] = []string{fmt.Sprint(i)}
		req.Header["Ce-Source"] = []string{"/bench"}
		req.Header["Ce-Type"] = []string{"com.example.bench"}
		req.Header["Ce-Time"] = []string{"2026-11-25T10:00:00Z"}
		req.Header["Content-Type"] = []string{"application/json"}
		resp, err := client.Do(req)
		check(err)
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusAccepted {
			check(fmt.Errorf("baseline: %s", resp.Status))
		}
	}
}

func run(name string, args []string) time.Duration {
	cmd := exec.Command(name, args...)
	cmd.Stdout = io.Discard
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	start := time.Now()
	err := cmd.Run()
	d := time.Since(start)
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n%s", name, err, stderr.String())
		os.Exit(1)
	}
	return d
}

func median(ds []time.Duration) time.Duration {
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}

func check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
