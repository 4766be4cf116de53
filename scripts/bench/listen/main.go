// Command listen measures cectl listen against a bare net/http receiver in one run and prints
// the ratios, with the receiver as the bottleneck: wrk drives it from one core while the
// receiver runs alone on the other (taskset), so the load generator's own cost does not hide
// the receiver's.
//
// Each round loads the receivers in turn for the same time, each a process of its own:
//
//   - a bare net/http handler that reads the body and answers 202 (the baseline);
//   - `cectl listen -o json` with stdout to /dev/null;
//   - `cectl listen --record FILE -q` with stdout to /dev/null;
//   - `cectl listen -o json --ui`, without and with a page following the web view;
//   - `cectl listen -o json --metrics`, which is also measured against `-o json` of the same
//     round: the metrics' own cost (target: at most 5%, >= 0.95x).
//
// wrk keeps 32 keep-alive connections busy with binary-mode events, each with an id of its
// own (a Lua script). For each receiver it prints 2xx answers per second, the ratio to the
// baseline of the same round, wrk's p99 latency, the receiver's CPU time per event (steadier
// than rates on a busy machine) and its peak RSS; the summary shows the medians of the rounds.
//
// Then the acknowledgement check: a Go client that remembers which events were answered 2xx
// loads each cectl receiver, which is killed with SIGKILL in the middle of the load; every
// acknowledged event must be in its stdout (-o json) or its record file (--record).
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// wrkScript posts binary-mode events; every request gets an id of its own (thread number and
// counter), as a real sender's events would, so that nothing is taken for a duplicate.
const wrkScript = `
local counter = 0
local threads = {}
function setup(thread)
  thread:set("tid", #threads + 1)
  table.insert(threads, thread)
end
wrk.method = "POST"
wrk.body = '{"order":42,"item":"book","qty":1}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Ce-Specversion"] = "1.0"
wrk.headers["Ce-Source"] = "/bench"
wrk.headers["Ce-Type"] = "com.example.order.placed"
wrk.headers["Ce-Time"] = "2026-11-25T10:00:00Z"
function request()
  counter = counter + 1
  wrk.headers["Ce-Id"] = tid .. "-" .. counter
  return wrk.format()
end
`

