package binding

import (
	"bytes"
	"io"
	"reflect"
	"strings"
	"testing"

	"github.com/cectl/cectl/internal/ce"
	"github.com/cectl/cectl/internal/eventspec"
	"github.com/cectl/cectl/internal/validate"
	"github.com/cloudevents/sdk-go/v2/event"
)

func streamEvent(t *testing.T, version string) *event.Event {
	t.Helper()
	e, err := ce.NewEvent(version)
	if err != nil {
		t.Fatal(err)
	}
	e.SetID("1")
	e.SetSource("/src")
	e.SetType("com.example.upload")
	e.SetExtension("region", "eu")
	return &e
}

// streamedBody is the body of m with data, as a sender makes it.
func streamedBody(t *testing.T, m StreamMessage, data []byte) []byte {
	t.Helper()
	var b bytes.Buffer
	b.Write(m.Head)
	if m.Encoder == nil {
		b.Write(data)
	} else {
		w := m.Encoder(&b)
		for p := data; len(p) > 0; p = p[min(len(p), 3):] {
			w.Write(p[:min(len(p), 3)])
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
	}
	b.Write(m.Tail)
	return b.Bytes()
}

// The message of an event with streamed data is the one Encode makes of the event with the
// data held in memory, and the data rule finds in streamed data what Check finds in it.
func TestEncodeStreamIsEncode(t *testing.T) {
	for _, c := range []struct {
		ct, data string
		form     DataForm
	}{
		{"application/json", "{\n  \"a\": [1, \"é €\\\"\"],\n  \"b\": {}\n}\n", FormJSON},
		{"application/vnd.x+json", `[1,2,3]`, FormJSON},
		{"application/json", `{"a":1,"a":2,"b":{"c":[{"d":0,"d":1}]}}`, FormJSON},
		{"application/json", `{"a":[1,`, FormJSON},
		{"application/json", "\"caf\xe9\"", FormJSON},
		{"text/plain", "line \"1\"\n\tline 2 € \u2028 \x7f", FormString},
		{"text/csv; charset=utf-8", "a,b\n1,2\n", FormString},
		{"text/plain", "not \xff UTF-8", FormBase64},
		{"application/octet-stream", "\x00\x01\x02 whatever", FormBase64},
		{"image/png", "\x89PNG\r\n", FormBase64},
	} {
		for _, version := range []string{ce.V1, ce.V03} {
			for _, mode := range []Mode{Binary, Structured} {
				name := c.ct + " " + version + " " + mode.String() + " " + c.data
				data := []byte(c.data)
				want := streamEvent(t, version)
				if err := eventspec.SetData(want, data, c.ct); err != nil {
					t.Fatal(err)
				}
				wantMsg, err := Encode(mode, want)
				if err != nil {
					t.Fatal(err)
				}
				wantErrs, wantWarnings := Check(want)

				open := func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil }
				d, errs, warnings, err := PrepareStream(mode, c.ct, open, int64(len(data)))
				if err != nil {
					t.Fatal(err)
				}
				if mode == Structured && d.Form != c.form {
					t.Errorf("%s: form %d, want %d", name, d.Form, c.form)
				}
				e := streamEvent(t, version)
				if err := eventspec.SetData(e, d.StandIn(), c.ct); err != nil {
					t.Fatal(err)
				}
				gotErrs, gotWarnings := Check(e)
				gotErrs, gotWarnings = append(errs, gotErrs...), append(gotWarnings, warnings...)
				if !sameFindings(gotErrs, wantErrs) || !sameFindings(gotWarnings, wantWarnings) {
					t.Errorf("%s: check\n got %v %v\nwant %v %v", name, gotErrs, gotWarnings, wantErrs, wantWarnings)
				}
				if len(wantErrs) > 0 {
					continue // not sent
				}
				m, err := EncodeStream(mode, e, d)
				if err != nil {
					t.Fatal(err)
				}
				body := streamedBody(t, m, data)
				if !bytes.Equal(body, wantMsg.Body) || int64(len(body)) != m.Size || !reflect.DeepEqual(m.Header, wantMsg.Header) {
					t.Errorf("%s:\n got %v %q (size %d)\nwant %v %q", name, m.Header, body, m.Size, wantMsg.Header, wantMsg.Body)
				}
			}
		}
	}
}

// sameFindings compares what a refusal and a warning say of findings: pointer, message and
// rule (offsets are into different documents).
func sameFindings(a, b []validate.Finding) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Pointer != b[i].Pointer || a[i].Message != b[i].Message || a[i].Rule != b[i].Rule || a[i].Level != b[i].Level {
			return false
		}
	}
	return true
}

func TestEncodeStreamRefusesBatch(t *testing.T) {
	d := &StreamData{Form: FormBase64}
	e := streamEvent(t, ce.V1)
	e.DataEncoded = d.StandIn()
	if _, err := EncodeStream(Batch, e, d); err == nil || !strings.Contains(err.Error(), "batch mode") {
		t.Errorf("err = %v", err)
	}
}
