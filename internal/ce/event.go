// Package ce converts between CloudEvents in the JSON event format and sdk-go's event.Event.
//
// sdk-go's own JSON codec is not used: it rejects legal input (a space after the colon of
// "data_base64", lower-case "t"/"z" in times), writes +json data as a string, and fails on
// zero-length data. This package decodes what the JSON format allows and encodes events the
// way the format describes them (v1.0.2 json-format §3, v0.3 json-format §3). A Decoder keeps
// what the events of one stream share (their source) for the hot paths that hold one; the
// package has no global state. AppendString is the project's one JSON string encoder.
package ce

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/cloudevents/sdk-go/v2/types"
)

// Spec versions this package knows.
const (
	V1  = "1.0"
	V03 = "0.3"
)

// NewEvent returns an empty event of the given spec version ("1.0" or "0.3").
func NewEvent(specversion string) (event.Event, error) {
	switch specversion {
	case V1:
		return event.Event{Context: &event.EventContextV1{}}, nil
	case V03:
		return event.Event{Context: &event.EventContextV03{}}, nil
	}
	return event.Event{}, fmt.Errorf("unsupported specversion %q (want %q or %q)", specversion, V1, V03)
}

// fields points at the attributes both spec versions share, so that code handling them is
// written once; the version-specific ones (dataschema; schemaurl, datacontentencoding) are
// handled by name.
type fields struct {
	id, typ      *string
	source       *types.URIRef
	subject, dct **string
	time         **types.Timestamp
	extensions   *map[string]any
	v1           *event.EventContextV1
	v03          *event.EventContextV03
}

func fieldsOf(e *event.Event) (fields, bool) {
	switch ec := e.Context.(type) {
	case *event.EventContextV1:
		return fields{&ec.ID, &ec.Type, &ec.Source, &ec.Subject, &ec.DataContentType, &ec.Time, &ec.Extensions, ec, nil}, true
	case *event.EventContextV03:
		return fields{&ec.ID, &ec.Type, &ec.Source, &ec.Subject, &ec.DataContentType, &ec.Time, &ec.Extensions, nil, ec}, true
	}
	return fields{}, false
}

// SetAttribute sets one context attribute or extension from its string form, the form every
// attribute has in HTTP headers (http binding §3.1.3). Unlike sdk-go's setters it does not trim
// or lower-case anything: what the sender wrote is what the event holds. A documented Integer
// or Boolean extension given in the canonical string form of its type takes that type
// (TypedValue).
func SetAttribute(e *event.Event, name, value string) error {
	var d Decoder
	return d.SetAttribute(e, name, value)
}

// Decoder decodes events and keeps what the events of one stream tend to share: the last
// source parsed (the events a listener or a validator reads mostly share their source, and
// parsing it again for each was a tenth of listen's CPU). The zero value is ready to use. A
// Decoder is not safe for concurrent use; give each goroutine its own.
type Decoder struct {
	lastRaw string
	lastURL url.URL
	hasLast bool
}

// SetAttribute is the package's SetAttribute with the Decoder's cache.
func (d *Decoder) SetAttribute(e *event.Event, name, value string) error {
	f, ok := fieldsOf(e)
	if !ok {
		return errors.New("event has no context")
	}
	switch {
	case name == "specversion":
	case name == "id":
		*f.id = value
	case name == "type":
		*f.typ = value
	// The pointer attributes take a copy, so that value itself does not escape: every
	// attribute of every decoded event passes through here.
	case name == "subject":
		v := value
		*f.subject = &v
	case name == "datacontenttype":
		v := value
		*f.dct = &v
	case name == "source":
		u, err := d.parseSource(value)
		if err != nil {
			return fmt.Errorf("source %q is not a URI-reference", value)
		}
		*f.source = types.URIRef{URL: u}
	case name == "time":
		t, err := ParseTime(value)
		if err != nil {
			return err
		}
		*f.time = &types.Timestamp{Time: t}
	case name == "dataschema" && f.v1 != nil:
		u, err := url.Parse(value)
		if err != nil {
			return fmt.Errorf("dataschema %q is not a URI", value)
		}
		f.v1.DataSchema = &types.URI{URL: *u}
	case name == "schemaurl" && f.v03 != nil:
		u, err := url.Parse(value)
		if err != nil {
			return fmt.Errorf("schemaurl %q is not a URI-reference", value)
		}
		f.v03.SchemaURL = &types.URIRef{URL: *u}
	case name == "datacontentencoding" && f.v03 != nil:
		v := value
		f.v03.DataContentEncoding = &v
	default:
		return setExtension(f.extensions, name, TypedValue(name, value))
	}
	return nil
}

