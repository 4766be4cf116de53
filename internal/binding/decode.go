package binding

import (
	"bytes"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/cectl/cectl/internal/ce"
	"github.com/cectl/cectl/internal/validate"
	"github.com/cloudevents/sdk-go/v2/event"
)

// ErrNoEvent means a message carries no CloudEvent: it is in binary mode by its content type
// but has no ce- header. A *Problem for such a message matches it with errors.Is.
var ErrNoEvent = errors.New("the message carries no CloudEvent (no ce- headers and not a structured or batch content type)")

// errNotUTF8 is a header or property value that is not UTF-8 once decoded.
var errNotUTF8 = errors.New("value is not valid UTF-8")

// Media types of the JSON event format and its batch format (json-format §3, §4).
const (
	MediaStructured = "application/cloudevents+json"
	MediaBatch      = "application/cloudevents-batch+json"
)

// maxFindings is how many problems a refusal lists; a broken sender tends to break everything.
const maxFindings = 10

// Problem is a message the strict decoder refuses: the HTTP status that says why (400 Bad
// Request, or 415 Unsupported Media Type for a message in no format cectl reads), the
// reason in plain text, one problem a line after a summary line, and the validation rules
// broken, in the order of the lines (a problem of the binding itself, such as a forbidden
// header, names no rule).
type Problem struct {
	Status int
	Reason string
	Rules  []string
	// noEvent marks a binary-mode message without any ce- header (ErrNoEvent).
	noEvent bool
}

func (p *Problem) Error() string { return p.Reason }

// Is makes a Problem for a message without a CloudEvent match ErrNoEvent.
func (p *Problem) Is(target error) bool { return p.noEvent && target == ErrNoEvent }

// Decoded is what a message carried: its mode and its events, each with the warnings (SHOULD
// violations, spec v1.0.2 Notational Conventions) found in it, which are shown but not
// refused. Events and Warnings are appended to, so a caller can give slices with room.
type Decoded struct {
	Mode     Mode
	Events   []event.Event
	Warnings [][]validate.Finding
}

// Decoder is the one strict decoder of messages into events, for HTTP requests and responses
// and for broker messages alike: every event is checked by the strict validator (the rules of
// `cectl validate`) before anything is built from it, so that nothing a decoder would quietly
// repair (a float extension, an upper-case name, a duplicate member) gets in. Validated bytes
// are decoded once; binary-mode attributes are checked as the strings they travelled in,
// laid out as a JSON event, so that rules and messages are those of the structured mode.
//
// A Decoder reuses its buffers and caches between messages and is not safe for concurrent
// use: pool them.
type Decoder struct {
	v     *validate.Validator
	sc    *validate.Scanner
	ce    ce.Decoder
	doc   []byte
	attrs []Attr
}

// NewDecoder returns a Decoder that validates with opts.
func NewDecoder(opts validate.Options) *Decoder {
	return &Decoder{v: validate.New(opts), sc: validate.NewScanner(nil, opts)}
}

// Decode reads the events of an HTTP message strictly (Decoder.DecodeHTTP). The error is a
// *Problem.
func Decode(h http.Header, body []byte) ([]event.Event, Mode, error) {
	var out Decoded
	if p := NewDecoder(validate.Options{}).DecodeHTTP(h, body, &out); p != nil {
		return nil, out.Mode, p
	}
	return out.Events, out.Mode, nil
}

// ModeOf tells the content mode from a Content-Type (http binding §3): the batch media type,
// then the structured one, then anything else is binary. Case and parameters are ignored.
func ModeOf(contentType string) Mode {
	mt := ce.MediaType(contentType)
	switch {
	case strings.HasPrefix(mt, "application/cloudevents-batch"):
		return Batch
	case strings.HasPrefix(mt, "application/cloudevents"):
		return Structured
	}
	return Binary
}

