package eventspec

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cectl/cectl/internal/ce"
)

// parseArgs fills a Spec from command-line style arguments, with the defaults cectl's flags
// have: a stand-in for the flag parsing of cmd, so that Spec is tested without it.
func parseArgs(t *testing.T, args []string) *Spec {
	t.Helper()
	s := &Spec{Source: "cectl", SpecVersion: "1.0"}
	given := map[string]bool{}
	s.Given = func(flag string) bool { return given[flag] }
	for i := 0; i < len(args); i += 2 {
		flag, value := strings.TrimLeft(args[i], "-"), args[i+1]
		switch flag {
		case "e", "ext":
			flag = "ext"
			s.Extensions = append(s.Extensions, value)
		case "d", "data":
			flag = "data"
			s.Data = value
		case "type":
			s.Type = value
		case "source":
			s.Source = value
		case "id":
			s.ID = value
		case "time":
			s.Time = value
		case "subject":
			s.Subject = value
		case "dataschema":
			s.DataSchema = value
		case "datacontenttype":
			s.DataContentType = value
		case "specversion":
			s.SpecVersion = value
		default:
			t.Fatalf("unknown flag %s", args[i])
		}
		given[flag] = true
	}
	return s
}

func TestParseExtension(t *testing.T) {
	tests := []struct {
		arg   string
		name  string
		value any
		err   string
	}{
		{"region=eu", "region", "eu", ""},
		{"empty=", "empty", "", ""},
		{"eq=a=b", "eq", "a=b", ""},
		{"count:=5", "count", int32(5), ""},
		{"neg:=-2147483648", "neg", int32(-2147483648), ""},
		{"flag:=true", "flag", true, ""},
		{"off:=false", "off", false, ""},
		{`s:="quoted"`, "s", "quoted", ""},
		{"big:=2147483648", "", nil, "outside the signed 32-bit range"},
		{"f:=1.5", "", nil, "a typed extension is"},
		{`s:="open`, "", nil, "not a valid JSON string"},
		{"noequals", "", nil, "want name=value"},
		{"=v", "", nil, "want name=value"},
		{":=v", "", nil, "want name=value"},
		{"id=x", "", nil, "id is a context attribute, not an extension: use --id"},
		{"schemaurl:=\"/s\"", "", nil, "use --dataschema"},
		{"datacontentencoding=base64", "", nil, "use --data"},
		{"data=x", "", nil, "--ext data: data is the event's data, not an extension: use --data"},
		{"data_base64=eA==", "", nil, "--ext data_base64: data_base64 is the event's data, not an extension: use --data"},
		{"data:=1", "", nil, "use --data"},
	}
	for _, tt := range tests {
		name, value, err := ParseExtension(tt.arg)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("%q: err %v, want %q", tt.arg, err, tt.err)
			}
			continue
		}
		if err != nil || name != tt.name || value != tt.value {
			t.Errorf("%q: got %q %#v %v", tt.arg, name, value, err)
		}
	}
}

func TestJSONError(t *testing.T) {
	tests := []struct{ data, want string }{
		{`{"a":1}`, ""},
		{`{"a":1`, "line 1, column 7: unexpected end of JSON input"},
		{`{"a" 1}`, "line 1, column 6: invalid character '1' after object key"},
		{"{\n  \"é\": [1,\n  2,,3]}", "line 3, column 5: invalid character ',' looking for beginning of value"},
		{`{"a":1}}`, "line 1, column 8: invalid character '}' after top-level value"},
	}
	for _, tt := range tests {
		if got := JSONError([]byte(tt.data)); got != tt.want {
			t.Errorf("JSONError(%q) = %q, want %q", tt.data, got, tt.want)
		}
	}
}

// Data that looks like JSON but does not parse goes as text, with a warning saying where it
// breaks, unless --datacontenttype or a file extension says what it is.
func TestBrokenJSONWarns(t *testing.T) {
	dir := t.TempDir()
	for name, content := range map[string]string{"noext": `[1,2`, "x.txt": `{"a":`, "x.json": `{"a":`} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		data, ct, want, warn string
	}{
		{`{"a":1`, "", "text/plain", `--data looks like JSON but does not parse: line 1, column 7: unexpected end of JSON input; sending it as text/plain (--datacontenttype says what it is)`},
		{` [1 2]`, "", "text/plain", `--data looks like JSON but does not parse: line 1, column 5: invalid character '2' after array element; sending it as text/plain (--datacontenttype says what it is)`},
		{"@" + filepath.Join(dir, "noext"), "", "text/plain", filepath.Join(dir, "noext") + ` looks like JSON but does not parse: line 1, column 5: unexpected end of JSON input; sending it as text/plain (--datacontenttype says what it is)`},
		{`{"a":1`, "text/x-note", "text/x-note", ""},
		{`{"a":1}`, "", "application/json", ""},
		{`hello {`, "", "text/plain", ""},
		{"@" + filepath.Join(dir, "x.txt"), "", "text/plain", ""},
		{"@" + filepath.Join(dir, "x.json"), "", "application/json", ""},
	}
	for _, tt := range tests {
		var warns []string
		s := Spec{Type: "t", Source: "/s", SpecVersion: "1.0", Data: tt.data, DataContentType: tt.ct, Given: func(f string) bool {
			return f == "data" || f == "datacontenttype" && tt.ct != ""
		}, Warn: func(msg string) { warns = append(warns, msg) }}
		e, err := s.Build(nil, time.Now())
		if err != nil {
			t.Fatalf("%q: %v", tt.data, err)
		}
		if got := e.DataContentType(); got != tt.want {
			t.Errorf("%q: content type %q, want %q", tt.data, got, tt.want)
		}
		switch {
		case tt.warn == "" && len(warns) > 0:
			t.Errorf("%q: unexpected warning %q", tt.data, warns)
		case tt.warn != "" && (len(warns) != 1 || warns[0] != tt.warn):
			t.Errorf("%q: warnings %q, want %q", tt.data, warns, tt.warn)
		}
	}
}

