package validate

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"
)

var update = flag.Bool("update", false, "rewrite golden files")

// golden compares got with testdata/NAME, or rewrites it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (go test -update writes it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs (go test -update rewrites it)\n--- got\n%s", path, got)
	}
}

// ev1 and ev03 build events of spec v1.0 and v0.3 with extra members.
func ev1(extra string) string {
	return `{"specversion":"1.0","id":"A234","source":"https://example.com/src","type":"com.example.t"` + extra + `}`
}

func ev03(extra string) string {
	return `{"specversion":"0.3","id":"A234","source":"https://example.com/src","type":"com.example.t"` + extra + `}`
}

// want is an expected finding: the offset is where `at` first occurs in
// the document, plus delta ("" means offset 0).
type want struct {
	rule  string
	level Level
	ptr   string
	at    string
	delta int
}

func e(rule, ptr, at string, delta int) want { return want{rule, Error, ptr, at, delta} }
func w(rule, ptr, at string, delta int) want { return want{rule, Warning, ptr, at, delta} }

// refPosition computes line and column (in code points) independently.
func refPosition(doc string, off int) (int, int) {
	pre := doc[:off]
	line := 1 + strings.Count(pre, "\n")
	if i := strings.LastIndexByte(pre, '\n'); i >= 0 {
		pre = pre[i+1:]
	}
	return line, 1 + utf8.RuneCountInString(pre)
}

func checkFindings(t *testing.T, doc string, got []Finding, wants []want) {
	t.Helper()
	if len(got) != len(wants) {
		t.Fatalf("got %d findings, want %d:\n%s", len(got), len(wants), dump(got))
	}
	for i, wt := range wants {
		g := got[i]
		off := 0
		if wt.at != "" {
			off = strings.Index(doc, wt.at)
			if off < 0 {
				t.Fatalf("bad test: anchor %q not in document", wt.at)
			}
			off += wt.delta
		}
		if g.Rule != wt.rule || g.Level != wt.level || g.Pointer != wt.ptr || g.Offset != off {
			t.Errorf("finding %d = %s %s %q @%d, want %s %s %q @%d\n%s", i, g.Rule, g.Level, g.Pointer, g.Offset,
				wt.rule, wt.level, wt.ptr, off, dump(got))
		}
		line, col := refPosition(doc, g.Offset)
		if g.Line != line || g.Column != col {
			t.Errorf("finding %d at %d:%d, want %d:%d", i, g.Line, g.Column, line, col)
		}
		if g.Message == "" || strings.ToLower(g.Message[:1]) != g.Message[:1] {
			t.Errorf("finding %d: message %q must be non-empty and start lower case", i, g.Message)
		}
	}
}

func dump(fs []Finding) string {
	var b strings.Builder
	for _, f := range fs {
		fmt.Fprintf(&b, "  %d:%d @%d %s %s %q: %s\n", f.Line, f.Column, f.Offset, f.Level, f.Rule, f.Pointer, f.Message)
	}
	return b.String()
}

