package format

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unicode/utf8"

	"github.com/cectl/cectl/internal/ce"
	"github.com/cectl/cectl/internal/client"
	"github.com/cloudevents/sdk-go/v2/event"
)

// Delivery is one event's delivery result as shown to the user.
type Delivery struct {
	Event  *event.Event
	To     string
	Mode   string
	Result *client.Result
	// Line is the line of the event in its --from file, 0 when it came from flags.
	Line int
}

// Verdict names the outcome: ACK, PUBLISHED, NACK, NOT DELIVERED or NO RESPONSE.
func (d Delivery) Verdict() string { return Verdict(d.Result) }

// Verdict names the outcome of a delivery as result lines show it.
func Verdict(r *client.Result) string {
	switch r.Outcome() {
	case client.OutcomePublished:
		return "PUBLISHED"
	case client.OutcomeACK:
		return "ACK"
	case client.OutcomeNACK:
		return "NACK"
	case client.OutcomeNoResponse:
		return "NO RESPONSE"
	}
	return "NOT DELIVERED"
}

// attemptsNote says how many attempts a delivery took and, when some went out without an
// answer, that the receiver may have the event from those too: a retried request that timed
// out may have arrived every time.
func attemptsNote(r *client.Result) string {
	switch {
	case r.Attempts > 1 && r.Written > 0 && r.Delivered:
		return fmt.Sprintf(" (%d attempts; %s without a response may have arrived too)", r.Attempts, Plural(r.Written, "request"))
	case r.Attempts > 1 && r.Written > 0:
		return fmt.Sprintf(" (%d attempts, %d went out)", r.Attempts, r.Written)
	case r.Attempts > 1:
		return fmt.Sprintf(" (%d attempts)", r.Attempts)
	}
	return ""
}