func TestInferContentType(t *testing.T) {
	tests := []struct {
		data, file, want string
	}{
		{`{"a":1}`, "", "application/json"},
		{`[1,2]`, "", "application/json"},
		{`"str"`, "", "application/json"},
		{`hello`, "", "text/plain"},
		{"\x00\x01", "", "application/octet-stream"},
		{"\xff\xfe", "", "application/octet-stream"},
		{`not json`, "x.json", "application/json"},
		{`<a/>`, "x.xml", "text/xml; charset=utf-8"},
		{`whatever`, "x.txt", "text/plain"},
		{`{"a":1}`, "x.unknownext", "application/json"},
	}
	for _, tt := range tests {
		if got := InferContentType([]byte(tt.data), tt.file); got != tt.want {
			t.Errorf("InferContentType(%q, %q) = %q, want %q", tt.data, tt.file, got, tt.want)
		}
	}
}

func TestBuildEvent(t *testing.T) {
	dir := t.TempDir()
	png := filepath.Join(dir, "a.png")
	if err := os.WriteFile(png, []byte{0x89, 'P', 'N', 'G', 0}, 0o644); err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	tests := []struct {
		name  string
		args  []string
		stdin string
		want  string // ce.Marshal of the event, with the generated id replaced by ID
		err   string
	}{
		{name: "defaults", args: []string{"--type", "t"},
			want: `{"specversion":"1.0","id":"ID","source":"cectl","type":"t","time":"2026-11-25T10:00:00Z"}`},
		{name: "all attributes", args: []string{"--type", "t", "--id", "x", "--source", "urn:a", "--time", "2026-01-02T03:04:05.5+01:00",
			"--subject", "s", "--dataschema", "https://e.com/s", "-e", "n:=1", "-d", `{"a": 1}`},
			want: `{"specversion":"1.0","id":"x","source":"urn:a","type":"t","subject":"s","time":"2026-01-02T03:04:05.5+01:00","datacontenttype":"application/json","dataschema":"https://e.com/s","n":1,"data":{"a":1}}`},
		{name: "no time", args: []string{"--type", "t", "--id", "x", "--time", ""},
			want: `{"specversion":"1.0","id":"x","source":"cectl","type":"t"}`},
		{name: "stdin text", args: []string{"--type", "t", "--id", "x", "--time", "", "-d", "-"}, stdin: "hello\n",
			want: `{"specversion":"1.0","id":"x","source":"cectl","type":"t","datacontenttype":"text/plain","data":"hello\n"}`},
		{name: "binary file", args: []string{"--type", "t", "--id", "x", "--time", "", "-d", "@" + png},
			want: `{"specversion":"1.0","id":"x","source":"cectl","type":"t","datacontenttype":"image/png","data_base64":"iVBORwA="}`},
		{name: "v0.3", args: []string{"--type", "t", "--id", "x", "--time", "", "--specversion", "0.3", "--dataschema", "/s", "-d", "@" + png},
			want: `{"specversion":"0.3","id":"x","source":"cectl","type":"t","datacontenttype":"image/png","schemaurl":"/s","datacontentencoding":"base64","data":"iVBORwA="}`},
		{name: "content type override", args: []string{"--type", "t", "--id", "x", "--time", "", "-d", "a,b", "--datacontenttype", "text/csv"},
			want: `{"specversion":"1.0","id":"x","source":"cectl","type":"t","datacontenttype":"text/csv","data":"a,b"}`},
		{name: "missing type", args: []string{}, err: "--type is required"},
		{name: "bad specversion", args: []string{"--type", "t", "--specversion", "2.0"}, err: `--specversion: unsupported specversion "2.0"`},
		{name: "bad time", args: []string{"--type", "t", "--time", "2026-11-25 10:00"}, err: `--time "2026-11-25 10:00" is not an RFC 3339 timestamp`},
		{name: "bad source", args: []string{"--type", "t", "--source", "a b"}, err: `--source "a b" is not a URI-reference`},
		{name: "missing file", args: []string{"--type", "t", "-d", "@/nonexistent/x"}, err: "--data: open /nonexistent/x"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := parseArgs(t, tt.args)
			e, err := s.Build(strings.NewReader(tt.stdin), now)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err %v, want %q", err, tt.err)
				}
				var ue *UsageError
				if !errors.As(err, &ue) {
					t.Errorf("%v is not a usage error", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got := string(ce.Marshal(e))
			if !s.given("id") {
				got = strings.Replace(got, e.ID(), "ID", 1)
				if len(e.ID()) != 36 {
					t.Errorf("generated id %q is not a UUID", e.ID())
				}
			}
			if got != tt.want {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
		})
	}
}

func FuzzParseExtension(f *testing.F) {
	for _, s := range []string{"a=b", "n:=5", "b:=true", `s:="x"`, ":=", "=", "a:=1e3", "a:=99999999999999999999"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, arg string) {
		name, value, err := ParseExtension(arg)
		if err != nil {
			return
		}
		if name == "" || strings.Contains(name, "=") && !strings.Contains(arg[len(name):], "=") {
			t.Fatalf("%q parsed to name %q", arg, name)
		}
		switch value.(type) {
		case string, bool, int32:
		default:
			t.Fatalf("%q parsed to %T", arg, value)
		}
	})
}

