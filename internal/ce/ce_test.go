package ce

import (
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/cloudevents/sdk-go/v2/event"
)

func TestDecodeEncode(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string // AppendJSON of the decoded event
	}{
		{
			name: "minimal",
			in:   `{"specversion":"1.0","id":"1","source":"/s","type":"t"}`,
			want: `{"specversion":"1.0","id":"1","source":"/s","type":"t"}`,
		},
		{
			name: "attributes in canonical order, extensions sorted and typed",
			in: `{"zeta":"z","type":"t","count":5,"flag":true,"specversion":"1.0","source":"urn:x",
			      "id":" ","subject":"sub","time":"2026-11-25t10:00:00.5+01:00","datacontenttype":"text/plain",
			      "dataschema":"https://example.com/s.json","data":"hello"}`,
			want: `{"specversion":"1.0","id":" ","source":"urn:x","type":"t","subject":"sub","time":"2026-11-25T10:00:00.5+01:00","datacontenttype":"text/plain","dataschema":"https://example.com/s.json","count":5,"flag":true,"zeta":"z","data":"hello"}`,
		},
		{
			name: "json data kept as json and compacted",
			in:   "{\"specversion\":\"1.0\",\"id\":\"1\",\"source\":\"/s\",\"type\":\"t\",\"datacontenttype\":\"application/vnd.x+json\",\"data\":{\n  \"a\": [1, 2]\n}}",
			want: `{"specversion":"1.0","id":"1","source":"/s","type":"t","datacontenttype":"application/vnd.x+json","data":{"a":[1,2]}}`,
		},
		{
			name: "no content type means json",
			in:   `{"specversion":"1.0","id":"1","source":"/s","type":"t","data":"x"}`,
			want: `{"specversion":"1.0","id":"1","source":"/s","type":"t","data":"x"}`,
		},
		{
			name: "data_base64 with a space after the colon",
			in:   `{"specversion":"1.0","id":"1","source":"/s","type":"t","datacontenttype":"application/octet-stream","data_base64": "AAEC/w=="}`,
			want: `{"specversion":"1.0","id":"1","source":"/s","type":"t","datacontenttype":"application/octet-stream","data_base64":"AAEC/w=="}`,
		},
		{
			name: "null optional attributes are absent",
			in:   `{"specversion":"1.0","id":"1","source":"/s","type":"t","subject":null,"time":null,"data":null}`,
			want: `{"specversion":"1.0","id":"1","source":"/s","type":"t"}`,
		},
		{
			name: "v0.3 base64 data",
			in:   `{"specversion":"0.3","id":"1","source":"/s","type":"t","schemaurl":"/schema","datacontentencoding":"base64","data":"aGk="}`,
			want: `{"specversion":"0.3","id":"1","source":"/s","type":"t","schemaurl":"/schema","datacontentencoding":"base64","data":"aGk="}`,
		},
		{
			name: "control characters escaped, line separators too",
			in:   `{"specversion":"1.0","id":"a\u001bb\u2028","source":"/s","type":"t\"q\\"}`,
			want: `{"specversion":"1.0","id":"a\u001bb\u2028","source":"/s","type":"t\"q\\"}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := Decode([]byte(tt.in))
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if got := string(Marshal(&e)); got != tt.want {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
			// What Marshal writes decodes to the same event.
			again, err := Decode(Marshal(&e))
			if err != nil {
				t.Fatalf("Decode(Marshal): %v", err)
			}
			if got := string(Marshal(&again)); got != tt.want {
				t.Errorf("round trip changed the event:\n got %s\nwant %s", got, tt.want)
			}
		})
	}
}

func TestDecodeErrors(t *testing.T) {
	tests := []struct{ in, want string }{
		{`[]`, "must be a JSON object"},
		{`null`, "must be a JSON object"},
		{`{"id":"1"}`, `missing required attribute "specversion"`},
		{`{"specversion":1.0}`, "specversion must be a string"},
		{`{"specversion":"2.0"}`, `unsupported specversion "2.0"`},
		{`{"specversion":"1.0","id":5}`, "id must be a string"},
		{`{"specversion":"1.0","ext":1.5}`, "32-bit integer"},
		{`{"specversion":"1.0","ext":3000000000}`, "32-bit integer"},
		{`{"specversion":"1.0","ext":{}}`, "found an object"},
		{`{"specversion":"1.0","time":"yesterday"}`, "not an RFC 3339 timestamp"},
		{`{"specversion":"1.0","data":1,"data_base64":"AA=="}`, "mutually exclusive"},
		{`{"specversion":"1.0","data_base64":"!!"}`, "not valid base64"},
		{`{"specversion":"0.3","datacontentencoding":"gzip","data":"x"}`, "not supported"},
		{`{"specversion":"1.0",`, "invalid JSON"},
	}
	for _, tt := range tests {
		_, err := Decode([]byte(tt.in))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Decode(%s) = %v, want an error containing %q", tt.in, err, tt.want)
		}
	}
}

func TestEncodeBinaryData(t *testing.T) {
	e, _ := NewEvent(V1)
	for _, kv := range [][2]string{{"id", "1"}, {"source", "/s"}, {"type", "t"}, {"datacontenttype", "image/png"}} {
		if err := SetAttribute(&e, kv[0], kv[1]); err != nil {
			t.Fatal(err)
		}
	}
	e.DataEncoded = []byte{0x89, 'P', 'N', 'G'}
	got := string(Marshal(&e))
	want := `{"specversion":"1.0","id":"1","source":"/s","type":"t","datacontenttype":"image/png","data_base64":"iVBORw=="}`
	if got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	// Zero-length data is an empty string, not a failure (sdk-go #1193).
	e.DataEncoded = []byte{}
	if got := string(Marshal(&e)); !strings.HasSuffix(got, `"data":""}`) {
		t.Errorf("empty data: got %s", got)
	}
}

func TestReader(t *testing.T) {
	tests := []struct {
		name  string
		in    string
		lines []int
		cols  []int
		err   string // substring of the error after the records
	}{
		{name: "one event", in: "  {\"a\":1}\n", lines: []int{1}, cols: []int{3}},
		{name: "json lines", in: "{\"a\":1}\n{\"a\":2}\n\n{\"a\":3}", lines: []int{1, 2, 4}, cols: []int{1, 1, 1}},
		{name: "pretty printed, one after another", in: "{\n  \"a\": 1\n}\n{\n  \"a\": 2\n}\n", lines: []int{1, 4}, cols: []int{1, 1}},
		{name: "array", in: "[\n  {\"a\":1},\n  {\"a\":2}\n]\n", lines: []int{2, 3}, cols: []int{3, 3}},
		{name: "empty array", in: "[]"},
		{name: "empty input", in: " \n"},
		{name: "syntax error with position", in: "{\"a\":1}\n{\"a\" 2}\n", lines: []int{1}, cols: []int{1}, err: "line 2, column 6"},
		{name: "unterminated array", in: "[{\"a\":1}", lines: []int{1}, cols: []int{2}, err: "unexpected EOF"},
		{name: "data after the array", in: "[{\"a\":1}] x", lines: []int{1}, cols: []int{2}, err: "after the closing bracket"},
		{name: "non-objects are records too", in: "5\n\"x\"", lines: []int{1, 2}, cols: []int{1, 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := NewReader(strings.NewReader(tt.in))
			var lines, cols []int
			var err error
			for {
				var rec Record
				rec, err = r.Next()
				if err != nil {
					break
				}
				if rec.Index != len(lines) {
					t.Errorf("record %d has index %d", len(lines), rec.Index)
				}
				lines = append(lines, rec.Line)
				cols = append(cols, rec.Col)
			}
			if tt.err == "" && !errors.Is(err, io.EOF) {
				t.Fatalf("unexpected error: %v", err)
			}
			if tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)) {
				t.Fatalf("error %v, want one containing %q", err, tt.err)
			}
			if !equal(lines, tt.lines) || !equal(cols, tt.cols) {
				t.Errorf("positions %v:%v, want %v:%v", lines, cols, tt.lines, tt.cols)
			}
			if _, err := r.Next(); err == nil {
				t.Error("Next after the end returned a record")
			}
		})
	}
}

func TestReaderLongFileKeepsFewNewlines(t *testing.T) {
	var b strings.Builder
	for i := 0; i < 20000; i++ {
		b.WriteString("{\"specversion\":\"1.0\"}\n")
	}
	r := NewReader(strings.NewReader(b.String()))
	n := 0
	for {
		rec, err := r.Next()
		if err != nil {
			break
		}
		n++
		if rec.Line != n {
			t.Fatalf("record %d on line %d", n, rec.Line)
		}
	}
	if n != 20000 {
		t.Fatalf("read %d records", n)
	}
	if len(r.lines.pending) > 10000 {
		t.Errorf("%d newline offsets kept", len(r.lines.pending))
	}
}

func equal(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func FuzzReader(f *testing.F) {
	for _, s := range []string{
		`{"specversion":"1.0","id":"1","source":"/s","type":"t"}`,
		"[{\"a\":1},\n{\"b\":2}]",
		"{\"a\":1}\n{\"a\":2}\n",
		"[", "]", "{", `"`, "[1,]", "\xff", "{\"data_base64\":\"AA==\",\"specversion\":\"1.0\"}",
		`{"specversion":"0.3","datacontentencoding":"","data":"x"}`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		r := NewReader(strings.NewReader(in))
		for i := 0; i < 1000; i++ {
			rec, err := r.Next()
			if err != nil {
				var se *SyntaxError
				if errors.As(err, &se) && (se.Line < 1 || se.Col < 1) {
					t.Fatalf("bad position %d:%d", se.Line, se.Col)
				}
				return
			}
			if rec.Line < 1 || rec.Col < 1 {
				t.Fatalf("bad position %d:%d", rec.Line, rec.Col)
			}
			e, err := Decode(rec.Raw)
			if json.Valid(rec.Raw) {
				// On valid JSON the validated path skips only the syntax check.
				ev, errv := DecodeValidated(rec.Raw)
				if (err == nil) != (errv == nil) || err == nil && string(Marshal(&e)) != string(Marshal(&ev)) {
					t.Fatalf("Decode and DecodeValidated differ on %s: %v / %v", rec.Raw, err, errv)
				}
			}
			if err != nil {
				continue
			}
			// Whatever decodes must encode to something that decodes again.
			if _, err := Decode(Marshal(&e)); err != nil {
				t.Fatalf("re-decoding %s: %v", Marshal(&e), err)
			}
		}
	})
}