func TestValidEvents(t *testing.T) {
	valid := []string{
		ev1(""),
		ev03(""),
		// spec v1.0.2 §2.3 example values and the JSON format §3.2 examples.
		`{"specversion":"1.0","type":"com.example.someevent","source":"/mycontext","id":"A234-1234-1234","time":"2018-04-05T17:31:00Z",` +
			`"comexampleextension1":"value","comexampleothervalue":5,"datacontenttype":"application/vnd.apache.thrift.binary","data_base64":"Zm9vYg=="}`,
		`{"specversion":"1.0","type":"com.example.someevent","source":"/mycontext","id":"B234-1234-1234","datacontenttype":"text/xml","data":"<much wow=\"xml\"/>"}`,
		"{\n  \"specversion\" : \"1.0\",\n  \"id\" : \"x\",\n  \"source\" : \"1-555-123-4567\",\n  \"type\" : \"t\"\n}\n",
		// Timestamps: lower-case t and z, fractions, offsets, leap second, leap day.
		ev1(`,"time":"2018-04-05t17:31:00z"`),
		ev1(`,"time":"2018-04-05T17:31:00.123456789Z"`),
		ev1(`,"time":"2018-04-05T17:31:00+05:30"`),
		ev1(`,"time":"2016-12-31T23:59:60Z"`),
		ev1(`,"time":"2020-02-29T00:00:00-00:00"`),
		// Media types.
		ev1(`,"datacontenttype":"application/json; charset=utf-8"`),
		ev1(`,"datacontenttype":"application/cloudevents+json","data":[1,2]`),
		ev1(`,"datacontenttype":"multipart/form-data; boundary=\"a b;c\"","data":"x"`),
		ev1(`,"datacontenttype":"TEXT/JSON","data":{"a":1}`),
		// URIs.
		ev1(`,"dataschema":"https://example.com/schema.json"`),
		ev1(`,"dataschema":"urn:example:schema:1"`),
		`{"specversion":"1.0","id":"1","source":"mailto:cncf-wg-serverless@lists.cncf.io","type":"t"}`,
		`{"specversion":"1.0","id":"1","source":"urn:uuid:6e8bc430-9c3a-11d9-9669-0800200c9a66","type":"t"}`,
		`{"specversion":"1.0","id":"1","source":"https://user:pw@[::1]:8080/a%20b?q=1&r=/x?#frag/?","type":"t"}`,
		`{"specversion":"1.0","id":"1","source":"//host.example/p","type":"t"}`,
		`{"specversion":"1.0","id":"1","source":"http://[v1.fe80::a+en1]/","type":"t"}`,
		`{"specversion":"1.0","id":" ","source":"a/b:c","type":"t"}`,
		// Strings: non-ASCII, surrogate pairs, escapes that are not control characters.
		ev1(`,"subject":"caf\u00e9 é 😀 \ud83d\ude00 \/ \" \\"`),
		// Names with escapes are the decoded names.
		`{"specversion":"1.0","i\u0064":"1","source":"/s","type":"t"}`,
		// Nulls mean absent (JSON format v1.0.2 §2.2).
		ev1(`,"time":null,"subject":null,"datacontenttype":null,"dataschema":null,"myext":null,"data_base64":null,"data":null`),
		// Extensions.
		ev1(`,"myext":"v","flag":true,"off":false,"n":-2147483648,"m":2147483647,"z":0,"neg":-0,"abcdefghijklmnopqrst":1,"x1":""`),
		ev1(`,"sampledrate":5,"severitynumber":9,"expirytime":"2030-01-01T00:00:00Z","recordedtime":"2018-01-01T00:00:00Z","dataref":"/x","deprecated":true`),
		ev1(`,"schemaurl":"not a uri but just an extension in 1.0","datacontentencoding":"any"`),
		// Data.
		ev1(`,"data_base64":""`),
		ev1(`,"datacontenttype":"text/plain","data":"hello"`),
		ev1(`,"data":{"nested":[{"a":1,"b":[true,false,null,1.5e-3]}],"str":"\u0000 is fine in data"}`),
		ev1(`,"data":12.5`),
		// v0.3.
		ev03(`,"schemaurl":"#frag","subject":"s","time":"2018-04-05T17:31:00Z","datacontenttype":"application/json"`),
		ev03(`,"schemaurl":""`),
		`{"specversion":"0.3","id":"1","source":"","type":"t"}`,
		ev03(`,"datacontentencoding":"base64","datacontenttype":"image/png","data":"Zm9v"`),
		ev03(`,"datacontentencoding":"Base64","data":"Zm9v"`),
		ev03(`,"ext":{"a":"b","c":1,"d":{"e":"f","g":{}}},"other":"x","dataschema":"x y z"`),
		ev03(`,"data":{"a":[1,2,true]}`),
	}
	for i, doc := range valid {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			if got := Event([]byte(doc), Options{Strict: true}); len(got) != 0 {
				t.Errorf("%s\nwant no findings, got:\n%s", doc, dump(got))
			}
		})
	}
}

