package listen_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/cectl/cectl/internal/binding"
	"github.com/cectl/cectl/internal/ce"
	"github.com/cectl/cectl/internal/client"
	"github.com/cectl/cectl/internal/format"
	"github.com/cectl/cectl/internal/listen"
	"github.com/cectl/cectl/internal/send"
	"github.com/cloudevents/sdk-go/v2/event"
)

// replayCase is a request as a sender may make it.
type replayCase struct {
	name    string
	headers []string
	body    string
	// reject is the status expected when the request is refused; 0 when it is accepted.
	reject int
}

var ceHeaders = []string{"Ce-Specversion: 1.0", "Ce-Id: 1", "Ce-Source: /s", "Ce-Type: com.example.t"}

func binaryCase(name, contentType, body string, reject int) replayCase {
	h := append([]string{}, ceHeaders...)
	if contentType != "" {
		h = append(h, "Content-Type: "+contentType)
	}
	return replayCase{name: name, headers: h, body: body, reject: reject}
}

func structuredCase(name, event string, reject int) replayCase {
	return replayCase{name: name, headers: []string{"Content-Type: application/cloudevents+json"}, body: event, reject: reject}
}

func gzipped(s string) string {
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	zw.Write([]byte(s))
	zw.Close()
	return b.String()
}

func nested(depth int) string {
	return strings.Repeat("[", depth) + strings.Repeat("]", depth)
}

// replayCorpus covers the ways data arrives: declared JSON or not, text or bytes, in binary,
// structured and batch mode, compressed or not — and the ways it can be broken.
var replayCorpus = []replayCase{
	binaryCase("json object", "application/json", `{"a":1,"b":[true,null,"é"]}`, 0),
	binaryCase("json with white space", "application/json; charset=utf-8", "{ \"a\" : [1, 2] }\n", 0),
	binaryCase("json string", "application/json", `"just a string"`, 0),
	binaryCase("json number", "text/json", `42`, 0),
	binaryCase("+json suffix", "application/vnd.example+json", `{"x":"y"}`, 0),
	binaryCase("json nested deep", "application/json", nested(9999), 0),
	binaryCase("text", "text/plain", "hello\nworld", 0),
	binaryCase("text not utf-8", "text/plain", "caf\xe9", 0),
	binaryCase("bytes", "application/octet-stream", "\x00\x01\x02\xff", 0),
	binaryCase("xml", "application/xml", `<a b="c"/>`, 0),
	binaryCase("no content type, json", "", `{"a":1}`, 0),
	binaryCase("no content type, text", "", `hello`, 0),
	binaryCase("no content type, bytes", "", "\xff\xfe", 0),
	{name: "extensions and encoded values", headers: append(append([]string{}, ceHeaders...), "Ce-Subject: caf%C3%A9 %25", "Ce-Count: 42", "Ce-Flag: true", "Content-Type: application/json"), body: `[]`},
	{name: "gzip json", headers: append(append([]string{}, ceHeaders...), "Content-Type: application/json", "Content-Encoding: gzip"), body: gzipped(`{"zipped":true}`)},
	structuredCase("structured json", `{"specversion":"1.0","id":"2","source":"/s","type":"t","datacontenttype":"application/json","data":{"a":[1,2]}}`, 0),
	structuredCase("structured no dct", `{"specversion":"1.0","id":"2","source":"/s","type":"t","data":"x"}`, 0),
	structuredCase("structured text", `{"specversion":"1.0","id":"2","source":"/s","type":"t","datacontenttype":"text/plain","data":"line\n"}`, 0),
	structuredCase("structured base64", `{"specversion":"1.0","id":"2","source":"/s","type":"t","datacontenttype":"image/png","data_base64":"iVBORw0KGgo="}`, 0),
	structuredCase("structured base64 json", `{"specversion":"1.0","id":"2","source":"/s","type":"t","datacontenttype":"application/json","data_base64":"eyJhIjoxfQ=="}`, 0),
	structuredCase("v0.3 base64", `{"specversion":"0.3","id":"3","source":"/s","type":"t","datacontenttype":"application/octet-stream","datacontentencoding":"base64","data":"AAEC"}`, 0),
	{name: "batch", headers: []string{"Content-Type: application/cloudevents-batch+json"}, body: `[{"specversion":"1.0","id":"4","source":"/s","type":"t","data":{"n":1}},{"specversion":"1.0","id":"5","source":"/s","type":"t","datacontenttype":"text/plain","data":"five"}]`},

	// Data that is not what its content type declares is refused in every mode.
	binaryCase("not json", "application/json", `{"a":1,}`, http.StatusBadRequest),
	binaryCase("text under json", "application/json", `hello`, http.StatusBadRequest),
	binaryCase("json not utf-8", "application/json", "\"caf\xe9\"", http.StatusBadRequest),
	binaryCase("json nested too deep", "application/json", nested(10001), http.StatusBadRequest),
	binaryCase("json and more", "application/json", `{} {}`, http.StatusBadRequest),
	binaryCase("json empty", "application/json", " ", http.StatusBadRequest),
	structuredCase("base64 not json", `{"specversion":"1.0","id":"2","source":"/s","type":"t","datacontenttype":"application/json","data_base64":"aGVsbG8="}`, http.StatusBadRequest),
	{name: "gzip not gzip", headers: append(append([]string{}, ceHeaders...), "Content-Type: application/json", "Content-Encoding: gzip"), body: `{"a":1}`, reject: http.StatusBadRequest},
	{name: "br", headers: append(append([]string{}, ceHeaders...), "Content-Type: application/json", "Content-Encoding: br"), body: `{"a":1}`, reject: http.StatusUnsupportedMediaType},
}

