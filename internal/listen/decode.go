package listen

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/cectl/cectl/internal/binding"
	"github.com/cectl/cectl/internal/ce"
	"github.com/cectl/cectl/internal/validate"
	"github.com/cloudevents/sdk-go/v2/event"
)

// problem is a request listen refuses: the status and a plain-text reason, one or more lines.
type problem struct {
	status int
	reason string
}

func (p *problem) Error() string { return p.reason }

// decoded is what a request carried. The slices come from the caller, room for one event
// included.
type decoded struct {
	mode     binding.Mode
	events   []event.Event
	warnings [][]validate.Finding // per event: SHOULD violations, shown but not refused
}

// maxFindings is how many problems a 400 lists; a broken sender tends to break everything.
const maxFindings = 10

// Media types of the JSON event format and its batch format (json-format §3, §4).
const (
	mediaStructured = "application/cloudevents+json"
	mediaBatch      = "application/cloudevents-batch+json"
)

// decode reads the events of a request, in whichever mode it is (http binding §3), and checks
// them with the strict validator before anything is built from them, so that nothing a decoder
// would quietly repair (a float extension, an upper-case name, a duplicate member) gets in.
// It runs under recover: no request can take the listener down.
func (h *Handler) decode(header http.Header, body []byte, d *decoded) (p *problem) {
	defer func() {
		if r := recover(); r != nil {
			d.events, d.warnings = nil, nil
			p = &problem{http.StatusBadRequest, fmt.Sprintf("the request could not be decoded (%v)", r)}
		}
	}()
	v := h.validator()
	defer h.validators.Put(v)
	ct := header.Get("Content-Type")
	d.mode = binding.ModeOf(ct)
	switch d.mode {
	case binding.Structured:
		if mt := ce.MediaType(ct); mt != mediaStructured {
			return &problem{http.StatusUnsupportedMediaType, fmt.Sprintf("unsupported event format %q: listen reads the JSON format (%s)", mt, mediaStructured)}
		}
		return h.decodeStructured(v, body, d)
	case binding.Batch:
		if mt := ce.MediaType(ct); mt != mediaBatch {
			return &problem{http.StatusUnsupportedMediaType, fmt.Sprintf("unsupported batch format %q: listen reads the JSON batch format (%s)", mt, mediaBatch)}
		}
		return h.decodeBatch(v, body, d)
	}
	return h.decodeBinary(v, header, body, d)
}

func (h *Handler) decodeStructured(v *validate.Validator, body []byte, d *decoded) *problem {
	warnings, p := check(v.Event(body), "", nil, "invalid event (structured mode):")
	if p != nil {
		return p
	}
	e, err := ce.DecodeValidated(body)
	if err != nil {
		return &problem{http.StatusBadRequest, "invalid event (structured mode): " + err.Error()}
	}
	d.events = append(d.events, e)
	d.warnings = append(d.warnings, warnings)
	return nil
}

// decodeBatch reads a JSON batch (json-format §4): an array, possibly empty, of events that
// share one specversion (http binding §3.3.2).
func (h *Handler) decodeBatch(v *validate.Validator, body []byte, d *decoded) *problem {
	const summary = "invalid batch:"
	if t := bytes.TrimLeft(body, " \t\r\n"); len(t) == 0 || t[0] != '[' {
		return &problem{http.StatusBadRequest, summary + "\na batch must be a JSON array of events (json-format §4)"}
	}
	rd := ce.NewReader(bytes.NewReader(body))
	var lines []string
	specversion := ""
	for len(lines) < maxFindings {
		rec, err := rd.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			lines = append(lines, err.Error())
			break
		}
		prefix := "/" + strconv.Itoa(rec.Index)
		warnings, p := check(v.Event(rec.Raw), prefix, nil, "")
		if p != nil {
			lines = append(lines, strings.Split(p.reason, "\n")...)
			continue
		}
		e, err := ce.Decode(rec.Raw)
		if err != nil {
			lines = append(lines, prefix+": "+err.Error())
			continue
		}
		switch sv := e.SpecVersion(); {
		case specversion == "":
			specversion = sv
		case sv != specversion:
			lines = append(lines, fmt.Sprintf("%s/specversion: %q differs from the batch's first event (%q); all events of a batch share one specversion (http binding §3.3.2)", prefix, sv, specversion))
			continue
		}
		d.events = append(d.events, e)
		d.warnings = append(d.warnings, warnings)
	}
	if len(lines) > 0 {
		if len(lines) > maxFindings {
			lines = lines[:maxFindings]
		}
		return &problem{http.StatusBadRequest, summary + "\n" + strings.Join(lines, "\n")}
	}
	return nil
}