func TestRules(t *testing.T) {
	strict := Options{Strict: true}
	only10 := Options{SpecVersions: []string{"1.0"}}
	tests := []struct {
		name string
		doc  string
		opts Options
		want []want
	}{
		// Rule 1: structure, syntax, UTF-8, trailing data, duplicates.
		{"syntax missing value", `{"a":}`, Options{}, []want{e(RuleJSONSyntax, "/a", "}", 0)}},
		{"syntax trailing comma", `{"a":1,}`, Options{}, []want{e(RuleJSONSyntax, "", "}", 0)}},
		{"syntax unterminated object", "{\"a\":1\n\n", Options{}, []want{e(RuleJSONSyntax, "", "1", 0)}},
		{"syntax unterminated string", `{"id":"abc`, Options{}, []want{e(RuleJSONSyntax, "/id", "c", 0)}},
		{"syntax bad escape", `{"id":"a\x"}`, Options{}, []want{e(RuleJSONSyntax, "/id", `\x`, 0)}},
		{"syntax bad unicode escape", `{"id":"\u12G4"}`, Options{}, []want{e(RuleJSONSyntax, "/id", "G", 0)}},
		{"syntax raw control character", "{\"id\":\"a\tb\"}", Options{}, []want{e(RuleJSONSyntax, "/id", "\t", 0)}},
		{"syntax leading zero", `{"n":01}`, Options{}, []want{e(RuleJSONSyntax, "/n", "1", 0)}},
		{"syntax single quotes", `{'id':1}`, Options{}, []want{e(RuleJSONSyntax, "", "'", 0)}},
		{"syntax bad literal", `{"a":tru}`, Options{}, []want{e(RuleJSONSyntax, "/a", "tru", 0)}},
		{"syntax in nested data", `{"data":{"a":[1,}}`, Options{}, []want{e(RuleJSONSyntax, "/data/a/1", "}", 0)}},
		{"syntax mismatched bracket", `{"data":[1}`, Options{}, []want{e(RuleJSONSyntax, "/data/0", "}", 0)}},
		{"syntax empty input", "  \n", Options{}, []want{e(RuleJSONSyntax, "", "", 0)}},
		{"utf8 invalid byte", ev1(`,"subject":"a` + "\xff" + `b"`), Options{}, []want{e(RuleUTF8, "/subject", "\xff", 0)}},
		{"utf8 encoded surrogate", ev1(`,"data":"` + "\xed\xa0\x80" + `"`), Options{}, []want{e(RuleUTF8, "/data", "\xed", 0)}},
		{"trailing data", ev1("") + ` x`, Options{}, []want{e(RuleTrailingData, "", "} x", 2)}},
		{"trailing second value", ev1("") + "\n{}", Options{}, []want{e(RuleTrailingData, "", "\n{", 1)}},
		{"duplicate attribute", ev1(`,"id":"B"`), Options{}, []want{e(RuleDuplicateMember, "/id", `"id":"B"`, 0)}},
		{"duplicate escaped name", ev1(`,"\u0069d":"B"`), Options{}, []want{e(RuleDuplicateMember, "/id", `"\u0069d"`, 0)}},
		{"duplicate in data is a warning", ev1(`,"data":{"a":1,"b":{"c":1,"c":2}}`), Options{}, []want{w(RuleDuplicateMember, "/data/b/c", `"c":2`, 0)}},
		{"duplicate in data strict", ev1(`,"data":[{"a":1,"a":2}]`), strict, []want{e(RuleDuplicateMember, "/data/0/a", `"a":2`, 0)}},
		{"event is an array", `[]`, Options{}, []want{e(RuleEventObject, "", "", 0)}},
		{"event is a string", ` "x"`, Options{}, []want{e(RuleEventObject, "", `"`, 0)}},

		// Rule 2: specversion.
		{"specversion number", `{"specversion":1.0,"id":"1","source":"/s","type":"t"}`, Options{}, []want{e(RuleAttributeType, "/specversion", "1.0", 0)}},
		{"specversion unknown", `{"specversion":"2.0","id":"1","source":"/s","type":"t"}`, Options{}, []want{e(RuleSpecVersion, "/specversion", `"2.0"`, 0)}},
		{"specversion patch", `{"specversion":"1.0.2","id":"1","source":"/s","type":"t"}`, Options{}, []want{e(RuleSpecVersion, "/specversion", `"1.0.2"`, 0)}},
		{"specversion not accepted", ev03(""), only10, []want{e(RuleSpecVersion, "/specversion", `"0.3"`, 0)}},
		{"specversion empty", `{"specversion":"","id":"1","source":"/s","type":"t"}`, Options{}, []want{e(RuleEmptyValue, "/specversion", `""`, 0)}},

		// Rule 3: required attributes.
		{"missing all", `{}`, Options{}, []want{
			e(RuleRequired, "/specversion", "", 0), e(RuleRequired, "/id", "", 0),
			e(RuleRequired, "/source", "", 0), e(RuleRequired, "/type", "", 0)}},
		{"missing id", `{"specversion":"1.0","source":"/s","type":"t"}`, Options{}, []want{e(RuleRequired, "/id", "", 0)}},
		{"null id", `{"specversion":"1.0","id":null,"source":"/s","type":"t"}`, Options{}, []want{e(RuleRequired, "/id", "null", 0)}},
		{"null specversion", `{"specversion":null,"id":"1","source":"/s","type":"t"}`, Options{}, []want{e(RuleRequired, "/specversion", "null", 0)}},
		{"id number", `{"specversion":"1.0","id":1,"source":"/s","type":"t"}`, Options{}, []want{e(RuleAttributeType, "/id", "1,", 0)}},
		{"type object", `{"specversion":"1.0","id":"1","source":"/s","type":{}}`, Options{}, []want{e(RuleAttributeType, "/type", "{}", 0)}},
		{"empty id", `{"specversion":"1.0","id":"","source":"/s","type":"t"}`, Options{}, []want{e(RuleEmptyValue, "/id", `""`, 0)}},
		{"empty source", `{"specversion":"1.0","id":"1","source":"","type":"t"}`, Options{}, []want{e(RuleEmptyValue, "/source", `""`, 0)}},
		{"empty type v0.3", `{"specversion":"0.3","id":"1","source":"/s","type":""}`, Options{}, []want{e(RuleEmptyValue, "/type", `""`, 0)}},

		// Rule 4: formats.
		{"source with space", ev1(`,"subject":"x"`)[:0] + `{"specversion":"1.0","id":"1","source":"a b","type":"t"}`, Options{}, []want{e(RuleURIReference, "/source", "a b", 1)}},
		{"source colon in first segment", `{"specversion":"1.0","id":"1","source":"1:x","type":"t"}`, Options{}, []want{e(RuleURIReference, "/source", "1:x", 1)}},
		{"source bad percent", `{"specversion":"1.0","id":"1","source":"/a%zz","type":"t"}`, Options{}, []want{e(RuleURIReference, "/source", "%zz", 0)}},
		{"source bad port", `{"specversion":"1.0","id":"1","source":"http://h:80a/","type":"t"}`, Options{}, []want{e(RuleURIReference, "/source", "a/", 0)}},
		{"source open ip literal", `{"specversion":"1.0","id":"1","source":"http://[::1/x","type":"t"}`, Options{}, []want{e(RuleURIReference, "/source", "[", 0)}},
		{"source bad ipv6", `{"specversion":"1.0","id":"1","source":"http://[::g]/","type":"t"}`, Options{}, []want{e(RuleURIReference, "/source", "::g", 0)}},
		{"source two fragments", `{"specversion":"1.0","id":"1","source":"/a#b#c","type":"t"}`, Options{}, []want{e(RuleURIReference, "/source", "#c", 0)}},
		{"source escaped points at value", `{"specversion":"1.0","id":"1","source":"a\u0020b","type":"t"}`, Options{}, []want{e(RuleURIReference, "/source", `"a\u`, 0)}},
		{"dataschema relative", ev1(`,"dataschema":"/schema.json"`), Options{}, []want{e(RuleAbsoluteURI, "/dataschema", `"/schema`, 1)}},
		{"dataschema fragment", ev1(`,"dataschema":"https://x/s.json#/a"`), Options{}, []want{e(RuleAbsoluteURI, "/dataschema", "#/a", 0)}},
		{"dataschema empty", ev1(`,"dataschema":""`), Options{}, []want{e(RuleEmptyValue, "/dataschema", `""`, 0)}},
		{"time without seconds", ev1(`,"time":"2018-04-05T17:31Z"`), Options{}, []want{e(RuleTimeFormat, "/time", "Z\"", 0)}},
		{"time short offset", ev1(`,"time":"2018-04-05T17:31:00+05"`), Options{}, []want{e(RuleTimeFormat, "/time", "+05", 0)}},
		{"time offset range", ev1(`,"time":"2018-04-05T17:31:00+25:00"`), Options{}, []want{e(RuleTimeFormat, "/time", "25:00", 0)}},
		{"time no zone", ev1(`,"time":"2018-04-05T17:31:00"`), Options{}, []want{e(RuleTimeFormat, "/time", `00"`, 1)}},
		{"time bad day", ev1(`,"time":"2019-02-29T00:00:00Z"`), Options{}, []want{e(RuleTimeFormat, "/time", "29T", 0)}},
		{"time space separator", ev1(`,"time":"2018-04-05 17:31:00Z"`), Options{}, []want{e(RuleTimeFormat, "/time", " 17", 0)}},
		{"time hour", ev1(`,"time":"2018-04-05T24:00:00Z"`), Options{}, []want{e(RuleTimeFormat, "/time", "24:", 0)}},
		{"time empty", ev1(`,"time":""`), Options{}, []want{e(RuleEmptyValue, "/time", `""`, 0)}},
		{"time number", ev1(`,"time":1522949460`), Options{}, []want{e(RuleAttributeType, "/time", "1522", 0)}},
		{"media type without subtype", ev1(`,"datacontenttype":"xyz"`), Options{}, []want{e(RuleMediaType, "/datacontenttype", `z"`, 0)}},
		{"media type empty parameter", ev1(`,"datacontenttype":"text/plain;"`), Options{}, []want{e(RuleMediaType, "/datacontenttype", `;"`, 0)}},
		{"media type space", ev1(`,"datacontenttype":"text /plain"`), Options{}, []want{e(RuleMediaType, "/datacontenttype", " /", 0)}},
		{"media type parameter without value", ev1(`,"datacontenttype":"text/plain; charset"`), Options{}, []want{e(RuleMediaType, "/datacontenttype", `charset"`, 6)}},

		// Rule 5: null is absent, empty optional strings.
		{"empty subject", ev1(`,"subject":""`), Options{}, []want{e(RuleEmptyValue, "/subject", `""`, 0)}},
		{"subject boolean", ev1(`,"subject":true`), Options{}, []want{e(RuleAttributeType, "/subject", "true", 0)}},

		// Rule 6: string characters.
		{"escaped NUL in id", `{"specversion":"1.0","id":"a\u0000","source":"/s","type":"t"}`, Options{}, []want{e(RuleStringChars, "/id", `\u0000`, 0)}},
		{"escaped newline in type", `{"specversion":"1.0","id":"1","source":"/s","type":"a\nb"}`, Options{}, []want{e(RuleStringChars, "/type", `\n`, 0)}},
		{"raw DEL in subject", ev1(`,"subject":"a` + "\x7f" + `"`), Options{}, []want{e(RuleStringChars, "/subject", "\x7f", 0)}},
		{"raw C1 control in extension", ev1(`,"ext":"a` + "\u0085" + `"`), Options{}, []want{e(RuleStringChars, "/ext", "\u0085", 0)}},
		{"escaped C1 control", ev1(`,"ext":"\u009F"`), Options{}, []want{e(RuleStringChars, "/ext", `\u009F`, 0)}},
		{"unpaired low surrogate", ev1(`,"subject":"\uDEAD"`), Options{}, []want{e(RuleStringChars, "/subject", `\uDEAD`, 0)}},
		{"unpaired high surrogate", ev1(`,"subject":"\uD800x"`), Options{}, []want{e(RuleStringChars, "/subject", `\uD800`, 0)}},
		{"reversed surrogates", ev1(`,"subject":"\uDC00\uD800"`), Options{}, []want{e(RuleStringChars, "/subject", `\uDC00`, 0)}},
		{"noncharacter escape", ev1(`,"subject":"\uFDD0"`), Options{}, []want{e(RuleStringChars, "/subject", `\uFDD0`, 0)}},
		{"noncharacter raw", ev1(`,"subject":"x` + "\uFFFF" + `"`), Options{}, []want{e(RuleStringChars, "/subject", "\uFFFF", 0)}},
		{"noncharacter plane 16", ev1(`,"subject":"\uDBFF\uDFFF"`), Options{}, []want{e(RuleStringChars, "/subject", `\uDBFF`, 0)}},
		{"control char in source", `{"specversion":"1.0","id":"1","source":"/a\tb","type":"t"}`, Options{}, []want{e(RuleStringChars, "/source", `\t`, 0)}},

		// Rule 7: extensions.
		{"upper case name", ev1(`,"MyExtension":"x"`), Options{}, []want{e(RuleExtensionName, "/MyExtension", "MyExt", 0)}},
		{"underscore name", ev1(`,"my_ext":"x"`), Options{}, []want{e(RuleExtensionName, "/my_ext", "_ext", 0)}},
		{"dash name", ev1(`,"my-ext":"x"`), Options{}, []want{e(RuleExtensionName, "/my-ext", "-ext", 0)}},
		{"dot name", ev1(`,"my.ext":"x"`), Options{}, []want{e(RuleExtensionName, "/my.ext", ".ext", 0)}},
		{"empty name", ev1(`,"":"x"`), Options{}, []want{e(RuleExtensionName, "/", `"":`, 0)}},
		{"slash name pointer", ev1(`,"a/b~c":"x"`), Options{}, []want{e(RuleExtensionName, "/a~1b~0c", "/b~", 0)}},
		{"long name warning", ev1(`,"abcdefghijklmnopqrstu":1`), Options{}, []want{w(RuleNameLength, "/abcdefghijklmnopqrstu", `"abcdefghijklmnopqrstu"`, 0)}},
		{"long name strict", ev1(`,"abcdefghijklmnopqrstu":1`), strict, []want{e(RuleNameLength, "/abcdefghijklmnopqrstu", `"abcdefghijklmnopqrstu"`, 0)}},
		{"float extension", ev1(`,"ext":42.42`), Options{}, []want{e(RuleExtensionType, "/ext", "42.42", 0)}},
		{"exponent extension", ev1(`,"ext":1e3`), Options{}, []want{e(RuleExtensionType, "/ext", "1e3", 0)}},
		{"object extension", ev1(`,"ext":{"a":1}`), Options{}, []want{e(RuleExtensionType, "/ext", `{"a"`, 0)}},
		{"array extension", ev1(`,"ext":[1]`), Options{}, []want{e(RuleExtensionType, "/ext", "[1]", 0)}},
		{"int32 overflow", ev1(`,"ext":2147483648`), Options{}, []want{e(RuleIntegerRange, "/ext", "2147483648", 0)}},
		{"int32 underflow", ev1(`,"ext":-2147483649`), Options{}, []want{e(RuleIntegerRange, "/ext", "-2147483649", 0)}},
		{"huge integer", ev1(`,"ext":123456789012345678901234567890`), Options{}, []want{e(RuleIntegerRange, "/ext", "1234567890123", 0)}},
		{"sampledrate string", ev1(`,"sampledrate":"5"`), Options{}, []want{e(RuleExtensionType, "/sampledrate", `"5"`, 0)}},
		{"severitynumber float", ev1(`,"severitynumber":1.5`), Options{}, []want{e(RuleExtensionType, "/severitynumber", "1.5", 0)}},
		{"deprecated string", ev1(`,"deprecated":"true"`), Options{}, []want{e(RuleExtensionType, "/deprecated", `"true"`, 0)}},
		{"expirytime number", ev1(`,"expirytime":5`), Options{}, []want{e(RuleExtensionType, "/expirytime", "5}", 0)}},
		{"expirytime format", ev1(`,"expirytime":"tomorrow"`), Options{}, []want{e(RuleTimeFormat, "/expirytime", "tomorrow", 0)}},
		{"recordedtime format", ev1(`,"recordedtime":"2018-04-05T17:31:00"`), Options{}, []want{e(RuleTimeFormat, "/recordedtime", `"2018-04-05T17:31:00"`, 19)}},
		{"dataref format", ev1(`,"dataref":"a b"`), Options{}, []want{e(RuleURIReference, "/dataref", " b", 0)}},
		{"sampledrate range", ev1(`,"sampledrate":4294967296`), Options{}, []want{e(RuleIntegerRange, "/sampledrate", "4294967296", 0)}},

		// Rule 8: data and data_base64.
		{"data and data_base64", ev1(`,"data":"x","data_base64":"eA=="`), Options{}, []want{e(RuleDataExclusive, "/data_base64", `"data_base64"`, 0)}},
		{"data_base64 then data null", ev1(`,"data_base64":"eA==","data":null`), Options{}, []want{e(RuleDataExclusive, "/data", `"data":null`, 0)}},
		{"data_base64 length", ev1(`,"data_base64":"Zm9vYg="`), Options{}, []want{e(RuleBase64, "/data_base64", `="`, 0)}},
		{"data_base64 url alphabet", ev1(`,"data_base64":"Zm9-_w=="`), Options{}, []want{e(RuleBase64, "/data_base64", "-", 0)}},
		{"data_base64 inner padding", ev1(`,"data_base64":"Zm=9Zm9v"`), Options{}, []want{e(RuleBase64, "/data_base64", "=9", 0)}},
		{"data_base64 line break", ev1(`,"data_base64":"Zm9v\nZm9v"`), Options{}, []want{e(RuleBase64, "/data_base64", `"Zm9v\n`, 0)}},
		{"data_base64 number", ev1(`,"data_base64":12`), Options{}, []want{e(RuleAttributeType, "/data_base64", "12", 0)}},
		{"data object for text", ev1(`,"datacontenttype":"text/plain","data":{"a":1}`), Options{}, []want{w(RuleDataString, "/data", `{"a"`, 0)}},
		{"data number for xml strict", ev1(`,"datacontenttype":"application/xml","data":5`), strict, []want{e(RuleDataString, "/data", "5}", 0)}},
		{"data array for octet-stream", ev1(`,"data":[1],"datacontenttype":"application/octet-stream"`), Options{}, []want{w(RuleDataString, "/data", "[1]", 0)}},

		// Rule 9: v0.3.
		{"v0.3 schemaurl", ev03(`,"schemaurl":"a b"`), Options{}, []want{e(RuleURIReference, "/schemaurl", " b", 0)}},
		{"v0.3 name starts with digit", ev03(`,"1abc":"x"`), Options{}, []want{e(RuleExtensionName, "/1abc", `"1abc"`, 1)}},
		{"v0.3 data_base64", ev03(`,"data_base64":"eA=="`), Options{}, []want{e(RuleExtensionName, "/data_base64", `"data_base64"`, 0)}},
		{"v0.3 encoding unknown", ev03(`,"datacontentencoding":"7bit","data":"x"`), Options{}, []want{e(RuleContentEncoding, "/datacontentencoding", `"7bit"`, 0)}},
		{"v0.3 encoding without data", ev03(`,"datacontentencoding":"base64"`), Options{}, []want{e(RuleContentEncoding, "/datacontentencoding", `"base64"`, 0)}},
		{"v0.3 encoding with object data", ev03(`,"datacontentencoding":"base64","data":{}`), Options{}, []want{e(RuleContentEncoding, "/data", "{}", 0)}},
		{"v0.3 encoding bad base64", ev03(`,"datacontentencoding":"base64","data":"Zm9v!"`), Options{}, []want{e(RuleBase64, "/data", "!", 0)}},
		{"v0.3 boolean extension", ev03(`,"flag":true`), Options{}, []want{w(RuleExtensionType, "/flag", "true", 0)}},
		{"v0.3 boolean extension strict", ev03(`,"flag":false`), strict, []want{e(RuleExtensionType, "/flag", "false", 0)}},
		{"v0.3 null extension", ev03(`,"ext":null`), Options{}, []want{w(RuleExtensionType, "/ext", "null", 0)}},
		{"v0.3 null optional", ev03(`,"time":null`), Options{}, []want{w(RuleAttributeType, "/time", "null", 0)}},
		{"v0.3 null optional strict", ev03(`,"subject":null`), strict, []want{e(RuleAttributeType, "/subject", "null", 0)}},
		{"v0.3 null encoding", ev03(`,"datacontentencoding":null`), Options{}, []want{w(RuleAttributeType, "/datacontentencoding", "null", 0)}},
		{"v0.3 map with float", ev03(`,"ext":{"a":{"b":1.5}}`), Options{}, []want{e(RuleExtensionType, "/ext/a/b", "1.5", 0)}},
		{"v0.3 map with array", ev03(`,"ext":{"a":[1]}`), Options{}, []want{e(RuleExtensionType, "/ext/a", "[1]", 0)}},
		{"v0.3 map with big int", ev03(`,"ext":{"n":3000000000}`), Options{}, []want{e(RuleIntegerRange, "/ext/n", "3000000000", 0)}},
		{"v0.3 float extension", ev03(`,"ext":1.5`), Options{}, []want{e(RuleExtensionType, "/ext", "1.5", 0)}},
		{"v0.3 data string for text", ev03(`,"datacontenttype":"text/plain","data":{}`), Options{}, []want{w(RuleDataString, "/data", "{}", 0)}},
		{"v0.3 empty subject", ev03(`,"subject":""`), Options{}, []want{e(RuleEmptyValue, "/subject", `""`, 0)}},
		{"v0.3 empty time", ev03(`,"time":""`), Options{}, []want{e(RuleTimeFormat, "/time", `""`, 1)}},
		{"v0.3 dataschema is an extension", ev03(`,"dataschema":5.5`), Options{}, []want{e(RuleExtensionType, "/dataschema", "5.5", 0)}},

		// Several findings come sorted by position, with lines and columns.
		{"multi-line event", "{\n  \"specversion\": \"1.0\",\n  \"id\": \"\",\n  \"source\": \"/s\",\n  \"type\": \"t\",\n  \"time\": \"2018-04-05T17:31Z\",\n  \"Bad\": 1.5\n}",
			Options{}, []want{e(RuleEmptyValue, "/id", `""`, 0), e(RuleTimeFormat, "/time", "Z\"", 0), e(RuleExtensionName, "/Bad", "Bad", 0), e(RuleExtensionType, "/Bad", "1.5", 0)}},
		{"non-ASCII column", "{\"specversion\":\"1.0\",\"id\":\"é😀\",\"source\":\"/s\",\"type\":\"t\",\n\"subject\":\"ü\",\"x_y\":1}",
			Options{}, []want{e(RuleExtensionName, "/x_y", "_y", 0)}},
	}
	// Every message a person reads, for review in one file.
	var messages bytes.Buffer
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Event([]byte(tt.doc), tt.opts)
			checkFindings(t, tt.doc, got, tt.want)
			for _, f := range got {
				fmt.Fprintf(&messages, "%-40s %d:%d %s: %s [%s]\n", tt.name, f.Line, f.Column, f.Level, f.Message, f.Rule)
			}
		})
	}
	// Findings about a whole input come from the Scanner.
	for _, in := range []struct{ name, input string }{
		{"not text: starts with non-UTF-8", "\x89PNG\r\n\x1a\n\x00"},
		{"not text: starts with a control byte", "\x1f\x8b\x08\x00"},
		{"not text: NUL in the first line", "{\x00\"\x00"},
	} {
		s := NewScanner(strings.NewReader(in.input), Options{})
		for s.Scan() {
			for _, f := range s.Result().Findings {
				fmt.Fprintf(&messages, "%-40s %d:%d %s: %s [%s]\n", in.name, f.Line, f.Column, f.Level, f.Message, f.Rule)
			}
		}
	}
	golden(t, "messages.txt", messages.Bytes())
}

