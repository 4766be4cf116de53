package ce

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"

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

// FuzzDecode: whatever decodes encodes to something that decodes again, and the validated
// path differs from Decode only in skipping the syntax check.
func FuzzDecode(f *testing.F) {
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
		raw := []byte(in)
		e, err := Decode(raw)
		if json.Valid(raw) {
			// On valid JSON the validated path skips only the syntax check.
			ev, errv := DecodeValidated(raw)
			if (err == nil) != (errv == nil) || err == nil && string(Marshal(&e)) != string(Marshal(&ev)) {
				t.Fatalf("Decode and DecodeValidated differ on %s: %v / %v", raw, err, errv)
			}
		}
		if err != nil {
			return
		}
		// Whatever decodes must encode to something that decodes again.
		if _, err := Decode(Marshal(&e)); err != nil {
			t.Fatalf("re-decoding %s: %v", Marshal(&e), err)
		}
	})
}

// BenchmarkDecodeValidated decodes the kind of event listen receives most, after validation,
// with a Decoder as the hot paths hold one (listen, send --from).
func BenchmarkDecodeValidated(b *testing.B) {
	doc := []byte(`{"specversion":"1.0","id":"9f5e2b8c-6a8f-4f2e-9d7e-1c2b3a4d5e6f","source":"cectl","type":"com.example.bench","time":"2026-12-02T01:30:00.123456789Z","datacontenttype":"application/json","data":{"id":42,"name":"Ada"}}`)
	var d Decoder
	b.ReportAllocs()
	for b.Loop() {
		if _, err := d.DecodeValidated(doc); err != nil {
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

// AppendString is the one JSON string encoder: what JSON requires, plus DEL, the C1 controls
// and U+2028/U+2029 escaped, invalid UTF-8 as U+FFFD; the result is valid JSON that decodes
// to the input (invalid bytes aside) and holds no byte a terminal or a JavaScript parser
// would act on.
func TestAppendString(t *testing.T) {
	tests := []struct{ in, want string }{
		{"plain", `"plain"`},
		{"", `""`},
		{`q"b\`, `"q\"b\\"`},
		{"a\nb\rc\td", `"a\nb\rc\td"`},
		{"\x00\x01\x1f", `"\u0000\u0001\u001f"`},
		{"del\x7f", `"del\u007f"`},
		{"c1\u0085\u009b", `"c1\u0085\u009b"`},
		{"ls\u2028ps\u2029", `"ls\u2028ps\u2029"`},
		{"a\u202eb\u202ac\u2066d\u2069e\u200ef\u200f", `"a\u202eb\u202ac\u2066d\u2069e\u200ef\u200f"`},
		{"\u2065\u206a\u202f\u2030", "\"\u2065\u206a\u202f\u2030\""},
		{"bad\xffutf8", `"bad\ufffdutf8"`},
		{"café ✓ 😀 \u00a0", `"café ✓ 😀 ` + "\u00a0" + `"`},
		{"</script>", `"</script>"`},
	}
	for _, tt := range tests {
		got := string(AppendString(nil, tt.in))
		if got != tt.want {
			t.Errorf("AppendString(%q) = %s, want %s", tt.in, got, tt.want)
		}
		var back string
		if err := json.Unmarshal([]byte(got), &back); err != nil {
			t.Errorf("AppendString(%q) = %s is not valid JSON: %v", tt.in, got, err)
		}
		if utf8.ValidString(tt.in) && back != tt.in {
			t.Errorf("AppendString(%q) decodes to %q", tt.in, back)
		}
		for _, r := range got {
			if r < 0x20 || r >= 0x7f && r <= 0x9f || r == '\u2028' || r == '\u2029' || isBidi(r) {
				t.Errorf("AppendString(%q) = %s holds %U unescaped", tt.in, got, r)
			}
		}
	}
}

// isBidi reports the bidirectional controls AppendString escapes.
func isBidi(r rune) bool {
	return r == '\u200e' || r == '\u200f' || r >= '\u202a' && r <= '\u202e' || r >= '\u2066' && r <= '\u2069'
}

func FuzzAppendString(f *testing.F) {
	for _, s := range []string{"a", "\x7f", "\u2028", "\xff", "\"\\", "\u202e", "\u2067"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := AppendString(nil, s)
		var back string
		if err := json.Unmarshal(got, &back); err != nil {
			t.Fatalf("%q: %s is not valid JSON: %v", s, got, err)
		}
		if utf8.ValidString(s) && back != s {
			t.Fatalf("%q decodes to %q", s, back)
		}
		if bytes.ContainsFunc(got, func(r rune) bool {
			return r < 0x20 || r >= 0x7f && r <= 0x9f || r == '\u2028' || r == '\u2029' || isBidi(r)
		}) {
			t.Fatalf("%q: %s holds a control character or line separator", s, got)
		}
	})
}

// A Decoder's source cache is its own: two decoders never see each other's sources, and the
// package functions share none.
func TestDecoderCacheIsPerDecoder(t *testing.T) {
	var a, b Decoder
	ea, err := a.Decode([]byte(`{"specversion":"1.0","id":"1","source":"https://a.example/x","type":"t"}`))
	if err != nil {
		t.Fatal(err)
	}
	eb, err := b.Decode([]byte(`{"specversion":"1.0","id":"1","source":"/b","type":"t"}`))
	if err != nil {
		t.Fatal(err)
	}
	again, err := a.Decode([]byte(`{"specversion":"1.0","id":"2","source":"https://a.example/x","type":"t"}`))
	if err != nil {
		t.Fatal(err)
	}
	if ea.Source() != "https://a.example/x" || eb.Source() != "/b" || again.Source() != "https://a.example/x" {
		t.Errorf("sources %q %q %q", ea.Source(), eb.Source(), again.Source())
	}
	if a.lastRaw != "https://a.example/x" || b.lastRaw != "/b" {
		t.Errorf("caches %q %q", a.lastRaw, b.lastRaw)
	}
}

// The one typing rule of string forms: documented Integer and Boolean extensions in the
// canonical form of their type take it, anything else stays a string.
func TestTypedValue(t *testing.T) {
	tests := []struct {
		name, value string
		want        any
	}{
		{"sampledrate", "10", int32(10)},
		{"severitynumber", "-3", int32(-3)},
		{"sampledrate", "010", "010"},
		{"sampledrate", "1.5", "1.5"},
		{"sampledrate", "2147483648", "2147483648"},
		{"sampledrate", "-0", int32(0)},
		{"deprecated", "true", true},
		{"deprecated", "false", false},
		{"deprecated", "True", "True"},
		{"region", "5", "5"},
		{"flag", "true", "true"},
	}
	for _, tt := range tests {
		if got := TypedValue(tt.name, tt.value); got != tt.want {
			t.Errorf("TypedValue(%q, %q) = %#v, want %#v", tt.name, tt.value, got, tt.want)
		}
		e, _ := NewEvent(V1)
		if err := SetAttribute(&e, tt.name, tt.value); err != nil || e.Extensions()[tt.name] != tt.want {
			t.Errorf("SetAttribute(%q, %q) = %#v, %v", tt.name, tt.value, e.Extensions()[tt.name], err)
		}
	}
}

// The data members are no attributes: an extension of their name could be written neither
// in the JSON format nor as a binary-mode header.
func TestExtensionNamedData(t *testing.T) {
	for _, name := range []string{"data", "data_base64", ""} {
		e, _ := NewEvent(V1)
		if err := SetExtension(&e, name, "x"); err == nil {
			t.Errorf("SetExtension(%q) was taken", name)
		}
	}
}
