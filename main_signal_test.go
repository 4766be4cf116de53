package main

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/rogpeppe/go-internal/testscript"
)

// cmdTermAfter runs a program, sends it SIGTERM after a while and checks its exit code; its
// output is the script's stdout and stderr: termafter 300ms 130 cectl send ... (testscript's
// kill knows only INT and KILL).
func cmdTermAfter(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 3 {
		ts.Fatalf("usage: termafter DURATION CODE program [args...]")
	}
	d, err := time.ParseDuration(args[0])
	ts.Check(err)
	want, err := strconv.Atoi(args[1])
	ts.Check(err)
	prog := args[2]
	for _, dir := range filepath.SplitList(ts.Getenv("PATH")) {
		if p := filepath.Join(dir, args[2]); fileExists(p) {
			prog = p
			break
		}
	}
	cmd := exec.Command(prog, args[3:]...)
	cmd.Dir = ts.MkAbs(".")
	env := os.Environ()
	for _, k := range []string{"PATH", "HOME", "NO_COLOR", "TERM", "K_SINK", "WORK", "TMPDIR"} {
		env = append(env, k+"="+ts.Getenv(k))
	}
	cmd.Env = env
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	ts.Check(cmd.Start())
	time.Sleep(d)
	ts.Check(cmd.Process.Signal(syscall.SIGTERM))
	err = cmd.Wait()
	got := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		got = ee.ExitCode()
	} else if err != nil {
		ts.Fatalf("%s: %v", args[2], err)
	}
	ts.Stdout().Write(out.Bytes())
	ts.Stderr().Write(errOut.Bytes())
	if got != want {
		ts.Fatalf("%s exited with %d after SIGTERM, want %d\n%s", args[2], got, want, strings.TrimSpace(errOut.String()))
	}
}

func fileExists(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && !fi.IsDir()
}