// Every event listen accepts replays as it came: what is recorded, sent again with send's
// own reader and sender in binary and in structured mode to another listener, is recorded
// there byte for byte the same. What listen refuses for its data, send's pre-check refuses too.
func TestRecordReplaysByteForByte(t *testing.T) {
	var recA bytes.Buffer
	a := newHandler(&recA)
	accepted := 0
	for _, c := range replayCorpus {
		w := post(a, c.body, c.headers)
		switch {
		case c.reject == 0 && w.Code != http.StatusAccepted:
			t.Errorf("%s: %d %s", c.name, w.Code, w.Body)
		case c.reject != 0 && w.Code != c.reject:
			t.Errorf("%s: %d, want %d: %s", c.name, w.Code, c.reject, w.Body)
		case c.reject == 0:
			accepted++
		}
	}
	if t.Failed() {
		t.FailNow()
	}
	lines := strings.Count(recA.String(), "\n")
	if lines != accepted+1 { // the batch carries two
		t.Fatalf("%d lines recorded for %d requests", lines, accepted)
	}
	for _, mode := range []binding.Mode{binding.Binary, binding.Structured} {
		t.Run(mode.String(), func(t *testing.T) {
			var recB bytes.Buffer
			b := newHandler(&recB)
			srv := httptest.NewServer(b)
			defer srv.Close()
			target, err := client.Open(srv.URL, client.Options{Timeout: 10 * time.Second})
			if err != nil {
				t.Fatal(err)
			}
			defer target.Close()
			ctx := context.Background()
			var diag bytes.Buffer
			r := &send.FileReader{
				Name: "a", In: bytes.NewReader(recA.Bytes()), Styles: format.NewStyles(false), Diag: &diag,
				Prepare: func(ctx context.Context, e *event.Event) (client.Sender, error) { return target.Prepare(ctx, mode, e) },
			}
			invalid, err := r.Read(ctx, func(it send.Item) error {
				if it.PrepareErr != nil {
					t.Errorf("line %d: %v", it.Line, it.PrepareErr)
					return nil
				}
				if errs, _ := binding.Check(it.Event); len(errs) > 0 {
					t.Errorf("line %d: send's check refuses what listen took: %v", it.Line, errs)
				}
				if res := it.Prepared.Send(ctx); !res.ACK {
					body := ""
					if res.Response != nil {
						body = string(res.Response.Body)
					}
					t.Errorf("line %d: %d %v %s", it.Line, res.Status, res.Err, body)
				}
				return nil
			})
			if err != nil || invalid > 0 {
				t.Fatalf("reading the record: %d invalid, %v\n%s", invalid, err, diag.String())
			}
			if mode == binding.Structured {
				// Structured mode carries the JSON event as it is: the record is the same
				// file.
				if got, want := withoutReceived(recB.String()), withoutReceived(recA.String()); got != want {
					t.Errorf("replayed record differs:\n%s\nrecorded:\n%s", got, want)
				}
				return
			}
			// Binary mode carries the data's bytes in the body: the events are the same,
			// attribute for attribute and byte for byte of data, though the JSON format
			// may write the same bytes another way (JSON bytes that came as data_base64
			// now come as data).
			want, got := decodeLines(t, withoutReceived(recA.String())), decodeLines(t, withoutReceived(recB.String()))
			if len(got) != len(want) {
				t.Fatalf("%d events replayed, %d recorded", len(got), len(want))
			}
			for i := range want {
				w, g := want[i], got[i]
				if w.SpecVersion() == event.CloudEventsVersionV03 {
					// 0.3 binary mode carries the decoded bytes and no datacontentencoding
					// (0.3 http binding §3.1.1).
					if ec, ok := w.Context.(*event.EventContextV03); ok {
						ec.DataContentEncoding = nil
					}
				}
				if wa, ga := fmt.Sprint(ce.Attributes(&w)), fmt.Sprint(ce.Attributes(&g)); wa != ga {
					t.Errorf("event %d: attributes %s, recorded %s", i+1, ga, wa)
				}
				if !bytes.Equal(g.DataEncoded, w.DataEncoded) {
					t.Errorf("event %d: data %q, recorded %q", i+1, g.DataEncoded, w.DataEncoded)
				}
			}
		})
	}
}

