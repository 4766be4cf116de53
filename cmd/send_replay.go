package cmd

import (
	"fmt"

	"github.com/cectl/cectl/internal/binding"
	"github.com/cectl/cectl/internal/send"
	"github.com/spf13/pflag"
)

// replayFlags say how send --from goes through its file: at the recorded pace, and whether
// it follows what is appended.
type replayFlags struct {
	Pace string
}

func (rf *replayFlags) register(fs *pflag.FlagSet) {
	fs.StringVar(&rf.Pace, "pace", "", "with --from: keep the gaps between the events (`original`), or scale them: 10x is ten times faster, 0.5x half as fast")
}

// check returns the pacer --pace asks for (nil without it), or a usage error.
func (rf *replayFlags) check(opts *SendOptions, mode binding.Mode, loadRun bool) (*send.Pacer, error) {
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
	name := opts.From
	if name == "-" {
		name = "<stdin>"
	}
	return &send.Pacer{Speed: speed, Warn: func(line int) {
		fmt.Fprintf(f.IO.ErrOut, "%s %s:%d: the event has no time and no receive time: --pace sends it, and any other such event, without a gap\n", f.ErrStyles().Warn.Sprint("warning:"), name, line)
	}}, nil
}
