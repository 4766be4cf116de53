package binding

import (
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/cectl/cectl/internal/ce"
	"github.com/cloudevents/sdk-go/v2/event"
)

// Attr is one attribute of a binary-mode message as it travelled: its name and its value in
// canonical string form (spec v1.0.2 §3.1.1). Type is String for the string forms of HTTP
// headers, Kafka headers, MQTT user properties and NATS headers; AMQP application properties
// may carry native Boolean and Integer values (amqp binding §3.1.3.2), which NativeAttr
// records in Type.
type Attr struct {
	Name  string
	Value string
	Type  ce.Type
}

// NativeAttr is the Attr of a value a transport carries with its own type: strings as they
// are, booleans and integers in canonical form with their type, timestamps and binary in
// their canonical string form (spec v1.0.2 §3.1.1; amqp binding §3.1.3.2).
func NativeAttr(name string, v any) (Attr, error) {
	a := Attr{Name: name}
	switch v := v.(type) {
	case string:
		a.Value = v
	case bool:
		a.Value, a.Type = strconv.FormatBool(v), ce.Boolean
	case int8, int16, int32, int64, uint8, uint16, uint32, uint64, int, uint:
		a.Value, a.Type = fmt.Sprint(v), ce.Integer
	case []byte:
		a.Value = ce.FormatValue(v)
	case time.Time:
		a.Value = ce.FormatTime(v)
	default:
		return a, fmt.Errorf("attribute %s: unsupported value type %T", name, v)
	}
	return a, nil
}

// typeOf is the one typing rule of binary mode, whatever the transport: a context attribute
// is a string, however it travelled (its type is String or a type with a string form, spec
// v1.0.2 §3.1.1); an extension keeps a native Boolean or Integer type; a string extension is
// typed by ce.TypedValue (the documented Integer and Boolean extensions).
func typeOf(specversion string, a *Attr) ce.Type {
	if ce.IsContextAttribute(specversion, a.Name) {
		return ce.String
	}
	if a.Type != ce.String {
		return a.Type
	}
	switch ce.TypedValue(a.Name, a.Value).(type) {
	case int32:
		return ce.Integer
	case bool:
		return ce.Boolean
	}
	return ce.String
}

// appendDocument appends binary-mode attributes, and the content type as datacontenttype, to
// dst as a JSON event without data, each value with the JSON type the typing rule gives it:
// the document the strict validator checks, so that its rules and messages are those of the
// structured mode. An Integer too large for 32 bits is written as it is, for the validator to
// report.
func appendDocument(dst []byte, specversion string, attrs []Attr, contentType string) []byte {
	dst = append(dst, '{')
	for i := range attrs {
		a := &attrs[i]
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = ce.AppendString(dst, a.Name)
		dst = append(dst, ':')
		switch typeOf(specversion, a) {
		case ce.Integer, ce.Boolean:
			dst = append(dst, a.Value...)
		default:
			dst = ce.AppendString(dst, a.Value)
		}
	}
	if contentType != "" {
		if len(attrs) > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, `"datacontenttype":`...)
		dst = ce.AppendString(dst, contentType)
	}
	return append(dst, '}')
}

// buildEvent builds the event of binary-mode attributes that the validator passed, with the
// same typing rule as appendDocument.
func buildEvent(dec *ce.Decoder, specversion string, attrs []Attr, contentType string, data []byte) (event.Event, error) {
	e, err := ce.NewEvent(specversion)
	if err != nil {
		return e, err
	}
	for i := range attrs {
		a := &attrs[i]
		switch typeOf(specversion, a) {
		case ce.Integer:
			n, err := strconv.ParseInt(a.Value, 10, 32)
			if err != nil {
				return e, fmt.Errorf("%s: %w", a.Name, err)
			}
			err = ce.SetExtension(&e, a.Name, int32(n))
			if err != nil {
				return e, err
			}
		case ce.Boolean:
			if err := ce.SetExtension(&e, a.Name, a.Value == "true"); err != nil {
				return e, err
			}
		default:
			if err := dec.SetAttribute(&e, a.Name, a.Value); err != nil {
				return e, err
			}
		}
	}
	if contentType != "" {
		if err := dec.SetAttribute(&e, "datacontenttype", contentType); err != nil {
			return e, err
		}
	}
	if len(data) > 0 {
		e.DataEncoded = data
	}
	return e, nil
}

// specVersionOf returns the value of the specversion attribute, "" when there is none.
func specVersionOf(attrs []Attr) string {
	for i := range attrs {
		if attrs[i].Name == "specversion" {
			return attrs[i].Value
		}
	}
	return ""
}

// sortAttrs puts attributes in name order, so that the problems of a message are always
// listed alike.
func sortAttrs(attrs []Attr) {
	if len(attrs) > 16 {
		slices.SortStableFunc(attrs, func(a, b Attr) int { return strings.Compare(a.Name, b.Name) })
		return
	}
	// A message carries a handful of attributes: an insertion sort, without the calls
	// through a comparison function, is what every message pays.
	for i := 1; i < len(attrs); i++ {
		for j := i; j > 0 && attrs[j].Name < attrs[j-1].Name; j-- {
			attrs[j], attrs[j-1] = attrs[j-1], attrs[j]
		}
	}
}

// AppendEventAttrs appends an event's attributes to dst as a binary-mode message would carry
// them, with the Boolean and Integer extensions typed, for a Delivery that holds a decoded
// event rather than the attributes it came with.
func AppendEventAttrs(dst []Attr, e *event.Event) []Attr {
	in := ce.Attributes(e)
	ext := e.Extensions()
	out := dst
	for _, a := range in {
		at := Attr{Name: a.Name, Value: a.Value}
		if a.Extension {
			if v, ok := ext[a.Name]; ok {
				switch v.(type) {
				case bool:
					at.Type = ce.Boolean
				case int32:
					at.Type = ce.Integer
				}
			}
		}
		out = append(out, at)
	}
	return out
}

// headerName maps the JSON pointer of an attribute of a binary-mode event back to the header
// or property that carried it: "ce-<name>", and Content-Type for datacontenttype.
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

// IsCEHeader reports whether the header name k is a ce- header (http binding §3.1.3.1), in
// any case.
func IsCEHeader(k string) bool {
	return len(k) >= 3 && k[0]|0x20 == 'c' && k[1]|0x20 == 'e' && k[2] == '-'
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

// headerAttrs appends the attributes of a binary-mode HTTP message to attrs: every ce- header,
// its name lower-cased (header names are case-insensitive, http binding §3.1.3.1) and its
// value decoded by HeaderValue (§3.1.3.2). A ce-datacontenttype header (Content-Type carries
// it, §3.1.1) and ce-data or ce-data_base64 (the data is the body, §3.1.2) are problems.
func headerAttrs(attrs []Attr, header http.Header) ([]Attr, *Problem) {
	for k, vs := range header {
		if !IsCEHeader(k) {
			continue
		}
		name := attributeName(k[3:])
		switch name {
		case "datacontenttype":
			return attrs, binaryProblem("header "+k+" must not be sent: Content-Type carries datacontenttype in binary mode (http binding §3.1.1)", "")
		case "data", "data_base64":
			return attrs, binaryProblem("header "+k+": the data travels in the body in binary mode (http binding §3.1.2)", "")
		}
		value, err := HeaderValue(vs)
		if err != nil {
			return attrs, binaryProblem("header "+k+": "+err.Error(), ruleOf(err))
		}
		attrs = append(attrs, Attr{Name: name, Value: value})
	}
	return attrs, nil
}
