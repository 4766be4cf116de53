package cmd

import (
	"fmt"

	"github.com/cectl/cectl/internal/format"
	"github.com/cectl/cectl/internal/listen"
)

// openRecord opens the --record file. A file that cannot be opened or written now (no such
// directory, no permission, a full disk) is exit 1, like a record that fails later: the flag
// is right, the file is not. An incomplete last line left by a crash or a full disk is cut
// off and said so.
func openRecord(f *Factory, opts *ListenOptions) (*listen.Recorder, error) {
	rec, err := listen.OpenRecorder(opts.Record, listen.RecordOptions{Sync: opts.Fsync})
	if err != nil {
		return nil, fmt.Errorf("--record: %w", err)
	}
	if t := rec.Torn(); t != nil {
		kept := "kept in " + t.KeptIn
		if t.KeepErr != nil {
			kept = fmt.Sprintf("not kept (%v)", t.KeepErr)
		}
		fmt.Fprintf(f.IO.ErrOut, "%s --record %s: cut off an incomplete last line (%s at offset %d, left by a crash or a full disk; never acknowledged); %s\n",
			f.ErrStyles().Warn.Sprint("warning:"), format.Sanitize(opts.Record), format.Plural(int(t.Size), "byte"), t.Offset, format.Sanitize(kept))
	}
	return rec, nil
}
