package binding

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/cectl/cectl/internal/ce"
	"github.com/cloudevents/sdk-go/v2/event"
)

// Mode is the HTTP content mode of a message (http binding §3).
type Mode int

// The three HTTP content modes.
const (
	Binary Mode = iota
	Structured
	Batch
)

func (m Mode) String() string {
	switch m {
	case Structured:
		return "structured"
	case Batch:
		return "batch"
	}
	return "binary"
}

// ParseMode parses a mode name.
func ParseMode(s string) (Mode, error) {
	switch strings.ToLower(s) {
	case "binary":
		return Binary, nil
	case "structured":
		return Structured, nil
	case "batch":
		return Batch, nil
	}
	return Binary, fmt.Errorf("unknown mode %q (want binary, structured or batch)", s)
}

// Content types of the structured and batched modes (json-format §3, §4), written exactly as
// the reference SDKs write them: some receivers (the JavaScript SDK's, for one) compare the
// whole value and refuse "charset=UTF-8". Receiving, ModeOf ignores case and parameters.
const (
	ContentTypeStructured = "application/cloudevents+json; charset=utf-8"
	ContentTypeBatch      = "application/cloudevents-batch+json; charset=utf-8"
)

// Message is an encoded HTTP message: the headers and body that carry one event (binary,
// structured) or several (batch).
type Message struct {
	Header http.Header
	Body   []byte
}

// Encode encodes events for HTTP in the given mode. Binary and structured take exactly one
// event. It refuses what a receiver could not read back as the events given: a batch of
// events of different spec versions (http binding §3.3.2), and in binary mode an event whose
// datacontenttype is a CloudEvents format, which a receiver takes for structured or batch
// mode (http binding §3).
func Encode(mode Mode, events ...*event.Event) (Message, error) {
	switch mode {
	case Batch:
		for _, e := range events[min(1, len(events)):] {
			if sv, first := e.SpecVersion(), events[0].SpecVersion(); sv != first {
				return Message{}, fmt.Errorf("a batch carries events of one specversion (http binding §3.3.2): event %s has %q, the first %q", e.ID(), sv, first)
			}
		}
		body := make([]byte, 0, 256*len(events))
		body = append(body, '[')
		for i, e := range events {
			if i > 0 {
				body = append(body, ',')
			}
			body = ce.AppendJSON(body, e)
		}
		body = append(body, ']')
		return Message{Header: http.Header{"Content-Type": {ContentTypeBatch}}, Body: body}, nil
	case Structured:
		if len(events) != 1 {
			return Message{}, fmt.Errorf("structured mode carries one event, got %d", len(events))
		}
		body := ce.AppendJSON(make([]byte, 0, 256), events[0])
		return Message{Header: http.Header{"Content-Type": {ContentTypeStructured}}, Body: body}, nil
	default:
		if len(events) != 1 {
			return Message{}, fmt.Errorf("binary mode carries one event, got %d", len(events))
		}
		if ct := events[0].DataContentType(); ModeOf(ct) != Binary {
			return Message{}, fmt.Errorf("binary mode cannot carry datacontenttype %q: the receiver would read the message in %s mode (http binding §3); send it in structured mode", ct, ModeOf(ct))
		}
		return encodeBinary(events[0]), nil
	}
}

// encodeBinary puts every attribute but datacontenttype in a ce- header and the data in the
// body (http binding §3.1). Header values are percent-encoded (§3.1.3.2), which sdk-go v2.16.2
// does not do.
func encodeBinary(e *event.Event) Message {
	h := make(http.Header, 8)
	for _, a := range ce.Attributes(e) {
		switch a.Name {
		case "datacontenttype":
			h["Content-Type"] = []string{a.Value}
			continue
		case "datacontentencoding":
			// 0.3 binary mode carries the raw bytes in the body (0.3 http binding §3.1.1).
			continue
		}
		h["Ce-"+canonicalSuffix(a.Name)] = []string{PercentEncode(a.Value)}
	}
	// Without datacontenttype there is no Content-Type either (§3.1.1 maps one to the
	// other): adding one would add an attribute the event does not have, and the receiver
	// would not get the event that was sent.
	body := e.DataEncoded
	if body == nil {
		body = []byte{}
	}
	return Message{Header: h, Body: body}
}

// canonicalSuffix returns the attribute name as net/http canonicalises the rest of a header
// key after "Ce-", so that the map key is what Header.Get finds.
func canonicalSuffix(name string) string {
	return http.CanonicalHeaderKey("ce-" + name)[3:]
}

// PercentEncode encodes a header value as the HTTP binding requires (§3.1.3.2): space, double
// quote, percent and every byte outside U+0021–U+007E become %XY of their UTF-8 bytes.
func PercentEncode(s string) string {
	n := 0
	for i := 0; i < len(s); i++ {
		if needsEscape(s[i]) {
			n++
		}
	}
	if n == 0 {
		return s
	}
	const hex = "0123456789ABCDEF"
	b := make([]byte, 0, len(s)+2*n)
	for i := 0; i < len(s); i++ {
		c := s[i]
		if needsEscape(c) {
			b = append(b, '%', hex[c>>4], hex[c&0xf])
		} else {
			b = append(b, c)
		}
	}
	return string(b)
}

func needsEscape(c byte) bool { return c <= 0x20 || c >= 0x7f || c == '"' || c == '%' }
