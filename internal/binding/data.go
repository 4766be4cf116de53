package binding

import (
	"fmt"

	"github.com/cectl/cectl/internal/ce"
	"github.com/cectl/cectl/internal/validate"
	"github.com/cloudevents/sdk-go/v2/event"
)

// One rule for data whatever the mode carries it: bytes whose datacontenttype declares JSON
// (application/json, */*+json: json-format v1.0.2 §3.1) must be JSON — well-formed, UTF-8,
// nested no deeper than the validator allows — as they must be in a structured event's
// "data" member. A binary-mode body, a data_base64 (or 0.3 base64 data) under a JSON content
// type, and an event about to be sent (Check) are held to it alike. Otherwise what is
// recorded could not be replayed as it came: the JSON format would carry such bytes as a
// string, and a replay would send that string, not the bytes.

// declaresJSON reports whether a content type is given and is JSON. An absent content type
// declares nothing: such data is kept as the bytes it is (see keepUndeclared).
func declaresJSON(ct string) bool {
	return ct != "" && ce.IsJSONContentType(ct)
}

// checkJSONData checks data declared JSON by ct and returns the first error found: where
// (what the sender knows the data as, then the pointer inside it), the message and the rule
// broken; ok when the data is JSON or not declared JSON.
func (d *Decoder) checkJSONData(ct string, data []byte, where string) (f validate.Finding, ok bool) {
	if data == nil || !declaresJSON(ct) {
		return f, true
	}
	for _, f := range d.v.Data(data) {
		if f.Level != validate.Error {
			continue
		}
		return jsonDataFinding(ct, f, where), false
	}
	return f, true
}

// jsonDataFinding is the validator's error f about data declared JSON by ct as the rule
// reports it: where the data is, then the pointer inside it.
func jsonDataFinding(ct string, f validate.Finding, where string) validate.Finding {
	f.Pointer = where + f.Pointer
	f.Message = fmt.Sprintf("content type %s declares JSON, but the data is not: %s (byte %d)", ce.MediaType(ct), f.Message, f.Offset)
	return f
}

// line is a finding as a line of a refusal.
func line(f validate.Finding) string {
	return fmt.Sprintf("%s: %s [%s]", f.Pointer, f.Message, f.Rule)
}

// keepUndeclared marks data without a content type that is not JSON as bytes, so that the
// JSON format carries it as data_base64 and a replay sends the same bytes: as "data" it
// would be taken for JSON (json-format v1.0.2 §3.1), and a string is not the bytes.
func (d *Decoder) keepUndeclared(e *event.Event) {
	if e.DataEncoded == nil || e.DataContentType() != "" || ce.IsBase64(e) || e.SpecVersion() != event.CloudEventsVersionV1 {
		return
	}
	if !validate.Valid(d.v.Data(e.DataEncoded)) {
		e.DataBase64 = true
	}
}

// checkEventData is checkJSONData for a decoded event whose data came as base64: the bytes,
// not their encoding, must be what datacontenttype says.
func (d *Decoder) checkEventData(e *event.Event, where string) (validate.Finding, bool) {
	if !ce.IsBase64(e) {
		return validate.Finding{}, true
	}
	return d.checkJSONData(e.DataContentType(), e.DataEncoded, where)
}

// base64Member names the member that carried an event's base64 data.
func base64Member(e *event.Event) string {
	if e.SpecVersion() == event.CloudEventsVersionV03 {
		return "/data"
	}
	return "/data_base64"
}

// CheckData applies the rule to an event read from the JSON format, whose "data" is JSON by
// its syntax: base64 data under a JSON content type must decode to JSON. It returns the
// problem found, ok when there is none.
func CheckData(e *event.Event) (validate.Finding, bool) {
	if !ce.IsBase64(e) || !declaresJSON(e.DataContentType()) {
		return validate.Finding{}, true
	}
	return NewDecoder(validate.Options{}).checkEventData(e, base64Member(e))
}
