package cmd

import (
	"net/url"

	"github.com/cectl/cectl/internal/binding"
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

// checkBrokerReply refuses --reply with --from where the transport has no request/reply to
// answer (the transport table says which have).
func checkBrokerReply(opts *ListenOptions) error {
	if opts.Reply == "" || opts.From == "" {
		return nil
	}
	u, err := url.Parse(opts.From)
	if err != nil {
		return nil
	}
	tr := client.Lookup(u.Scheme)
	if tr == nil || tr.ListenReply {
		return nil
	}
	return flagErrorf("--reply answers requests, and %s has none (with --from: %s)", tr.Name, client.SchemeList(answersRequests))
}

// brokerReplyMode is the content mode replies go out in over the broker of --from: the one
// asked for, unless the binding has only another (NATS: structured, nats binding §1.3).
func brokerReplyMode(from string, mode binding.Mode) binding.Mode {
	if from == "" {
		return mode
	}
	u, err := url.Parse(from)
	if err != nil {
		return mode
	}
	if tr := client.Lookup(u.Scheme); tr != nil {
		mode, _ = tr.Mode(mode)
	}
	return mode
}

// answersRequests says whether listen --from can answer requests over a transport.
func answersRequests(tr *client.Transport) bool { return tr.ListenReply && tr.CanSubscribe() }