// receivedTime matches the receive time a record line carries (ce.ReceivedExtension); it
// belongs to the record, so a replay's record has its own.
var receivedTime = regexp.MustCompile(`,"` + ce.ReceivedExtension + `":"[^"]*"`)

func withoutReceived(s string) string { return receivedTime.ReplaceAllString(s, "") }

// send refuses what listen refuses for its data: the pre-check applies the same rule.
func TestCheckRefusesDataListenRefuses(t *testing.T) {
	for _, c := range replayCorpus {
		if c.reject != http.StatusBadRequest || !strings.Contains(strings.Join(c.headers, "\n"), "Ce-Id") || strings.Contains(strings.Join(c.headers, "\n"), "Content-Encoding") {
			continue
		}
		e := event.New()
		e.SetID("1")
		e.SetSource("/s")
		e.SetType("com.example.t")
		for _, h := range c.headers {
			if ct, ok := strings.CutPrefix(h, "Content-Type: "); ok {
				e.SetDataContentType(ct)
			}
		}
		e.DataEncoded = []byte(c.body)
		if errs, _ := binding.Check(&e); len(errs) == 0 {
			t.Errorf("%s: send's check takes what listen refuses", c.name)
		}
	}
	// data_base64 under a JSON content type is held to the same rule.
	e := event.New()
	e.SetID("1")
	e.SetSource("/s")
	e.SetType("t")
	e.SetDataContentType("application/json")
	e.DataEncoded, e.DataBase64 = []byte("hello"), true
	if errs, _ := binding.Check(&e); len(errs) == 0 {
		t.Error("send's check takes base64 data that is not the JSON it declares")
	}
}

// decodeLines decodes the events of a record.
func decodeLines(t *testing.T, rec string) []event.Event {
	t.Helper()
	var dec ce.Decoder
	var out []event.Event
	for l := range strings.Lines(rec) {
		e, err := dec.DecodeValidated([]byte(l))
		if err != nil {
			t.Fatalf("%s: %v", l, err)
		}
		out = append(out, e)
	}
	return out
}

func newHandler(rec io.Writer) *listen.Handler {
	return listen.NewHandler(listen.Config{Recorder: listen.NewRecorder(rec, "record")})
}

func post(h http.Handler, body string, headers []string) *httptest.ResponseRecorder {
	r := httptest.NewRequest("POST", "/", strings.NewReader(body))
	for _, l := range headers {
		k, v, _ := strings.Cut(l, ":")
		r.Header.Add(strings.TrimSpace(k), strings.TrimSpace(v))
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}
