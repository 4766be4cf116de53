package listen

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/cectl/cectl/internal/binding"
	"github.com/cectl/cectl/internal/ce"
)

// FuzzHandler feeds arbitrary methods, header blocks and bodies to the handler: it must never
// panic, must answer 2xx or 4xx, and whatever it accepts must be an event it can write in the
// JSON format and read back.
func FuzzHandler(f *testing.F) {
	ce1 := "ce-specversion: 1.0\nce-id: 1\nce-source: /s\nce-type: t\n"
	seeds := []struct {
		method, headers, body string
	}{
		{"POST", ce1 + "content-type: application/json", `{"a":1}`},
		{"POST", ce1 + "ce-subject: caf%C3%A9\nce-sampledrate: 7\nce-deprecated: false", ""},
		{"POST", ce1 + "ce-subject: %\nce-x: %ff", ""},
		{"POST", ce1 + "ce-: empty name\nce-MyExt: x", ""},
		{"POST", ce1 + "content-type: ;;;", "x"},
		{"POST", "ce-specversion: 0.3\nce-id: 1\nce-source: /s\nce-type: t\nce-datacontentencoding: base64", "\xff\x00"},
		{"POST", "content-type: application/cloudevents+json", `{"specversion":"1.0","id":"1","source":"/s","type":"t","data_base64": "AA=="}`},
		{"POST", "content-type: application/cloudevents+json", `{"datacontentencoding":"","specversion":"0.3","id":"1","source":"/s","type":"t"}`},
		{"POST", "content-type: application/cloudevents+json", `{"specversion":"1.0","":1}`},
		{"POST", "content-type: application/cloudevents+json", "{\"specversion\":\"1.0\",\"id\":\"\xff\"}"},
		{"POST", "content-type: application/cloudevents-batch+json", `[{"specversion":"1.0","id":"1","source":"/s","type":"t"},5,null,[]]`},
		{"POST", "content-type: application/cloudevents-batch+json", `[`},
		{"PUT", "content-type: application/cloudevents-batch+json", `[]`},
		{"OPTIONS", "webhook-request-origin: x.example.com", ""},
		{"GET", "", ""},
		{"POST", "content-type: text/plain", "hello"},
		{"POST", ce1 + "content-type: application/json", `{"a":1,}`},
		{"POST", ce1, "no content type \xff"},
		{"POST", ce1 + "content-type: application/json\ncontent-encoding: gzip", "\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\x03\xab\x56\x4a\x54\xb2\x32\xac\x05\x00\xaf\xac\x1b\x56\x07\x00\x00\x00"},
		{"POST", ce1 + "content-type: application/json\ncontent-encoding: br", "x"},
		{"POST", "content-type: application/cloudevents+json", `{"specversion":"1.0","id":"1","source":"/s","type":"t","datacontenttype":"application/json","data_base64":"aGk="}`},
	}
	for _, s := range seeds {
		f.Add(s.method, s.headers, []byte(s.body))
	}
	h := NewHandler(Config{MaxBody: 1 << 16})
	f.Fuzz(func(t *testing.T, method, headers string, body []byte) {
		if method == "" || strings.ContainsAny(method, " \r\n\t") {
			method = "POST"
		}
		r := httptest.NewRequest("POST", "/", bytes.NewReader(body))
		r.Method = method
		for _, line := range strings.Split(headers, "\n") {
			k, v, ok := strings.Cut(line, ":")
			if !ok {
				continue
			}
			// Go's server canonicalises valid names; invalid ones arrive as they are.
			r.Header[http.CanonicalHeaderKey(strings.TrimSpace(k))] = append(r.Header[http.CanonicalHeaderKey(strings.TrimSpace(k))], strings.TrimSpace(v))
		}
		var reported []*Report
		h.cfg.Report = func(rep *Report) {
			for _, a := range rep.Events {
				doc := ce.Marshal(a.Event)
				if _, err := ce.Decode(doc); err != nil {
					t.Errorf("accepted event does not read back: %s: %v", doc, err)
				}
				// What listen takes, send takes too: the same rules (binding.Check).
				if errs, _ := binding.Check(a.Event); len(errs) > 0 {
					t.Errorf("accepted event refused by send's check: %s: %v", doc, errs)
				}
			}
			reported = append(reported, rep)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code < 200 || w.Code > 499 || (w.Code > 299 && w.Code < 400) {
			t.Fatalf("status %d: %s", w.Code, w.Body)
		}
		if len(reported) > 1 {
			t.Fatalf("%d reports for one request", len(reported))
		}
	})
}

// FuzzFilterErrors feeds arbitrary expressions to NewFilter: it must never panic (sdk-go's
// parser and the grammar it is generated from panic on some incomplete input), and a syntax
// error must come with the expression's line and a caret.
func FuzzFilterErrors(f *testing.F) {
	for _, s := range []string{"EXSTS region", "type = ", "(a = 1", "a == 1", "a = 'x", "LIKE", "a = 1 OR\n\tb LIKE", "é = 'ü' ANDD", "", "EXISTS region"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, expr string) {
		_, err := NewFilter(expr, nil)
		if err == nil || !strings.HasPrefix(err.Error(), "syntax error at ") {
			return
		}
		lines := strings.Split(err.Error(), "\n")
		if len(lines) != 3 || !strings.HasSuffix(lines[2], "^") || strings.Trim(lines[2], " ^") != "" {
			t.Errorf("NewFilter(%q): %q", expr, err)
		}
	})
}
