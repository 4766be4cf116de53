// Command listen measures cectl listen against a bare net/http receiver in one run and prints
// the ratios.
//
// One load generator posts small binary-mode events from many concurrent keep-alive
// connections, for the same time, to three receivers in turn, each a process of its own:
//
//   - a bare net/http handler that reads the body and answers 202 (the baseline);
//   - `cectl listen -o json` with stdout to /dev/null;
//   - `cectl listen --record FILE -q` with stdout to /dev/null.
//
// Rounds alternate between the receivers so that all see the same machine. For each it
// prints events per second (2xx answers), the ratio to the baseline and the peak RSS; for the
// recording listener it checks that every acknowledged event is in the record file.
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
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

func main() {
	cectl := flag.String("cectl", "cectl", "path of the cectl binary")
	conns := flag.Int("conns", 64, "concurrent keep-alive connections")
	dur := flag.Duration("duration", 3*time.Second, "load time per receiver and round")
	rounds := flag.Int("rounds", 2, "rounds over the three receivers")
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

	type receiver struct {
		name   string
		argv   []string
		record string
		rates  []float64
		cpus   []float64 // receiver CPU µs per acknowledged event
		rss    int64
		missed int64
		acked  int64
	}
	record := filepath.Join(dir, "events.jsonl")
	receivers := []*receiver{
		{name: "bare net/http handler", argv: []string{self, "-bare-server"}},
		{name: "cectl listen -o json >/dev/null", argv: []string{*cectl, "listen", "-p", "0", "-o", "json"}},
		{name: "cectl listen --record FILE -q", argv: []string{*cectl, "listen", "-p", "0", "-q", "--record", record}, record: record},
		{name: "cectl listen -o json --metrics", argv: []string{*cectl, "listen", "-p", "0", "-o", "json", "--metrics"}},
	}
	fmt.Printf("%d connections, %s per receiver and round, %d rounds\n", *conns, *dur, *rounds)
	for round := 0; round < *rounds; round++ {
		for _, r := range receivers {
			if r.record != "" {
				os.Remove(r.record)
			}
			res := runOne(r.argv, *conns, *dur)
			r.rates = append(r.rates, res.rate)
			perEvent := float64(res.cpu.Microseconds()) / float64(max(len(res.acked), 1))
			r.cpus = append(r.cpus, perEvent)
			r.rss = max(r.rss, res.rss)
			r.acked += int64(len(res.acked))
			if r.record != "" {
				r.missed += missing(r.record, res.acked)
			}
			fmt.Printf("  round %d  %-34s %8.0f events/s  %5.1f µs CPU/event  peak RSS %5.1f MiB\n", round+1, r.name, res.rate, perEvent, mib(res.rss))
		}
	}
	// Each round's ratio is taken against the baseline of the same round, so that load from
	// elsewhere on the machine cancels out as far as it can; the median of the rounds is shown.
	fmt.Println()
	for _, r := range receivers {
		var ratios []float64
		for k := range r.rates {
			ratios = append(ratios, r.rates[k]/receivers[0].rates[k])
		}
		fmt.Printf("%-34s %8.0f events/s  %.2fx baseline  %5.1f µs CPU/event  peak RSS %5.1f MiB\n",
			r.name, median(r.rates), median(ratios), median(r.cpus), mib(r.rss))
	}
	// The cost of --metrics: its events/s against -o json's, round by round.
	var mratios []float64
	for k := range receivers[3].rates {
		mratios = append(mratios, receivers[3].rates[k]/receivers[1].rates[k])
	}
	fmt.Printf("--metrics: %.3fx the events/s of -o json (median of the rounds; target >= 0.95x)\n", median(mratios))
	fmt.Println("targets: >= 0.80x the baseline's events/s, peak RSS < 64 MiB")
	rec := receivers[2]
	fmt.Printf("record file: %d acknowledged events, %d missing\n", rec.acked, rec.missed)
	if rec.missed > 0 {
		os.Exit(1)
	}
}

type result struct {
	rate  float64
	rss   int64 // bytes
	cpu   time.Duration
	acked []int64
}

// runOne starts a receiver, loads it for d and stops it with SIGINT as a user would.
func runOne(argv []string, conns int, d time.Duration) result {
	cmd := exec.Command(argv[0], argv[1:]...)
	devnull, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	check(err)
	defer devnull.Close()
	cmd.Stdout = devnull
	stderr, err := cmd.StderrPipe()
	check(err)
	check(cmd.Start())
	url := make(chan string, 1)
	var tail bytes.Buffer
	var tailMu sync.Mutex
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			line := sc.Text()
			if i := strings.Index(line, "http://"); i >= 0 && len(url) == 0 && strings.Contains(line, "Listening on") {
				url <- strings.Fields(line[i:])[0]
			}
			tailMu.Lock()
			tail.WriteString(line + "\n")
			tailMu.Unlock()
		}
	}()
	var target string
	select {
	case target = <-url:
	case <-time.After(10 * time.Second):
		cmd.Process.Kill()
		check(errors.New("receiver did not start: " + tail.String()))
	}
	acked, took := load(target, conns, d)
	check(cmd.Process.Signal(os.Interrupt))
	if err := cmd.Wait(); err != nil {
		tailMu.Lock()
		defer tailMu.Unlock()
		check(fmt.Errorf("%s: %v\n%s", argv[0], err, tail.String()))
	}
	ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	return result{
		rate:  float64(len(acked)) / took.Seconds(),
		rss:   ru.Maxrss * 1024,
		cpu:   cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime(),
		acked: acked,
	}
}

// load posts binary-mode events from conns goroutines, each with a connection of its own,
// until d has passed, and returns the ids answered 2xx.
func load(url string, conns int, d time.Duration) ([]int64, time.Duration) {
	tr := &http.Transport{MaxIdleConnsPerHost: conns, MaxConnsPerHost: conns, DisableCompression: true}
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr}
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
				req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
				check(err)
				req.Header["Ce-Specversion"] = []string{"1.0"}
				req.Header["Ce-Id"] = []string{strconv.FormatInt(id, 10)}
				req.Header["Ce-Source"] = []string{"/bench"}
				req.Header["Ce-Type"] = []string{"com.example.order.placed"}
				req.Header["Ce-Time"] = []string{"2026-11-25T10:00:00Z"}
				req.Header["Content-Type"] = []string{"application/json"}
				resp, err := c.Do(req)
				if err != nil {
					continue // the receiver did not answer: the event is not acknowledged
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

// missing counts acknowledged ids that are not in the record file.
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
			check(fmt.Errorf("record file: %v: %s", err, sc.Text()))
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

func mib(b int64) float64 { return float64(b) / (1 << 20) }

func check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