// DecodeHTTP reads the events of an HTTP message, in whichever mode it is (http binding §3),
// into out. Structured and batched bodies must use the JSON format (json-format §3, §4);
// binary mode takes its attributes from percent-decoded ce- headers (http binding §3.1.3).
// It runs under recover: no message can take the caller down.
func (d *Decoder) DecodeHTTP(header http.Header, body []byte, out *Decoded) (p *Problem) {
	defer d.recover(out, "request", &p)
	ct := header.Get("Content-Type")
	out.Mode = ModeOf(ct)
	switch out.Mode {
	case Structured:
		if mt := ce.MediaType(ct); mt != MediaStructured {
			return &Problem{Status: http.StatusUnsupportedMediaType, Reason: fmt.Sprintf("unsupported event format %q: listen reads the JSON format (%s)", mt, MediaStructured)}
		}
		return d.structured(body, out)
	case Batch:
		if mt := ce.MediaType(ct); mt != MediaBatch {
			return &Problem{Status: http.StatusUnsupportedMediaType, Reason: fmt.Sprintf("unsupported batch format %q: listen reads the JSON batch format (%s)", mt, MediaBatch)}
		}
		return d.batch(body, out)
	}
	attrs, p := headerAttrs(d.attrs[:0], header)
	d.attrs = attrs[:0]
	if p != nil {
		return p
	}
	if len(attrs) == 0 {
		reason := fmt.Sprintf("not a CloudEvent: no ce- headers, and Content-Type %q is not a CloudEvents format", ct)
		if bytes.Contains(body, []byte(`"specversion"`)) {
			reason += fmt.Sprintf("; a JSON event in the body is structured mode: send it with Content-Type: %s", MediaStructured)
		}
		return &Problem{Status: http.StatusUnsupportedMediaType, Reason: reason, noEvent: true}
	}
	return d.binary(attrs, ct, body, false, out)
}

// DecodeStructured reads a message that carries one event in the JSON format (structured
// mode, json-format §3) into out. The transport's content type is the caller's to check.
func (d *Decoder) DecodeStructured(body []byte, out *Decoded) (p *Problem) {
	defer d.recover(out, "message", &p)
	out.Mode = Structured
	return d.structured(body, out)
}

// DecodeBatch reads a JSON batch (json-format §4) into out.
func (d *Decoder) DecodeBatch(body []byte, out *Decoded) (p *Problem) {
	defer d.recover(out, "message", &p)
	out.Mode = Batch
	return d.batch(body, out)
}

// DecodeBinary reads a broker message in binary mode into out: attrs are its attributes as it
// carried them (Kafka headers, MQTT user properties, NATS headers, AMQP application
// properties: kafka binding §3.2.3, mqtt binding §3.1.3, nats binding §3.1, amqp binding
// §3.1.3), contentType is the transport's content type and data its payload. The values must
// be UTF-8, as a percent-decoded HTTP header value must (http binding §3.1.3.2). A
// datacontenttype among attrs counts only where the transport has no content type; data
// without either is taken to be JSON, as an event without datacontenttype says (json-format
// §3.1).
func (d *Decoder) DecodeBinary(attrs []Attr, contentType string, data []byte, out *Decoded) (p *Problem) {
	defer d.recover(out, "message", &p)
	out.Mode = Binary
	kept := d.attrs[:0]
	for _, a := range attrs {
		switch a.Name {
		case "datacontenttype":
			if contentType == "" {
				contentType = a.Value
			}
			continue
		case "datacontentencoding":
			// 0.3 binary mode carries the raw bytes (0.3 http binding §3.1.1).
			continue
		}
		if !utf8.ValidString(a.Value) {
			return binaryProblem("attribute "+a.Name+": "+errNotUTF8.Error(), validate.RuleUTF8)
		}
		kept = append(kept, a)
	}
	d.attrs = kept[:0]
	if len(data) == 0 {
		data = nil
	}
	return d.binary(kept, contentType, data, true, out)
}

// recover turns a panic while decoding into a refusal.
func (d *Decoder) recover(out *Decoded, what string, p **Problem) {
	if r := recover(); r != nil {
		out.Events, out.Warnings = out.Events[:0], out.Warnings[:0]
		*p = &Problem{Status: http.StatusBadRequest, Reason: fmt.Sprintf("the %s could not be decoded (%v)", what, r)}
	}
}