// DeliveryText writes one line for a person, then the response body when there is one.
func DeliveryText(w io.Writer, st *Styles, d Delivery) error {
	var b strings.Builder
	r := d.Result
	switch r.Outcome() {
	case client.OutcomePublished:
		b.WriteString(st.paint(st.OK, "PUBLISHED "))
	case client.OutcomeACK:
		b.WriteString(st.paint(st.OK, "ACK "))
	case client.OutcomeNACK:
		b.WriteString(st.paint(st.Fail, "NACK"))
	case client.OutcomeNoResponse:
		// The request went out: the receiver may have the event (and act on it).
		b.WriteString(st.paint(st.Warn, "NO RESPONSE (maybe delivered)"))
	default:
		b.WriteString(st.paint(st.Warn, "NOT DELIVERED"))
	}
	if r.Delivered {
		b.WriteByte(' ')
		b.WriteString(st.paint(st.Bold, Sanitize(statusText(r))))
	}
	b.WriteString("  ")
	b.WriteString(st.paint(st.Type, Sanitize(d.Event.Type())))
	b.WriteString("  ")
	b.WriteString(st.paint(st.Key, "id="))
	b.WriteString(st.paint(st.ID, Sanitize(d.Event.ID())))
	b.WriteString("  → ")
	b.WriteString(Sanitize(d.To))
	b.WriteString("  ")
	b.WriteString(st.paint(st.Dim, Duration(r.Duration)))
	if note := attemptsNote(r); note != "" {
		b.WriteString(st.paint(st.Dim, note))
	}
	if d.Line > 0 {
		b.WriteString(st.paint(st.Dim, fmt.Sprintf("  [line %d]", d.Line)))
	}
	if r.Err != nil {
		b.WriteString(": ")
		b.WriteString(Sanitize(ErrorText(r.Err)))
	}
	b.WriteByte('\n')
	if resp := r.Response; resp != nil {
		b.WriteString(indent(ResponseText(st, r.Status, resp), "    "))
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// BodyPreview is a body quoted on one line for a message, escaped for a terminal and cut
// after max bytes: "<html>…" (120 bytes in all). A body that is not UTF-8 text is described.
func BodyPreview(body []byte, contentType string, max int) string {
	what := ""
	if contentType != "" {
		what = Sanitize(contentType) + ", "
	}
	if !utf8.Valid(body) {
		return what + "binary, " + Plural(len(body), "byte")
	}
	n := len(body)
	if n > max {
		n = max
		for n > 0 && !utf8.RuneStart(body[n]) {
			n--
		}
	}
	q := strconv.Quote(string(body[:n]))
	if n < len(body) {
		q += fmt.Sprintf("… (%s in all)", Plural(len(body), "byte"))
	}
	return what + Sanitize(q)
}

// MaxShownBody is how much of a response body a result shows as text; -o json keeps what
// the client kept.
const MaxShownBody = 2048

// ResponseText shows what came back besides the status: the Location of a redirect (which
// cectl does not follow: a redirected POST would turn into a GET) and the body, escaped for a
// terminal and cut after MaxShownBody bytes. It is empty when there is neither.
func ResponseText(st *Styles, status int, resp *client.Response) string {
	var b strings.Builder
	if loc := resp.Header.Get("Location"); loc != "" && status >= 300 && status <= 399 {
		b.WriteString(st.paint(st.Key, "Location: "))
		b.WriteString(Sanitize(loc))
		b.WriteString(st.paint(st.Dim, "  (not followed)"))
		b.WriteByte('\n')
	}
	if len(resp.Body) == 0 {
		return b.String()
	}
	body, ct := resp.Body, resp.Header.Get("Content-Type")
	cut := len(body) > MaxShownBody && utf8.Valid(body)
	if cut {
		// Cut at a character boundary and show it as the text it is.
		n := MaxShownBody
		for n > 0 && !utf8.RuneStart(body[n]) {
			n--
		}
		body, ct = body[:n], "text/plain"
	}
	b.WriteString(Data(st, body, ct, false))
	switch {
	case cut || resp.Truncated && utf8.Valid(resp.Body):
		all := fmt.Sprintf("%d", len(resp.Body))
		if resp.Truncated {
			all = "more than " + all
		}
		b.WriteString(st.paint(st.Dim, fmt.Sprintf("… response body cut: %d of %s bytes shown\n", len(body), all)))
	case resp.Truncated:
		b.WriteString(st.paint(st.Dim, fmt.Sprintf("… response body cut at %d bytes\n", len(resp.Body))))
	}
	return b.String()
}

func statusText(r *client.Result) string {
	if r.Response != nil && r.Response.Status != "" {
		return r.Response.Status
	}
	return fmt.Sprintf("%d %s", r.Status, http.StatusText(r.Status))
}

// Duration rounds a duration for display.
func Duration(d time.Duration) string {
	switch {
	case d < time.Millisecond:
		return d.Round(time.Microsecond).String()
	case d < time.Second:
		return d.Round(10 * time.Microsecond).String()
	}
	return d.Round(time.Millisecond).String()
}

// DeliveryRecord is the JSON form of a delivery. Field names are stable: add, never rename.
type DeliveryRecord struct {
	ID         string  `json:"id"`
	Type       string  `json:"type"`
	Source     string  `json:"source"`
	To         string  `json:"to"`
	Mode       string  `json:"mode"`
	Delivered  bool    `json:"delivered"`
	ACK        bool    `json:"ack"` // an acknowledgement only: false for a core NATS publish (outcome published)
	Status     int     `json:"status"`
	Attempts   int     `json:"attempts"`
	DurationMS float64 `json:"duration_ms"`
	Error      string  `json:"error"`
	Line       int     `json:"line,omitempty"`
	Response   string  `json:"response,omitempty"`
	// Outcome is ack, published (sent over a transport without acknowledgements: core
	// NATS), nack, not_delivered (nothing reached the receiver) or no_response (the request
	// went out, no response came: maybe delivered).
	Outcome string `json:"outcome"`
	// Written counts the attempts that went out and got no response.
	Written int    `json:"written,omitempty"`
	Kind    string `json:"kind"` // "delivery"
	// Location is the Location header of a 3xx answer, which cectl does not follow.
	Location string `json:"location,omitempty"`
}

// DeliveryJSON writes one JSON object on one line.
func DeliveryJSON(w io.Writer, d Delivery) error {
	r := d.Result
	rec := DeliveryRecord{
		ID:         d.Event.ID(),
		Type:       d.Event.Type(),
		Source:     d.Event.Source(),
		To:         d.To,
		Mode:       d.Mode,
		Delivered:  r.Delivered,
		ACK:        r.ACK && !r.Unacknowledged,
		Status:     r.Status,
		Attempts:   r.Attempts,
		DurationMS: float64(r.Duration.Microseconds()) / 1000,
		Line:       d.Line,
		Outcome:    string(r.Outcome()),
		Written:    r.Written,
		Kind:       "delivery",
	}
	if r.Err != nil {
		rec.Error = ErrorText(r.Err)
	} else if r.Delivered && !r.ACK {
		rec.Error = statusText(r)
	}
	if r.Response != nil && len(r.Response.Body) > 0 && utf8.Valid(r.Response.Body) {
		rec.Response = string(r.Response.Body)
	}
	if r.Response != nil && r.Status >= 300 && r.Status <= 399 {
		rec.Location = r.Response.Header.Get("Location")
	}
	b, err := marshalLine(rec)
	if err != nil {
		return err
	}
	_, err = w.Write(append(b, '\n'))
	return err
}

// Exchange writes the request and response headers, curl -v style, for --verbose.
func Exchange(w io.Writer, st *Styles, r *client.Result) error {
	var b strings.Builder
	if req := r.Request; req != nil {
		b.WriteString(st.paint(st.Dim, fmt.Sprintf("> %s %s %s", req.Method, req.URL.RequestURI(), "HTTP/1.1")))
		b.WriteByte('\n')
		b.WriteString(st.paint(st.Dim, "> Host: "+Sanitize(req.URL.Host)))
		b.WriteByte('\n')
		// What the client adds (Basic credentials from the URL, Accept-Encoding) was sent
		// too; credentials are shown hidden.
		h := client.WireHeader(req)
		if req.ContentLength > 0 && h.Get("Content-Length") == "" {
			h.Set("Content-Length", fmt.Sprint(req.ContentLength))
		}
		writeHeaders(&b, st, "> ", HideCredentials(h))
	}
	if resp := r.Response; resp != nil {
		b.WriteString(st.paint(st.Dim, "< "+resp.Proto+" "+Sanitize(resp.Status)))
		b.WriteByte('\n')
		writeHeaders(&b, st, "< ", resp.Header)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func writeHeaders(b *strings.Builder, st *Styles, prefix string, h http.Header) {
	keys := make([]string, 0, len(h))
	for k := range h {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		for _, v := range h[k] {
			b.WriteString(st.paint(st.Dim, prefix+Sanitize(k)+": "+Sanitize(v)))
			b.WriteByte('\n')
		}
	}
}

// Summary counts deliveries.
type Summary struct {
	Sent, ACK, NACK, Undelivered, Invalid int
	// NoResponse counts the events whose request went out without a response (maybe
	// delivered); Undelivered those that reached no receiver.
	NoResponse int
	// Published counts successful sends that no acknowledgement confirms (core NATS); they
	// are not among ACK.
	Published int
	// Unsent is how many events of a file were read but not sent when the run was
	// interrupted; Unread names the file if it was not read to its end.
	Unsent int
	Unread string
	// Stop says why the run stopped before its end when it was not interrupted (a stop
	// condition, the deadline).
	Stop string
	// DeadLetters is how many events went to the dead-letter file DeadLetterFile.
	DeadLetters    int
	DeadLetterFile string
}

// ErrorText is why a delivery failed as results show it: a delivery cut short by the user
// (Ctrl-C cancels the run's context) is "interrupted", not Go's "context canceled".
func ErrorText(err error) string {
	if errors.Is(err, context.Canceled) {
		return "interrupted"
	}
	if err == context.DeadlineExceeded {
		// The retry loop's own error when the run's --deadline ends a delivery.
		return "stopped at the deadline"
	}
	return err.Error()
}

// ExplainNoResponse says what a bare error of a request that went out without a response
// means: Go reports a connection the receiver closed before the status line (RFC 9112 §4)
// as "EOF" or "connection reset by peer", which read as if nothing had happened. Other
// errors come back as they are.
func ExplainNoResponse(err error) error {
	var why string
	switch {
	case err == nil:
		return nil
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		why = "EOF"
	case errors.Is(err, syscall.ECONNRESET):
		why = "reset by peer"
	case errors.Is(err, syscall.EPIPE), errors.Is(err, syscall.ECONNABORTED):
		why = "broken pipe"
	default:
		return err
	}
	var ce *closedError
	if errors.As(err, &ce) {
		return err
	}
	return &closedError{err: err, why: why}
}

// closedError is a connection closed before the status line, with Go's error kept.
type closedError struct {
	err error
	why string
}

func (e *closedError) Error() string {
	return "the connection was closed before the status line (" + e.why + ")"
}
func (e *closedError) Unwrap() error { return e.err }

// Add counts one delivery.
func (s *Summary) Add(r *client.Result) {
	s.Sent++
	switch {
	case r.Unacknowledged:
		s.Published++
	case r.ACK:
		s.ACK++
	case r.Delivered:
		s.NACK++
	case r.Written > 0:
		s.NoResponse++
	default:
		s.Undelivered++
	}
}

// Failed counts the events not acknowledged.
func (s *Summary) Failed() int { return s.NACK + s.Undelivered + s.NoResponse }

// outcomes renders the ACK, NACK and not-delivered counts, the failures coloured when any,
// the events published without an acknowledgement (core NATS) and the events that got no
// response (maybe delivered) when there are any.
func outcomes(st *Styles, published, ack, nack, undelivered, noResponse int64) string {
	out := ""
	if published > 0 {
		out = st.paint(st.OK, fmt.Sprintf("published %d", published)) + " (core NATS has no ack), "
	}
	n := fmt.Sprintf("NACK %d", nack)
	if nack > 0 {
		n = st.paint(st.Fail, n)
	}
	u := fmt.Sprintf("not delivered %d", undelivered)
	if undelivered > 0 {
		u = st.paint(st.Warn, u)
	}
	out += st.paint(st.OK, fmt.Sprintf("ACK %d", ack)) + ", " + n + ", " + u
	if noResponse > 0 {
		out += ", " + st.paint(st.Warn, fmt.Sprintf("no response (maybe delivered) %d", noResponse))
	}
	return out
}

// SummaryText writes the counts on one line.
func SummaryText(w io.Writer, st *Styles, s Summary) error {
	parts := []string{fmt.Sprintf("sent %d", s.Sent)}
	parts = append(parts, outcomes(st, int64(s.Published), int64(s.ACK), int64(s.NACK), int64(s.Undelivered), int64(s.NoResponse)))
	if s.Invalid > 0 {
		parts = append(parts, st.paint(st.Fail, fmt.Sprintf("invalid (not sent) %d", s.Invalid)))
	}
	if s.Unsent > 0 || s.Unread != "" || s.Stop != "" {
		why := "interrupted"
		if s.Stop != "" {
			why = s.Stop
		}
		left := why + ": " + Plural(s.Unsent, "event") + " read but not sent"
		if s.Unread != "" {
			left += ", " + Sanitize(s.Unread) + " not read to its end"
		}
		parts = append(parts, st.paint(st.Fail, left))
	}
	if s.DeadLetterFile != "" {
		parts = append(parts, Plural(s.DeadLetters, "event")+" kept in "+Sanitize(s.DeadLetterFile))
	}
	_, err := fmt.Fprintln(w, strings.Join(parts, ", "))
	return err
}

// EventJSON writes the event in the JSON event format on one line.
func EventJSON(w io.Writer, e *event.Event) error {
	b := ce.AppendJSON(make([]byte, 0, 512), e)
	_, err := w.Write(append(b, '\n'))
	return err
}

func isJSON(data []byte) bool { return json.Valid(data) }

// isPrintable reports whether data is UTF-8 text without control characters other than tab,
// newline and carriage return.
func isPrintable(data []byte) bool {
	if !utf8.Valid(data) {
		return false
	}
	for _, c := range data {
		if c < 0x20 && c != '\n' && c != '\t' && c != '\r' {
			return false
		}
	}
	return true
}
