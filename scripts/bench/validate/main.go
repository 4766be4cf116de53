// Command validate measures `cectl validate` against two baselines on the same generated
// JSON-lines file, in one run: json.Unmarshal into sdk-go's event.Event plus Validate(), and
// santhosh-tekuri/jsonschema/v6 with the official CloudEvents 1.0 schema. Every program runs
// as its own process reading the file, timed by wall clock (best of -runs), and must find
// every event valid. It then checks cectl's peak RSS on a large file. It prints the ratios
// and exits 1 when a target is missed.
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/cectl/cectl/internal/validate/validatetest"
	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/santhosh-tekuri/jsonschema/v6"
)

func main() {
	if len(os.Args) > 1 && (os.Args[1] == "sdkgo" || os.Args[1] == "jsonschema") {
		n, err := baseline(os.Args[1], os.Args[2:])
		if err != nil {
			fmt.Fprintln(os.Stderr, "error:", err)
			os.Exit(1)
		}
		fmt.Println(n)
		return
	}
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(1)
	}
}

// baseline validates every line of a file the baseline's way and returns the count.
func baseline(kind string, args []string) (int, error) {
	var check func([]byte) error
	file := args[len(args)-1]
	switch kind {
	case "sdkgo":
		check = func(line []byte) error {
			var e event.Event
			if err := json.Unmarshal(line, &e); err != nil {
				return err
			}
			return e.Validate()
		}
	case "jsonschema":
		sch, err := jsonschema.NewCompiler().Compile(args[0])
		if err != nil {
			return 0, err
		}
		check = func(line []byte) error {
			v, err := jsonschema.UnmarshalJSON(bytes.NewReader(line))
			if err != nil {
				return err
			}
			return sch.Validate(v)
		}
	}
	f, err := os.Open(file)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	n := 0
	for sc.Scan() {
		n++
		if err := check(sc.Bytes()); err != nil {
			return n, fmt.Errorf("line %d: %w", n, err)
		}
	}
	return n, sc.Err()
}

type measurement struct {
	wall   time.Duration
	maxRSS int64 // bytes
	out    string
}

// measure runs a program and returns its wall time, peak RSS and stdout.
func measure(name string, args ...string) (measurement, error) {
	cmd := exec.Command(name, args...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	start := time.Now()
	err := cmd.Run()
	m := measurement{wall: time.Since(start), out: out.String()}
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		m.maxRSS = ru.Maxrss * 1024 // KiB on Linux
	}
	if err != nil {
		return m, fmt.Errorf("%s %s: %w\n%s%s", filepath.Base(name), strings.Join(args, " "), err, out.String(), errOut.String())
	}
	return m, nil
}

func best(runs int, name string, args ...string) (measurement, error) {
	var b measurement
	for i := 0; i < runs; i++ {
		m, err := measure(name, args...)
		if err != nil {
			return m, err
		}
		if i == 0 || m.wall < b.wall {
			b = m
		}
	}
	return b, nil
}

// cectlEvents checks cectl's JSON summary: every event read, none invalid.
func cectlEvents(out string, want int) error {
	var sum struct {
		Events int  `json:"events"`
		OK     bool `json:"ok"`
	}
	if err := json.Unmarshal([]byte(strings.TrimSpace(out)), &sum); err != nil {
		return fmt.Errorf("cectl summary %q: %w", out, err)
	}
	if sum.Events != want || !sum.OK {
		return fmt.Errorf("cectl validated %d events (ok=%v), want %d valid", sum.Events, sum.OK, want)
	}
	return nil
}

func generate(path string, events int, size int64) (int, int64, error) {
	f, err := os.Create(path)
	if err != nil {
		return 0, 0, err
	}
	w := bufio.NewWriterSize(f, 1<<20)
	g := validatetest.New(2026)
	n, total := 0, int64(0)
	for (events > 0 && n < events) || (size > 0 && total < size) {
		k, err := w.Write(append(g.Next(), '\n'))
		if err != nil {
			f.Close()
			return n, total, err
		}
		n++
		total += int64(k)
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return n, total, err
	}
	return n, total, f.Close()
}