const (
	summaryStructured = "invalid event (structured mode):"
	summaryBinary     = "invalid event (binary mode):"
	summaryBatch      = "invalid batch:"
)

// binaryProblem is a refusal of a binary-mode message for one problem; the line names the
// rule, when there is one, as the validator's findings do.
func binaryProblem(line, rule string) *Problem {
	p := &Problem{Status: http.StatusBadRequest, Reason: summaryBinary + "\n" + line}
	if rule != "" {
		p.Reason += " [" + rule + "]"
		p.Rules = []string{rule}
	}
	return p
}

func (d *Decoder) structured(body []byte, out *Decoded) *Problem {
	warnings, p := split(d.v.Event(body), "", nil, summaryStructured)
	if p != nil {
		return p
	}
	e, err := d.ce.DecodeValidated(body)
	if err != nil {
		return &Problem{Status: http.StatusBadRequest, Reason: summaryStructured + " " + err.Error()}
	}
	if f, ok := d.checkEventData(&e, base64Member(&e)); !ok {
		return &Problem{Status: http.StatusBadRequest, Reason: summaryStructured + "\n" + line(f), Rules: []string{f.Rule}}
	}
	out.Events = append(out.Events, e)
	out.Warnings = append(out.Warnings, warnings)
	return nil
}

// binary checks binary-mode attributes, laid out as a JSON event with the types the one
// typing rule gives them (typeOf), and builds the event from them. The problems name the
// headers or properties the sender knows.
func (d *Decoder) binary(attrs []Attr, ct string, data []byte, jsonDefault bool, out *Decoded) *Problem {
	if jsonDefault && ct == "" && data != nil && validate.Valid(d.v.Data(data)) {
		// Data that is not JSON declares nothing either: it is kept as the bytes it is
		// (keepUndeclared), not refused for a content type the sender never gave.
		ct = "application/json"
	}
	sortAttrs(attrs)
	sv := specVersionOf(attrs)
	d.doc = appendDocument(d.doc[:0], sv, attrs, ct)
	warnings, p := split(d.v.Event(d.doc), "", headerName, summaryBinary)
	if p != nil {
		return p
	}
	if f, ok := d.checkJSONData(ct, data, "data"); !ok {
		return binaryProblem(f.Pointer+": "+f.Message, f.Rule)
	}
	e, err := buildEvent(&d.ce, sv, attrs, ct, data)
	if err != nil {
		return &Problem{Status: http.StatusBadRequest, Reason: summaryBinary + " " + err.Error()}
	}
	d.keepUndeclared(&e)
	out.Events = append(out.Events, e)
	out.Warnings = append(out.Warnings, warnings)
	return nil
}

// batch reads a JSON batch (json-format §4): an array, possibly empty, of events that share
// one specversion (http binding §3.3.2). The validator's scanner frames and checks the
// elements in one pass over the body, as `cectl validate` reads a batch file.
func (d *Decoder) batch(body []byte, out *Decoded) *Problem {
	if t := bytes.TrimLeft(body, " \t\r\n"); len(t) == 0 || t[0] != '[' {
		return &Problem{Status: http.StatusBadRequest, Reason: summaryBatch + "\na batch must be a JSON array of events (json-format §4)", Rules: []string{validate.RuleEventObject}}
	}
	sc := d.sc
	sc.ResetBytes(body)
	defer sc.ResetBytes(nil)
	var lines, rules []string
	specversion := ""
	for len(lines) < maxFindings && sc.Scan() {
		res := sc.Result()
		findings := res.Findings
		// The specversion agreement is checked below on the decoded events, with the
		// message listen has always given.
		findings = dropRule(findings, validate.RuleBatchSpecVersion)
		warnings, p := split(findings, "", nil, "")
		if p != nil {
			lines = append(lines, strings.Split(p.Reason, "\n")...)
			rules = append(rules, p.Rules...)
			continue
		}
		if res.Index < 0 {
			continue
		}
		e, err := d.ce.DecodeValidated(res.Raw())
		if err != nil {
			lines = append(lines, res.Pointer()+": "+err.Error())
			continue
		}
		if f, ok := d.checkEventData(&e, res.Pointer()+base64Member(&e)); !ok {
			lines, rules = append(lines, line(f)), append(rules, f.Rule)
			continue
		}
		switch sv := e.SpecVersion(); {
		case specversion == "":
			specversion = sv
		case sv != specversion:
			lines = append(lines, fmt.Sprintf("%s/specversion: %q differs from the batch's first event (%q); all events of a batch share one specversion (http binding §3.3.2)", res.Pointer(), sv, specversion))
			rules = append(rules, validate.RuleBatchSpecVersion)
			continue
		}
		out.Events = append(out.Events, e)
		out.Warnings = append(out.Warnings, warnings)
	}
	if len(lines) > 0 {
		if len(lines) > maxFindings {
			lines = lines[:maxFindings]
		}
		out.Events, out.Warnings = out.Events[:0], out.Warnings[:0]
		return &Problem{Status: http.StatusBadRequest, Reason: summaryBatch + "\n" + strings.Join(lines, "\n"), Rules: rules}
	}
	return nil
}