// decodeBinary reads a binary-mode message (http binding §3.1). The attributes are checked as
// they came, before the event is built: the ce- headers, percent-decoded once (§3.1.3.2), are
// laid out as a JSON event and given to the validator, every name exactly as the header had
// it, so that its rules and messages are the same in every mode. The event is then built from
// the same decoded values.
func (h *Handler) decodeBinary(v *validate.Validator, header http.Header, body []byte, d *decoded) *problem {
	bp := h.bufs.Get().(*[]byte)
	defer h.bufs.Put(bp)
	var small [16]attribute
	doc, attrs, p := binaryDocument((*bp)[:0], small[:0], header)
	*bp = doc[:0]
	if p != nil {
		return p
	}
	if attrs == nil {
		reason := fmt.Sprintf("not a CloudEvent: no ce- headers, and Content-Type %q is not a CloudEvents format", header.Get("Content-Type"))
		if bytes.Contains(body, []byte(`"specversion"`)) {
			reason += fmt.Sprintf("; a JSON event in the body is structured mode: send it with Content-Type: %s", mediaStructured)
		}
		return &problem{http.StatusUnsupportedMediaType, reason}
	}
	warnings, p := check(v.Event(doc), "", headerName, "invalid event (binary mode):")
	if p != nil {
		return p
	}
	e, err := binaryEvent(attrs, header.Get("Content-Type"), body)
	if err != nil {
		return &problem{http.StatusBadRequest, "invalid event (binary mode): " + err.Error()}
	}
	d.events = append(d.events, e)
	d.warnings = append(d.warnings, warnings)
	return nil
}

// attribute is a ce- header: the attribute name and the decoded value.
type attribute struct{ name, value string }

// binaryEvent builds the event of a validated binary-mode message. Documented Integer and
// Boolean extensions, which arrive as header strings, get their type back, so that the event
// is written in the JSON format as it was meant.
func binaryEvent(attrs []attribute, contentType string, body []byte) (event.Event, error) {
	sv := ""
	for _, a := range attrs {
		if a.name == "specversion" {
			sv = a.value
		}
	}
	e, err := ce.NewEvent(sv)
	if err != nil {
		return e, err
	}
	for _, a := range attrs {
		switch typedExtension(a.name) {
		case 'i':
			if n, err := strconv.ParseInt(a.value, 10, 32); err == nil {
				err = ce.SetExtension(&e, a.name, int32(n))
				if err != nil {
					return e, err
				}
				continue
			}
		case 'b':
			if err := ce.SetExtension(&e, a.name, a.value == "true"); err != nil {
				return e, err
			}
			continue
		}
		if err := ce.SetAttribute(&e, a.name, a.value); err != nil {
			return e, err
		}
	}
	if contentType != "" {
		if err := ce.SetAttribute(&e, "datacontenttype", contentType); err != nil {
			return e, err
		}
	}
	if len(body) > 0 {
		e.DataEncoded = body
	}
	return e, nil
}

// check splits findings into a problem (when there are errors) and the warnings, which are
// copied because the validator reuses its slice. name turns a finding's pointer into what the
// sender knows it by.
func check(findings []validate.Finding, prefix string, name func(string) string, summary string) ([]validate.Finding, *problem) {
	var lines []string
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
	return nil, &problem{http.StatusBadRequest, reason}
}

// headerName maps the JSON pointer of an attribute of a binary-mode event back to its header.
func headerName(pointer string) string {
	name := strings.TrimPrefix(pointer, "/")
	if name == "" {
		return ""
	}
	name = strings.NewReplacer("~1", "/", "~0", "~").Replace(name)
	if name == "datacontenttype" {
		return "Content-Type"
	}
	return "ce-" + name
}

func isCEHeader(k string) bool {
	return len(k) >= 3 && k[0]|0x20 == 'c' && k[1]|0x20 == 'e' && k[2] == '-'
}

