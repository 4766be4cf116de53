// Package trace carries W3C Trace Context through events: the CloudEvents distributed
// tracing extension (attributes traceparent and tracestate, whose values are those of the
// W3C Trace Context HTTP headers of the same names).
package trace

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/cloudevents/sdk-go/v2/event"
)

// The extension's attribute names, which are also the HTTP header names (W3C Trace Context
// §3.2, §3.3).
const (
	AttrParent = "traceparent"
	AttrState  = "tracestate"
)

// Context is one span's place in a trace.
type Context struct {
	TraceID [16]byte
	SpanID  [8]byte
	Flags   byte   // bit 0: sampled
	State   string // tracestate, passed on as it came
}

// Sampled is the flags bit that says the caller recorded the span (W3C Trace Context §3.2.2.5).
const Sampled = 0x01

// New starts a trace: a random trace id and span id, sampled (W3C Trace Context §3.2.2.3,
// §3.2.2.4: random, not all zeroes).
func New() Context {
	var c Context
	for isZero(c.TraceID[:]) {
		_, _ = rand.Read(c.TraceID[:])
	}
	c.SpanID = NewSpanID()
	c.Flags = Sampled
	return c
}

// Child is a new span of the same trace whose parent is c.
func (c Context) Child() Context {
	c.SpanID = NewSpanID()
	return c
}

// NewSpanID returns a random span id that is not all zeroes.
func NewSpanID() [8]byte {
	var id [8]byte
	for isZero(id[:]) {
		_, _ = rand.Read(id[:])
	}
	return id
}

func isZero(b []byte) bool {
	for _, x := range b {
		if x != 0 {
			return false
		}
	}
	return true
}

// Valid reports whether c has a trace id and a span id.
func (c Context) Valid() bool { return !isZero(c.TraceID[:]) && !isZero(c.SpanID[:]) }

// TraceIDString is the trace id in lower-case hex.
func (c Context) TraceIDString() string { return hex.EncodeToString(c.TraceID[:]) }

// SpanIDString is the span id in lower-case hex.
func (c Context) SpanIDString() string { return hex.EncodeToString(c.SpanID[:]) }

// Traceparent is the traceparent value, version 00 (W3C Trace Context §3.2).
func (c Context) Traceparent() string {
	return fmt.Sprintf("00-%x-%x-%02x", c.TraceID, c.SpanID, c.Flags)
}

// Parse reads a traceparent value (W3C Trace Context §3.2.2): version 00 exactly as
// specified; a later version by its first four fields (§3.2.4), as the spec asks of a
// version 00 parser.
func Parse(traceparent string) (Context, error) {
	var c Context
	s := strings.TrimSpace(traceparent)
	if len(s) < 55 {
		return c, fmt.Errorf("traceparent %q is too short: want 00-<32 hex trace id>-<16 hex span id>-<2 hex flags>", traceparent)
	}
	ver, err := hexByte(s[0:2])
	switch {
	case err != nil || s[0:2] == "ff":
		return c, fmt.Errorf("traceparent %q: version %q is not two lower-case hex digits other than ff", traceparent, s[0:2])
	case ver == 0 && len(s) != 55:
		return c, fmt.Errorf("traceparent %q: version 00 has exactly 55 characters", traceparent)
	case ver > 0 && len(s) > 55 && s[55] != '-':
		return c, fmt.Errorf("traceparent %q: unexpected characters after the flags", traceparent)
	case s[2] != '-' || s[35] != '-' || s[52] != '-':
		return c, fmt.Errorf("traceparent %q: fields are separated by '-'", traceparent)
	}
	if err := decodeHex(c.TraceID[:], s[3:35]); err != nil || isZero(c.TraceID[:]) {
		return c, fmt.Errorf("traceparent %q: the trace id is not 32 lower-case hex digits, not all zero", traceparent)
	}
	if err := decodeHex(c.SpanID[:], s[36:52]); err != nil || isZero(c.SpanID[:]) {
		return c, fmt.Errorf("traceparent %q: the parent id is not 16 lower-case hex digits, not all zero", traceparent)
	}
	if c.Flags, err = hexByte(s[53:55]); err != nil {
		return c, fmt.Errorf("traceparent %q: the flags are not two lower-case hex digits", traceparent)
	}
	return c, nil
}

var errHex = errors.New("not lower-case hex")

func decodeHex(dst []byte, s string) error {
	for i := range s {
		if !(s[i] >= '0' && s[i] <= '9' || s[i] >= 'a' && s[i] <= 'f') {
			return errHex
		}
	}
	_, err := hex.Decode(dst, []byte(s))
	return err
}

func hexByte(s string) (byte, error) {
	var b [1]byte
	err := decodeHex(b[:], s)
	return b[0], err
}

// FromEvent returns the trace context an event carries in the distributed tracing
// extension; ok is false when it carries none or one that does not parse.
func FromEvent(e *event.Event) (Context, bool) {
	v, ok := e.Extensions()[AttrParent]
	if !ok {
		return Context{}, false
	}
	s, ok := v.(string)
	if !ok {
		return Context{}, false
	}
	c, err := Parse(s)
	if err != nil {
		return Context{}, false
	}
	if st, ok := e.Extensions()[AttrState].(string); ok {
		c.State = st
	}
	return c, true
}

// FromHeader returns the trace context of the W3C traceparent and tracestate header fields
// (W3C Trace Context §3.2, §3.3) of h, found whatever the case of their names (broker
// properties keep theirs); ok is false when there is none or it does not parse.
func FromHeader(h http.Header) (Context, bool) {
	tp := headerValues(h, AttrParent)
	if len(tp) != 1 {
		return Context{}, false // none, or several: W3C Trace Context §3.2 wants one
	}
	c, err := Parse(tp[0])
	if err != nil {
		return Context{}, false
	}
	// Several tracestate fields are one list (§3.3.1.1).
	c.State = strings.Join(headerValues(h, AttrState), ",")
	return c, true
}

func headerValues(h http.Header, name string) []string {
	if vs := h.Values(name); len(vs) > 0 {
		return vs
	}
	for k, vs := range h {
		if len(vs) > 0 && strings.EqualFold(k, name) {
			return vs
		}
	}
	return nil
}

// SetOnEvent puts c on e as the distributed tracing extension.
func SetOnEvent(e *event.Event, c Context) {
	e.SetExtension(AttrParent, c.Traceparent())
	if c.State != "" {
		e.SetExtension(AttrState, c.State)
	}
}

// Continue puts on reply the trace of in, with a span of its own (the handling's), and
// returns that context; when in carries no trace, parent (a traceparent HTTP header, or "")
// is used. ok is false, and reply is left alone, when there is no trace to continue.
func Continue(reply, in *event.Event, parent string) (Context, bool) {
	c, ok := FromEvent(in)
	if !ok && parent != "" {
		var err error
		c, err = Parse(parent)
		ok = err == nil
	}
	if !ok {
		return Context{}, false
	}
	c = c.Child()
	SetOnEvent(reply, c)
	return c, true
}
