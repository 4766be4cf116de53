package binding

import (
	"unicode/utf8"

	"github.com/cectl/cectl/internal/ce"
	"github.com/cectl/cectl/internal/validate"
	"github.com/cloudevents/sdk-go/v2/event"
)

// Check is the check a receiver applies to what arrives (Decoder), applied to an event about
// to be sent: what it finds as errors, listen refuses in every content mode, and an event
// without errors is one listen takes in every mode Encode carries it in. Errors come back
// first, warnings (SHOULD violations) second. Pointers are JSON pointers into the event
// ("/time", "/myext").
func Check(e *event.Event) (errs, warnings []validate.Finding) {
	return NewDecoder(validate.Options{}).Check(e)
}

// Check is the package's Check with the Decoder's validator and buffers.
func (d *Decoder) Check(e *event.Event) (errs, warnings []validate.Finding) {
	// A value that is not UTF-8 cannot be written in the JSON format as it is: the encoder
	// writes U+FFFD for it (RFC 8259 §8.1), and binary mode refuses it after percent-decoding
	// (http binding §3.1.3.2). Either way what arrives is not what was meant.
	for _, a := range ce.Attributes(e) {
		if !utf8.ValidString(a.Value) {
			errs = append(errs, validate.Finding{
				Rule: validate.RuleUTF8, Level: validate.Error, Pointer: "/" + escapePointer(a.Name),
				Message: "the value of " + a.Name + " is not valid UTF-8",
			})
		}
	}
	// Data declared JSON must be JSON in every mode (data.go); the JSON format below would
	// carry anything else as a string and pass.
	if e.DataEncoded != nil {
		if f, ok := d.checkJSONData(e.DataContentType(), e.DataEncoded, "/data"); !ok {
			errs = append(errs, f)
		}
	}
	d.doc = ce.AppendJSON(d.doc[:0], e)
	for _, f := range d.v.Event(d.doc) {
		if f.Level == validate.Error {
			errs = append(errs, f)
		} else {
			warnings = append(warnings, f)
		}
	}
	return errs, warnings
}

// escapePointer escapes a member name for a JSON pointer (RFC 6901 §3).
func escapePointer(name string) string {
	out := make([]byte, 0, len(name))
	for i := 0; i < len(name); i++ {
		switch name[i] {
		case '~':
			out = append(out, '~', '0')
		case '/':
			out = append(out, '~', '1')
		default:
			out = append(out, name[i])
		}
	}
	return string(out)
}
