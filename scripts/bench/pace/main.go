// Command pace checks send --from --pace original: it writes a recording of N events spread
// over a span (as listen --record writes them, with the receive time of each), replays it
// with cectl to a receiver in this process that notes when each event arrives, and prints how
// far the replay's span and each gap are from the recording's.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"time"
)

func main() {
	cectl := flag.String("cectl", "cectl", "the cectl binary")
	n := flag.Int("events", 1000, "events in the recording")
	span := flag.Duration("span", 10*time.Second, "time from the first to the last event")
	seed := flag.Uint64("seed", 1, "seed of the random gaps")
	flag.Parse()
	if err := run(*cectl, *n, *span, *seed); err != nil {
		fmt.Fprintln(os.Stderr, "pace:", err)
		os.Exit(1)
	}
}

func run(cectl string, n int, span time.Duration, seed uint64) error {
	if n < 2 {
		return fmt.Errorf("-events must be at least 2")
	}
	// Random gaps (0–2× the mean), scaled so that they add up to the span exactly.
	rng := rand.New(rand.NewPCG(seed, seed))
	weights := make([]float64, n-1)
	sum := 0.0
	for i := range weights {
		weights[i] = rng.Float64()
		sum += weights[i]
	}
	offsets := make([]time.Duration, n)
	acc := 0.0
	for i, w := range weights {
		acc += w
		offsets[i+1] = time.Duration(acc / sum * float64(span))
	}
	dir, err := os.MkdirTemp("", "pace-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	rec := filepath.Join(dir, "rec.jsonl")
	f, err := os.Create(rec)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(f)
	base := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	for i, off := range offsets {
		// The time attribute is the same for all: the pace must come from the receive time.
		fmt.Fprintf(w, `{"specversion":"1.0","id":"%d","source":"/bench","type":"com.example.pace","time":"2026-01-01T00:00:00Z","cectlreceivedtime":"%s"}`+"\n",
			i, base.Add(off).Format(time.RFC3339Nano))
	}
	if err := w.Flush(); err != nil {
		return err
	}
	f.Close()

	arrived := make([]time.Time, n)
	var mu sync.Mutex
	got := 0
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		now := time.Now()
		id, err := strconv.Atoi(r.Header.Get("Ce-Id"))
		if err == nil && id >= 0 && id < n {
			mu.Lock()
			arrived[id] = now
			got++
			mu.Unlock()
		}
		rw.WriteHeader(http.StatusAccepted)
	})}
	go srv.Serve(ln)
	defer srv.Close()

	cmd := exec.Command(cectl, "send", "--to", "http://"+ln.Addr().String()+"/", "--from", rec, "--pace", "original", "-o", "json")
	cmd.Stderr = os.Stderr
	start := time.Now()
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("cectl send: %w", err)
	}
	wall := time.Since(start)
	mu.Lock()
	defer mu.Unlock()
	if got != n {
		return fmt.Errorf("the receiver got %d of %d events", got, n)
	}

	replayed := arrived[n-1].Sub(arrived[0])
	spanErr := (replayed.Seconds() - span.Seconds()) / span.Seconds() * 100
	gapErrs := make([]time.Duration, n-1)
	drift := time.Duration(0)
	over := 0
	for i := 1; i < n; i++ {
		e := (arrived[i].Sub(arrived[i-1]) - (offsets[i] - offsets[i-1])).Abs()
		gapErrs[i-1] = e
		if e > 5*time.Millisecond {
			over++
		}
		drift = max(drift, (arrived[i].Sub(arrived[0]) - offsets[i]).Abs())
	}
	if os.Getenv("PACE_DEBUG") != "" {
		for i, e := range gapErrs {
			if e > 5*time.Millisecond {
				fmt.Printf("gap %d: recorded %s, replayed %s\n", i+1, offsets[i+1]-offsets[i], arrived[i+1].Sub(arrived[i]))
			}
		}
	}
	slices.Sort(gapErrs)
	q := func(p float64) time.Duration { return gapErrs[int(p*float64(len(gapErrs)-1))] }
	fmt.Printf("events %d, recorded span %s, mean gap %s\n", n, span, span/time.Duration(n-1))
	fmt.Printf("replayed span (first to last arrival) %s: %+.3f%% (limit ±2%%)  cectl wall time %s\n", replayed.Round(time.Microsecond), spanErr, wall.Round(time.Millisecond))
	fmt.Printf("gap error: median %s, p99 %s, max %s; gaps off by more than 5ms: %d (limit 0)\n", q(0.5), q(0.99), gapErrs[len(gapErrs)-1], over)
	fmt.Printf("largest distance of an arrival from its place in the recording: %s\n", drift)
	ok := spanErr >= -2 && spanErr <= 2 && over == 0
	if ok {
		fmt.Println("PASS")
		return nil
	}
	fmt.Println("FAIL")
	return fmt.Errorf("pacing outside its limits")
}
