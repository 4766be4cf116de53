package format

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cectl/cectl/internal/ce"
	"github.com/cectl/cectl/internal/client"
	"github.com/cloudevents/sdk-go/v2/event"
)

var update = flag.Bool("update", false, "rewrite golden files")

// golden compares got with testdata/NAME, or rewrites it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs (go test -update rewrites it)\n--- got\n%s\n--- want\n%s", name, got, want)
	}
}

func mustDecode(t *testing.T, doc string) *event.Event {
	t.Helper()
	e, err := ce.Decode([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	return &e
}

var received = time.Date(2026, 11, 25, 17, 59, 8, 123e6, time.UTC)

func TestEventText(t *testing.T) {
	events := []struct {
		name string
		doc  string
		info EventInfo
	}{
		{"json", `{"specversion":"1.0","id":"8f1c","source":"/users","type":"com.example.user.created","subject":"user/42",
			"time":"2026-11-25T17:59:08Z","datacontenttype":"application/json","dataschema":"https://example.com/user.json",
			"region":"eu","priority":5,"sampled":true,"data":{"id":42,"name":"Ada","tags":["a","b"]}}`,
			EventInfo{Received: received, Mode: "binary"}},
		{"text", `{"specversion":"1.0","id":"1","source":"cectl","type":"com.example.note","datacontenttype":"text/plain","data":"line one\nline two"}`,
			EventInfo{Mode: "structured", Notes: []string{"duplicate"}}},
		{"binary", `{"specversion":"1.0","id":"2","source":"cectl","type":"com.example.upload","datacontenttype":"image/png",
			"data_base64":"iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="}`,
			EventInfo{Received: received, Mode: "batch"}},
		{"hostile", `{"specversion":"1.0","id":"\u001b[31mred","source":"/s","type":"com.example.\u001b]0;title\u0007x",
			"subject":"a\u202eb","datacontenttype":"text/plain","data":"clear\u001b[2J screen\r\n"}`,
			EventInfo{}},
		{"v03", `{"specversion":"0.3","id":"3","source":"/s","type":"t","schemaurl":"/schema","datacontentencoding":"base64","data":"AAEC"}`,
			EventInfo{}},
		{"one-byte", `{"specversion":"1.0","id":"4","source":"/s","type":"t","datacontenttype":"text/plain","data":"x"}`,
			EventInfo{}},
	}
	for _, color := range []bool{false, true} {
		var out bytes.Buffer
		st := NewStyles(color)
		for _, tt := range events {
			e := mustDecode(t, tt.doc)
			if err := Event(&out, st, e, tt.info, false); err != nil {
				t.Fatal(err)
			}
			if err := Event(&out, st, e, tt.info, true); err != nil {
				t.Fatal(err)
			}
		}
		name := "event/plain.txt"
		if color {
			name = "event/color.txt"
		}
		golden(t, name, out.Bytes())
		if !color && bytes.ContainsAny(out.Bytes(), "\x1b\x07\r") {
			t.Error("control characters reached the plain output")
		}
	}
}

func TestDeliveryOutput(t *testing.T) {
	e := mustDecode(t, `{"specversion":"1.0","id":"abc","source":"/s","type":"com.example.t"}`)
	mkResp := func(status string, ct, body string) *client.Response {
		return &client.Response{Proto: "HTTP/1.1", Status: status, Header: http.Header{"Content-Type": {ct}}, Body: []byte(body)}
	}
	results := []client.Result{
		{Delivered: true, ACK: true, Status: 202, Attempts: 1, Duration: 2345 * time.Microsecond, Response: mkResp("202 Accepted", "", "")},
		{Delivered: true, ACK: true, Status: 200, Attempts: 3, Duration: 1200 * time.Millisecond, Response: mkResp("200 OK", "application/json", `{"ok":true}`)},
		{Delivered: true, Status: 400, Attempts: 1, Duration: 800 * time.Microsecond, Response: mkResp("400 Bad Request", "text/plain", "missing subject\n")},
		{Attempts: 2, Duration: 3 * time.Second, Err: errors.New("cannot connect to 127.0.0.1:9: connect: connection refused")},
		{Attempts: 3, Written: 2, Duration: 2 * time.Second, Err: &client.TimeoutError{After: time.Second, Sent: true}},
		{Delivered: true, ACK: true, Status: 202, Attempts: 2, Written: 1, Duration: 1500 * time.Millisecond, Response: mkResp("202 Accepted", "", "")},
	}
	var text, js bytes.Buffer
	st := NewStyles(false)
	var sum Summary
	for i := range results {
		d := Delivery{Event: e, To: "http://localhost:8080/", Mode: "binary", Result: &results[i], Line: i}
		if err := DeliveryText(&text, st, d); err != nil {
			t.Fatal(err)
		}
		if err := DeliveryJSON(&js, d); err != nil {
			t.Fatal(err)
		}
		sum.Add(&results[i])
	}
	sum.Invalid = 1
	if err := SummaryText(&text, st, sum); err != nil {
		t.Fatal(err)
	}
	golden(t, "delivery/text.txt", text.Bytes())
	golden(t, "delivery/json.jsonl", js.Bytes())
}

// A line of -o json carries what a remote party wrote (the response body, an error naming a
// URL); piped to a terminal it must not carry C1 controls or bidi overrides raw.
func TestDeliveryJSONEscapesTerminalControls(t *testing.T) {
	e := mustDecode(t, `{"specversion":"1.0","id":"a\u202eb","source":"/s","type":"t"}`)
	body := "c1\u009b31m del\x7f bidi\u202e\u2066\u200f ok ✓"
	r := client.Result{Delivered: true, Status: 400, Attempts: 1, Err: errors.New("x\u0085y"),
		Response: &client.Response{Proto: "HTTP/1.1", Status: "400 Bad Request", Body: []byte(body)}}
	var js bytes.Buffer
	if err := DeliveryJSON(&js, Delivery{Event: e, To: "http://h/", Mode: "binary", Result: &r}); err != nil {
		t.Fatal(err)
	}
	for _, c := range js.String() {
		if unsafeRune(c) && c != '\n' {
			t.Errorf("-o json line holds %U raw: %s", c, js.String())
		}
	}
	want := `"response":"c1\u009b31m del\u007f bidi\u202e\u2066\u200f ok ✓"`
	if !strings.Contains(js.String(), want) {
		t.Errorf("got %s\nwant it to hold %s", js.String(), want)
	}
	var back DeliveryRecord
	if err := json.Unmarshal(js.Bytes(), &back); err != nil || back.Response != body || back.ID != "a\u202eb" || back.Error != "x\u0085y" {
		t.Errorf("does not round-trip: %+v, %v", back, err)
	}
}

// A delivery cut short by Ctrl-C says "interrupted", and the summary of an interrupted
// --from run says what was never sent.
func TestInterruptedResults(t *testing.T) {
	e := mustDecode(t, `{"specversion":"1.0","id":"abc","source":"/s","type":"t"}`)
	r := client.Result{Attempts: 1, Err: context.Canceled}
	var text, js bytes.Buffer
	d := Delivery{Event: e, To: "http://h/", Mode: "binary", Result: &r}
	if err := DeliveryText(&text, NewStyles(false), d); err != nil {
		t.Fatal(err)
	}
	if err := DeliveryJSON(&js, d); err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(text.String(), ": interrupted\n") || !strings.Contains(js.String(), `"error":"interrupted"`) {
		t.Errorf("got\n%s%s", text.String(), js.String())
	}
	for _, tt := range []struct {
		sum  Summary
		want string
	}{
		{Summary{Sent: 3, ACK: 2, Undelivered: 1, Unsent: 61, Unread: "ev.jsonl"}, "sent 3, ACK 2, NACK 0, not delivered 1, interrupted: 61 events read but not sent, ev.jsonl not read to its end\n"},
		{Summary{Sent: 3, ACK: 3, Unsent: 2}, "sent 3, ACK 3, NACK 0, not delivered 0, interrupted: 2 events read but not sent\n"},
		{Summary{Sent: 3, ACK: 3}, "sent 3, ACK 3, NACK 0, not delivered 0\n"},
	} {
		var b bytes.Buffer
		if err := SummaryText(&b, NewStyles(false), tt.sum); err != nil {
			t.Fatal(err)
		}
		if b.String() != tt.want {
			t.Errorf("SummaryText(%+v) = %q, want %q", tt.sum, b.String(), tt.want)
		}
	}
}

func TestExchange(t *testing.T) {
	// The headers the client adds are shown (Basic credentials from the URL, Accept-Encoding),
	// credentials hidden, whether they came from the URL or from --header.
	req, _ := http.NewRequest("POST", "http://alice:s3cret@localhost:8080/hook?x=1", nil)
	req.Header.Set("Ce-Id", "abc")
	req.Header.Set("Ce-Evil", "a\x1b[31mb")
	bearer, _ := http.NewRequest("POST", "http://localhost:8080/", nil)
	bearer.Header.Set("Authorization", "Bearer tok3n")
	var out bytes.Buffer
	for _, req := range []*http.Request{req, bearer} {
		res := client.Result{Request: req, Response: &client.Response{Proto: "HTTP/1.1", Status: "202 Accepted", Header: http.Header{"Date": {"today"}}}}
		if err := Exchange(&out, NewStyles(false), &res); err != nil {
			t.Fatal(err)
		}
	}
	if strings.Contains(out.String(), "s3cret") || strings.Contains(out.String(), "tok3n") || strings.Contains(out.String(), "YWxpY2U6czNjcmV0") {
		t.Errorf("a secret is shown:\n%s", out.String())
	}
	if len(req.Header) != 2 || len(bearer.Header) != 1 {
		t.Errorf("Exchange changed the request's headers: %v, %v", req.Header, bearer.Header)
	}
	golden(t, "delivery/exchange.txt", out.Bytes())
}

func TestSanitize(t *testing.T) {
	tests := []struct{ in, line, block string }{
		{"plain", "plain", "plain"},
		{"a\x1b[31mb", `a\x1b[31mb`, `a\x1b[31mb`},
		{"two\nlines\tx", `two\nlines\tx`, "two\nlines\tx"},
		{"cr\r", `cr\r`, `cr\r`},
		{"c1\u009bx", `c1\x9bx`, `c1\x9bx`},
		{"bad\xffutf8", `bad\xffutf8`, `bad\xffutf8`},
		{"bidi\u202eevil", `bidi\u202eevil`, `bidi\u202eevil`},
		{"ünïcode ✓", "ünïcode ✓", "ünïcode ✓"},
	}
	for _, tt := range tests {
		if got := Sanitize(tt.in); got != tt.line {
			t.Errorf("Sanitize(%q) = %q, want %q", tt.in, got, tt.line)
		}
		if got := SanitizeBlock(tt.in); got != tt.block {
			t.Errorf("SanitizeBlock(%q) = %q, want %q", tt.in, got, tt.block)
		}
	}
}

func TestHideDumpCredentials(t *testing.T) {
	tests := []struct{ in, want string }{
		{"POST / HTTP/1.1\r\nHost: h\r\nAuthorization: Basic YTpi\r\nX: 1\r\n\r\nAuthorization: body", "POST / HTTP/1.1\r\nHost: h\r\nAuthorization: Basic (hidden)\r\nX: 1\r\n\r\nAuthorization: body"},
		{"POST / HTTP/1.1\r\nauthorization:  Bearer x\r\n\r\n", "POST / HTTP/1.1\r\nauthorization: Bearer (hidden)\r\n\r\n"},
		{"POST / HTTP/1.1\r\nHost: h\r\n\r\n{}", "POST / HTTP/1.1\r\nHost: h\r\n\r\n{}"},
	}
	for _, tt := range tests {
		if got := string(HideDumpCredentials([]byte(tt.in))); got != tt.want {
			t.Errorf("HideDumpCredentials(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func FuzzSanitize(f *testing.F) {
	for _, s := range []string{"", "a\x1bb", "\u009b", "\xff", "x\u202e", "\n\t\r"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, out := range []string{Sanitize(s), SanitizeBlock(s)} {
			for _, r := range out {
				if unsafeRune(r) && r != '\n' && r != '\t' {
					t.Fatalf("%q kept %U", s, r)
				}
			}
		}
		if strings.ContainsRune(Sanitize(s), '\n') {
			t.Fatalf("Sanitize(%q) kept a newline", s)
		}
	})
}
