// Command validatecores measures how `cectl validate` uses the cores: it generates a
// JSON-lines file of realistic valid events (validatetest), validates it with GOMAXPROCS=1
// and with every core, alternating, and prints the best wall time of each, their ratio and
// the peak RSS of each. It exits 1 when a target is missed (ratio, peak RSS) or an event is
// reported invalid.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"

	"github.com/cectl/cectl/internal/validate/validatetest"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(1)
	}
}

func run() error {
	cectl := flag.String("cectl", "cectl", "the binary to measure")
	dir := flag.String("dir", os.TempDir(), "where to write the generated file")
	mib := flag.Int("mib", 1024, "size of the generated file in MiB")
	runs := flag.Int("runs", 3, "rounds of each")
	ratio := flag.Float64("ratio", 1.7, "target: speed-up of every core over one")
	rssMiB := flag.Int("rss", 64, "target: peak RSS in MiB")
	flag.Parse()

	file := filepath.Join(*dir, fmt.Sprintf("validate-cores-%dmib.jsonl", *mib))
	events, err := generate(file, int64(*mib)<<20)
	if err != nil {
		return err
	}
	defer os.Remove(file)
	fmt.Printf("file: %s, %d MiB, %d events; %d cores\n", file, *mib, events, runtime.NumCPU())

	best := map[string]time.Duration{}
	rss := map[string]int64{}
	for r := 0; r < *runs; r++ {
		for _, procs := range []string{"1", ""} {
			name := "all cores"
			if procs == "1" {
				name = "GOMAXPROCS=1"
			}
			d, kb, err := measure(*cectl, file, procs, events)
			if err != nil {
				return fmt.Errorf("%s: %w", name, err)
			}
			if b, ok := best[name]; !ok || d < b {
				best[name] = d
			}
			rss[name] = max(rss[name], kb)
		}
	}
	one, all := best["GOMAXPROCS=1"], best["all cores"]
	mb := float64(int64(*mib)<<20) / 1e6
	for _, name := range []string{"GOMAXPROCS=1", "all cores"} {
		fmt.Printf("%-13s best of %d: %8.3fs  %6.0f MB/s  peak RSS %5.1f MiB\n", name, *runs, best[name].Seconds(), mb/best[name].Seconds(), float64(rss[name])/1024)
	}
	speedup := one.Seconds() / all.Seconds()
	fmt.Printf("speed-up: %.2fx (target >= %.2fx)\n", speedup, *ratio)
	fail := false
	if speedup < *ratio {
		fmt.Println("MISSED: speed-up")
		fail = true
	}
	if peak := max(rss["GOMAXPROCS=1"], rss["all cores"]); peak >= int64(*rssMiB)<<10 {
		fmt.Printf("MISSED: peak RSS %.1f MiB (target < %d MiB)\n", float64(peak)/1024, *rssMiB)
		fail = true
	}
	if fail {
		os.Exit(1)
	}
	return nil
}

// generate writes valid events as JSON lines until the file holds size bytes.
func generate(file string, size int64) (int, error) {
	f, err := os.Create(file)
	if err != nil {
		return 0, err
	}
	w := bufio.NewWriterSize(f, 1<<20)
	g := validatetest.New(7)
	var n int64
	events := 0
	for n < size {
		line := append(g.Next(), '\n')
		k, err := w.Write(line)
		if err != nil {
			f.Close()
			return 0, err
		}
		n += int64(k)
		events++
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return 0, err
	}
	return events, f.Close()
}

// measure runs cectl validate -q -o json on file and returns its wall time and peak RSS
// in KiB; procs, when set, is its GOMAXPROCS.
func measure(cectl, file, procs string, events int) (time.Duration, int64, error) {
	cmd := exec.Command(cectl, "validate", "-q", "-o", "json", file)
	cmd.Env = os.Environ()
	if procs != "" {
		cmd.Env = append(cmd.Env, "GOMAXPROCS="+procs)
	}
	cmd.Stderr = os.Stderr
	start := time.Now()
	out, err := cmd.Output()
	d := time.Since(start)
	if err != nil {
		return 0, 0, fmt.Errorf("%w: %s", err, out)
	}
	want := fmt.Sprintf(`"events":%d,"valid":%d,"invalid":0,"errors":0,"warnings":0,"ok":true`, events, events)
	if !strings.Contains(string(out), want) {
		return 0, 0, fmt.Errorf("unexpected summary %s, want %s", strings.TrimSpace(string(out)), want)
	}
	ru, _ := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	var kb int64
	if ru != nil {
		kb = ru.Maxrss
	}
	return d, kb, nil
}
