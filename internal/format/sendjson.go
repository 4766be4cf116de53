package format

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/cectl/cectl/internal/validate"
)

// The objects send and request print with -o json besides delivery records, each with a
// stable "kind": findings about a --from file (the objects of validate -o json), the summary
// of a --from run, the requests of a dry run, the status of a request and errors.

// SummaryRecord is the JSON form of a --from run's summary. Field names are stable.
type SummaryRecord struct {
	Kind        string `json:"kind"` // "summary"
	Sent        int    `json:"sent"`
	ACK         int    `json:"ack"`
	NACK        int    `json:"nack"`
	Undelivered int    `json:"undelivered"`
	NoResponse  int    `json:"no_response"`
	Invalid     int    `json:"invalid"`
	Unsent      int    `json:"unsent"`
	Unread      string `json:"unread,omitempty"`
	Stop        string `json:"stop,omitempty"`
	DeadLetters int    `json:"dead_letters,omitempty"`
	Interrupted bool   `json:"interrupted"`
	// Published counts the events sent over a transport without acknowledgements (core
	// NATS), when there are any; they are not among ACK, and sent = ack + published + nack +
	// undelivered + no_response.
	Published int `json:"published,omitempty"`
}

// SummaryJSON writes the summary as one JSON object on one line.
func SummaryJSON(w io.Writer, s Summary, interrupted bool) error {
	return writeLine(w, SummaryRecord{Kind: "summary", Sent: s.Sent, ACK: s.ACK, Published: s.Published, NACK: s.NACK,
		Undelivered: s.Undelivered, NoResponse: s.NoResponse, Invalid: s.Invalid, Unsent: s.Unsent,
		Unread: s.Unread, Stop: s.Stop, DeadLetters: s.DeadLetters, Interrupted: interrupted})
}

// FindingJSON writes a finding about event index (-1: the file as a whole) of a --from
// file, in the form of validate -o json.
func FindingJSON(w io.Writer, file string, index int, f validate.Finding) error {
	return writeLine(w, ReportFinding{"finding", file, f.Line, f.Column, f.Offset, index, f.Pointer, f.Rule, f.Level.String(), f.Message})
}

// RequestRecord is the JSON form of a request shown by a dry run. Body holds the body when
// it is UTF-8 (an empty one too), BodyBase64 otherwise (a gzipped or binary body): one of
// the two, never both.
type RequestRecord struct {
	Kind       string              `json:"kind"` // "request"
	Method     string              `json:"method"`
	URL        string              `json:"url"`
	Header     map[string][]string `json:"header"`
	Body       *string             `json:"body,omitempty"`
	BodyBase64 string              `json:"body_base64,omitempty"`
}

// DumpJSON writes a request dump to the URL to (as httputil.DumpRequestOut makes it,
// credentials already hidden) as one JSON object with every header the dump shows.
func DumpJSON(w io.Writer, to string, dump []byte) error {
	req, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(dump)))
	if err != nil {
		body := string(dump)
		return writeLine(w, RequestRecord{Kind: "request", URL: to, Body: &body})
	}
	body, _ := io.ReadAll(req.Body)
	rec := RequestRecord{Kind: "request", Method: req.Method, URL: to, Header: req.Header}
	if req.Host != "" {
		rec.Header["Host"] = []string{req.Host}
	}
	if req.ContentLength > 0 && rec.Header["Content-Length"] == nil {
		rec.Header["Content-Length"] = []string{strconv.FormatInt(req.ContentLength, 10)}
	}
	if utf8.Valid(body) {
		text := string(body)
		rec.Body = &text
	} else {
		rec.BodyBase64 = base64.StdEncoding.EncodeToString(body)
	}
	return writeLine(w, rec)
}

// DumpText writes a request dump (as httputil.DumpRequestOut makes it, credentials already
// hidden) for a person, then a blank line. The request line and headers are as they go on
// the wire, escaped where they would reach the terminal as controls; a body that is UTF-8
// text is shown with its controls escaped, and any other body (gzip, binary data), which
// would write raw bytes to the terminal, as a note of its size: -o json has it in base64.
func DumpText(w io.Writer, dump []byte) error {
	head, body, _ := bytes.Cut(dump, []byte("\r\n\r\n"))
	var b bytes.Buffer
	for i, line := range bytes.Split(head, []byte("\r\n")) {
		if i > 0 {
			b.WriteString("\r\n")
		}
		b.WriteString(Sanitize(string(line)))
	}
	b.WriteString("\r\n\r\n")
	switch {
	case len(body) == 0:
	case utf8.Valid(body):
		b.WriteString(SanitizeBlock(string(body)))
	default:
		what := "binary data"
		if req, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(dump))); err == nil && strings.EqualFold(req.Header.Get("Content-Encoding"), "gzip") {
			what = "gzip data"
		}
		fmt.Fprintf(&b, "(%s of %s; use -o json for base64)", Plural(len(body), "byte"), what)
	}
	b.WriteString("\n\n")
	_, err := w.Write(b.Bytes())
	return err
}

// StatusRecord is the JSON form of request's status line.
type StatusRecord struct {
	Kind       string  `json:"kind"` // "status"
	To         string  `json:"to"`
	ACK        bool    `json:"ack"`
	Status     int     `json:"status"`
	StatusText string  `json:"status_text"`
	DurationMS float64 `json:"duration_ms"`
	ReplyMode  string  `json:"reply_mode,omitempty"`
	Response   string  `json:"response,omitempty"`
	Location   string  `json:"location,omitempty"`
}

// StatusJSON writes request's status line as one JSON object.
func StatusJSON(w io.Writer, rec StatusRecord) error {
	rec.Kind = "status"
	return writeLine(w, rec)
}

// WarningRecord is the JSON form of a warning about the command line.
type WarningRecord struct {
	Kind    string `json:"kind"` // "warning"
	Warning string `json:"warning"`
}

// WarningJSON writes a warning as one JSON object.
func WarningJSON(w io.Writer, msg string) error {
	return writeLine(w, WarningRecord{Kind: "warning", Warning: msg})
}

// ErrorRecord is the JSON form of the error a command ends with.
type ErrorRecord struct {
	Kind     string `json:"kind"` // "error"
	Error    string `json:"error"`
	ExitCode int    `json:"exit_code"`
	// Hint, for a usage error, says where to find the usage.
	Hint string `json:"hint,omitempty"`
	// Outcome, for a delivery that got no answer (request), is not_delivered or no_response,
	// as the outcome of a delivery record says it.
	Outcome string `json:"outcome,omitempty"`
}

// ErrorJSON writes the error a command ends with as one JSON object.
func ErrorJSON(w io.Writer, rec ErrorRecord) error {
	rec.Kind = "error"
	return writeLine(w, rec)
}

func writeLine(w io.Writer, v any) error {
	b, err := marshalLine(v)
	if err != nil {
		return err
	}
	_, err = w.Write(append(b, '\n'))
	return err
}