func main() {
	cectl := flag.String("cectl", "cectl", "path of the cectl binary")
	wrk := flag.String("wrk", "wrk", "path of wrk")
	conns := flag.Int("conns", 32, "keep-alive connections")
	dur := flag.Duration("duration", 5*time.Second, "load time per receiver and round")
	rounds := flag.Int("rounds", 3, "rounds over the three receivers")
	repeats := flag.Int("repeats", 3, "SIGKILL checks per cectl receiver")
	serverCPU := flag.String("server-cpu", "0", "CPU the receiver runs on (taskset -c)")
	loadCPU := flag.String("load-cpu", "1", "CPU wrk runs on (taskset -c)")
	bare := flag.Bool("bare-server", false, "internal: be the baseline receiver")
	flag.Parse()
	if *bare {
		bareServer()
		return
	}
	dir, err := os.MkdirTemp("", "cectl-listen-bench-")
	check(err)
	defer os.RemoveAll(dir)
	self, err := os.Executable()
	check(err)
	lua := filepath.Join(dir, "post.lua")
	check(os.WriteFile(lua, []byte(wrkScript), 0o644))

	type receiver struct {
		name             string
		argv             []string
		record           string
		rates, ratios    []float64
		p99s, cpus       []time.Duration
		rss              int64
		target, rssLimit float64
		stream           bool // a page follows the web view
		// vs, when not 0, is the receiver this one is measured against (its ratio to that
		// one's events/s of the same round, target applying to it) instead of the baseline.
		vs       int
		vsRatios []float64
	}
	record := filepath.Join(dir, "events.jsonl")
	receivers := []*receiver{
		{name: "bare net/http handler", argv: []string{self, "-bare-server"}},
		{name: "cectl listen -o json >/dev/null", argv: []string{*cectl, "listen", "-p", "0", "-o", "json"}, target: 0.80},
		{name: "cectl listen --record FILE -q", argv: []string{*cectl, "listen", "-p", "0", "-q", "--record", record}, record: record, target: 0.75},
		// With --ui and no page open, within 10% of -o json; with one page following, 0.7x.
		{name: "cectl listen -o json --ui", argv: []string{*cectl, "listen", "-p", "0", "-o", "json", "--ui"}, target: 0.72},
		{name: "  ... and a page following", argv: []string{*cectl, "listen", "-p", "0", "-o", "json", "--ui"}, target: 0.70, stream: true},
		// --metrics costs at most 5% of -o json: measured against it.
		{name: "cectl listen -o json --metrics", argv: []string{*cectl, "listen", "-p", "0", "-o", "json", "--metrics"}, target: 0.95, vs: 1},
	}
	fmt.Printf("wrk on CPU %s, receiver on CPU %s: %d keep-alive connections, %s per receiver and round, %d rounds\n",
		*loadCPU, *serverCPU, *conns, *dur, *rounds)
	for round := 1; round <= *rounds; round++ {
		for i, r := range receivers {
			if r.record != "" {
				os.Remove(r.record)
			}
			res := runWrk(*wrk, lua, r.argv, *serverCPU, *loadCPU, *conns, *dur, r.stream)
			r.rates = append(r.rates, res.rate)
			r.p99s = append(r.p99s, res.p99)
			r.cpus = append(r.cpus, res.cpu)
			r.rss = max(r.rss, res.rss)
			ratio := res.rate / receivers[0].rates[len(receivers[0].rates)-1]
			if i > 0 {
				r.ratios = append(r.ratios, ratio)
			}
			vs := ""
			if r.vs > 0 {
				other := receivers[r.vs]
				v := res.rate / other.rates[len(other.rates)-1]
				r.vsRatios = append(r.vsRatios, v)
				vs = fmt.Sprintf("  %.2fx %s", v, short(other.name))
			}
			fmt.Printf("  round %d  %-34s %8.0f events/s  %.2fx  p99 %8s  %5.1f µs CPU/event  peak RSS %5.1f MiB  (%d non-2xx)%s\n",
				round, r.name, res.rate, ratio, res.p99.Round(time.Microsecond), us(res.cpu), mib(res.rss), res.non2xx, vs)
		}
	}
	// Each round's ratio is taken against the baseline of the same round, so that load from
	// elsewhere on the machine cancels out as far as it can; medians of the rounds are shown.
	fmt.Println()
	ok := true
	for i, r := range receivers {
		line := fmt.Sprintf("%-34s %8.0f events/s", r.name, median(r.rates))
		switch {
		case r.vs > 0:
			ratio := median(r.vsRatios)
			line += fmt.Sprintf("  %.2fx baseline, %.2fx %s (target >= %.2fx)", median(r.ratios), ratio,
				short(receivers[r.vs].name), r.target)
			ok = ok && ratio >= r.target
		case i > 0:
			ratio := median(r.ratios)
			line += fmt.Sprintf("  %.2fx baseline (target >= %.2fx)", ratio, r.target)
			ok = ok && ratio >= r.target
		default:
			line += "                                "
		}
		line += fmt.Sprintf("  p99 %8s  %5.1f µs CPU/event  peak RSS %5.1f MiB", medianDuration(r.p99s), us(medianDuration(r.cpus)), mib(r.rss))
		if i > 0 {
			ok = ok && r.rss < 64<<20
		}
		fmt.Println(line)
	}
	fmt.Println("targets: -o json >= 0.80x, --record >= 0.75x, --ui >= 0.72x (within 10% of -o json), a page following >= 0.70x the baseline's events/s;")
	fmt.Println("         --metrics >= 0.95x the events/s of -o json in the same round (each round's ratio, their median); peak RSS < 64 MiB")

	// Acknowledged means kept: SIGKILL in the middle of the load loses nothing acknowledged.
	fmt.Println()
	var lost int64
	for _, k := range []struct {
		name string
		argv []string
		file string // where the events must be; "" for stdout
	}{
		{"cectl listen -o json >FILE", []string{*cectl, "listen", "-p", "0", "-o", "json"}, ""},
		{"cectl listen --record FILE -q", []string{*cectl, "listen", "-p", "0", "-q", "--record", record}, record},
	} {
		for rep := 1; rep <= *repeats; rep++ {
			os.Remove(record)
			out := filepath.Join(dir, "stdout.jsonl")
			acked := runKilled(k.argv, out, *conns)
			file := k.file
			if file == "" {
				file = out
			}
			n := missing(file, acked)
			lost += n
			fmt.Printf("SIGKILL mid-load %d/%d  %-30s %7d acknowledged, %d missing\n", rep, *repeats, k.name, len(acked), n)
		}
	}
	if lost > 0 || !ok {
		os.Exit(1)
	}
}

type wrkResult struct {
	rate   float64 // 2xx answers per second
	n      int64
	non2xx int64
	p99    time.Duration
	cpu    time.Duration // the receiver's CPU time per 2xx answer
	rss    int64         // bytes
}

