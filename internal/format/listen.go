package format

import (
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/cectl/cectl/internal/listen"
)

// ListenOptions say how much listen shows.
type ListenOptions struct {
	// Quiet shows one line per event.
	Quiet bool
	// Verbose adds the request line, the remote address and every header.
	Verbose bool
}

// ListenEvents writes the events of a request for a person: each event as Event shows it,
// followed by what listen did with it (warnings, the answer when it was not a 2xx, the
// relays, the reply). An empty batch is one line.
func ListenEvents(w io.Writer, st *Styles, rep *listen.Report, opts ListenOptions) error {
	var b strings.Builder
	// One allocation for the usual lines rather than a few as the text grows.
	b.Grow(128 * len(rep.Events))
	writeRequestHead(&b, st, rep, opts)
	for i := range rep.Events {
		a := &rep.Events[i]
		info := EventInfo{Received: rep.Received, Mode: modeLabel(rep, a), Notes: eventNotes(rep, a, opts.Quiet)}
		if err := Event(&b, st, a.Event, info, opts.Quiet); err != nil {
			return err
		}
		if !opts.Quiet {
			writeOutcome(&b, st, rep, a, i == len(rep.Events)-1)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// writeRequestHead writes what comes before a request's events: with Verbose the request
// itself, and a line for an empty batch.
func writeRequestHead(b *strings.Builder, st *Styles, rep *listen.Report, opts ListenOptions) {
	if opts.Verbose {
		writeRequest(b, st, rep)
	}
	if rep.Total == 0 {
		b.WriteString(st.paint(st.Time, rep.Received.Format(clock)))
		b.WriteString(" ")
		b.WriteString(st.paint(st.Dim, "empty batch"))
		writeAnswerNote(b, st, rep)
		b.WriteByte('\n')
	}
}

// ListenEventNotes writes what listen did with the events of a request, for stderr when
// stdout carries only JSON: one line per event that has something to say (a duplicate, a
// refusal on purpose, warnings, relays, a reply), followed by the details; with Verbose, the
// request first. Nothing otherwise.
func ListenEventNotes(w io.Writer, st *Styles, rep *listen.Report, opts ListenOptions) error {
	var b strings.Builder
	writeRequestHead(&b, st, rep, opts)
	for i := range rep.Events {
		a := &rep.Events[i]
		last := i == len(rep.Events)-1
		noteworthy := a.Duplicate || rep.Reason != "" || len(a.Warnings) > 0 ||
			last && (len(rep.Forwards) > 0 || rep.Reply != nil)
		if !noteworthy {
			continue
		}
		b.WriteString(st.paint(st.Time, rep.Received.Format(clock)))
		b.WriteByte(' ')
		b.WriteString(st.paint(st.Type, Sanitize(a.Event.Type())))
		b.WriteString("  ")
		b.WriteString(st.paint(st.Key, "id="))
		b.WriteString(st.paint(st.ID, Sanitize(a.Event.ID())))
		for _, n := range eventNotes(rep, a, opts.Quiet) {
			b.WriteString("  ")
			b.WriteString(st.paint(st.Warn, n))
		}
		b.WriteByte('\n')
		if !opts.Quiet {
			writeOutcome(&b, st, rep, a, last)
		}
	}
	if b.Len() == 0 {
		return nil
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// clock is how a time of arrival is shown.
const clock = "15:04:05.000"

func modeLabel(rep *listen.Report, a *listen.Arrival) string {
	if rep.Mode.String() == "batch" {
		return fmt.Sprintf("batch %d/%d", a.Index+1, rep.Total)
	}
	return rep.Mode.String()
}

// eventNotes are the remarks at the end of an event's header line. Quiet output has no room
// for details, so the relays and the reply are summed up there too.
func eventNotes(rep *listen.Report, a *listen.Arrival, quiet bool) []string {
	var notes []string
	if a.Duplicate {
		notes = append(notes, "duplicate")
	}
	if rep.Reason != "" {
		notes = append(notes, fmt.Sprintf("answered %d (%s)", rep.Status, rep.Reason))
	}
	if !quiet {
		return notes
	}
	if n := len(a.Warnings); n > 0 {
		notes = append(notes, Plural(n, "warning"))
	}
	if a == &rep.Events[len(rep.Events)-1] {
		if len(rep.Forwards) > 0 {
			verdicts := make([]string, len(rep.Forwards))
			for i := range rep.Forwards {
				verdicts[i] = forwardVerdict(&rep.Forwards[i])
			}
			notes = append(notes, "forwarded: "+strings.Join(verdicts, ", "))
		}
		if rep.Reply != nil {
			notes = append(notes, "replied")
		}
	}
	return notes
}

func forwardVerdict(f *listen.Forwarded) string {
	r := &f.Result
	if !r.Delivered {
		return "not delivered"
	}
	return strconv.Itoa(r.Status)
}

// writeOutcome writes the lines under an event: its warnings, then, after the request's last
// event, the relays and the reply, which belong to the request as a whole.
func writeOutcome(b *strings.Builder, st *Styles, rep *listen.Report, a *listen.Arrival, last bool) {
	for _, f := range a.Warnings {
		b.WriteString("  ")
		b.WriteString(st.paint(st.Warn, "warning:"))
		b.WriteString(" ")
		if f.Pointer != "" {
			b.WriteString(Sanitize(f.Pointer))
			b.WriteString(": ")
		}
		b.WriteString(Sanitize(f.Message))
		b.WriteString(st.paint(st.Dim, " ["+f.Rule+"]"))
		b.WriteByte('\n')
	}
	if !last {
		return
	}
	for i := range rep.Forwards {
		f := &rep.Forwards[i]
		r := &f.Result
		b.WriteString("  → ")
		b.WriteString(Sanitize(ShownURL(f.To)))
		b.WriteString("  ")
		switch {
		case r.ACK:
			b.WriteString(st.paint(st.OK, Sanitize(statusText(r))))
		case r.Delivered:
			b.WriteString(st.paint(st.Fail, Sanitize(statusText(r))))
		default:
			b.WriteString(st.paint(st.Warn, "NOT DELIVERED"))
		}
		b.WriteString("  ")
		b.WriteString(st.paint(st.Dim, Duration(r.Duration)))
		if !r.Delivered && r.Err != nil {
			b.WriteString(": ")
			b.WriteString(Sanitize(r.Err.Error()))
		}
		b.WriteByte('\n')
	}
	if e := rep.Reply; e != nil {
		b.WriteString("  ← reply ")
		b.WriteString(st.paint(st.Type, Sanitize(e.Type())))
		b.WriteString("  ")
		b.WriteString(st.paint(st.Key, "id="))
		b.WriteString(st.paint(st.ID, Sanitize(e.ID())))
		b.WriteString("  ")
		b.WriteString(st.paint(st.Mode, "("+rep.ReplyMode.String()+")"))
		b.WriteByte('\n')
	}
}

func writeAnswerNote(b *strings.Builder, st *Styles, rep *listen.Report) {
	if rep.Reason != "" {
		b.WriteString("  ")
		b.WriteString(st.paint(st.Warn, fmt.Sprintf("answered %d (%s)", rep.Status, rep.Reason)))
	}
}

// writeRequest writes the request line, where it came from and its headers, curl -v style.
// Credentials are not shown.
func writeRequest(b *strings.Builder, st *Styles, rep *listen.Report) {
	line := fmt.Sprintf("> %s %s %s  from %s", rep.Method, rep.Target, rep.Proto, rep.Remote)
	if rep.Method == listen.MethodReceive {
		// A broker message: the transport, then its metadata.
		line = fmt.Sprintf("> %s %s %s", rep.Method, rep.Proto, rep.Target)
	}
	b.WriteString(st.paint(st.Dim, Sanitize(line)))
	b.WriteByte('\n')
	if rep.Wire != nil {
		// The fields as they came: in the sender's order and case, Host among them.
		for _, f := range HideFieldCredentials(rep.Wire) {
			b.WriteString(st.paint(st.Dim, "> "+Sanitize(f[0])+": "+Sanitize(f[1])))
			b.WriteByte('\n')
		}
		return
	}
	writeHeaders(b, st, "> ", HideCredentials(rep.Header))
}

// ListenRejected writes a refused request for a person: when, the answer, the request line
// and sender, then the reason, one line per problem.
func ListenRejected(w io.Writer, st *Styles, rep *listen.Report, opts ListenOptions) error {
	var b strings.Builder
	if opts.Verbose {
		writeRequest(&b, st, rep)
	}
	b.WriteString(st.paint(st.Time, rep.Received.Format(clock)))
	b.WriteByte(' ')
	if rep.Method == listen.MethodReceive && rep.Settled != "" {
		// A broker has no status: say what became of the message.
		b.WriteString(st.paint(st.Fail, "rejected, "+rep.Settled))
	} else {
		b.WriteString(st.paint(st.Fail, fmt.Sprintf("rejected %d %s", rep.Status, http.StatusText(rep.Status))))
	}
	b.WriteString("  ")
	if rep.Method == listen.MethodReceive {
		b.WriteString(Sanitize(rep.Proto + " " + rep.Target))
	} else {
		b.WriteString(Sanitize(rep.Method + " " + rep.Target))
		b.WriteString("  ")
		b.WriteString(st.paint(st.Dim, "from "+Sanitize(rep.Remote)))
	}
	b.WriteByte('\n')
	for _, line := range strings.Split(rep.Reason, "\n") {
		b.WriteString("  ")
		b.WriteString(Sanitize(line))
		b.WriteByte('\n')
	}
	if rep.Method == listen.MethodReceive && rep.Settled != "" {
		writePayloadPreview(&b, st, rep.Payload, rep.PayloadSize)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// writePayloadPreview shows the start of a refused message's payload on one line, escaped
// (Sanitize), cut where Report.Payload ends.
func writePayloadPreview(b *strings.Builder, st *Styles, p []byte, size int) {
	b.WriteString("  ")
	if size == 0 {
		b.WriteString(st.paint(st.Dim, "payload: empty"))
		b.WriteByte('\n')
		return
	}
	b.WriteString(st.paint(st.Dim, fmt.Sprintf("payload (%s): ", Plural(size, "byte"))))
	b.WriteString(Sanitize(strings.ReplaceAll(string(p), "\n", " ")))
	if len(p) < size {
		b.WriteString(st.paint(st.Dim, " …"))
	}
	b.WriteByte('\n')
}

// ListenHandshake writes a webhook validation request (webhook §4.1) and its answer.
func ListenHandshake(w io.Writer, st *Styles, rep *listen.Report, opts ListenOptions) error {
	var b strings.Builder
	if opts.Verbose {
		writeRequest(&b, st, rep)
	}
	b.WriteString(st.paint(st.Time, rep.Received.Format(clock)))
	b.WriteByte(' ')
	if rep.Origin != "" {
		b.WriteString(st.paint(st.OK, "webhook handshake"))
		b.WriteString("  origin=")
		b.WriteString(Sanitize(rep.Origin))
		b.WriteString("  ")
		b.WriteString(st.paint(st.Dim, "from "+Sanitize(rep.Remote)+": allowed, any rate"))
	} else {
		b.WriteString(st.paint(st.Bold, "OPTIONS "+Sanitize(rep.Target)))
		b.WriteString("  ")
		b.WriteString(st.paint(st.Dim, "from "+Sanitize(rep.Remote)+": no WebHook-Request-Origin, answered Allow: OPTIONS, POST, PUT"))
	}
	b.WriteByte('\n')
	_, err := io.WriteString(w, b.String())
	return err
}

// ListenSummaryOptions is what the summary says besides the counts.
type ListenSummaryOptions struct {
	// Elapsed is how long listen ran.
	Elapsed time.Duration
	// Record is the file events were recorded to, if any.
	Record string
	// Types is how many types are listed at most (0: 20).
	Types int
	// Unit names what events came in: "request" (HTTP, the default) or "message" (brokers).
	Unit string
}

// ListenSummary writes what listen received, for stderr when it stops.
func ListenSummary(w io.Writer, st *Styles, s listen.Summary, o ListenSummaryOptions) error {
	var b strings.Builder
	if d := o.Elapsed; d > 0 {
		if d < time.Second {
			d = d.Round(time.Millisecond)
		} else {
			d = d.Round(time.Second / 10)
		}
		b.WriteString("listened for " + d.String() + ": ")
	}
	unit := o.Unit
	if unit == "" {
		unit = "request"
	}
	b.WriteString(st.paint(st.Bold, fmt.Sprintf("%s in %s", Plural(int(s.Selected), "event"), Plural(int(s.Requests), unit))))
	var modes []string
	for m, name := range []string{"binary", "structured", "batch"} {
		if n := s.Modes[m]; n > 0 {
			modes = append(modes, fmt.Sprintf("%d %s", n, name))
		}
	}
	if len(modes) > 0 {
		b.WriteString(" (" + strings.Join(modes, ", ") + ")")
	}
	b.WriteByte('\n')
	writeTypes(&b, st, s.Types, o.Types)

	var more []string
	if f := s.Events - s.Selected; f > 0 {
		more = append(more, fmt.Sprintf("%d filtered out", f))
	}
	if s.Duplicates > 0 {
		more = append(more, Plural(int(s.Duplicates), "duplicate"))
	}
	if s.Refused > 0 {
		more = append(more, fmt.Sprintf("%s answered non-2xx on purpose", Plural(int(s.Refused), "request")))
	}
	if len(more) > 0 {
		b.WriteString(strings.Join(more, ", ") + "\n")
	}
	more = more[:0]
	if n := s.RejectedTotal(); n > 0 {
		var by []string
		for _, r := range s.Rejected {
			by = append(by, fmt.Sprintf("%d ×%d", r.Status, r.Count))
		}
		line := st.paint(st.Fail, fmt.Sprintf("%s rejected", Plural(int(n), unit)))
		if unit == "request" {
			// A broker message has no status to count by.
			line += " (" + strings.Join(by, ", ") + ")"
		}
		more = append(more, line)
	}
	if s.TurnedAway > 0 {
		more = append(more, fmt.Sprintf("%s turned away while stopping", Plural(int(s.TurnedAway), "request")))
	}
	if s.RelayFailed > 0 {
		more = append(more, st.paint(st.Fail, fmt.Sprintf("%s not relayed (--forward-to did not acknowledge)", Plural(int(s.RelayFailed), "request"))))
	}
	if len(more) > 0 {
		b.WriteString(strings.Join(more, ", ") + "\n")
	}
	if s.Handshakes > 0 {
		b.WriteString(Plural(int(s.Handshakes), "webhook handshake") + " answered\n")
	}
	if o.Record != "" {
		b.WriteString(fmt.Sprintf("%s recorded to %s\n", Plural(int(s.Recorded), "event"), o.Record))
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// writeTypes lists the event types, most frequent first, at most limit of them (0: 20).
func writeTypes(b *strings.Builder, st *Styles, types []listen.TypeCount, limit int) {
	if limit <= 0 {
		limit = 20
	}
	width := 0
	for i, t := range types {
		if i == limit {
			break
		}
		width = max(width, len(strconv.FormatInt(t.Count, 10)))
	}
	for i, t := range types {
		if i == limit {
			b.WriteString(st.paint(st.Dim, fmt.Sprintf("  %*s  … %d more types\n", width, "", len(types)-limit)))
			break
		}
		fmt.Fprintf(b, "  %*d  %s\n", width, t.Count, st.paint(st.Type, Sanitize(t.Type)))
	}
}

// ListenBanner writes where listen listens and what it does besides, for stderr at start.
func ListenBanner(w io.Writer, st *Styles, url string, settings []string) error {
	var b strings.Builder
	b.WriteString(st.paint(st.Bold, "Listening on "+url))
	b.WriteString(st.paint(st.Dim, "  (Ctrl-C to stop)"))
	b.WriteByte('\n')
	for _, s := range settings {
		b.WriteString("  ")
		b.WriteString(s)
		b.WriteByte('\n')
	}
	_, err := io.WriteString(w, b.String())
	return err
}
