//go:build unix

package listen

import (
	"context"
	"syscall"
	"testing"
)

// TestConnLimitFollowsTheFileLimit: without MaxConns, the bound is what the open-file limit
// allows once its soft value is raised to the hard one, not a fixed 512.
func TestConnLimitFollowsTheFileLimit(t *testing.T) {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		t.Fatal(err)
	}
	// Lower the soft limit, as a shell's ulimit -n may have: connLimit raises it again.
	lowered := rl
	lowered.Cur = min(rl.Max, 1024)
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lowered); err != nil {
		t.Fatal(err)
	}
	defer syscall.Setrlimit(syscall.RLIMIT_NOFILE, &rl)
	n := connLimit()
	var now syscall.Rlimit
	syscall.Getrlimit(syscall.RLIMIT_NOFILE, &now)
	if now.Cur != rl.Max {
		t.Errorf("soft limit %d, hard %d", now.Cur, rl.Max)
	}
	want := max(min(int(rl.Max)-reservedFiles, maxConnsCap), minConns)
	if n != want {
		t.Errorf("connLimit %d with a hard file limit of %d, want %d", n, rl.Max, want)
	}
	srv, err := Listen(NewHandler(Config{}), ServerOptions{Addr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Shutdown(context.Background())
	if got := srv.ln.max; got != n {
		t.Errorf("server bound %d, connLimit %d", got, n)
	}
}
