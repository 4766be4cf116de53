// Command load measures `cectl send --count --concurrency` against baselines in one run:
// a minimal hand-written net/http keep-alive client and vegeta (as a library), each in a
// process of its own, posting the same binary-mode event to the same bare receiver. It then
// checks the pacing of `--rate`. It lives in a module of its own so that vegeta never becomes
// a dependency of cectl.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"os"
	"os/exec"
	"sync"
	"sync/atomic"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

const body = `{"id":42,"name":"Ada","email":"ada@example.com"}`

func main() {
	cectl := flag.String("cectl", "cectl", "path of the cectl binary")
	n := flag.Int("events", 20000, "events per client")
	conc := flag.Int("concurrency", 16, "requests in flight")
	rounds := flag.Int("rounds", 3, "rounds; the best of each is compared")
	rate := flag.Int("rate", 1000, "rate for the pacing check")
	rateFor := flag.Duration("rate-duration", 10*time.Second, "duration of the pacing check")
	role := flag.String("role", "", "internal: baseline or vegeta")
	url := flag.String("url", "", "internal: target URL")
	flag.Parse()
	switch *role {
	case "baseline":
		baseline(*url, *n, *conc)
		return
	case "vegeta":
		runVegeta(*url, *n, *conc)
		return
	}

	var received atomic.Int64
	var mu sync.Mutex
	var arrivals []time.Time
	var recording atomic.Bool
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	check(err)
	go http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		received.Add(1)
		if recording.Load() {
			mu.Lock()
			arrivals = append(arrivals, time.Now())
			mu.Unlock()
		}
		w.WriteHeader(http.StatusAccepted)
	}))
	target := "http://" + ln.Addr().String() + "/"
	self, err := os.Executable()
	check(err)

	measure := func(name string, args ...string) float64 {
		before := received.Load()
		start := time.Now()
		cmd := exec.Command(args[0], args[1:]...)
		cmd.Stdout = io.Discard
		cmd.Stderr = os.Stderr
		check(cmd.Run())
		took := time.Since(start)
		if got := received.Load() - before; got < int64(*n) {
			check(fmt.Errorf("%s: receiver got %d of %d events", name, got, *n))
		}
		return float64(*n) / took.Seconds()
	}
	best := map[string]float64{}
	for i := 0; i < *rounds; i++ {
		for _, c := range []struct {
			name string
			args []string
		}{
			{"net/http", []string{self, "-role", "baseline", "-url", target, "-events", fmt.Sprint(*n), "-concurrency", fmt.Sprint(*conc)}},
			{"vegeta", []string{self, "-role", "vegeta", "-url", target, "-events", fmt.Sprint(*n), "-concurrency", fmt.Sprint(*conc)}},
			{"cectl", []string{*cectl, "send", "--to", target, "--type", "com.example.user.created", "--source", "/bench",
				"--data", body, "--count", fmt.Sprint(*n), "--concurrency", fmt.Sprint(*conc)}},
		} {
			best[c.name] = math.Max(best[c.name], measure(c.name, c.args...))
		}
	}
	fmt.Printf("%d events at concurrency %d, best of %d rounds (events/s incl. process start):\n", *n, *conc, *rounds)
	for _, name := range []string{"net/http", "vegeta", "cectl"} {
		fmt.Printf("  %-9s %8.0f\n", name, best[name])
	}
	fmt.Printf("  ratio cectl/net/http: %.2fx (target >= 0.90x)\n", best["cectl"]/best["net/http"])
	fmt.Printf("  ratio cectl/vegeta:   %.2fx (target >= 1.00x)\n", best["cectl"]/best["vegeta"])

	// Pacing: --rate R for D must deliver R*D events, evenly.
	recording.Store(true)
	before := received.Load()
	cmd := exec.Command(*cectl, "send", "--to", target, "--type", "com.example.paced", "--rate", fmt.Sprint(*rate),
		"--duration", rateFor.String(), "--concurrency", "8")
	cmd.Stdout = io.Discard
	cmd.Stderr = os.Stderr
	check(cmd.Run())
	recording.Store(false)
	got := received.Load() - before
	want := float64(*rate) * rateFor.Seconds()
	fmt.Printf("--rate %d for %s: %d events, %.2f%% off %0.f (target within 1%%)\n", *rate, rateFor, got, 100*math.Abs(float64(got)-want)/want, want)
	// Evenness: events per 100 ms window should all be near rate/10.
	if len(arrivals) > 1 {
		first := arrivals[0]
		windows := make([]int, int(*rateFor/(100*time.Millisecond))+1)
		for _, t := range arrivals {
			i := int(t.Sub(first) / (100 * time.Millisecond))
			if i < len(windows) {
				windows[i]++
			}
		}
		windows = windows[:len(windows)-1]
		lo, hi, sum := math.MaxInt, 0, 0
		for _, c := range windows {
			lo, hi, sum = min(lo, c), max(hi, c), sum+c
		}
		mean := float64(sum) / float64(len(windows))
		var sq float64
		for _, c := range windows {
			sq += (float64(c) - mean) * (float64(c) - mean)
		}
		fmt.Printf("  per 100 ms window: mean %.1f, min %d, max %d, stddev %.1f\n", mean, lo, hi, math.Sqrt(sq/float64(len(windows))))
	}
}

func request(url string, i int) *http.Request {
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader([]byte(body)))
	check(err)
	req.Header["Ce-Specversion"] = []string{"1.0"}
	req.Header["Ce-Id"] = []string{fmt.Sprintf("00000000-0000-4000-8000-%012d", i)}
	req.Header["Ce-Source"] = []string{"/bench"}
	req.Header["Ce-Type"] = []string{"com.example.user.created"}
	req.Header["Ce-Time"] = []string{time.Now().UTC().Format(time.RFC3339Nano)}
	req.Header["Content-Type"] = []string{"application/json"}
	return req
}

// baseline posts n requests from conc goroutines over kept-alive connections.
func baseline(url string, n, conc int) {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = conc
	client := &http.Client{Transport: tr}
	var next atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < conc; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1))
				if i > n {
					return
				}
				resp, err := client.Do(request(url, i))
				check(err)
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		}()
	}
	wg.Wait()
}

// runVegeta makes n hits as fast as conc workers allow.
func runVegeta(url string, n, conc int) {
	var i atomic.Int64
	targeter := func(t *vegeta.Target) error {
		k := i.Add(1)
		t.Method = http.MethodPost
		t.URL = url
		t.Body = []byte(body)
		t.Header = http.Header{
			"Ce-Specversion": {"1.0"},
			"Ce-Id":          {fmt.Sprintf("00000000-0000-4000-8000-%012d", k)},
			"Ce-Source":      {"/bench"},
			"Ce-Type":        {"com.example.user.created"},
			"Ce-Time":        {time.Now().UTC().Format(time.RFC3339Nano)},
			"Content-Type":   {"application/json"},
		}
		return nil
	}
	atk := vegeta.NewAttacker(vegeta.Workers(uint64(conc)), vegeta.MaxWorkers(uint64(conc)), vegeta.KeepAlive(true), vegeta.Connections(conc))
	done := 0
	for res := range atk.Attack(targeter, vegeta.Rate{Freq: 0}, 0, "bench") {
		if res.Code != http.StatusAccepted {
			check(fmt.Errorf("vegeta: %d %s", res.Code, res.Error))
		}
		done++
		if done == n {
			atk.Stop()
			break
		}
	}
}

func check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