// parseSource parses a source URI-reference, or returns a copy of the last one parsed when
// it is the same text.
func (d *Decoder) parseSource(value string) (url.URL, error) {
	if d.hasLast && d.lastRaw == value {
		return d.lastURL, nil
	}
	u, err := url.Parse(value)
	if err != nil {
		return url.URL{}, err
	}
	d.lastRaw, d.lastURL, d.hasLast = value, *u, true
	return *u, nil
}

// TypedValue is the one typing rule for attribute values that arrive as strings (every
// binary-mode header and property, spec v1.0.2 §3.1.1 "canonical string"): the documented
// Integer extensions (sampledrate, severitynumber) whose text is a canonical integer in the
// signed 32-bit range become int32, the documented Boolean extension (deprecated) whose text
// is "true" or "false" becomes bool, and everything else stays the string it is. A value of
// the wrong form stays a string, which the validator then reports as the wrong type.
func TypedValue(name, value string) any {
	switch DocumentedType(name) {
	case Integer:
		if IsCanonicalInteger(value) {
			if n, err := strconv.ParseInt(value, 10, 32); err == nil {
				return int32(n)
			}
		}
	case Boolean:
		switch value {
		case "true":
			return true
		case "false":
			return false
		}
	}
	return value
}

// Type is a CloudEvents attribute type that the JSON format writes as other than a string
// (spec v1.0.2 Type System).
type Type uint8

// The types an attribute value can have in the JSON format besides String.
const (
	String Type = iota
	Boolean
	Integer
)

// DocumentedType is the type of a documented extension whose values are not strings in the
// JSON format (sampling: sampledrate; severity: severitynumber; deprecation: deprecated), and
// String for any other name.
func DocumentedType(name string) Type {
	switch name {
	case "sampledrate", "severitynumber":
		return Integer
	case "deprecated":
		return Boolean
	}
	return String
}

// IsCanonicalInteger reports whether s is an integer in canonical form: an optional minus and
// decimal digits without leading zeros (spec v1.0.2 §3.1.1 Integer).
func IsCanonicalInteger(s string) bool {
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

// SetExtension sets an extension to a string, bool or int32 value (spec v1.0.2 §3.1.1 type
// system as used by the JSON format), keeping the name exactly as given. A string value goes
// through TypedValue, as every string form of an attribute does.
func SetExtension(e *event.Event, name string, value any) error {
	switch v := value.(type) {
	case string:
		value = TypedValue(name, v)
	case bool, int32:
	case int:
		if v < math.MinInt32 || v > math.MaxInt32 {
			return fmt.Errorf("extension %q: integer %d is outside the signed 32-bit range", name, v)
		}
		value = int32(v)
	default:
		return fmt.Errorf("extension %q: unsupported value type %T", name, value)
	}
	f, ok := fieldsOf(e)
	if !ok {
		return errors.New("event has no context")
	}
	return setExtension(f.extensions, name, value)
}

func setExtension(m *map[string]any, name string, value any) error {
	switch name {
	case "data", "data_base64", "":
		// The data members of the JSON format are no attributes (json-format §3.1); an
		// extension of that name could not be written in the format, nor as a binary-mode
		// header, where the data travels in the body (http binding §3.1.2).
		return fmt.Errorf("%q cannot be an extension name: it is not an attribute", name)
	}
	if *m == nil {
		*m = make(map[string]any)
	}
	(*m)[name] = value
	return nil
}

// DeleteAttribute removes an optional attribute or an extension.
func DeleteAttribute(e *event.Event, name string) {
	f, ok := fieldsOf(e)
	if !ok {
		return
	}
	switch {
	case name == "subject":
		*f.subject = nil
	case name == "time":
		*f.time = nil
	case name == "datacontenttype":
		*f.dct = nil
	case name == "dataschema" && f.v1 != nil:
		f.v1.DataSchema = nil
	case name == "schemaurl" && f.v03 != nil:
		f.v03.SchemaURL = nil
	case name == "datacontentencoding" && f.v03 != nil:
		f.v03.DataContentEncoding = nil
	default:
		delete(*f.extensions, name)
	}
}

// ParseTime parses an RFC 3339 timestamp (spec v1.0.2 §3.1.1 "Timestamp"), including the
// lower-case "t" and "z" that RFC 3339 §5.6 allows and time.Parse does not.
func ParseTime(s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, strings.ToUpper(s))
	if err != nil {
		return time.Time{}, fmt.Errorf("time %q is not an RFC 3339 timestamp", s)
	}
	return t, nil
}

