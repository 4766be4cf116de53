package ui

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"time"
	"unicode/utf8"
	"unsafe"

	"github.com/cectl/cectl/internal/binding"
	"github.com/cectl/cectl/internal/ce"
	"github.com/cectl/cectl/internal/format"
	"github.com/cectl/cectl/internal/listen"
	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/cloudevents/sdk-go/v2/types"
)

// encoder keeps the scratch buffers of a stream, so that encoding an entry allocates little.
type encoder struct {
	line   []byte
	pretty bytes.Buffer
	// The header list of this entry and of the one before on the stream (summary).
	hdr, prevHdr []byte
	hdrSent      bool
}

// bytesString is b as a string without a copy, for an encoder that only reads it before b
// changes again.
func bytesString(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}

// entryStart opens an entry's JSON object with the members every form has: seq and time.
func entryStart(dst []byte, e *entry) []byte {
	b := append(dst, `{"seq":`...)
	b = strconv.AppendUint(b, e.seq, 10)
	if !e.received.IsZero() {
		b = append(b, `,"time":"`...)
		b = e.received.UTC().AppendFormat(b, time.RFC3339Nano)
		b = append(b, '"')
	}
	return b
}

// entry renders e for the page as one JSON object; match, when set, is the stream's
// CESQL filter. Every string in it came from a sender and is shown by the page as text only.
// It is written by hand, with the one JSON string encoder of the event format: a page that
// follows a busy listener gets every entry, and reflection would cost more than the rest of
// the message's handling.
//
// Its members: seq, time, tookMs, kind (events, rejected, handshake, turned-away, recorded),
// method, target, proto, remote, mode, status, reason, headers ([name, value] pairs, Host
// first), body (the request body when it is UTF-8) or bodyNote, events, answer, forwards,
// size. Each event has line (the event in the CloudEvents JSON format, exactly as --record
// writes it), ext ([name, type] pairs), data ({kind: json|text|binary, size, text | hex and
// base64}), selected, duplicate, warnings and, with a filter, match.
func (enc *encoder) entry(dst []byte, e *entry, match *listen.Filter) []byte {
	b := entryStart(dst, e)
	b = append(b, `,"tookMs":`...)
	b = strconv.AppendFloat(b, float64(e.took.Microseconds())/1000, 'f', -1, 64)
	b = member(b, "kind", kindName(e))
	b = member(b, "method", e.method)
	b = member(b, "target", e.target)
	b = member(b, "proto", e.proto)
	b = member(b, "remote", e.remote)
	if e.kind == listen.KindEvents && len(e.events) > 0 {
		b = member(b, "mode", e.mode.String())
	}
	b = append(b, `,"status":`...)
	b = strconv.AppendInt(b, int64(e.status), 10)
	b = member(b, "reason", e.reason)
	b = append(b, `,"headers":`...)
	if e.wire != nil {
		// Header fields as they came, in their order and case.
		b = appendPairs(b, format.HideFieldCredentials(e.wire))
	} else {
		b = appendHeaders(b, format.HideCredentials(e.header), e.host)
	}
	if !e.preload {
		switch {
		case len(e.body) == 0 && e.kind == listen.KindRejected:
			b = member(b, "bodyNote", "the body was not read")
		case utf8.Valid(e.body):
			b = member(b, "body", bytesString(e.body))
		default:
			b = member(b, "bodyNote", strconv.Itoa(len(e.body))+" bytes of binary body, not shown as text")
		}
	}
	b = append(b, `,"events":[`...)
	for i := range e.events {
		if i > 0 {
			b = append(b, ',')
		}
		ev := &e.events[i]
		b = append(b, `{"line":`...)
		enc.line = ce.AppendJSON(enc.line[:0], ev)
		b = ce.AppendString(b, bytesString(enc.line))
		if exts := extTypes(ev); len(exts) > 0 {
			b = append(b, `,"ext":`...)
			b = appendPairs(b, exts)
		}
		b = enc.appendData(b, ev)
		if i < len(e.info) {
			inf := e.info[i]
			b = append(b, `,"selected":`...)
			b = strconv.AppendBool(b, inf.selected)
			b = append(b, `,"duplicate":`...)
			b = strconv.AppendBool(b, inf.duplicate)
			if len(inf.warnings) > 0 {
				b = append(b, `,"warnings":[`...)
				for k, w := range inf.warnings {
					if k > 0 {
						b = append(b, ',')
					}
					b = ce.AppendString(b, w.Message+" ["+w.Rule+"]")
				}
				b = append(b, ']')
			}
		}
		if match != nil {
			b = append(b, `,"match":`...)
			b = strconv.AppendBool(b, match.Match(ev))
		}
		b = append(b, '}')
	}
	b = append(b, ']')
	if !e.preload {
		b = appendAnswer(b, e)
	}
	if len(e.forwards) > 0 {
		b = append(b, `,"forwards":[`...)
		for i, f := range e.forwards {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"to":`...)
			b = ce.AppendString(b, f.to)
			b = append(b, `,"status":`...)
			b = strconv.AppendInt(b, int64(f.status), 10)
			b = member(b, "error", f.err)
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	b = append(b, `,"size":`...)
	b = strconv.AppendInt(b, e.size, 10)
	return append(b, '}')
}

// summary renders what the page's list needs of e, as one JSON object: what a row shows and
// the free-text filter searches. The detail (encoder.entry) is fetched when the page opens an
// entry, so that a page following a busy listener costs it and the page little. match, when
// set, is the stream's CESQL filter.
//
// Its members: seq, time, kind, status, method, target, reason, mode (only "binary", for a
// binary-mode event, whose Ce- headers are left out), headers (names and values alternating,
// Host first, credentials hidden; left out when they are those of the entry before on the
// stream), lines (each event in the CloudEvents JSON
// format, exactly as --record writes it) and, with a filter, match (whether any event matches).
func (enc *encoder) summary(dst []byte, e *entry, match *listen.Filter) []byte {
	b := entryStart(dst, e)
	b = member(b, "kind", kindName(e))
	b = append(b, `,"status":`...)
	b = strconv.AppendInt(b, int64(e.status), 10)
	b = member(b, "method", e.method)
	b = member(b, "target", e.target)
	b = member(b, "reason", e.reason)
	// A binary-mode event's Ce- headers are its attributes, which its line has: the page
	// searches them from there.
	binary := e.mode == binding.Binary && e.kind == listen.KindEvents && len(e.events) == 1 && !e.preload
	if binary {
		b = append(b, `,"mode":"binary"`...)
	}
	// Most senders send the same headers each time, but for the Ce- ones: the list is sent
	// when it is not the one of the entry before on this stream.
	if e.wire != nil {
		enc.hdr = appendWireList(enc.hdr[:0], e.wire, binary)
	} else {
		enc.hdr = appendHeaderList(enc.hdr[:0], e.header, e.host, binary)
	}
	if !enc.hdrSent || !bytes.Equal(enc.hdr, enc.prevHdr) {
		b = append(b, `,"headers":`...)
		b = append(b, enc.hdr...)
		enc.hdr, enc.prevHdr, enc.hdrSent = enc.prevHdr, enc.hdr, true
	}
	b = append(b, `,"lines":[`...)
	matched := false
	for i := range e.events {
		if i > 0 {
			b = append(b, ',')
		}
		ev := &e.events[i]
		enc.line = ce.AppendJSON(enc.line[:0], ev)
		b = appendString(b, bytesString(enc.line))
		if match != nil && !matched {
			matched = match.Match(ev)
		}
	}
	b = append(b, ']')
	if match != nil {
		b = append(b, `,"match":`...)
		b = strconv.AppendBool(b, matched)
	}
	return append(b, '}')
}

// appendHeaderList appends the header fields as one array of names and values alternating,
// in name order, Host first, credentials hidden; without the Ce- headers when noCE.
func appendHeaderList(b []byte, h http.Header, host string, noCE bool) []byte {
	var small [16]string
	names := small[:0]
	secret := false
	for k := range h {
		names = append(names, k)
		secret = secret || maySecret(k)
	}
	if secret {
		h = format.HideCredentials(h)
	}
	slices.Sort(names)
	b = append(b, '[')
	first := true
	if host != "" {
		b = append(b, `"Host",`...)
		b = appendString(b, host)
		first = false
	}
	for _, k := range names {
		if noCE && len(k) > 3 && k[:3] == "Ce-" {
			continue
		}
		for _, v := range h[k] {
			if !first {
				b = append(b, ',')
			}
			first = false
			b = appendString(b, k)
			b = append(b, ',')
			b = appendString(b, v)
		}
	}
	return append(b, ']')
}

// member appends ,"name":"value" unless value is empty.
func member(b []byte, name, value string) []byte {
	if value == "" {
		return b
	}
	b = append(b, ',', '"')
	b = append(b, name...)
	b = append(b, '"', ':')
	return ce.AppendString(b, value)
}

func appendPairs(b []byte, pairs [][2]string) []byte {
	b = append(b, '[')
	for i, p := range pairs {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, '[')
		b = ce.AppendString(b, p[0])
		b = append(b, ',')
		b = ce.AppendString(b, p[1])
		b = append(b, ']')
	}
	return append(b, ']')
}

// appendWireList is appendHeaderList for header fields as they came: in their order and case.
func appendWireList(b []byte, wire [][2]string, noCE bool) []byte {
	b = append(b, '[')
	first := true
	for _, f := range format.HideFieldCredentials(wire) {
		if noCE && binding.IsCEHeader(f[0]) {
			continue
		}
		if !first {
			b = append(b, ',')
		}
		first = false
		b = appendString(b, f[0])
		b = append(b, ',')
		b = appendString(b, f[1])
	}
	return append(b, ']')
}

// appendHeaders appends the header fields as [name, value] pairs in name order (the server
// keeps no order), Host first.
func appendHeaders(b []byte, h http.Header, host string) []byte {
	var small [16]string
	names := small[:0]
	for k := range h {
		names = append(names, k)
	}
	slices.Sort(names)
	b = append(b, '[')
	first := true
	pair := func(k, v string) {
		if !first {
			b = append(b, ',')
		}
		first = false
		b = append(b, '[')
		b = ce.AppendString(b, k)
		b = append(b, ',')
		b = ce.AppendString(b, v)
		b = append(b, ']')
	}
	if host != "" {
		pair("Host", host)
	}
	for _, k := range names {
		for _, v := range h[k] {
			pair(k, v)
		}
	}
	return append(b, ']')
}

func appendAnswer(b []byte, e *entry) []byte {
	b = append(b, `,"answer":{"status":`...)
	b = strconv.AppendInt(b, int64(e.status), 10)
	if e.answer == nil && e.method == listen.MethodReceive {
		b = member(b, "text", brokerAnswer(e.outcome))
		b = member(b, "body", e.reason)
		return append(b, '}')
	}
	b = member(b, "text", http.StatusText(e.status))
	b = append(b, `,"headers":`...)
	b = appendHeaders(b, e.answer, "")
	switch {
	case e.outcome == listen.Accepted && e.reply != nil:
		if msg, err := binding.Encode(e.replyM, e.reply); err == nil {
			b = member(b, "body", string(msg.Body))
		}
	case e.outcome == listen.Refused:
		b = member(b, "body", "refused on purpose ("+e.reason+")\n")
	case e.outcome != listen.Accepted:
		b = member(b, "body", e.reason+"\n")
	}
	return append(b, '}')
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

// maxHex is how much binary data is shown as hex; base64 always has all of it.
const maxHex = 64 << 10

// appendData appends the event's data as the detail view shows it: JSON pretty-printed, text
// as it is, anything else as hex (of the first 64 KiB) and base64.
func (enc *encoder) appendData(b []byte, ev *event.Event) []byte {
	data := ev.DataEncoded
	if data == nil {
		return b
	}
	b = append(b, `,"data":{"size":`...)
	b = strconv.AppendInt(b, int64(len(data)), 10)
	ct := ev.DataContentType()
	if !ce.IsBase64(ev) && ce.IsJSONContentType(ct) {
		enc.pretty.Reset()
		if json.Indent(&enc.pretty, data, "", "  ") == nil {
			b = append(b, `,"kind":"json","text":`...)
			b = ce.AppendString(b, bytesString(enc.pretty.Bytes()))
			return append(b, '}')
		}
	}
	// Text is what reads as text: data_base64 without a content type is bytes, and control
	// characters other than tab and line ends would not show.
	if printable(data) && (!ce.IsBase64(ev) || ct != "" && ce.IsTextContentType(ct)) {
		b = append(b, `,"kind":"text","text":`...)
		b = ce.AppendString(b, bytesString(data))
		return append(b, '}')
	}
	b = append(b, `,"kind":"binary","base64":"`...)
	b = base64.StdEncoding.AppendEncode(b, data)
	b = append(b, '"')
	shown := data
	if len(shown) > maxHex {
		shown = shown[:maxHex]
		b = append(b, `,"truncated":true`...)
	}
	b = append(b, `,"hex":`...)
	b = ce.AppendString(b, hex.Dump(shown))
	return append(b, '}')
}

func printable(b []byte) bool {
	for _, c := range b {
		if c < 0x20 && c != '\t' && c != '\n' && c != '\r' || c == 0x7f {
			return false
		}
	}
	return utf8.Valid(b)
}

// maySecret says whether the header name k may be one of the credential fields that
// format.HideCredentials hides (Authorization, Proxy-Authorization, Cookie, Set-Cookie,
// X-Api-Key): a quick look, so that the others need no more.
func maySecret(k string) bool {
	if len(k) == 0 {
		return false
	}
	if k[0] == ' ' || k[0] == '\t' || k[len(k)-1] == ' ' || k[len(k)-1] == '\t' {
		return true
	}
	switch c := k[0] | 0x20; len(k) {
	case 13:
		return c == 'a'
	case 19:
		return c == 'p'
	case 6:
		return c == 'c'
	case 10:
		return c == 's'
	case 9:
		return c == 'x'
	}
	return false
}

// plain are the bytes a JSON string holds as they are: printable ASCII but the quote and
// the backslash.
var plain = func() (t [256]bool) {
	for c := 0x20; c < 0x7f; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// appendString is ce.AppendString with a quicker path for ASCII, which most of an entry is:
// from the first byte that is neither printable ASCII, a quote nor a backslash, the rest is
// left to ce.AppendString.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if plain[c] {
			continue
		}
		b = append(b, s[start:i]...)
		if c == '"' || c == '\\' {
			b = append(b, '\\', c)
			start = i + 1
			continue
		}
		n := len(b)
		b = ce.AppendString(b, s[i:]) // "rest": its opening quote goes
		copy(b[n:], b[n+1:])
		return b[:len(b)-1]
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