func TestMultiLinePositions(t *testing.T) {
	doc := "{\n  \"specversion\": \"1.0\",\n  \"id\": \"é\",\n  \"source\": \"/s\",\n  \"type\": \"t\",\n  \"x\": \"é\", \"time\": \"x\"\n}"
	got := Event([]byte(doc), Options{})
	if len(got) != 1 {
		t.Fatalf("want 1 finding, got:\n%s", dump(got))
	}
	// Line 6 is `  "x": "é", "time": "x"`; the value of time starts at
	// code point 22 although it is byte 23 of the line.
	if got[0].Line != 6 || got[0].Column != 22 {
		t.Errorf("position %d:%d, want 6:22", got[0].Line, got[0].Column)
	}
}

func TestValidatorReuse(t *testing.T) {
	v := New(Options{})
	bad := []byte(ev1(`,"time":"x"`))
	good := []byte(ev1(""))
	for i := 0; i < 3; i++ {
		if got := v.Event(bad); len(got) != 1 || got[0].Rule != RuleTimeFormat {
			t.Fatalf("round %d bad: %s", i, dump(got))
		}
		if got := v.Event(good); len(got) != 0 {
			t.Fatalf("round %d good: %s", i, dump(got))
		}
	}
}

func TestEventAllocations(t *testing.T) {
	v := New(Options{})
	doc := []byte(ev1(`,"time":"2018-04-05T17:31:00Z","subject":"x","datacontenttype":"application/json","exta":"v","extb":5,"data":{"a":[1,2,{"b":"c"}]}`))
	v.Event(doc)
	allocs := testing.AllocsPerRun(100, func() {
		if len(v.Event(doc)) != 0 {
			t.Fatal("unexpected finding")
		}
	})
	if allocs != 0 {
		t.Errorf("validating a valid event allocates %v times, want 0", allocs)
	}
}
