package binding

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/cectl/cectl/internal/ce"
	"github.com/cloudevents/sdk-go/v2/event"
)

// ErrNoEvent means an HTTP message carries no CloudEvent: it is in binary mode by its content
// type but has no ce-specversion header.
var ErrNoEvent = errors.New("the message carries no CloudEvent (no ce-specversion header and not a structured or batch content type)")

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

// Decode reads the events an HTTP message carries, in whichever mode it is. Structured and
// batched bodies must use the JSON format (json-format §3, §4); binary mode takes its
// attributes from percent-decoded ce- headers (http binding §3.1.3).
func Decode(h http.Header, body []byte) ([]event.Event, Mode, error) {
	ct := h.Get("Content-Type")
	mode := ModeOf(ct)
	switch mode {
	case Batch:
		if mt := ce.MediaType(ct); mt != "application/cloudevents-batch+json" {
			return nil, mode, fmt.Errorf("unsupported batch format %q (want application/cloudevents-batch+json)", mt)
		}
		events, err := DecodeBatch(body)
		return events, mode, err
	case Structured:
		if mt := ce.MediaType(ct); mt != "application/cloudevents+json" {
			return nil, mode, fmt.Errorf("unsupported event format %q (want application/cloudevents+json)", mt)
		}
		e, err := ce.Decode(body)
		if err != nil {
			return nil, mode, err
		}
		return []event.Event{e}, mode, nil
	}
	e, err := DecodeBinary(h, body)
	if err != nil {
		return nil, mode, err
	}
	return []event.Event{e}, mode, nil
}

func DecodeBatch(body []byte) ([]event.Event, error) {
	if trimmed := bytes.TrimLeft(body, " \t\r\n"); len(trimmed) == 0 || trimmed[0] != '[' {
		return nil, errors.New("a batch must be a JSON array of events (json-format §4)")
	}
	r := ce.NewReader(bytes.NewReader(body))
	var events []event.Event
	for {
		rec, err := r.Next()
		if errors.Is(err, io.EOF) {
			return events, nil
		}
		if err != nil {
			return nil, fmt.Errorf("batch: %w", err)
		}
		e, err := ce.Decode(rec.Raw)
		if err != nil {
			return nil, fmt.Errorf("batch event %d: %w", rec.Index, err)
		}
		events = append(events, e)
	}
}

// DecodeBinary reads a binary-mode message: every ce- header is an attribute, Content-Type is
// datacontenttype, the body is the data.
func DecodeBinary(h http.Header, body []byte) (event.Event, error) {
	sv, ok, err := headerValue(h, "Ce-Specversion")
	if err != nil {
		return event.Event{}, err
	}
	if !ok {
		return event.Event{}, ErrNoEvent
	}
	e, err := ce.NewEvent(sv)
	if err != nil {
		return event.Event{}, err
	}
	for key := range h {
		if len(key) <= 3 || !strings.EqualFold(key[:3], "ce-") {
			continue
		}
		name := strings.ToLower(key[3:])
		if name == "specversion" {
			continue
		}
		v, _, err := headerValue(h, key)
		if err != nil {
			return event.Event{}, err
		}
		if err := ce.SetAttribute(&e, name, v); err != nil {
			return event.Event{}, fmt.Errorf("header %s: %w", key, err)
		}
	}
	if ct := h.Get("Content-Type"); ct != "" {
		if err := ce.SetAttribute(&e, "datacontenttype", ct); err != nil {
			return event.Event{}, err
		}
	}
	if len(body) > 0 {
		e.DataEncoded = body
	}
	return e, nil
}

// headerValue returns a header's value decoded as the HTTP binding says (§3.1.3.2): a
// quoted-string is unquoted, then %XY sequences are decoded exactly once, and the result
// must be UTF-8. Several header lines of one name are joined with commas (RFC 9110 §5.3).
func headerValue(h http.Header, key string) (string, bool, error) {
	vs, ok := h[key]
	if !ok {
		vs, ok = h[http.CanonicalHeaderKey(key)]
	}
	if !ok || len(vs) == 0 {
		return "", false, nil
	}
	dec, err := HeaderValue(vs)
	if err != nil {
		return "", true, fmt.Errorf("header %s: %w", key, err)
	}
	return dec, true, nil
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
			return "", errors.New("value is not valid UTF-8")
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
		return "", errors.New("percent-decoded value is not valid UTF-8")
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