// BenchmarkDecodeValidated decodes the kind of event listen receives most, after validation.
func BenchmarkDecodeValidated(b *testing.B) {
	doc := []byte(`{"specversion":"1.0","id":"9f5e2b8c-6a8f-4f2e-9d7e-1c2b3a4d5e6f","source":"cectl","type":"com.example.bench","time":"2026-12-02T01:30:00.123456789Z","datacontenttype":"application/json","data":{"id":42,"name":"Ada"}}`)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := DecodeValidated(doc); err != nil {
			b.Fatal(err)
		}
	}
}

// A source parsed again is the same as the first time, and the events do not share it.
func TestSetAttributeSourceCopies(t *testing.T) {
	mk := func(src string) *event.Event {
		e, err := NewEvent(V1)
		if err != nil {
			t.Fatal(err)
		}
		if err := SetAttribute(&e, "source", src); err != nil {
			t.Fatal(err)
		}
		return &e
	}
	a := mk("https://user@example.com/orders?x=1")
	a.Context.(*event.EventContextV1).Source.Path = "/changed"
	b := mk("https://user@example.com/orders?x=1")
	if got := b.Source(); got != "https://user@example.com/orders?x=1" {
		t.Errorf("second parse %q", got)
	}
	if c := mk("/other"); c.Source() != "/other" {
		t.Errorf("another source %q", c.Source())
	}
	if e, _ := NewEvent(V1); SetAttribute(&e, "source", "%zz") == nil {
		t.Error("an invalid source was taken")
	}
}
