package cmd

import (
	"net/url"

	"github.com/cectl/cectl/internal/client"
	"github.com/cectl/cectl/internal/listen"
)

// checkUntilEnd refuses --until-end where there is no end to read to: a transport that
// keeps no messages (the transport table says which do).
func checkUntilEnd(opts *ListenOptions) error {
	if !opts.UntilEnd || opts.From == "" {
		return nil
	}
	u, err := url.Parse(opts.From)
	if err != nil {
		return nil // --from's own check says what is wrong with it
	}
	tr := client.Lookup(u.Scheme)
	if tr == nil || tr.UntilEnd {
		return nil
	}
	var keep []string
	for _, t := range client.Transports() {
		if t.UntilEnd {
			keep = append(keep, t.Schemes[0].Name+"://")
		}
	}
	return flagErrorf("--until-end reads a stream or topic to its end (%s); %s keeps no messages to read", orList(keep), tr.Name)
}

// untilEndResult is how a run that read to the end exits: 0, or 1 when messages that are not
// valid CloudEvents were among what the stream or topic holds (an input is invalid).
func untilEndResult(s listen.Summary) error {
	var rejected int64
	for _, r := range s.Rejected {
		rejected += r.Count
	}
	if rejected == 0 {
		return nil
	}
	return &SilentError{Code: ExitFailure}
}