// binaryDocument appends the attributes of a binary-mode message to dst as a JSON object and
// to attrs as decoded pairs. attrs is nil when the message has no ce- header at all.
func binaryDocument(dst []byte, attrs []attribute, header http.Header) ([]byte, []attribute, *problem) {
	for k, vs := range header {
		if !isCEHeader(k) {
			continue
		}
		// Header names are case-insensitive (§3.1.3.1); attribute names are lower case.
		name := attributeName(k[3:])
		switch name {
		case "datacontenttype":
			return dst, attrs, &problem{http.StatusBadRequest, "invalid event (binary mode):\nheader " + k + " must not be sent: Content-Type carries datacontenttype in binary mode (http binding §3.1.1)"}
		case "data", "data_base64":
			return dst, attrs, &problem{http.StatusBadRequest, "invalid event (binary mode):\nheader " + k + ": the data travels in the body in binary mode (http binding §3.1.2)"}
		}
		value, err := binding.HeaderValue(vs)
		if err != nil {
			return dst, attrs, &problem{http.StatusBadRequest, "invalid event (binary mode):\nheader " + k + ": " + err.Error()}
		}
		attrs = append(attrs, attribute{name, value})
	}
	if len(attrs) == 0 {
		return dst, nil, nil
	}
	// A fixed order, so that the problems of a request are always listed alike.
	slices.SortFunc(attrs, func(a, b attribute) int { return strings.Compare(a.name, b.name) })
	return appendDocument(dst, attrs, header.Get("Content-Type")), attrs, nil
}

// appendDocument appends binary-mode attributes, and the content type as datacontenttype, to
// dst as a JSON object for the validator.
func appendDocument(dst []byte, attrs []attribute, contentType string) []byte {
	dst = append(dst, '{')
	for i, a := range attrs {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendJSONString(dst, a.name)
		dst = append(dst, ':')
		dst = appendTyped(dst, a.name, a.value)
	}
	if contentType != "" {
		if len(attrs) > 0 {
			dst = append(dst, ',')
		}
		dst = appendJSONString(dst, "datacontenttype")
		dst = append(dst, ':')
		dst = appendJSONString(dst, contentType)
	}
	return append(dst, '}')
}

// attributeName lower-cases a header name after "ce-", without allocating for the attributes
// every event has.
func attributeName(s string) string {
	for _, known := range [...]string{"specversion", "id", "source", "type", "time", "subject", "dataschema", "datacontenttype"} {
		if len(s) == len(known) && strings.EqualFold(s, known) {
			return known
		}
	}
	return strings.ToLower(s)
}

// typedExtension is the type of a documented extension whose canonical string form in a
// header stands for a JSON number or boolean (spec v1.0.2 Type System; the sampling,
// severity and deprecation extensions).
func typedExtension(name string) byte {
	switch name {
	case "sampledrate", "severitynumber":
		return 'i'
	case "deprecated":
		return 'b'
	}
	return 0
}

// appendTyped writes a header value as the JSON value it stands for: documented Integer and
// Boolean extensions as numbers and booleans when their text is one, everything else as a
// string. A value of the wrong form stays a string, which the validator then reports.
func appendTyped(dst []byte, name, value string) []byte {
	switch typedExtension(name) {
	case 'i':
		if isInteger(value) {
			return append(dst, value...)
		}
	case 'b':
		if value == "true" || value == "false" {
			return append(dst, value...)
		}
	}
	return appendJSONString(dst, value)
}

func isInteger(s string) bool {
	s = strings.TrimPrefix(s, "-")
	if s == "" || len(s) > 1 && s[0] == '0' {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// appendJSONString appends s as a JSON string. Invalid UTF-8 (possible only in a header name)
// becomes U+FFFD, which the validator then refuses as a name.
func appendJSONString(dst []byte, s string) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c < utf8.RuneSelf && c != '"' && c != '\\' {
			i++
			continue
		}
		dst = append(dst, s[start:i]...)
		switch {
		case c == '"' || c == '\\':
			dst = append(dst, '\\', c)
			i++
		case c < 0x20:
			dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			i++
		default:
			r, size := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && size == 1 {
				dst = append(dst, `\ufffd`...)
			} else {
				dst = append(dst, s[i:i+size]...)
			}
			i += size
		}
		start = i
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}