// runWrk starts a receiver on serverCPU, loads it with wrk on loadCPU for d and stops it
// with SIGINT as a user would.
func runWrk(wrk, lua string, argv []string, serverCPU, loadCPU string, conns int, d time.Duration, stream bool) wrkResult {
	cmd, url, tail := start(append([]string{"taskset", "-c", serverCPU}, argv...), os.DevNull)
	var streamed atomic.Int64
	stop := make(chan struct{})
	if stream {
		go follow(url, &streamed, stop)
	}
	defer func() {
		close(stop)
		if stream && streamed.Load() == 0 {
			check(fmt.Errorf("%s: the page following the web view got no entry", argv[0]))
		}
	}()
	w := exec.Command("taskset", "-c", loadCPU, wrk, "-t1", "-c"+strconv.Itoa(conns), "-d"+d.String(), "--latency", "--timeout", "10s", "-s", lua, url)
	out, err := w.CombinedOutput()
	if err != nil {
		cmd.Process.Kill()
		check(fmt.Errorf("wrk: %v\n%s", err, out))
	}
	rss := peakRSS(cmd.Process.Pid)
	check(cmd.Process.Signal(os.Interrupt))
	if err := cmd.Wait(); err != nil {
		check(fmt.Errorf("%s: %v\n%s", argv[0], err, tail()))
	}
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		rss = max(rss, ru.Maxrss*1024)
	}
	res, err := parseWrk(string(out))
	if err != nil {
		check(fmt.Errorf("wrk output: %v\n%s", err, out))
	}
	res.rss = rss
	ok := float64(res.n - res.non2xx)
	res.cpu = time.Duration(float64(cmd.ProcessState.UserTime()+cmd.ProcessState.SystemTime()) / max(ok, 1))
	return res
}

var (
	wrkTotal  = regexp.MustCompile(`(\d+) requests in ([\d.]+)(us|ms|s|m),`)
	wrkNon2xx = regexp.MustCompile(`Non-2xx or 3xx responses: (\d+)`)
	wrkP99    = regexp.MustCompile(`\n\s*99%\s+([\d.]+)(us|ms|s)\b`)
)

// parseWrk reads wrk's --latency report.
func parseWrk(out string) (wrkResult, error) {
	var r wrkResult
	m := wrkTotal.FindStringSubmatch(out)
	if m == nil {
		return r, errors.New("no request count")
	}
	n, _ := strconv.ParseInt(m[1], 10, 64)
	r.n = n
	took := parseDuration(m[2], m[3])
	if m := wrkNon2xx.FindStringSubmatch(out); m != nil {
		r.non2xx, _ = strconv.ParseInt(m[1], 10, 64)
	}
	p := wrkP99.FindStringSubmatch(out)
	if p == nil {
		return r, errors.New("no p99 latency")
	}
	r.p99 = parseDuration(p[1], p[2])
	r.rate = float64(n-r.non2xx) / took.Seconds()
	return r, nil
}

func parseDuration(v, unit string) time.Duration {
	f, _ := strconv.ParseFloat(v, 64)
	switch unit {
	case "us":
		return time.Duration(f * float64(time.Microsecond))
	case "ms":
		return time.Duration(f * float64(time.Millisecond))
	case "m":
		return time.Duration(f * float64(time.Minute))
	}
	return time.Duration(f * float64(time.Second))
}

// peakRSS is the high-water mark of a running process's resident memory.
func peakRSS(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == "VmHWM:" {
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			return kb * 1024
		}
	}
	return 0
}

// start runs argv with stdout to the file named stdout and waits for the URL it announces on
// stderr ("Listening on URL"); tail returns what it printed there.
func start(argv []string, stdout string) (cmd *exec.Cmd, url string, tail func() string) {
	cmd = exec.Command(argv[0], argv[1:]...)
	out, err := os.OpenFile(stdout, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	check(err)
	defer out.Close()
	cmd.Stdout = out
	stderr, err := cmd.StderrPipe()
	check(err)
	check(cmd.Start())
	urls := make(chan string, 1)
	var buf bytes.Buffer
	var mu sync.Mutex
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			line := sc.Text()
			if i := strings.Index(line, "http://"); i >= 0 && len(urls) == 0 && strings.Contains(line, "Listening on") {
				urls <- strings.Fields(line[i:])[0]
			}
			mu.Lock()
			buf.WriteString(line + "\n")
			mu.Unlock()
		}
	}()
	tail = func() string { mu.Lock(); defer mu.Unlock(); return buf.String() }
	select {
	case url = <-urls:
	case <-time.After(10 * time.Second):
		cmd.Process.Kill()
		check(errors.New("receiver did not start: " + tail()))
	}
	return cmd, url, tail
}

