package cmd

import (
	"context"
	"fmt"
	"time"

	"github.com/cectl/cectl/internal/binding"
	"github.com/cectl/cectl/internal/format"
	"github.com/cectl/cectl/internal/send"
	"github.com/spf13/pflag"
)

// replayFlags say how send --from goes through its file: at the recorded pace, and whether
// it follows what is appended.
type replayFlags struct {
	Pace   string
	Follow bool
}

func (rf *replayFlags) register(fs *pflag.FlagSet) {
	fs.BoolVar(&rf.Follow, "follow", false, "with --from FILE: after the events in FILE, send those appended to it, like tail -f, until Ctrl-C")
	fs.StringVar(&rf.Pace, "pace", "", "with --from: keep the gaps between the events (`original`), or scale them: 10x is ten times faster, 0.5x half as fast")
	enumValues(fs, "pace", "original", "2x", "10x", "100x", "0.5x")
}

// check returns the pacer --pace asks for (nil without it), or a usage error.
func (rf *replayFlags) check(opts *SendOptions, mode binding.Mode, loadRun bool) (*send.Pacer, error) {
	if rf.Follow {
		switch {
		case opts.From == "":
			return nil, flagErrorf("--follow follows a --from file")
		case opts.From == "-":
			return nil, flagErrorf("--follow follows a file; stdin is read as it comes anyway")
		case loadRun:
			return nil, flagErrorf("--follow sends the events of a file; it does not go with a load run")
		case mode == binding.Batch:
			return nil, flagErrorf("--follow sends events as they come, not with --mode batch")
		}
	}
	if rf.Pace == "" {
		return nil, nil
	}
	speed, err := send.ParsePace(rf.Pace)
	switch {
	case err != nil:
		return nil, flagErrorf("--pace %w", err)
	case opts.From == "":
		return nil, flagErrorf("--pace replays the events of a --from file")
	case loadRun:
		return nil, flagErrorf("--pace keeps the pace of a recording; a load run sets its own with --rate")
	case mode == binding.Batch:
		return nil, flagErrorf("--pace sends events one by one, not with --mode batch")
	}
	f := opts.F
	if opts.DryRun {
		// A dry run shows what would be sent, at once: waiting out a recording's gaps
		// would only hold it back (--pace 0.001x would take a thousand times the recording).
		warn(f, "--dry-run prints every request at once; it does not keep --pace")
		return nil, nil
	}
	name := opts.From
	if name == "-" {
		name = "<stdin>"
	}
	return &send.Pacer{Speed: speed, Spin: time.Millisecond, Warn: func(line int) {
		warn(f, fmt.Sprintf("%s:%d: the event has no time and no receive time: --pace sends it, and any other such event, without a gap", name, line))
	}}, nil
}

// openFollower opens the --from file to follow; what happens to it is said on stderr.
func openFollower(ctx context.Context, opts *SendOptions) (*send.Follower, error) {
	f := opts.F
	fl, err := send.OpenFollower(ctx, opts.From)
	if err != nil {
		return nil, &FlagError{Err: fmt.Errorf("--from: %w", err)}
	}
	fl.Notice = func(msg string) {
		if f.JSON() {
			warn(f, format.Sanitize(msg))
			return
		}
		fmt.Fprintf(f.IO.ErrOut, "%s %s\n", f.ErrStyles().Warn.Sprint("note:"), format.Sanitize(msg))
	}
	return fl, nil
}

// followEnded says what of a followed file was left when following ended: an unfinished last
// line is not an event yet.
func followEnded(f *Factory, fl *send.Follower) {
	if n := fl.Partial(); n > 0 {
		warn(f, fmt.Sprintf("%s ends with an unfinished line (%d bytes without a newline), not sent", format.Sanitize(fl.Name), n))
	}
}
