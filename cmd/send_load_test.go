package cmd

import (
	"runtime"
	"runtime/debug"
	"testing"
)

func TestTuneProcessLeavesGOGCAlone(t *testing.T) {
	before := debug.SetGCPercent(100)
	defer debug.SetGCPercent(before)
	limit := debug.SetMemoryLimit(-1)
	defer debug.SetMemoryLimit(limit)
	collectForThroughput := func(getenv func(string) string, live int64) {
		tuneProcess(getenv, processTuning{throughput: true, live: live})
	}
	collectForThroughput(func(string) string { return "" }, 32<<20)
	if got := debug.SetGCPercent(100); got != 400 {
		t.Errorf("without GOGC: GC percent %d, want 400", got)
	}
	if got := debug.SetMemoryLimit(limit); got != 96<<20 {
		t.Errorf("memory limit %d, want three times what may be live (96 MiB)", got)
	}
	collectForThroughput(func(string) string { return "" }, 0)
	if got := debug.SetMemoryLimit(limit); got != 48<<20 {
		t.Errorf("memory limit %d, want at least 48 MiB", got)
	}
	collectForThroughput(func(k string) string {
		if k == "GOMEMLIMIT" {
			return "1GiB"
		}
		return ""
	}, 0)
	if got := debug.SetMemoryLimit(limit); got != limit {
		t.Errorf("with GOMEMLIMIT set: memory limit changed to %d", got)
	}
	debug.SetGCPercent(100)
	collectForThroughput(func(k string) string {
		if k == "GOGC" {
			return "50"
		}
		return ""
	}, 0)
	if got := debug.SetGCPercent(100); got != 100 {
		t.Errorf("with GOGC set: GC percent changed to %d", got)
	}
}

// What tuneProcess changes, its restore function puts back.
func TestTuneProcessRestores(t *testing.T) {
	procs := runtime.GOMAXPROCS(0)
	gc := debug.SetGCPercent(123)
	defer debug.SetGCPercent(gc)
	limit := debug.SetMemoryLimit(-1)
	restore := tuneProcess(func(string) string { return "" }, processTuning{oneProc: true, throughput: true})
	if runtime.GOMAXPROCS(0) != 1 {
		t.Errorf("GOMAXPROCS %d, want 1", runtime.GOMAXPROCS(0))
	}
	restore()
	if got := runtime.GOMAXPROCS(0); got != procs {
		t.Errorf("GOMAXPROCS %d after restore, want %d", got, procs)
	}
	if got := debug.SetGCPercent(123); got != 123 {
		t.Errorf("GC percent %d after restore, want 123", got)
	}
	if got := debug.SetMemoryLimit(-1); got != limit {
		t.Errorf("memory limit %d after restore, want %d", got, limit)
	}
}
