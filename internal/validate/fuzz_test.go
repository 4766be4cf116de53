package validate

import (
	"bytes"
	"strings"
	"testing"
	"testing/iotest"
	"unicode/utf8"
)

func fuzzSeeds(f *testing.F) {
	for _, s := range []string{
		ev1(""), ev03(""), "", " ", "[]", "[", "{", `{"a":}`, `"x"`, "1e5", "\xef\xbb\xbf{}",
		ev1(`,"time":"2018-04-05T17:31:00+05:30","subject":"\ud83d\ude00","data":{"a":[1,{"b":null}]}`),
		ev1(`,"data":"x","data_base64":"Zm9=","MyExt":1.5,"a_b":2147483648,"id":"dup"`),
		ev03(`,"datacontentencoding":"base64","data":"Zm9v!","ext":{"a":{"b":true}},"1x":null`),
		"[" + ev1("") + "," + ev03(`,"time":"x"`) + "]",
		ev1("") + "\n" + ev1(`,"time":"x"`) + "\n{\"id\":\n",
		"{\n\"id\":\"\\uDEAD\",\n\"x\":\"\xff\"}\n{}",
		`{"source":"http://[::1]:80/a?b#c","dataschema":"x:y#z","datacontenttype":"a/b; c=\"d\""}`,
		"[{}, 1, \"a\", [] ,{\"a\":{\"a\":1,\"a\":2}}]  x",
	} {
		f.Add([]byte(s))
	}
}

func checkPositions(t *testing.T, input []byte, fs []Finding) {
	t.Helper()
	for _, fd := range fs {
		if fd.Offset < 0 || fd.Offset >= max(len(input), 1) {
			t.Fatalf("%s: offset %d outside the input of %d bytes", fd.Rule, fd.Offset, len(input))
		}
		line, col := refPosition(string(input), fd.Offset)
		if fd.Line != line || fd.Column != col {
			t.Fatalf("%s: %d:%d, want %d:%d", fd.Rule, fd.Line, fd.Column, line, col)
		}
		if fd.Rule == "" || fd.Message == "" || !utf8.ValidString(fd.Message) || strings.ContainsAny(fd.Message, "\n\r\x1b") {
			t.Fatalf("bad finding %+v", fd)
		}
	}
}

// FuzzEvent: the validator never panics and every position lies inside
// the input and agrees with an independent line/column computation.
func FuzzEvent(f *testing.F) {
	fuzzSeeds(f)
	rules := map[string]bool{}
	for _, r := range Rules() {
		rules[r.Name] = true
	}
	f.Fuzz(func(t *testing.T, doc []byte) {
		fs := Event(doc, Options{})
		checkPositions(t, doc, fs)
		for _, fd := range fs {
			if !rules[fd.Rule] {
				t.Fatalf("undocumented rule %q", fd.Rule)
			}
		}
		strict := Event(doc, Options{Strict: true})
		if len(strict) != len(fs) || Valid(strict) != (len(fs) == 0) {
			t.Fatalf("strict mode changed the findings: %d vs %d", len(strict), len(fs))
		}
	})
}

// FuzzScanner: streaming gives the same findings whatever the read sizes,
// and positions stay inside the input.
func FuzzScanner(f *testing.F) {
	fuzzSeeds(f)
	f.Fuzz(func(t *testing.T, input []byte) {
		collect := func(s *Scanner) []Finding {
			var all []Finding
			for s.Scan() {
				all = append(all, s.Result().Findings...)
			}
			return all
		}
		whole := collect(NewScanner(bytes.NewReader(input), Options{}))
		checkPositions(t, input, whole)
		bytewise := collect(NewScanner(iotest.OneByteReader(bytes.NewReader(input)), Options{}))
		if len(whole) != len(bytewise) {
			t.Fatalf("%d findings read whole, %d read byte by byte", len(whole), len(bytewise))
		}
		for i := range whole {
			if whole[i] != bytewise[i] {
				t.Fatalf("finding %d differs:\n%+v\n%+v", i, whole[i], bytewise[i])
			}
		}
	})
}
