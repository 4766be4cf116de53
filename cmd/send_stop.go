package cmd

import (
	"context"
	"fmt"
	"math"
	"os"
	"time"

	"github.com/cectl/cectl/internal/format"
	"github.com/cectl/cectl/internal/send"
	"github.com/spf13/pflag"
)

// stopFlags say what send does with what it could not deliver and when it gives up.
type stopFlags struct {
	DeadLetter  string
	MaxFailures int
	Deadline    time.Duration
}

func (sf *stopFlags) register(fs *pflag.FlagSet) {
	fs.StringVar(&sf.DeadLetter, "dead-letter", "", "append every event not acknowledged, or not sent, to `FILE` as JSON lines, each as soon as it is known (send them again with --from FILE; not the file --from reads)")
	wholeVar(fs, &sf.MaxFailures, "max-failures", 0, 0, math.MaxInt32, "want a whole number of events, 0 or more (0: never stop)", "stop after `N` events in a row were not acknowledged (0: never)")
	durationVar(fs, &sf.Deadline, "deadline", "stop the whole run after this long; no retry waits past it (0: none)")
}

func (sf *stopFlags) check(dryRun bool) error {
	switch {
	case sf.MaxFailures < 0:
		return flagErrorf("--max-failures must not be negative")
	case sf.Deadline < 0:
		return flagErrorf("--deadline must not be negative")
	case dryRun && sf.DeadLetter != "":
		return flagErrorf("--dead-letter does not go with --dry-run, which sends nothing")
	}
	return nil
}

// notTheInput refuses a dead-letter file that is the file --from reads (by any name: a
// symbolic link, a relative path), or the file standard input is when --from is -: the run
// would append to what it reads, and a resend of the dead letters would resend them again.
func (sf *stopFlags) notTheInput(from string, stdin *os.File) error {
	if sf.DeadLetter == "" || from == "" {
		return nil
	}
	dl, err := os.Stat(sf.DeadLetter)
	if err != nil {
		return nil // not there yet, so not the input; open says why it cannot be made
	}
	var in os.FileInfo
	switch {
	case from != "-":
		in, err = os.Stat(from)
	case stdin != nil:
		in, err = stdin.Stat()
	default:
		return nil
	}
	if err != nil || !os.SameFile(in, dl) {
		return nil
	}
	what := "--from " + from
	if from == "-" {
		what = "standard input (--from -)"
	}
	return flagErrorf("--dead-letter %s is the file %s reads: the run would append its failures to its own input; keep them in another file", sf.DeadLetter, what)
}

// withDeadline bounds the run by --deadline, if given.
func (sf *stopFlags) withDeadline(ctx context.Context) (context.Context, context.CancelFunc) {
	if sf.Deadline <= 0 {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, sf.Deadline)
}

// open opens the dead-letter file, if asked for. A file that cannot be opened ends the
// command before anything is sent (exit 1).
func (sf *stopFlags) open() (*send.DeadLetter, error) {
	if sf.DeadLetter == "" {
		return nil, nil
	}
	dl, err := send.OpenDeadLetter(sf.DeadLetter)
	if err != nil {
		return nil, fmt.Errorf("--dead-letter: %w", err)
	}
	return dl, nil
}

// isRegularFile says whether name is a regular file, which can be read to its end after a
// run stopped (stdin or a pipe may never end).
func isRegularFile(name string) bool {
	if name == "-" {
		return false
	}
	fi, err := os.Stat(name)
	return err == nil && fi.Mode().IsRegular()
}

// showSummary shows the summary of a --from run: a line on stderr, or with -o json an object
// on stdout after the results.
func showSummary(f *Factory, sum format.Summary, interrupted bool) error {
	if f.JSON() {
		return format.SummaryJSON(f.IO.Out, sum, interrupted)
	}
	return format.SummaryText(f.IO.ErrOut, f.ErrStyles(), sum)
}

// warn shows a warning on stderr: a line of text, or with -o json an object
// {"kind":"warning","warning":…}, so that a program reading cectl's output gets JSON only.
func warn(f *Factory, msg string) {
	if f.JSON() {
		_ = format.WarningJSON(f.IO.ErrOut, msg)
		return
	}
	fmt.Fprintf(f.IO.ErrOut, "%s %s\n", f.ErrStyles().Warn.Sprint("warning:"), msg)
}
