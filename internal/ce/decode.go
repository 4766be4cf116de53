package ce

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"unicode/utf8"

	"github.com/cloudevents/sdk-go/v2/event"
)

// Decode parses one event in the JSON event format (v1.0.2 json-format §3, v0.3 json-format §2).
// It is lenient where the format is silent and strict where a wrong guess would change the
// event: an unknown specversion, a wrongly typed attribute or undecodable data_base64 is an
// error naming the member. Rules that do not stop decoding (extension naming, URI syntax) are
// left to the validator.
func Decode(doc []byte) (event.Event, error) {
	var d Decoder
	return d.decode(doc, false)
}

// DecodeValidated is Decode for a document the strict validator has passed without errors:
// it does not check the JSON syntax a second time.
func DecodeValidated(doc []byte) (event.Event, error) {
	var d Decoder
	return d.decode(doc, true)
}

// Decode is the package's Decode with the Decoder's cache.
func (d *Decoder) Decode(doc []byte) (event.Event, error) { return d.decode(doc, false) }

// DecodeValidated is the package's DecodeValidated with the Decoder's cache.
func (d *Decoder) DecodeValidated(doc []byte) (event.Event, error) { return d.decode(doc, true) }

func (d *Decoder) decode(doc []byte, checked bool) (event.Event, error) {
	// One pass collects the members; specversion decides how the others read.
	var buf [16]member
	members, err := appendMembers(buf[:0], doc, checked)
	if err != nil {
		return event.Event{}, err
	}
	var svRaw json.RawMessage
	for _, m := range members {
		if m.name == "specversion" {
			svRaw = m.raw
		}
	}
	if svRaw == nil {
		return event.Event{}, errors.New("missing required attribute \"specversion\"")
	}
	sv, err := unquote(svRaw)
	if svRaw[0] != '"' || err != nil {
		return event.Event{}, fmt.Errorf("specversion must be a string, found %s", svRaw)
	}
	e, err := NewEvent(sv)
	if err != nil {
		return event.Event{}, err
	}

	var dataRaw, dataB64Raw json.RawMessage
	for _, m := range members {
		switch m.name {
		case "specversion":
			continue
		case "data":
			dataRaw = m.raw
			continue
		case "data_base64":
			if sv == V1 {
				dataB64Raw = m.raw
				continue
			}
		}
		if isNull(m.raw) {
			// null means absent (v1.0.2 json-format §2.4).
			continue
		}
		if err := d.setMember(&e, sv, m.name, m.raw); err != nil {
			return event.Event{}, err
		}
	}

	switch {
	case dataB64Raw != nil && !isNull(dataB64Raw):
		if dataRaw != nil && !isNull(dataRaw) {
			return event.Event{}, errors.New("data and data_base64 are mutually exclusive")
		}
		var s string
		if err := json.Unmarshal(dataB64Raw, &s); err != nil {
			return event.Event{}, errors.New("data_base64 must be a string")
		}
		b, err := DecodeBase64(s)
		if err != nil {
			return event.Event{}, fmt.Errorf("data_base64 is not valid base64: %w", err)
		}
		e.DataEncoded = b
		e.DataBase64 = true
	case dataRaw != nil && !isNull(dataRaw):
		if err := setData(&e, dataRaw); err != nil {
			return event.Event{}, err
		}
	}
	return e, nil
}

func (d *Decoder) setMember(e *event.Event, sv, name string, raw json.RawMessage) error {
	switch raw[0] {
	case '"':
		s, err := unquote(raw)
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		return d.SetAttribute(e, name, s)
	case 't', 'f':
		if isContextAttribute(sv, name) {
			return fmt.Errorf("%s must be a string, found %s", name, raw)
		}
		return SetExtension(e, name, raw[0] == 't')
	case '{', '[':
		return fmt.Errorf("%s must be a string, boolean or integer, found %s", name, kind(raw))
	default:
		if isContextAttribute(sv, name) {
			return fmt.Errorf("%s must be a string, found %s", name, raw)
		}
		var f float64
		if err := json.Unmarshal(raw, &f); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		if f != math.Trunc(f) || bytes.ContainsAny(raw, ".eE") || f < math.MinInt32 || f > math.MaxInt32 {
			return fmt.Errorf("extension %s must be a string, boolean or 32-bit integer, found %s", name, raw)
		}
		return SetExtension(e, name, int32(f))
	}
}

// setData stores the data member. JSON data is kept as compact JSON text; a string is stored as
// its text unless the content type is JSON, where the JSON string itself is the data (v1.0.2
// json-format §3.1). In 0.3, datacontentencoding "base64" means data is a base64 string.
func setData(e *event.Event, raw json.RawMessage) error {
	ct := e.DataContentType()
	if ec, ok := e.Context.(*event.EventContextV03); ok && ec.DataContentEncoding != nil {
		if !strings.EqualFold(*ec.DataContentEncoding, "base64") {
			return fmt.Errorf("datacontentencoding %q is not supported (only \"base64\")", *ec.DataContentEncoding)
		}
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return errors.New("data must be a base64 string when datacontentencoding is base64")
		}
		b, err := DecodeBase64(s)
		if err != nil {
			return fmt.Errorf("data is not valid base64: %w", err)
		}
		e.DataEncoded = b
		return nil
	}
	if raw[0] == '"' && !IsJSONContentType(ct) {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return fmt.Errorf("data: %w", err)
		}
		e.DataEncoded = []byte(s)
		return nil
	}
	// The document is valid JSON (appendMembers or the validator checked it), so data
	// without white space is compact already.
	if !bytes.ContainsAny(raw, " \t\r\n") {
		e.DataEncoded = append(make([]byte, 0, len(raw)), raw...)
		return nil
	}
	compact, ok := compactJSON(make([]byte, 0, len(raw)), raw)
	if !ok {
		return errors.New("data is not valid JSON")
	}
	e.DataEncoded = compact
	return nil
}

// IsContextAttribute reports whether name is a context attribute of the spec version rather
// than an extension (spec v1.0.2 §3.1, v0.3 §3.1).
func IsContextAttribute(sv, name string) bool {
	return isContextAttribute(sv, name) || name == "specversion"
}

func isContextAttribute(sv, name string) bool {
	switch name {
	case "id", "source", "type", "subject", "time", "datacontenttype":
		return true
	case "dataschema":
		return sv == V1
	case "schemaurl", "datacontentencoding":
		return sv == V03
	}
	return false
}

func isNull(raw json.RawMessage) bool { return len(raw) == 4 && string(raw) == "null" }

func kind(raw json.RawMessage) string {
	if raw[0] == '{' {
		return "an object"
	}
	return "an array"
}

// DataText returns the event's data as text when it is printable as such.
func DataText(e *event.Event) (string, bool) {
	if e.DataEncoded == nil || !utf8.Valid(e.DataEncoded) {
		return "", false
	}
	return string(e.DataEncoded), true
}

// unquote returns the text of a JSON string.
func unquote(raw json.RawMessage) (string, error) {
	if !hasEscape(raw) {
		return string(raw[1 : len(raw)-1]), nil
	}
	var s string
	err := json.Unmarshal(raw, &s)
	return s, err
}