// runKilled starts a receiver with stdout to the file out, loads it, kills it with SIGKILL
// in the middle of the load, and returns the ids answered 2xx.
func runKilled(argv []string, out string, conns int) []int64 {
	cmd, url, _ := start(argv, out)
	done := make(chan []int64, 1)
	go func() { acked, _ := load(url, conns, 3*time.Second); done <- acked }()
	time.Sleep(1500 * time.Millisecond)
	check(cmd.Process.Signal(syscall.SIGKILL))
	cmd.Wait()
	return <-done
}

// load posts binary-mode events from conns goroutines, each with a connection of its own,
// until d has passed, and returns the ids answered 2xx.
func load(url string, conns int, d time.Duration) ([]int64, time.Duration) {
	tr := &http.Transport{MaxIdleConnsPerHost: conns, MaxConnsPerHost: conns, DisableCompression: true}
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr, Timeout: 5 * time.Second}
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	var next atomic.Int64
	var mu sync.Mutex
	var acked []int64
	var wg sync.WaitGroup
	body := []byte(`{"order":42,"item":"book","qty":1}`)
	start := time.Now()
	for g := 0; g < conns; g++ {
		wg.Go(func() {
			var mine []int64
			for ctx.Err() == nil {
				id := next.Add(1)
				req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
				check(err)
				req.Header["Ce-Specversion"] = []string{"1.0"}
				req.Header["Ce-Id"] = []string{strconv.FormatInt(id, 10)}
				req.Header["Ce-Source"] = []string{"/bench"}
				req.Header["Ce-Type"] = []string{"com.example.order.placed"}
				req.Header["Ce-Time"] = []string{"2026-11-25T10:00:00Z"}
				req.Header["Content-Type"] = []string{"application/json"}
				resp, err := c.Do(req)
				if err != nil {
					// The receiver did not answer: the event is not acknowledged. Once it is
					// gone, do not spin.
					time.Sleep(10 * time.Millisecond)
					continue
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode >= 200 && resp.StatusCode <= 299 {
					mine = append(mine, id)
				}
			}
			mu.Lock()
			acked = append(acked, mine...)
			mu.Unlock()
		})
	}
	wg.Wait()
	return acked, time.Since(start)
}

// missing counts acknowledged ids that are not among the JSON events of file.
func missing(file string, acked []int64) int64 {
	f, err := os.Open(file)
	check(err)
	defer f.Close()
	have := make(map[string]bool, len(acked))
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var e struct{ ID string }
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			// SIGKILL may cut the last line short; it was not acknowledged.
			continue
		}
		have[e.ID] = true
	}
	check(sc.Err())
	var n int64
	for _, id := range acked {
		if !have[strconv.FormatInt(id, 10)] {
			n++
		}
	}
	return n
}

// bareServer is the baseline: read the body, answer 202.
func bareServer() {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	check(err)
	fmt.Fprintf(os.Stderr, "Listening on http://%s/\n", ln.Addr())
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusAccepted)
	})}
	go srv.Serve(ln)
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt)
	<-sig
	srv.Close()
}

func median(xs []float64) float64 {
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func medianDuration(ds []time.Duration) time.Duration {
	fs := make([]float64, len(ds))
	for i, d := range ds {
		fs[i] = float64(d)
	}
	return time.Duration(median(fs)).Round(time.Microsecond)
}

// short is a receiver's name without the command and the redirection: "-o json".
func short(name string) string {
	return strings.TrimSuffix(strings.TrimPrefix(name, "cectl listen "), " >/dev/null")
}

func mib(b int64) float64 { return float64(b) / (1 << 20) }

func us(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }

func check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

// follow reads the web view's event stream as a page does, parsing each entry, until stop.
func follow(target string, n *atomic.Int64, stop chan struct{}) {
	ctx, cancel := context.WithCancel(context.Background())
	go func() { <-stop; cancel() }()
	req, err := http.NewRequestWithContext(ctx, "GET", strings.TrimSuffix(target, "/")+"/_cectl/events", nil)
	check(err)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return
	}
	defer resp.Body.Close()
	// A page parses each entry; here each is checked to be a whole JSON object and counted,
	// which costs the load side little: the page is a client, like wrk, and must not be
	// what saturates first.
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 16<<20)
	for sc.Scan() {
		if data, ok := bytes.CutPrefix(sc.Bytes(), []byte("data: ")); ok && bytes.HasPrefix(data, []byte(`{"seq"`)) && json.Valid(data) {
			n.Add(1)
		}
	}
}
