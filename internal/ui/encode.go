package ui

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/cectl/cectl/internal/binding"
	"github.com/cectl/cectl/internal/ce"
	"github.com/cectl/cectl/internal/format"
	"github.com/cectl/cectl/internal/listen"
	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/cloudevents/sdk-go/v2/types"
)

// What the page gets for one entry. Every string in it came from a sender and is shown by the
// page as text only.
type entryJSON struct {
	Seq      uint64          `json:"seq"`
	Time     string          `json:"time"`
	TookMS   float64         `json:"tookMs"`
	Kind     string          `json:"kind"` // events, rejected, handshake, turned-away, recorded
	Method   string          `json:"method,omitempty"`
	Target   string          `json:"target,omitempty"`
	Proto    string          `json:"proto,omitempty"`
	Remote   string          `json:"remote,omitempty"`
	Mode     string          `json:"mode,omitempty"`
	Status   int             `json:"status"`
	Reason   string          `json:"reason,omitempty"`
	Headers  [][2]string     `json:"headers,omitempty"`
	Raw      string          `json:"raw,omitempty"`
	RawNote  string          `json:"rawNote,omitempty"`
	Events   []eventJSON     `json:"events,omitempty"`
	Answer   *answerJSON     `json:"answer,omitempty"`
	Forwards []forwardJSON   `json:"forwards,omitempty"`
	Size     int64           `json:"size"`
	Extra    json.RawMessage `json:"-"`
}

type eventJSON struct {
	// Event is the event in the CloudEvents JSON format, as --record and -o json write it.
	Event     json.RawMessage `json:"event"`
	Ext       [][2]string     `json:"ext,omitempty"` // name, type
	Data      *dataJSON       `json:"data,omitempty"`
	Selected  bool            `json:"selected"`
	Duplicate bool            `json:"duplicate,omitempty"`
	Warnings  []string        `json:"warnings,omitempty"`
	Match     *bool           `json:"match,omitempty"` // the stream's CESQL filter
	Mode      string          `json:"mode,omitempty"`
}

type dataJSON struct {
	Kind      string `json:"kind"` // json, text, binary
	Size      int    `json:"size"`
	Text      string `json:"text,omitempty"`
	Hex       string `json:"hex,omitempty"`
	Base64    string `json:"base64,omitempty"`
	Truncated bool   `json:"truncated,omitempty"`
}

type answerJSON struct {
	Status  int         `json:"status"`
	Text    string      `json:"text"`
	Headers [][2]string `json:"headers,omitempty"`
	Body    string      `json:"body,omitempty"`
}

type forwardJSON struct {
	To     string `json:"to"`
	Status int    `json:"status"`
	Error  string `json:"error,omitempty"`
}

// maxHex is how much binary data is shown as hex; base64 always has all of it.
const maxHex = 64 << 10

// encodeEntry renders e for the page. match, when set, is the stream's CESQL filter.
func encodeEntry(dst []byte, e *entry, match *listen.Filter) []byte {
	j := entryJSON{
		Seq:    e.seq,
		Time:   e.received.UTC().Format(time.RFC3339Nano),
		TookMS: float64(e.took.Microseconds()) / 1000,
		Kind:   kindName(e),
		Method: e.method,
		Target: e.target,
		Proto:  e.proto,
		Remote: e.remote,
		Status: e.status,
		Reason: e.reason,
		Size:   e.size,
	}
	if e.received.IsZero() {
		j.Time = ""
	}
	if e.kind == listen.KindEvents && len(e.events) > 0 {
		j.Mode = e.mode.String()
	}
	hdr := format.HideCredentials(e.header)
	j.Headers = sortedHeaders(hdr, e.host)
	if !e.preload {
		j.Raw, j.RawNote = rawRequest(e, hdr)
	}
	for i := range e.events {
		ev := &e.events[i]
		ej := eventJSON{Event: ce.AppendJSON(nil, ev), Ext: extTypes(ev), Data: dataOf(ev)}
		if i < len(e.info) {
			inf := e.info[i]
			ej.Selected, ej.Duplicate = inf.selected, inf.duplicate
			for _, w := range inf.warnings {
				ej.Warnings = append(ej.Warnings, w.Message+" ["+w.Rule+"]")
			}
		}
		if match != nil {
			m := match.Match(ev)
			ej.Match = &m
		}
		j.Events = append(j.Events, ej)
	}
	if !e.preload {
		j.Answer = answerOf(e)
	}
	for _, f := range e.forwards {
		j.Forwards = append(j.Forwards, forwardJSON{To: f.to, Status: f.status, Error: f.err})
	}
	b, err := json.Marshal(j)
	if err != nil {
		// Every field is a string, a number or raw JSON that cectl wrote itself.
		b = []byte(`{"seq":` + strconv.FormatUint(e.seq, 10) + `,"kind":"rejected","reason":"cannot show this entry: ` + strings.ReplaceAll(err.Error(), `"`, `'`) + `"}`)
	}
	return append(dst, b...)
}