func run() error {
	cectl := flag.String("cectl", "", "path of the cectl binary")
	schema := flag.String("schema", "internal/validate/testdata/cloudevents-1.0.json", "the official CloudEvents 1.0 JSON Schema")
	events := flag.Int("events", 100000, "events in the throughput file")
	runs := flag.Int("runs", 3, "runs of each program; the fastest counts")
	bigMiB := flag.Int64("big", 1024, "size of the peak-RSS file in MiB (0 skips it)")
	dir := flag.String("dir", "", "directory for the generated files (default: a temporary one)")
	flag.Parse()
	if *cectl == "" {
		return errors.New("-cectl is required")
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	if *dir == "" {
		d, err := os.MkdirTemp("", "validatebench")
		if err != nil {
			return err
		}
		defer os.RemoveAll(d)
		*dir = d
	}

	file := filepath.Join(*dir, "events.jsonl")
	n, size, err := generate(file, *events, 0)
	if err != nil {
		return err
	}
	fmt.Printf("events file: %d events, %.1f MB, %d bytes per event on average\n\n", n, float64(size)/1e6, size/int64(n))

	type result struct {
		name string
		m    measurement
	}
	var results []result
	c, err := best(*runs, *cectl, "validate", "-q", "-o", "json", file)
	if err != nil {
		return err
	}
	if err := cectlEvents(c.out, n); err != nil {
		return err
	}
	results = append(results, result{"cectl validate", c})
	for _, b := range []struct{ name, kind string }{{"sdk-go json.Unmarshal + Validate()", "sdkgo"}, {"jsonschema/v6 + cloudevents-1.0.json", "jsonschema"}} {
		m, err := best(*runs, self, b.kind, *schema, file)
		if err != nil {
			return err
		}
		if got, _ := strconv.Atoi(strings.TrimSpace(m.out)); got != n {
			return fmt.Errorf("%s checked %d events, want %d", b.name, got, n)
		}
		results = append(results, result{b.name, m})
	}
	for _, r := range results {
		fmt.Printf("%-38s %8.3f s %8.1f MB/s %10.0f events/s   max RSS %6.1f MiB\n", r.name, r.m.wall.Seconds(),
			float64(size)/1e6/r.m.wall.Seconds(), float64(n)/r.m.wall.Seconds(), float64(r.m.maxRSS)/(1<<20))
	}
	ok := true
	verdict := func(pass bool) string {
		if pass {
			return "ok"
		}
		ok = false
		return "MISSED"
	}
	sdk := results[1].m.wall.Seconds() / c.wall.Seconds()
	js := results[2].m.wall.Seconds() / c.wall.Seconds()
	fmt.Printf("\nthroughput vs sdk-go:     %5.1fx  (target >= 3x) %s\n", sdk, verdict(sdk >= 3))
	fmt.Printf("throughput vs jsonschema: %5.1fx  (target >= 5x) %s\n", js, verdict(js >= 5))

	if *bigMiB > 0 {
		big := filepath.Join(*dir, "big.jsonl")
		bn, bsize, err := generate(big, 0, *bigMiB<<20)
		if err != nil {
			return err
		}
		m, err := measure(*cectl, "validate", "-q", "-o", "json", big)
		os.Remove(big)
		if err != nil {
			return err
		}
		if err := cectlEvents(m.out, bn); err != nil {
			return err
		}
		rss := float64(m.maxRSS) / (1 << 20)
		fmt.Printf("\n%.2f GiB JSON lines (%d events): cectl validate %.1f s (%.0f MB/s), peak RSS %.1f MiB  (target < 32 MiB) %s\n",
			float64(bsize)/(1<<30), bn, m.wall.Seconds(), float64(bsize)/1e6/m.wall.Seconds(), rss, verdict(rss < 32))
	}
	if !ok {
		return errors.New("a target was missed")
	}
	return nil
}