// FormatTime formats a timestamp in RFC 3339, keeping the offset it was given with.
func FormatTime(t time.Time) string { return t.Format(time.RFC3339Nano) }

// Attribute is one context attribute or extension in its canonical string form.
type Attribute struct {
	Name  string
	Value string
	// Extension is true for extension attributes.
	Extension bool
}

// Attributes lists the event's attributes except data: the required ones first in spec order,
// then the optional ones, then extensions sorted by name. The order is fixed so that output is
// deterministic.
func Attributes(e *event.Event) []Attribute {
	f, ok := fieldsOf(e)
	if !ok {
		return nil
	}
	attrs := make([]Attribute, 0, 10)
	add := func(name, value string) { attrs = append(attrs, Attribute{Name: name, Value: value}) }
	if f.v1 != nil {
		add("specversion", V1)
	} else {
		add("specversion", V03)
	}
	add("id", *f.id)
	add("source", f.source.String())
	add("type", *f.typ)
	if *f.subject != nil {
		add("subject", **f.subject)
	}
	if *f.time != nil {
		add("time", FormatTime((*f.time).Time))
	}
	if *f.dct != nil {
		add("datacontenttype", **f.dct)
	}
	if f.v1 != nil && f.v1.DataSchema != nil {
		add("dataschema", f.v1.DataSchema.String())
	}
	if f.v03 != nil && f.v03.SchemaURL != nil {
		add("schemaurl", f.v03.SchemaURL.String())
	}
	if f.v03 != nil && f.v03.DataContentEncoding != nil {
		add("datacontentencoding", *f.v03.DataContentEncoding)
	}
	ext := *f.extensions
	names := make([]string, 0, len(ext))
	for name := range ext {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		attrs = append(attrs, Attribute{Name: name, Value: FormatValue(ext[name]), Extension: true})
	}
	return attrs
}

// FormatValue renders an attribute value in its canonical string form (spec v1.0.2 §3.1.1).
func FormatValue(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case time.Time:
		return FormatTime(v)
	case types.Timestamp:
		return FormatTime(v.Time)
	case *types.Timestamp:
		return FormatTime(v.Time)
	}
	s, err := types.Format(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return s
}

// IsBase64 reports whether the event's data is carried base64-encoded in the JSON format:
// data_base64 in 1.0, datacontentencoding "base64" in 0.3.
func IsBase64(e *event.Event) bool {
	if ec, ok := e.Context.(*event.EventContextV03); ok && ec.DataContentEncoding != nil {
		return strings.EqualFold(*ec.DataContentEncoding, "base64")
	}
	return e.DataBase64
}

// IsJSONContentType reports whether a media type is JSON: application/json, text/json or any
// "+json" structured syntax suffix, ignoring parameters and case. An empty content type counts
// as JSON, as the JSON format says (v1.0.2 json-format §3.1).
func IsJSONContentType(ct string) bool {
	mt := MediaType(ct)
	if mt == "" {
		return true
	}
	return mt == "application/json" || mt == "text/json" || strings.HasSuffix(mt, "+json")
}

// MediaType returns the lower-case type/subtype of a content type, without parameters.
func MediaType(ct string) string {
	if i := strings.IndexByte(ct, ';'); i >= 0 {
		ct = ct[:i]
	}
	return strings.ToLower(strings.TrimSpace(ct))
}

// IsTextContentType reports whether data of this content type is readable text.
func IsTextContentType(ct string) bool {
	mt := MediaType(ct)
	switch {
	case strings.HasPrefix(mt, "text/"), IsJSONContentType(mt),
		strings.HasSuffix(mt, "+xml"), mt == "application/xml",
		mt == "application/x-www-form-urlencoded", mt == "application/yaml",
		mt == "application/x-yaml", mt == "application/javascript":
		return true
	}
	return false
}

// DecodeBase64 decodes standard base64, the encoding data_base64 uses (RFC 4648 §4).
func DecodeBase64(s string) ([]byte, error) {
	return base64.StdEncoding.DecodeString(s)
}

// compactJSON returns data without insignificant white space, so an event prints on one line.
func compactJSON(dst, data []byte) ([]byte, bool) {
	start := len(dst)
	buf := bytes.NewBuffer(dst)
	if err := json.Compact(buf, data); err != nil {
		return dst[:start], false
	}
	return buf.Bytes(), true
}
