package cmd

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// --from - with standard input redirected from the dead-letter file would append the run's
// failures to its own input: refused like --from FILE naming it (exit 2), and the file is
// left as it was.
func TestDeadLetterIsNotStdin(t *testing.T) {
	dir := t.TempDir()
	name := filepath.Join(dir, "failed.jsonl")
	content := `{"specversion":"1.0","id":"1","source":"/a","type":"t"}` + "\n"
	if err := os.WriteFile(name, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	in, err := os.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	f, _, errOut := testFactory("", nil)
	f.IO.In, f.IO.StdinFile = in, in
	// Without the check the run reads its own dead letters for ever: the deadline ends it.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	code := Run(ctx, f.IO, BuildInfo{}, []string{"send", "--to", "http://127.0.0.1:1/", "--from", "-", "--dead-letter", name}, f.Getenv)
	if code != ExitUsage {
		t.Errorf("exit code %d, want %d; stderr: %s", code, ExitUsage, errOut)
	}
	if want := "is the file standard input (--from -) reads"; !strings.Contains(errOut.String(), want) {
		t.Errorf("stderr %q does not say %q", errOut, want)
	}
	if b, _ := os.ReadFile(name); string(b) != content {
		t.Errorf("the file changed: %q", b)
	}
}
