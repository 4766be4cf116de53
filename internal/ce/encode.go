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
	dst = appendString(member(dst, "id"), *f.id)
	dst = appendString(member(dst, "source"), f.source.String())
	dst = appendString(member(dst, "type"), *f.typ)
	if *f.subject != nil {
		dst = appendString(member(dst, "subject"), **f.subject)
	}
	if *f.time != nil {
		dst = append(member(dst, "time"), '"')
		dst = append((*f.time).Time.AppendFormat(dst, time.RFC3339Nano), '"')
	}
	if *f.dct != nil {
		dst = appendString(member(dst, "datacontenttype"), **f.dct)
	}
	if f.v1 != nil && f.v1.DataSchema != nil {
		dst = appendString(member(dst, "dataschema"), f.v1.DataSchema.String())
	}
	if f.v03 != nil && f.v03.SchemaURL != nil {
		dst = appendString(member(dst, "schemaurl"), f.v03.SchemaURL.String())
	}
	if f.v03 != nil && f.v03.DataContentEncoding != nil {
		dst = appendString(member(dst, "datacontentencoding"), *f.v03.DataContentEncoding)
	}
	if ext := *f.extensions; len(ext) > 0 {
		var buf [16]string
		names := buf[:0]
		for name := range ext {
			names = append(names, name)
		}
		sort.Strings(names)
		for _, name := range names {
			dst = append(appendString(append(dst, ','), name), ':')
			switch v := ext[name].(type) {
			case bool:
				dst = strconv.AppendBool(dst, v)
			case int32:
				dst = strconv.AppendInt(dst, int64(v), 10)
			case string:
				dst = appendString(dst, v)
			default:
				dst = appendString(dst, FormatValue(v))
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
		return appendString(dst, string(data))
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

// appendString appends s as a JSON string. Invalid UTF-8 becomes U+FFFD; U+2028 and U+2029 are
// escaped so the line stays one line for every JSON-lines reader.
func appendString(dst []byte, s string) []byte {
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
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\u202`...)
			dst = append(dst, hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}
