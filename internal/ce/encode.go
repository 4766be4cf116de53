package ce

import (
	"encoding/base64"
	"sort"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/cloudevents/sdk-go/v2/event"
)

// Marshal encodes the event in the JSON event format on one line.
func Marshal(e *event.Event) []byte { return AppendJSON(nil, e) }

// AppendJSON appends the event in the JSON event format to dst, on one line, attributes in the
// order of Attributes and data last. Extensions keep their JSON type (string, boolean,
// integer). Data is written as JSON when the content type is JSON and the data parses as JSON,
// as data_base64 (0.3: base64 data) when it is flagged so or is not UTF-8, otherwise as a
// string (v1.0.2 json-format §3.1).
func AppendJSON(dst []byte, e *event.Event) []byte {
	f, ok := fieldsOf(e)
	if !ok {
		return append(dst, "{}"...)
	}
	// Written field by field rather than through Attributes, which allocates: this is the hot
	// path of listen -o json and --record.
	member := func(dst []byte, name string) []byte {
		dst = append(dst, ',', '"')
		dst = append(dst, name...)
		return append(dst, '"', ':')
	}
	if f.v1 != nil {
		dst = append(dst, `{"specversion":"1.0"`...)
	} else {
		dst = append(dst, `{"specversion":"0.3"`...)
	}
	dst = AppendString(member(dst, "id"), *f.id)
	dst = appendURI(member(dst, "source"), &f.source.URL)
	dst = AppendString(member(dst, "type"), *f.typ)
	if *f.subject != nil {
		dst = AppendString(member(dst, "subject"), **f.subject)
	}
	if *f.time != nil {
		dst = append(member(dst, "time"), '"')
		dst = append((*f.time).Time.AppendFormat(dst, time.RFC3339Nano), '"')
	}
	if *f.dct != nil {
		dst = AppendString(member(dst, "datacontenttype"), **f.dct)
	}
	if f.v1 != nil && f.v1.DataSchema != nil {
		dst = appendURI(member(dst, "dataschema"), &f.v1.DataSchema.URL)
	}
	if f.v03 != nil && f.v03.SchemaURL != nil {
		dst = AppendString(member(dst, "schemaurl"), f.v03.SchemaURL.String())
	}
	if f.v03 != nil && f.v03.DataContentEncoding != nil {
		dst = AppendString(member(dst, "datacontentencoding"), *f.v03.DataContentEncoding)
	}
	if ext := *f.extensions; len(ext) > 0 {
		var buf [16]string
		names := buf[:0]
		for name := range ext {
			names = append(names, name)
		}
		sort.Strings(names)
		for _, name := range names {
			dst = append(AppendString(append(dst, ','), name), ':')
			switch v := ext[name].(type) {
			case bool:
				dst = strconv.AppendBool(dst, v)
			case int32:
				dst = strconv.AppendInt(dst, int64(v), 10)
			case string:
				dst = AppendString(dst, v)
			default:
				dst = AppendString(dst, FormatValue(v))
			}
		}
	}
	return append(appendData(dst, e), '}')
}

func appendData(dst []byte, e *event.Event) []byte {
	data := e.DataEncoded
	if data == nil {
		return dst
	}
	v03 := e.SpecVersion() == V03
	b64 := IsBase64(e)
	if !b64 && IsJSONContentType(e.DataContentType()) && len(data) > 0 {
		start := len(dst)
		dst = append(dst, `,"data":`...)
		if out, ok := compactJSON(dst, data); ok {
			return out
		}
		dst = dst[:start]
	}
	if !b64 && utf8.Valid(data) {
		dst = append(dst, `,"data":`...)
		return AppendString(dst, string(data))
	}
	if v03 {
		// 0.3 carries base64 data in "data" and says so in datacontentencoding, which
		// Attributes wrote already when it was set.
		dst = append(dst, `,"data":"`...)
	} else {
		dst = append(dst, `,"data_base64":"`...)
	}
	dst = base64.StdEncoding.AppendEncode(dst, data)
	return append(dst, '"')
}

func extensions(e *event.Event) map[string]any {
	if f, ok := fieldsOf(e); ok {
		return *f.extensions
	}
	return nil
}

const hexDigits = "0123456789abcdef"

// AppendString appends s as a JSON string (RFC 8259 §7). It is the one JSON string encoder of
// the project: events, the documents the validator reads and every JSON line cectl prints go
// through it. Besides what JSON requires (the quote, the backslash, U+0000–U+001F), it escapes
// what is valid JSON but harmful where the line ends up:
//   - DEL (U+007F) and the C1 controls (U+0080–U+009F), which terminals act on (U+009B is a
//     one-byte CSI) — a line of `-o json` is printed to a terminal as often as it is piped;
//   - U+2028 and U+2029, which end a line for JavaScript before ES2019 and for some JSON-lines
//     readers, so that a pasted line stays one line;
//   - the bidirectional marks, embeddings, overrides and isolates (U+200E, U+200F,
//     U+202A–U+202E, U+2066–U+2069), which make a terminal line read differently from its bytes.
//
// Invalid UTF-8 becomes U+FFFD, so that the output is always valid JSON.
func AppendString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		b := s[i]
		if b < utf8.RuneSelf {
			if b >= 0x20 && b != '"' && b != '\\' && b != 0x7f {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch b {
			case '"', '\\':
				dst = append(dst, '\\', b)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[b>>4], hexDigits[b&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
		case r <= 0x9f: // C1 controls
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '0', '0', hexDigits[r>>4], hexDigits[r&0xf])
		case r == '\u2028' || r == '\u2029',
			r >= '\u202a' && r <= '\u202e', r >= '\u2066' && r <= '\u2069', r == '\u200e' || r == '\u200f':
			// Line separators, and bidirectional controls that make a terminal line read
			// differently from its bytes (Unicode UAX #9, Trojan Source): escaped as JSON
			// allows (RFC 8259 §7), so the output is safe to show.
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', hexDigits[(r>>4)&0xf], hexDigits[r&0xf])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}
