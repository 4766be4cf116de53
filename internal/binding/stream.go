package binding

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"unicode/utf8"

	"github.com/cectl/cectl/internal/ce"
	"github.com/cectl/cectl/internal/validate"
	"github.com/cloudevents/sdk-go/v2/event"
)

// An event's data can be too large to hold in memory: a file of hundreds of megabytes. Such
// data is sent as it is read, in the message Encode would make for the event with that data:
// in binary mode it is the body as it is (http binding §3.1); in structured mode (§3.2) it is
// the last member of the JSON event, in the form the JSON format gives it (json-format §3.1)
// and ce.AppendJSON writes: JSON data as its JSON value without insignificant white space,
// text as a JSON string, anything else as data_base64 (0.3: base64 "data" with
// datacontentencoding). The event itself carries stand-in data of the same form, so that
// its attributes, its check and the rest of its message are what the real data would give;
// the message is then the event's with the stand-in replaced by the data.

// DataForm is the form the JSON event format gives data (json-format §3.1).
type DataForm uint8

// The forms of data in the JSON event format.
const (
	FormJSON   DataForm = iota // "data": the JSON value, white space outside strings left out
	FormString                 // "data": a JSON string
	FormBase64                 // "data_base64" (0.3: "data" with datacontentencoding base64)
)

// StreamData is an event's data sent as it is read.
type StreamData struct {
	// Open returns the data from its start; it is called for every attempt.
	Open func() (io.ReadCloser, error)
	Size int64
	Form DataForm
	// FormSize is the length of the data in its form in a JSON event, without the quotes
	// of a string.
	FormSize int64
}

// standIns are data of each form: the bytes to set as the event's data, and how the JSON
// event ends with them.
var standIns = [...]struct{ data, end, tail string }{
	FormJSON:   {"0", `0}`, `}`},
	FormString: {"x", `x"}`, `"}`},
	FormBase64: {"\xff\xff\xff", `////"}`, `"}`},
}

// StandIn is data of d's form to set as the event's data in place of d (with the content
// type d is sent with: it is the stand-in's too), so that the event is checked and encoded
// as it is with d.
func (d *StreamData) StandIn() []byte { return []byte(standIns[d.Form].data) }

// PrepareStream reads, if it must, the data open returns (size bytes) to say in which form it
// goes with datacontenttype ct: the data rule (data.go) for data declared JSON, whether text
// is UTF-8 in structured mode, and the length of the data in its form there. It holds a
// piece of the data at a time. errs holds the data rule's finding when the data breaks it,
// as Check reports it, and warnings what the validator warns of in the data (a member twice
// in an object), as Check reports them for data it holds.
func PrepareStream(mode Mode, ct string, open func() (io.ReadCloser, error), size int64) (d *StreamData, errs, warnings []validate.Finding, err error) {
	d = &StreamData{Open: open, Size: size, Form: FormBase64}
	switch {
	case declaresJSON(ct):
		d.Form = FormJSON
	case ce.IsTextContentType(ct):
		d.Form = FormString
	}
	if mode != Structured && d.Form != FormJSON {
		// The body is the data whatever it holds; its form decides only whether a 0.3 event
		// says datacontentencoding, which binary mode does not carry (0.3 http binding
		// §3.1.1).
		return d, nil, nil, nil
	}
	if d.Form == FormBase64 {
		d.FormSize = int64(base64.StdEncoding.EncodedLen(int(size)))
		return d, nil, nil, nil
	}
	r, err := open()
	if err != nil {
		return nil, nil, nil, err
	}
	defer r.Close()
	var n counter
	enc := d.Encoder(&n)
	if d.Form == FormJSON {
		fs, err := validate.New(validate.Options{}).DataReader(io.TeeReader(r, enc))
		if err != nil {
			return nil, nil, nil, err
		}
		for _, f := range fs {
			if f.Level != validate.Error {
				f.Pointer = "/data" + f.Pointer
				warnings = append(warnings, f)
			} else if len(errs) == 0 {
				errs = append(errs, jsonDataFinding(ct, f, "/data"))
			}
		}
	} else {
		var v utf8Check
		if _, err := io.Copy(enc, io.TeeReader(r, &v)); err != nil {
			return nil, nil, nil, err
		}
		if !v.valid() {
			// Text that is not UTF-8 goes as bytes (ce.AppendJSON), and so does its
			// stand-in: the check and the event see it as they see the data.
			d.Form, n = FormBase64, counter(base64.StdEncoding.EncodedLen(int(size)))
		}
	}
	if err := enc.Close(); err != nil {
		return nil, nil, nil, err
	}
	d.FormSize = int64(n)
	return d, errs, warnings, nil
}

// Encoder returns a writer that writes the data written to it to w in d's form (without
// the quotes of a string); Close writes what it holds back. In binary mode the data goes as
// it is: see StreamMessage.
func (d *StreamData) Encoder(w io.Writer) io.WriteCloser {
	switch d.Form {
	case FormJSON:
		return ce.NewCompactWriter(w)
	case FormString:
		return ce.NewStringWriter(w)
	}
	return base64.NewEncoder(base64.StdEncoding, w)
}

// StreamMessage is a message whose body is Head, then the data as Encoder writes it (as it is
// when Encoder is nil), then Tail: Size bytes in all.
type StreamMessage struct {
	Header     http.Header
	Head, Tail []byte
	Encoder    func(io.Writer) io.WriteCloser
	Size       int64
}

// EncodeStream is Encode for event e, which carries d.StandIn() as its data, with d in its
// place (binary and structured mode).
func EncodeStream(mode Mode, e *event.Event, d *StreamData) (StreamMessage, error) {
	if mode != Binary && mode != Structured {
		return StreamMessage{}, fmt.Errorf("%s mode carries no streamed data", mode)
	}
	msg, err := Encode(mode, e)
	if err != nil {
		return StreamMessage{}, err
	}
	if mode == Binary {
		return StreamMessage{Header: msg.Header, Size: d.Size}, nil
	}
	s := standIns[d.Form]
	if !bytes.HasSuffix(msg.Body, []byte(s.end)) {
		return StreamMessage{}, fmt.Errorf("the event does not end with stand-in data of its form: …%s", msg.Body[max(0, len(msg.Body)-20):])
	}
	head := msg.Body[:len(msg.Body)-len(s.end)]
	return StreamMessage{
		Header: msg.Header, Head: head, Tail: []byte(s.tail), Encoder: d.Encoder,
		Size: int64(len(head)) + d.FormSize + int64(len(s.tail)),
	}, nil
}

// counter counts what is written to it.
type counter int64

func (c *counter) Write(p []byte) (int, error) { *c += counter(len(p)); return len(p), nil }

// utf8Check says whether what is written to it is UTF-8, a piece at a time.
type utf8Check struct {
	held    []byte // a character cut at the end of the last write
	join    []byte // what was held, then what is written
	invalid bool
}

func (u *utf8Check) Write(p []byte) (int, error) {
	n := len(p)
	if u.invalid {
		return n, nil
	}
	if len(u.held) > 0 {
		u.join = append(append(u.join[:0], u.held...), p...)
		p = u.join
	}
	cut := ce.CharBoundary(p)
	u.invalid = !utf8.Valid(p[:cut])
	u.held = append(u.held[:0], p[cut:]...)
	return n, nil
}

func (u *utf8Check) valid() bool { return !u.invalid && utf8.Valid(u.held) }
