package cmd

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"
)

// Each rule broken says so in its own words; a group declared without words keeps Cobra's.
// Either way it is a usage error.
func TestFlagRules(t *testing.T) {
	run := func(args ...string) error {
		cmd := &cobra.Command{Use: "x", RunE: func(*cobra.Command, []string) error { return nil }, SilenceErrors: true, SilenceUsage: true}
		fs := cmd.Flags()
		for _, name := range []string{"a", "b", "c", "d", "e"} {
			fs.Bool(name, false, "")
		}
		rules := newFlagRules(cmd)
		rules.exclusive("-a and -b do not mix", "a", "b")
		rules.together("-c needs -d", "c", "d")
		cmd.MarkFlagsMutuallyExclusive("a", "e")
		cmd.PreRunE = func(*cobra.Command, []string) error { return rules.check() }
		cmd.SetArgs(args)
		return cmd.Execute()
	}
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"--a", "--c", "--d"}, ""},
		{[]string{"--a", "--b"}, "-a and -b do not mix"},
		{[]string{"--d"}, "-c needs -d"},
		{[]string{"--a", "--e"}, "if any flags in the group [a e] are set none of the others can be"},
	} {
		err := run(tt.args...)
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("%v: %v", tt.args, err)
		case tt.want != "" && (err == nil || !strings.HasPrefix(err.Error(), tt.want)):
			t.Errorf("%v: error %v, want %q", tt.args, err, tt.want)
		case tt.want != "" && ExitCode(context.Background(), err) != ExitUsage:
			t.Errorf("%v: exit code %d", tt.args, ExitCode(context.Background(), err))
		}
	}
}

func TestCheckedValues(t *testing.T) {
	cmd := &cobra.Command{Use: "x"}
	fs := cmd.Flags()
	var (
		d    time.Duration
		f    float64
		mode string
		list []string
	)
	durationVar(fs, &d, "d", "")
	shareVar(fs, &f, "share", "")
	enumVar(fs, &mode, "mode", "B", []string{"a", "b", "c"}, []string{"A", "B", "C"}, "")
	stringsCheckVar(fs, &list, "list", nonEmpty, "")
	if err := fs.Parse([]string{"--d", "1m30s", "--share", "1", "--mode", "C", "--list", "x", "--list", "y"}); err != nil {
		t.Fatal(err)
	}
	if d != 90*time.Second || f != 1 || mode != "C" || strings.Join(list, ",") != "x,y" {
		t.Errorf("parsed %v %v %q %q", d, f, mode, list)
	}
	if got := fs.Lookup("mode").Value.String(); got != "c" {
		t.Errorf("mode shows as %q", got)
	}
	if got := fs.Lookup("mode").DefValue; got != "b" {
		t.Errorf("mode default shows as %q", got)
	}
	for _, args := range [][]string{{"--mode", "d"}, {"--share", "-0.1"}, {"--d", "-1s"}, {"--list", ""}} {
		err := fs.Parse(args)
		if err == nil || !strings.Contains(err.Error(), "--"+strings.TrimPrefix(args[0], "--")) {
			t.Errorf("%v: %v", args, err)
		}
	}
	if err := fs.Parse([]string{"--mode", "d"}); err == nil || !strings.Contains(err.Error(), "want a, b or c") {
		t.Errorf("enum error %v", err)
	}
	if orList([]string{"x"}) != "x" || orList([]string{"x", "y"}) != "x or y" {
		t.Error("orList")
	}
}