// Apply overrides only what was given, and converts between spec versions keeping the data
// binary where it was.
func TestApply(t *testing.T) {
	base := func() *Spec { return parseArgs(t, nil) }
	doc := `{"specversion":"1.0","id":"a","source":"/s","type":"t","dataschema":"https://e.com/s","datacontenttype":"application/octet-stream","region":"eu","data_base64":"AAE="}`
	for _, tt := range []struct {
		args []string
		want string
	}{
		{nil, `{"specversion":"1.0","id":"a","source":"/s","type":"t","datacontenttype":"application/octet-stream","dataschema":"https://e.com/s","region":"eu","data_base64":"AAE="}`},
		{[]string{"--type", "u", "--subject", "sub"},
			`{"specversion":"1.0","id":"a","source":"/s","type":"u","subject":"sub","datacontenttype":"application/octet-stream","dataschema":"https://e.com/s","region":"eu","data_base64":"AAE="}`},
		{[]string{"--specversion", "0.3"},
			`{"specversion":"0.3","id":"a","source":"/s","type":"t","datacontenttype":"application/octet-stream","schemaurl":"https://e.com/s","datacontentencoding":"base64","region":"eu","data":"AAE="}`},
		{[]string{"--dataschema", "", "-e", "region=us"},
			`{"specversion":"1.0","id":"a","source":"/s","type":"t","datacontenttype":"application/octet-stream","region":"us","data_base64":"AAE="}`},
		{[]string{"--specversion", "0.3", "-d", "hi"},
			`{"specversion":"0.3","id":"a","source":"/s","type":"t","datacontenttype":"text/plain","schemaurl":"https://e.com/s","region":"eu","data":"hi"}`},
		{[]string{"-d", "hi"},
			`{"specversion":"1.0","id":"a","source":"/s","type":"t","datacontenttype":"text/plain","dataschema":"https://e.com/s","region":"eu","data":"hi"}`},
	} {
		e, err := ce.Decode([]byte(doc))
		if err != nil {
			t.Fatal(err)
		}
		s := base()
		if tt.args != nil {
			s = parseArgs(t, tt.args)
		}
		if err := s.Apply(&e, nil); err != nil {
			t.Fatalf("%v: %v", tt.args, err)
		}
		if got := string(ce.Marshal(&e)); got != tt.want {
			t.Errorf("%v:\n got %s\nwant %s", tt.args, got, tt.want)
		}
		if s.AnyGiven() != (tt.args != nil) {
			t.Errorf("%v: AnyGiven %v", tt.args, s.AnyGiven())
		}
	}
}

// --data from stdin is read once, however many events use it.
func TestDataIsReadOnce(t *testing.T) {
	s := parseArgs(t, []string{"--type", "t", "-d", "-"})
	stdin := strings.NewReader("once")
	for range 3 {
		e, err := s.Build(stdin, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		if string(e.Data()) != "once" {
			t.Fatalf("data %q", e.Data())
		}
	}
}

func TestFlagFor(t *testing.T) {
	for pointer, want := range map[string]string{
		"/type": "--type", "/schemaurl": "--dataschema", "/data_base64": "--data", "/data/a": "--data",
		"": "the event", "/region": "--ext region",
	} {
		if got := FlagFor(pointer); got != want {
			t.Errorf("FlagFor(%q) = %q, want %q", pointer, got, want)
		}
	}
}