func kindName(e *entry) string {
	switch {
	case e.preload:
		return "recorded"
	case e.kind == listen.KindRejected:
		return "rejected"
	case e.kind == listen.KindHandshake:
		return "handshake"
	case e.outcome == listen.Stopped:
		return "turned-away"
	}
	return "events"
}

func sortedHeaders(h http.Header, host string) [][2]string {
	var out [][2]string
	if host != "" {
		out = append(out, [2]string{"Host", host})
	}
	names := make([]string, 0, len(h))
	for k := range h {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		for _, v := range h[k] {
			out = append(out, [2]string{k, v})
		}
	}
	return out
}

// rawRequest is the request as it came: request line, header fields (in name order: the
// server keeps no order) and body. A body that is not UTF-8 is left out, with a note; the
// data view shows it as hex and base64.
func rawRequest(e *entry, hdr http.Header) (string, string) {
	var b strings.Builder
	if e.method == listen.MethodReceive {
		b.WriteString(e.proto + " message  " + e.target + "\n")
	} else {
		b.WriteString(e.method + " " + e.target + " " + e.proto + "\r\n")
	}
	for _, kv := range sortedHeaders(hdr, e.host) {
		b.WriteString(kv[0] + ": " + kv[1] + "\r\n")
	}
	b.WriteString("\r\n")
	note := ""
	switch {
	case len(e.body) == 0 && e.kind == listen.KindRejected:
		note = "the body was not read"
	case utf8.Valid(e.body):
		b.Write(e.body)
	default:
		note = strconv.Itoa(len(e.body)) + " bytes of binary body, not shown as text"
	}
	return b.String(), note
}

func answerOf(e *entry) *answerJSON {
	if e.answer == nil && e.method == listen.MethodReceive {
		a := &answerJSON{Status: e.status, Text: brokerAnswer(e.outcome)}
		a.Body = e.reason
		return a
	}
	a := &answerJSON{Status: e.status, Text: http.StatusText(e.status), Headers: sortedHeaders(e.answer, "")}
	switch {
	case e.outcome == listen.Accepted && e.reply != nil:
		if msg, err := binding.Encode(e.replyM, e.reply); err == nil {
			a.Body = string(msg.Body)
		}
	case e.outcome == listen.Refused:
		a.Body = "refused on purpose (" + e.reason + ")\n"
	case e.outcome != listen.Accepted:
		a.Body = e.reason + "\n"
	}
	return a
}

func brokerAnswer(o listen.Outcome) string {
	switch o {
	case listen.Accepted:
		return "acknowledged"
	case listen.Rejected:
		return "rejected as no CloudEvent"
	}
	return "not acknowledged"
}

// extTypes names the type of each extension's value (spec v1.0.2 §3.1.1 Type System).
func extTypes(ev *event.Event) [][2]string {
	exts := ev.Extensions()
	if len(exts) == 0 {
		return nil
	}
	out := make([][2]string, 0, len(exts))
	for name, v := range exts {
		out = append(out, [2]string{name, typeName(v)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i][0] < out[j][0] })
	return out
}

func typeName(v any) string {
	switch v.(type) {
	case string:
		return "String"
	case bool:
		return "Boolean"
	case int32, int, int64:
		return "Integer"
	case []byte:
		return "Binary"
	case types.URI, *types.URI:
		return "URI"
	case types.URIRef, *types.URIRef:
		return "URI-reference"
	case types.Timestamp, *types.Timestamp, time.Time:
		return "Timestamp"
	}
	return "String"
}

// dataOf is the event's data as the detail view shows it: JSON pretty-printed, text as it
// is, anything else as hex and base64.
func dataOf(ev *event.Event) *dataJSON {
	data := ev.DataEncoded
	if data == nil {
		return nil
	}
	d := &dataJSON{Size: len(data)}
	ct := ev.DataContentType()
	switch {
	case !ce.IsBase64(ev) && ce.IsJSONContentType(ct) && json.Valid(data):
		var buf bytes.Buffer
		if json.Indent(&buf, data, "", "  ") == nil {
			d.Kind, d.Text = "json", buf.String()
			return d
		}
	}
	if utf8.Valid(data) && (ce.IsTextContentType(ct) || !ce.IsBase64(ev)) {
		d.Kind, d.Text = "text", string(data)
		return d
	}
	d.Kind = "binary"
	d.Base64 = base64.StdEncoding.EncodeToString(data)
	shown := data
	if len(shown) > maxHex {
		shown, d.Truncated = shown[:maxHex], true
	}
	d.Hex = hex.Dump(shown)
	return d
}