// dropRule removes the findings of one rule, in place.
func dropRule(findings []validate.Finding, rule string) []validate.Finding {
	out := findings[:0]
	for _, f := range findings {
		if f.Rule != rule {
			out = append(out, f)
		}
	}
	return out
}

// split splits findings into a problem (when there are errors) and the warnings, which are
// copied because the validator reuses its slice. name turns a finding's pointer into what the
// sender knows it by.
func split(findings []validate.Finding, prefix string, name func(string) string, summary string) ([]validate.Finding, *Problem) {
	var lines, rules []string
	var warnings []validate.Finding
	for _, f := range findings {
		where := prefix + f.Pointer
		if name != nil {
			where = name(f.Pointer)
		}
		if f.Level == validate.Warning {
			f.Pointer = where
			warnings = append(warnings, f)
			continue
		}
		if len(lines) == maxFindings {
			continue
		}
		rules = append(rules, f.Rule)
		if where == "" {
			lines = append(lines, fmt.Sprintf("%s [%s]", f.Message, f.Rule))
		} else {
			lines = append(lines, fmt.Sprintf("%s: %s [%s]", where, f.Message, f.Rule))
		}
	}
	if len(lines) == 0 {
		return warnings, nil
	}
	reason := strings.Join(lines, "\n")
	if summary != "" {
		reason = summary + "\n" + reason
	}
	return nil, &Problem{Status: http.StatusBadRequest, Reason: reason, Rules: rules}
}

// HeaderValue decodes the lines of one ce- header as the HTTP binding says (§3.1.3.2): lines
// are joined with commas (RFC 9110 §5.3), a quoted-string is unquoted, then %XY sequences
// are decoded exactly once, and the result must be UTF-8.
func HeaderValue(values []string) (string, error) {
	v := strings.Join(values, ",")
	if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
		v = unquote(v[1 : len(v)-1])
	}
	return PercentDecode(v)
}

// ruleOf names the validation rule a header decoding error breaks, "" for none.
func ruleOf(err error) string {
	if errors.Is(err, errNotUTF8) {
		return validate.RuleUTF8
	}
	return ""
}

// unquote removes quoted-pair escapes (RFC 9110 §5.6.4).
func unquote(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) {
			i++
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// PercentDecode decodes %XY sequences once and checks that the result is UTF-8.
func PercentDecode(s string) (string, error) {
	if !strings.Contains(s, "%") {
		if !utf8.ValidString(s) {
			return "", errNotUTF8
		}
		return s, nil
	}
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '%' {
			if i+2 >= len(s) || !isHex(s[i+1]) || !isHex(s[i+2]) {
				return "", fmt.Errorf("invalid percent-encoding %q", s[i:min(i+3, len(s))])
			}
			c = unhex(s[i+1])<<4 | unhex(s[i+2])
			i += 2
		}
		b = append(b, c)
	}
	if !utf8.Valid(b) {
		return "", fmt.Errorf("percent-decoded %w", errNotUTF8)
	}
	return string(b), nil
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c <= 'F':
		return c - 'A' + 10
	}
	return c - 'a' + 10
}
