package listen

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cectl/cectl/internal/binding"
	"github.com/cectl/cectl/internal/ce"
	"github.com/cectl/cectl/internal/client"
	"github.com/cectl/cectl/internal/testutil"
)

// reports collects what the handler reports.
type reports struct {
	mu   sync.Mutex
	list []Report
	json []string // each selected event in the JSON format, copied while the report is valid
}

func (r *reports) add(rep *Report) {
	r.mu.Lock()
	defer r.mu.Unlock()
	c := *rep
	c.Events = nil
	for _, a := range rep.Events {
		r.json = append(r.json, string(ce.Marshal(a.Event)))
		e := a.Event.Clone()
		a.Event = &e
		c.Events = append(c.Events, a)
	}
	r.list = append(r.list, c)
}

func (r *reports) last(t *testing.T) Report {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.list) == 0 {
		t.Fatal("nothing reported")
	}
	return r.list[len(r.list)-1]
}

func newTestHandler(cfg Config) (*Handler, *reports) {
	rs := &reports{}
	cfg.Report = rs.add
	cfg.Now = func() time.Time { return time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC) }
	return NewHandler(cfg), rs
}

// request builds a request from header lines ("Name: value") and a body.
func request(method, target, body string, headers ...string) *http.Request {
	r := httptest.NewRequest(method, target, strings.NewReader(body))
	for _, h := range headers {
		k, v, _ := strings.Cut(h, ":")
		r.Header.Add(strings.TrimSpace(k), strings.TrimSpace(v))
	}
	return r
}

func serve(h http.Handler, r *http.Request) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

var binaryHeaders = []string{"Ce-Specversion: 1.0", "Ce-Id: 1", "Ce-Source: /s", "Ce-Type: com.example.t"}

func TestHandlerAcceptsEveryMode(t *testing.T) {
	tests := []struct {
		name    string
		method  string
		body    string
		headers []string
		mode    binding.Mode
		want    []string // the events in the JSON format
	}{
		{
			name: "binary with percent-encoded values and typed extensions", method: "POST",
			body: `{"a":1}`,
			headers: append([]string{"Content-Type: application/json", `Ce-Subject: "caf%C3%A9 %22x%22"`,
				"Ce-Region: eu%20west", "Ce-Sampledrate: 5", "Ce-Deprecated: true", "Ce-Time: 2026-11-25t10:00:00z"}, binaryHeaders...),
			mode: binding.Binary,
			want: []string{`{"specversion":"1.0","id":"1","source":"/s","type":"com.example.t","subject":"café \"x\"","time":"2026-11-25T10:00:00Z","datacontenttype":"application/json","deprecated":true,"region":"eu west","sampledrate":5,"data":{"a":1}}`},
		},
		{
			name: "binary without data", method: "PUT", headers: binaryHeaders, mode: binding.Binary,
			want: []string{`{"specversion":"1.0","id":"1","source":"/s","type":"com.example.t"}`},
		},
		{
			name: "binary 0.3", method: "POST", body: "hi",
			headers: []string{"Ce-Specversion: 0.3", "Ce-Id: 1", "Ce-Source: /s", "Ce-Type: t", "Ce-Schemaurl: /schema", "Content-Type: text/plain"},
			mode:    binding.Binary,
			want:    []string{`{"specversion":"0.3","id":"1","source":"/s","type":"t","datacontenttype":"text/plain","schemaurl":"/schema","data":"hi"}`},
		},
		{
			name: "structured, pretty-printed, data_base64 after a space", method: "POST",
			body:    "{\n  \"specversion\": \"1.0\", \"id\": \"2\", \"source\": \"/s\", \"type\": \"t\",\n  \"datacontenttype\": \"application/octet-stream\", \"data_base64\": \"AAEC\"\n}",
			headers: []string{"Content-Type: application/cloudevents+json; charset=UTF-8"},
			mode:    binding.Structured,
			want:    []string{`{"specversion":"1.0","id":"2","source":"/s","type":"t","datacontenttype":"application/octet-stream","data_base64":"AAEC"}`},
		},
		{
			name: "structured 0.3", method: "POST",
			body:    `{"specversion":"0.3","id":"2","source":"/s","type":"t","datacontentencoding":"base64","data":"aGk="}`,
			headers: []string{"Content-Type: application/cloudevents+json"},
			mode:    binding.Structured,
			want:    []string{`{"specversion":"0.3","id":"2","source":"/s","type":"t","datacontentencoding":"base64","data":"aGk="}`},
		},
		{
			name: "batch", method: "POST",
			body:    `[{"specversion":"1.0","id":"3","source":"/s","type":"t"}, {"specversion":"1.0","id":"4","source":"/s","type":"u","data":[1]}]`,
			headers: []string{"Content-Type: Application/CloudEvents-Batch+JSON"},
			mode:    binding.Batch,
			want: []string{`{"specversion":"1.0","id":"3","source":"/s","type":"t"}`,
				`{"specversion":"1.0","id":"4","source":"/s","type":"u","data":[1]}`},
		},
		{
			name: "empty batch", method: "POST", body: " [ ] ",
			headers: []string{"Content-Type: application/cloudevents-batch+json"},
			mode:    binding.Batch,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, rs := newTestHandler(Config{})
			w := serve(h, request(tt.method, "/", tt.body, tt.headers...))
			if w.Code != http.StatusAccepted {
				t.Fatalf("status %d: %s", w.Code, w.Body)
			}
			rep := rs.last(t)
			if rep.Kind != KindEvents || rep.Mode != tt.mode || rep.Total != len(tt.want) {
				t.Errorf("kind %v, mode %v, total %d", rep.Kind, rep.Mode, rep.Total)
			}
			if fmt.Sprint(rs.json) != fmt.Sprint(tt.want) {
				t.Errorf("events\n got %s\nwant %s", rs.json, tt.want)
			}
			s := h.Summary()
			if s.Requests != 1 || s.Events != int64(len(tt.want)) || s.Modes[tt.mode] != 1 {
				t.Errorf("summary %+v", s)
			}
		})
	}
}

func TestHandlerRejects(t *testing.T) {
	ev := `{"specversion":"1.0","id":"1","source":"/s","type":"t"}`
	structured := "Content-Type: application/cloudevents+json"
	batch := "Content-Type: application/cloudevents-batch+json"
	tests := []struct {
		name    string
		cfg     Config
		req     *http.Request
		status  int
		reason  string // substring of the plain-text answer
		headers []string
	}{
		{name: "other path", req: request("POST", "/other", "", binaryHeaders...), status: 404, reason: "listen takes them at /"},
		{name: "other path says which is served", cfg: Config{Path: "/events"}, req: request("POST", "/event", "", binaryHeaders...), status: 404,
			reason: "no events are taken at /event; listen takes them at /events"},
		{name: "two trailing slashes", cfg: Config{Path: "/events"}, req: request("POST", "/events//", "", binaryHeaders...), status: 404, reason: "listen takes them at /events"},
		{name: "GET", req: request("GET", "/", ""), status: 405, reason: "method GET is not allowed", headers: []string{"Allow: OPTIONS, POST, PUT"}},
		{name: "DELETE", req: request("DELETE", "/", ""), status: 405, reason: "send events with POST"},
		{name: "no token", cfg: Config{Token: "s3cret"}, req: request("POST", "/", "", binaryHeaders...), status: 401, reason: "bearer token",
			headers: []string{`Www-Authenticate: Bearer realm="cectl listen"`}},
		{name: "wrong token", cfg: Config{Token: "s3cret"}, req: request("POST", "/", "", append([]string{"Authorization: Bearer s3cre"}, binaryHeaders...)...), status: 401, reason: "bearer token"},
		{name: "wrong scheme", cfg: Config{Token: "s3cret"}, req: request("POST", "/", "", append([]string{"Authorization: Basic s3cret"}, binaryHeaders...)...), status: 401, reason: "bearer token"},
		{name: "wrong query token", cfg: Config{Token: "s3cret"}, req: request("POST", "/?access_token=nope", "", binaryHeaders...), status: 401, reason: "bearer token"},
		{name: "declared body too large", cfg: Config{MaxBody: 10}, req: request("POST", "/", "01234567890", binaryHeaders...), status: 413, reason: "the body is 11 bytes; listen takes at most 10"},
		{name: "chunked body too large", cfg: Config{MaxBody: 10}, req: func() *http.Request {
			r := request("POST", "/", "", binaryHeaders...)
			r.Body = io.NopCloser(strings.NewReader(strings.Repeat("x", 100)))
			r.ContentLength = -1
			return r
		}(), status: 413, reason: "larger than 10 bytes"},
		{name: "structured avro", req: request("POST", "/", ev, "Content-Type: application/cloudevents+avro"), status: 415, reason: `unsupported event format "application/cloudevents+avro"`},
		{name: "batch xml", req: request("POST", "/", "[]", "Content-Type: application/cloudevents-batch+xml"), status: 415, reason: "unsupported batch format"},
		{name: "not a cloudevent", req: request("POST", "/", `{"a":1}`, "Content-Type: application/json"), status: 415, reason: `no ce- headers, and Content-Type "application/json"`},
		{name: "structured event sent as application/json", req: request("POST", "/", ev, "Content-Type: application/json"), status: 415, reason: "send it with Content-Type: application/cloudevents+json"},
		{name: "bad percent-encoding", req: request("POST", "/", "", append([]string{"Ce-Subject: 100%"}, binaryHeaders...)...), status: 400, reason: `header Ce-Subject: invalid percent-encoding "%"`},
		{name: "overlong UTF-8", req: request("POST", "/", "", append([]string{"Ce-Subject: %C0%A0"}, binaryHeaders...)...), status: 400, reason: "not valid UTF-8"},
		{name: "ce-datacontenttype", req: request("POST", "/", "", append([]string{"Ce-Datacontenttype: text/plain"}, binaryHeaders...)...), status: 400, reason: "must not be sent"},
		{name: "ce-data", req: request("POST", "/", "", append([]string{"Ce-Data: x"}, binaryHeaders...)...), status: 400, reason: "the data travels in the body"},
		{name: "missing specversion", req: request("POST", "/", "", "Ce-Id: 1", "Ce-Source: /s", "Ce-Type: t"), status: 400, reason: `ce-specversion: required attribute "specversion" is missing`},
		{name: "unknown specversion", req: request("POST", "/", "", "Ce-Specversion: 2.0", "Ce-Id: 1", "Ce-Source: /s", "Ce-Type: t"), status: 400, reason: `ce-specversion: unsupported specversion "2.0"`},
		{name: "empty id", req: request("POST", "/", "", "Ce-Specversion: 1.0", "Ce-Id: ", "Ce-Source: /s", "Ce-Type: t"), status: 400, reason: "ce-id:"},
		{name: "binary bad time and source", req: request("POST", "/", "", "Ce-Specversion: 1.0", "Ce-Id: 1", "Ce-Source: a%20b", "Ce-Type: t", "Ce-Time: yesterday"), status: 400,
			reason: "invalid event (binary mode):\nce-source: source \"a b\" is not a URI-reference"},
		{name: "binary bad extension name", req: request("POST", "/", "", append([]string{"Ce-My_ext: x"}, binaryHeaders...)...), status: 400, reason: `ce-my_ext: attribute name "my_ext" is invalid`},
		{name: "binary control character", req: request("POST", "/", "", append([]string{"Ce-Subject: a%1Bb"}, binaryHeaders...)...), status: 400, reason: "[string-chars]"},
		{name: "binary non-integer sampledrate", req: request("POST", "/", "", append([]string{"Ce-Sampledrate: 1.5"}, binaryHeaders...)...), status: 400, reason: "ce-sampledrate:"},
		{name: "binary bad content type", req: request("POST", "/", "x", append([]string{"Content-Type: xyz"}, binaryHeaders...)...), status: 400, reason: "Content-Type:"},
		{name: "structured invalid JSON", req: request("POST", "/", `{"specversion":`, structured), status: 400, reason: "[json-syntax]"},
		{name: "structured float extension", req: request("POST", "/", `{"specversion":"1.0","id":"1","source":"/s","type":"t","ext":42.42}`, structured), status: 400, reason: "/ext:"},
		{name: "structured duplicate member", req: request("POST", "/", `{"specversion":"1.0","id":"1","id":"2","source":"/s","type":"t"}`, structured), status: 400, reason: "[duplicate-member]"},
		{name: "structured data and data_base64", req: request("POST", "/", `{"specversion":"1.0","id":"1","source":"/s","type":"t","data":1,"data_base64":"AA=="}`, structured), status: 400, reason: "[data-exclusive]"},
		{name: "structured array", req: request("POST", "/", "["+ev+"]", structured), status: 400, reason: "[event-object]"},
		{name: "structured v0.3 encoding", req: request("POST", "/", `{"specversion":"0.3","id":"1","source":"/s","type":"t","datacontentencoding":"gzip","data":"x"}`, structured), status: 400, reason: "/datacontentencoding"},
		{name: "structured empty body", req: request("POST", "/", "", structured), status: 400, reason: "invalid event (structured mode)"},
		{name: "sdk-go crasher is only a 400", req: request("POST", "/", `{"datacontentencoding":"","specversion":"0.3","id":"1","source":"/s","type":"t"}`, structured), status: 400, reason: "datacontentencoding"},
		{name: "batch not an array", req: request("POST", "/", ev, batch), status: 400, reason: "a batch must be a JSON array"},
		{name: "batch with a bad element", req: request("POST", "/", "["+ev+`,{"specversion":"1.0","id":"","source":"/s","type":"t"}]`, batch), status: 400, reason: "/1/id:"},
		{name: "batch with two specversions", req: request("POST", "/", "["+ev+`,{"specversion":"0.3","id":"2","source":"/s","type":"t"}]`, batch), status: 400, reason: "share one specversion"},
		{name: "batch with trailing data", req: request("POST", "/", "["+ev+"] x", batch), status: 400, reason: "invalid batch"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, rs := newTestHandler(tt.cfg)
			w := serve(h, tt.req)
			if w.Code != tt.status {
				t.Fatalf("status %d, want %d: %s", w.Code, tt.status, w.Body)
			}
			if !strings.Contains(w.Body.String(), tt.reason) {
				t.Errorf("answer %q does not contain %q", w.Body, tt.reason)
			}
			if ct := w.Header().Get("Content-Type"); ct != "text/plain; charset=utf-8" {
				t.Errorf("Content-Type %q", ct)
			}
			for _, hv := range tt.headers {
				k, v, _ := strings.Cut(hv, ": ")
				if got := w.Header().Get(k); got != v {
					t.Errorf("header %s: %q, want %q", k, got, v)
				}
			}
			rep := rs.last(t)
			if rep.Kind != KindRejected || rep.Status != tt.status || rep.Reason+"\n" != w.Body.String() {
				t.Errorf("report %v %d %q", rep.Kind, rep.Status, rep.Reason)
			}
			if s := h.Summary(); s.RejectedTotal() != 1 || s.Requests != 0 {
				t.Errorf("summary %+v", s)
			}
		})
	}
}

func TestHandlerToken(t *testing.T) {
	h, rs := newTestHandler(Config{Token: "s3cret"})
	for _, r := range []*http.Request{
		request("POST", "/", "", append([]string{"Authorization: Bearer s3cret"}, binaryHeaders...)...),
		request("POST", "/", "", append([]string{"Authorization: bearer  s3cret "}, binaryHeaders...)...),
		request("POST", "/?x=1&access_token=s3cret", "", binaryHeaders...),
	} {
		if w := serve(h, r); w.Code != http.StatusAccepted {
			t.Fatalf("%v: status %d: %s", r.Header, w.Code, w.Body)
		}
	}
	if got := rs.last(t).Target; got != "/?access_token=REDACTED&x=1" {
		t.Errorf("target shown as %q", got)
	}
}

func TestHandshake(t *testing.T) {
	h, rs := newTestHandler(Config{Token: "needed for events, not for the handshake"})
	w := serve(h, request("OPTIONS", "/", "", "WebHook-Request-Origin: eventemitter.example.com", "WebHook-Request-Rate: 120"))
	if w.Code != http.StatusOK {
		t.Fatalf("status %d", w.Code)
	}
	for k, want := range map[string]string{
		"WebHook-Allowed-Origin": "eventemitter.example.com",
		"WebHook-Allowed-Rate":   "*",
		"Allow":                  "OPTIONS, POST, PUT",
	} {
		if got := w.Header().Get(k); got != want {
			t.Errorf("%s: %q, want %q", k, got, want)
		}
	}
	if rep := rs.last(t); rep.Kind != KindHandshake || rep.Origin != "eventemitter.example.com" {
		t.Errorf("report %+v", rep)
	}
	// Without an origin there is no consent to give.
	w = serve(h, request("OPTIONS", "/", ""))
	if w.Code != http.StatusOK || w.Header().Get("WebHook-Allowed-Origin") != "" || w.Header().Get("Allow") == "" {
		t.Errorf("plain OPTIONS: %d %v", w.Code, w.Header())
	}
}

func TestHandlerFilter(t *testing.T) {
	f, err := NewFilter("subject = 'keep'", []string{"com.example.*"})
	if err != nil {
		t.Fatal(err)
	}
	h, rs := newTestHandler(Config{Filter: f})
	batch := `[{"specversion":"1.0","id":"1","source":"/s","type":"com.example.a","subject":"keep"},
	           {"specversion":"1.0","id":"2","source":"/s","type":"com.example.a","subject":"drop"},
	           {"specversion":"1.0","id":"3","source":"/s","type":"org.other","subject":"keep"}]`
	w := serve(h, request("POST", "/", batch, "Content-Type: application/cloudevents-batch+json"))
	if w.Code != http.StatusAccepted {
		t.Fatalf("status %d", w.Code)
	}
	rep := rs.last(t)
	if rep.Total != 3 || len(rep.Events) != 1 || rep.Events[0].Event.ID() != "1" || rep.Events[0].Index != 0 {
		t.Errorf("selected %+v of %d", rep.Events, rep.Total)
	}
	// A request with nothing selected is acknowledged and not reported.
	n := len(rs.list)
	w = serve(h, request("POST", "/", "", append([]string{"Ce-Subject: drop"}, binaryHeaders...)...))
	if w.Code != http.StatusAccepted || len(rs.list) != n {
		t.Errorf("status %d, %d reports", w.Code, len(rs.list)-n)
	}
	if s := h.Summary(); s.Events != 4 || s.Selected != 1 {
		t.Errorf("summary %+v", s)
	}
}

func TestHandlerCount(t *testing.T) {
	h, rs := newTestHandler(Config{Count: 2, Dedupe: true})
	send := func(id string) int {
		return serve(h, request("POST", "/", "", "Ce-Specversion: 1.0", "Ce-Id: "+id, "Ce-Source: /s", "Ce-Type: t")).Code
	}
	if c := send("1"); c != 202 {
		t.Fatal(c)
	}
	select {
	case <-h.Reached():
		t.Fatal("reached after one event")
	default:
	}
	if c := send("1"); c != 202 { // a duplicate does not count
		t.Fatal(c)
	}
	if c := send("2"); c != 202 {
		t.Fatal(c)
	}
	select {
	case <-h.Reached():
	default:
		t.Fatal("not reached after two events")
	}
	if c := send("3"); c != http.StatusServiceUnavailable {
		t.Errorf("after the count: %d", c)
	}
	if len(rs.list) != 3 {
		t.Errorf("%d reports", len(rs.list))
	}
	if s := h.Summary(); s.TurnedAway != 1 || s.Duplicates != 1 {
		t.Errorf("summary %+v", s)
	}
}

func TestHandlerCountIsExactUnderConcurrency(t *testing.T) {
	rec := NewRecorder(&bytes.Buffer{}, "buffer")
	h, rs := newTestHandler(Config{Count: 10, Recorder: rec})
	var wg sync.WaitGroup
	var mu sync.Mutex
	codes := map[int]int{}
	for i := range 50 {
		wg.Go(func() {
			w := serve(h, request("POST", "/", "", "Ce-Specversion: 1.0", fmt.Sprintf("Ce-Id: %d", i), "Ce-Source: /s", "Ce-Type: t"))
			mu.Lock()
			codes[w.Code]++
			mu.Unlock()
		})
	}
	wg.Wait()
	if codes[202] != 10 || codes[503] != 40 || len(rs.list) != 10 || rec.Lines() != 10 {
		t.Errorf("answers %v, %d reports, %d recorded", codes, len(rs.list), rec.Lines())
	}
}

func TestHandlerDedupe(t *testing.T) {
	var file bytes.Buffer
	h, rs := newTestHandler(Config{Dedupe: true, Recorder: NewRecorder(&file, "buffer")})
	send := func(source, id string) {
		w := serve(h, request("POST", "/", "", "Ce-Specversion: 1.0", "Ce-Id: "+id, "Ce-Source: "+source, "Ce-Type: t"))
		if w.Code != http.StatusAccepted {
			t.Fatalf("status %d", w.Code)
		}
	}
	send("/a", "1")
	send("/a", "1")
	send("/b", "1")
	dups := []bool{}
	for _, r := range rs.list {
		dups = append(dups, r.Events[0].Duplicate)
	}
	if fmt.Sprint(dups) != "[false true false]" {
		t.Errorf("duplicates %v", dups)
	}
	if n := strings.Count(file.String(), "\n"); n != 2 {
		t.Errorf("%d events recorded:\n%s", n, &file)
	}
}

func TestHandlerDedupeForgetsRefusedEvents(t *testing.T) {
	fail := true
	h, rs := newTestHandler(Config{Dedupe: true, Faults: Faults{FailRate: 0.5, Rand: func() float64 {
		if fail {
			return 0
		}
		return 1
	}}})
	send := func() int {
		return serve(h, request("POST", "/", "", binaryHeaders...)).Code
	}
	if c := send(); c != 503 {
		t.Fatal(c)
	}
	fail = false
	if c := send(); c != 202 {
		t.Fatal(c)
	}
	// The retry of a refused event is not a duplicate; a second delivery of an accepted one is.
	if rs.list[1].Events[0].Duplicate {
		t.Error("the retry of a refused event is marked duplicate")
	}
	send()
	if !rs.list[2].Events[0].Duplicate {
		t.Error("a redelivery is not marked duplicate")
	}
}

// orderWriter notes whether an answer was sent before the record had the event.
type orderWriter struct {
	*httptest.ResponseRecorder
	file    *testutil.Buffer
	early   bool
	written bool
}

func (w *orderWriter) WriteHeader(code int) {
	if !strings.Contains(w.file.String(), `"id":"1"`) {
		w.early = true
	}
	w.written = true
	w.ResponseRecorder.WriteHeader(code)
}

func TestHandlerRecordsBeforeAnswering(t *testing.T) {
	file := &testutil.Buffer{}
	h, _ := newTestHandler(Config{Recorder: NewRecorder(file, "buffer")})
	w := &orderWriter{ResponseRecorder: httptest.NewRecorder(), file: file}
	h.ServeHTTP(w, request("POST", "/", `{"x":1}`, append([]string{"Content-Type: application/json"}, binaryHeaders...)...))
	if !w.written || w.early || w.Code != http.StatusAccepted {
		t.Fatalf("written %v, early %v, status %d", w.written, w.early, w.Code)
	}
	want := `{"specversion":"1.0","id":"1","source":"/s","type":"com.example.t","datacontenttype":"application/json","data":{"x":1},"cectlreceivedtime":"2026-11-25T10:00:00Z"}` + "\n"
	if file.String() != want {
		t.Errorf("record\n got %s\nwant %s", file, want)
	}
}

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func TestHandlerRecordFailureIsNotAcknowledged(t *testing.T) {
	h, rs := newTestHandler(Config{Recorder: NewRecorder(failWriter{}, "events.jsonl"), Dedupe: true})
	w := serve(h, request("POST", "/", "", binaryHeaders...))
	if w.Code != http.StatusInternalServerError || !strings.Contains(w.Body.String(), "recording to events.jsonl: disk full") {
		t.Fatalf("status %d: %s", w.Code, w.Body)
	}
	select {
	case err := <-h.Failed():
		if !strings.Contains(err.Error(), "disk full") {
			t.Errorf("failed with %v", err)
		}
	default:
		t.Error("the failure was not signalled")
	}
	if rep := rs.last(t); rep.Kind != KindRejected || rep.Status != 500 {
		t.Errorf("report %+v", rep)
	}
	// Not remembered as accepted: a retry is not a duplicate (it fails again, for the disk).
	if h.seen.has(seenKey("/s", "1")) {
		t.Error("an unrecorded event is remembered")
	}
}

func TestHandlerReportsWhatWasRecorded(t *testing.T) {
	// The report says how many events the record write carried, and whether it kept them:
	// per event, duplicates and refused events left out.
	batch := func(ids ...string) *http.Request {
		var evs []string
		for _, id := range ids {
			evs = append(evs, `{"specversion":"1.0","id":"`+id+`","source":"/s","type":"t"}`)
		}
		return request("POST", "/", "["+strings.Join(evs, ",")+"]", "Content-Type: application/cloudevents-batch+json")
	}
	var file bytes.Buffer
	h, rs := newTestHandler(Config{Recorder: NewRecorder(&file, "buffer"), Dedupe: true})
	for _, c := range []struct {
		req                    *http.Request
		status                 int
		recorded, recordFailed int
	}{
		{batch("1", "2", "3"), 202, 3, 0},
		{batch("3", "4"), 202, 1, 0}, // 3 is a duplicate
		{batch("1"), 202, 0, 0},      // nothing new to write
	} {
		if w := serve(h, c.req); w.Code != c.status {
			t.Fatalf("status %d", w.Code)
		}
		if rep := rs.last(t); rep.Recorded != c.recorded || rep.RecordFailed != c.recordFailed {
			t.Errorf("recorded %d, failed %d; want %d, %d", rep.Recorded, rep.RecordFailed, c.recorded, c.recordFailed)
		}
	}
	if n := strings.Count(file.String(), "\n"); n != 4 {
		t.Errorf("%d lines recorded", n)
	}

	h, rs = newTestHandler(Config{Recorder: NewRecorder(failWriter{}, "events.jsonl")})
	if w := serve(h, batch("1", "2")); w.Code != http.StatusInternalServerError {
		t.Fatalf("status %d", w.Code)
	}
	if rep := rs.last(t); rep.Kind != KindRejected || rep.Recorded != 0 || rep.RecordFailed != 2 {
		t.Errorf("a failed write: %+v", rep)
	}

	h, rs = newTestHandler(Config{Recorder: NewRecorder(&file, "buffer"), Faults: Faults{Status: 503}})
	serve(h, batch("9"))
	if rep := rs.last(t); rep.Recorded != 0 || rep.RecordFailed != 0 {
		t.Errorf("a refused event: %+v", rep)
	}
}

func TestHandlerFaults(t *testing.T) {
	t.Run("status", func(t *testing.T) {
		var file bytes.Buffer
		h, rs := newTestHandler(Config{Faults: Faults{Status: 503, RetryAfter: "7"}, Recorder: NewRecorder(&file, "buffer")})
		w := serve(h, request("POST", "/", "", binaryHeaders...))
		if w.Code != 503 || w.Header().Get("Retry-After") != "7" || !strings.Contains(w.Body.String(), "--status") {
			t.Errorf("%d %v %q", w.Code, w.Header(), w.Body)
		}
		if rep := rs.last(t); rep.Kind != KindEvents || rep.Reason != "--status" || len(rep.Events) != 1 {
			t.Errorf("report %+v", rep)
		}
		if file.Len() != 0 {
			t.Errorf("a refused event was recorded: %s", &file)
		}
		if s := h.Summary(); s.Refused != 1 {
			t.Errorf("summary %+v", s)
		}
	})
	t.Run("other 2xx", func(t *testing.T) {
		h, _ := newTestHandler(Config{Faults: Faults{Status: 204, RetryAfter: "7"}})
		w := serve(h, request("POST", "/", "", binaryHeaders...))
		if w.Code != 204 || w.Header().Get("Retry-After") != "" || w.Body.Len() != 0 {
			t.Errorf("%d %v %q", w.Code, w.Header(), w.Body)
		}
	})
	t.Run("fail rate", func(t *testing.T) {
		rolls := []float64{0.1, 0.5, 0.29, 0.9}
		h, _ := newTestHandler(Config{Faults: Faults{FailRate: 0.3, Rand: func() float64 { r := rolls[0]; rolls = rolls[1:]; return r }}})
		var codes []int
		for range 4 {
			codes = append(codes, serve(h, request("POST", "/", "", binaryHeaders...)).Code)
		}
		if fmt.Sprint(codes) != "[503 202 503 202]" {
			t.Errorf("answers %v", codes)
		}
	})
	t.Run("malformed requests are not failed on purpose", func(t *testing.T) {
		h, _ := newTestHandler(Config{Faults: Faults{FailRate: 1}})
		if c := serve(h, request("POST", "/", "", "Ce-Specversion: 1.0")).Code; c != 400 {
			t.Errorf("status %d", c)
		}
	})
	t.Run("delay", func(t *testing.T) {
		h, _ := newTestHandler(Config{Faults: Faults{Delay: 50 * time.Millisecond}})
		start := time.Now()
		serve(h, request("POST", "/", "", binaryHeaders...))
		if d := time.Since(start); d < 50*time.Millisecond {
			t.Errorf("answered after %s", d)
		}
		// Stopping cuts the delay short.
		h, _ = newTestHandler(Config{Faults: Faults{Delay: time.Hour}})
		done := make(chan int)
		go func() { done <- serve(h, request("POST", "/", "", binaryHeaders...)).Code }()
		time.Sleep(20 * time.Millisecond)
		h.Stop()
		select {
		case c := <-done:
			if c != 202 {
				t.Errorf("status %d", c)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("the delay was not cut short")
		}
		// And after Stop, new requests are turned away.
		if c := serve(h, request("POST", "/", "", binaryHeaders...)).Code; c != 503 {
			t.Errorf("after Stop: %d", c)
		}
	})
}

func TestHandlerReply(t *testing.T) {
	replies, err := LoadReplies(strings.NewReader(`{"specversion":"1.0","source":"/svc","type":"com.example.pong","data":{"n":1}}
{"specversion":"1.0","id":"fixed","source":"/svc","type":"com.example.pong2","time":"2026-01-01T00:00:00Z","datacontenttype":"text/plain","data":"two"}`))
	if err != nil {
		t.Fatal(err)
	}
	for _, mode := range []binding.Mode{binding.Binary, binding.Structured} {
		t.Run(mode.String(), func(t *testing.T) {
			h, rs := newTestHandler(Config{Replies: replies, ReplyMode: mode})
			var got []string
			for range 3 {
				w := serve(h, request("POST", "/", "", binaryHeaders...))
				if w.Code != 200 {
					t.Fatalf("status %d", w.Code)
				}
				events, m, err := binding.Decode(w.Header(), w.Body.Bytes())
				if err != nil || m != mode || len(events) != 1 {
					t.Fatalf("reply %v %v %v", events, m, err)
				}
				e := events[0]
				if e.ID() == "" || e.Time().IsZero() {
					t.Errorf("id or time not filled in: %s", ce.Marshal(&e))
				}
				got = append(got, e.Type())
				if rep := rs.last(t); rep.Reply == nil || rep.Reply.ID() != e.ID() || rep.ReplyMode != mode {
					t.Errorf("reported reply %v", rep.Reply)
				}
			}
			// Used in order, cycling; the counter goes on across subtests.
			if fmt.Sprint(got) != "[com.example.pong com.example.pong2 com.example.pong]" && fmt.Sprint(got) != "[com.example.pong2 com.example.pong com.example.pong2]" {
				t.Errorf("replies %v", got)
			}
		})
	}
	// The second reply keeps its own id and time.
	e := replies.Next(time.Now())
	if e.Type() == "com.example.pong" {
		e = replies.Next(time.Now())
	}
	if e.ID() != "fixed" || e.Time().Year() != 2026 || e.Time().Month() != 1 {
		t.Errorf("reply %s", ce.Marshal(e))
	}
}

func TestLoadRepliesErrors(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", "no events"},
		{"[]", "no events"},
		{`{"specversion":"1.0","source":"/s"}`, `line 1, column 1: required attribute "type" is missing`},
		{"{\"specversion\":\"1.0\",\"source\":\"/s\",\"type\":\"t\"}\n{\"specversion\":\"1.0\",\"source\":\"/s\",\"type\":\"t\",\"time\":\"now\"}", "line 2, column 55: time \"now\""},
		{"{\"specversion\":\"1.0\",\n\"source\" 1}", "line 2, column 10"},
	}
	for _, tt := range tests {
		_, err := LoadReplies(strings.NewReader(tt.in))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("LoadReplies(%q) = %v, want %q", tt.in, err, tt.want)
		}
	}
}

func TestHandlerForwardsByteFaithfully(t *testing.T) {
	type got struct {
		header http.Header
		body   string
	}
	recv := make(chan got, 4)
	down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		recv <- got{r.Header, string(b)}
		w.WriteHeader(http.StatusCreated)
	}))
	defer down.Close()
	c := client.New(client.Options{Timeout: 5 * time.Second})
	defer c.Close()
	h, rs := newTestHandler(Config{Token: "t", Forwarder: NewForwarder([]string{down.URL + "/in", "http://127.0.0.1:1/"}, c)})

	// Percent-encoded and quoted values travel exactly as they came, not re-encoded.
	w := serve(h, request("POST", "/", "\x00\x01binary", "Authorization: Bearer t", "Ce-Specversion: 1.0", "Ce-Id: 1",
		"Ce-Source: /s", "Ce-Type: t", "Ce-Subject: caf%c3%a9", `Ce-Note: "a b"`, "Content-Type: application/octet-stream", "X-Other: no"))
	// The second target cannot be reached: the sender is not told the event was taken.
	if w.Code != http.StatusBadGateway || !strings.Contains(w.Body.String(), "relaying to http://127.0.0.1:1/: not delivered") {
		t.Fatalf("status %d: %s", w.Code, w.Body)
	}
	g := <-recv
	if g.body != "\x00\x01binary" {
		t.Errorf("body %q", g.body)
	}
	for k, want := range map[string]string{"Ce-Subject": "caf%c3%a9", "Ce-Note": `"a b"`, "Content-Type": "application/octet-stream", "Ce-Id": "1",
		"Authorization": "", "X-Other": ""} {
		if v := g.header.Get(k); v != want {
			t.Errorf("forwarded %s: %q, want %q", k, v, want)
		}
	}
	rep := rs.last(t)
	if len(rep.Forwards) != 2 || rep.Forwards[0].Result.Status != 201 || rep.Forwards[1].Result.Delivered {
		t.Errorf("forwards %+v", rep.Forwards)
	}

	// A structured event is relayed in structured mode, its body untouched.
	body := "{ \"specversion\": \"1.0\", \"id\": \"2\", \"source\": \"/s\", \"type\": \"t\" }"
	serve(h, request("POST", "/", body, "Authorization: Bearer t", "Content-Type: application/cloudevents+json"))
	if g := <-recv; g.body != body || g.header.Get("Content-Type") != "application/cloudevents+json" {
		t.Errorf("structured relayed as %v %q", g.header, g.body)
	}
	// Refused events are not relayed.
	h, _ = newTestHandler(Config{Faults: Faults{Status: 503}, Forwarder: h.cfg.Forwarder})
	serve(h, request("POST", "/", "", binaryHeaders...))
	select {
	case g := <-recv:
		t.Errorf("a refused event was relayed: %v", g)
	default:
	}
}

func TestHandlerMemoryBudget(t *testing.T) {
	h, _ := newTestHandler(Config{MaxBody: 1 << 10, Memory: 2 << 10})
	// Hold most of the budget, as concurrent requests would.
	if !h.budget.tryAcquire(1800) {
		t.Fatal("budget")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	r := request("POST", "/", strings.Repeat("x", 500), binaryHeaders...).WithContext(ctx)
	w := serve(h, r)
	if w.Code != http.StatusServiceUnavailable || w.Header().Get("Retry-After") == "" {
		t.Errorf("status %d %v", w.Code, w.Header())
	}
	h.budget.release(1800)
	if !h.budget.tryAcquire(2 << 10) {
		t.Error("the budget was not all given back")
	}

	// A body of unknown length starts small; when it outgrows what is left, it is refused,
	// not buffered.
	h, _ = newTestHandler(Config{MaxBody: 64 << 10, Memory: 64<<10 + 1})
	hold := int64(64<<10+1) - firstRead
	h.budget.tryAcquire(hold)
	r = request("POST", "/", "", binaryHeaders...)
	r.Body = io.NopCloser(strings.NewReader(strings.Repeat("x", firstRead+100)))
	r.ContentLength = -1
	if w := serve(h, r); w.Code != http.StatusServiceUnavailable {
		t.Errorf("unknown length: status %d", w.Code)
	}
	h.budget.release(hold)
	// With the budget free, the same body is read.
	r = request("POST", "/", "", binaryHeaders...)
	r.Body = io.NopCloser(strings.NewReader(strings.Repeat("x", firstRead+100)))
	r.ContentLength = -1
	if w := serve(h, r); w.Code != http.StatusAccepted {
		t.Errorf("unknown length with memory: status %d", w.Code)
	}
	if !h.budget.tryAcquire(64<<10 + 1) {
		t.Error("the budget was not all given back")
	}
}

// writeAndDiscard is a Report that writes the events in the JSON format, as -o json does,
// to nowhere: the benchmarks count what showing an event costs.
func writeAndDiscard(r *Report) {
	var buf [512]byte
	out := buf[:0]
	for _, a := range r.Events {
		out = ce.AppendJSON(out, a.Event)
	}
	io.Discard.Write(out)
}

func BenchmarkHandler(b *testing.B) {
	h := NewHandler(Config{Report: writeAndDiscard})
	modes := []struct {
		name, body string
		header     http.Header
	}{
		{"binary", `{"order":42,"item":"book","qty":1}`, http.Header{
			"Ce-Specversion": {"1.0"}, "Ce-Id": {"12345"}, "Ce-Source": {"/bench"}, "Ce-Type": {"com.example.order.placed"},
			"Ce-Time": {"2026-11-25T10:00:00Z"}, "Content-Type": {"application/json"}}},
		{"structured", `{"specversion":"1.0","id":"12345","source":"/bench","type":"com.example.order.placed","time":"2026-11-25T10:00:00Z","datacontenttype":"application/json","data":{"order":42,"item":"book","qty":1}}`,
			http.Header{"Content-Type": {"application/cloudevents+json"}}},
	}
	for _, m := range modes {
		b.Run(m.name, func(b *testing.B) { benchServe(b, h, m.header, []byte(m.body)) })
	}
}

// benchServe has h answer the same request over and over; every answer must be 202.
func benchServe(b *testing.B, h *Handler, header http.Header, body []byte) {
	serve := benchRequest(h, header, body)
	b.ReportAllocs()
	for b.Loop() {
		if code := serve(); code != http.StatusAccepted {
			b.Fatal(code)
		}
	}
}

// benchRequest returns a function that has h answer the same request again, and returns the
// status; each goroutine of a benchmark needs its own.
func benchRequest(h *Handler, header http.Header, body []byte) func() int {
	rd := bytes.NewReader(body)
	req, _ := http.NewRequest("POST", "http://localhost/", io.NopCloser(rd))
	req.RequestURI = "/"
	req.ContentLength = int64(len(body))
	req.Header = header
	w := &discardWriter{h: http.Header{}}
	return func() int {
		rd.Reset(body)
		clear(w.h)
		h.ServeHTTP(w, req)
		return w.code
	}
}

type discardWriter struct {
	h    http.Header
	code int
}

func (w *discardWriter) Header() http.Header         { return w.h }
func (w *discardWriter) Write(p []byte) (int, error) { return len(p), nil }
func (w *discardWriter) WriteHeader(c int)           { w.code = c }

// /events and /events/ are one endpoint to a sender; a 404 says which path is served, unless a
// token is required: then it says nothing about the listener.
func TestHandlerPath(t *testing.T) {
	for _, tt := range []struct{ served, path string }{{"/events", "/events/"}, {"/events/", "/events"}, {"/events", "/events"}, {"/", "/"}} {
		h, _ := newTestHandler(Config{Path: tt.served})
		if w := serve(h, request("POST", tt.path, "", binaryHeaders...)); w.Code != http.StatusAccepted {
			t.Errorf("--path %s, POST %s: status %d: %s", tt.served, tt.path, w.Code, w.Body)
		}
	}
	h, _ := newTestHandler(Config{Path: "/events", Token: "s3cret"})
	w := serve(h, request("POST", "/other", "", append([]string{"Authorization: Bearer s3cret"}, binaryHeaders...)...))
	if w.Code != http.StatusNotFound || w.Body.String() != "no events are taken at /other\n" {
		t.Errorf("with --token: %d %q", w.Code, w.Body)
	}
}

// An HTTP/1.0 POST without Content-Length may carry a body the server cannot delimit: it is
// answered 411, on the wire as in the handler, while one with a length is taken.
func TestHandlerLengthRequired(t *testing.T) {
	h, rs := newTestHandler(Config{})
	srv := httptest.NewServer(h)
	defer srv.Close()
	ask := func(req string) string {
		t.Helper()
		c, err := net.Dial("tcp", srv.Listener.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if _, err := io.WriteString(c, req); err != nil {
			t.Fatal(err)
		}
		if cw, ok := c.(*net.TCPConn); ok {
			cw.CloseWrite()
		}
		b, _ := io.ReadAll(c)
		return string(b)
	}
	hdr := "Ce-Specversion: 1.0\r\nCe-Id: 1\r\nCe-Source: /s\r\nCe-Type: t\r\nContent-Type: text/plain\r\n"
	got := ask("POST / HTTP/1.0\r\n" + hdr + "\r\nhello")
	if !strings.HasPrefix(got, "HTTP/1.0 411 Length Required\r\n") || !strings.Contains(got, "must give its body's length in Content-Length") {
		t.Errorf("HTTP/1.0 without Content-Length:\n%s", got)
	}
	if rep := rs.last(t); rep.Kind != KindRejected || rep.Status != http.StatusLengthRequired {
		t.Errorf("report %v %d", rep.Kind, rep.Status)
	}
	got = ask("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n" + hdr + "\r\n5\r\nhello\r\n0\r\n\r\n")
	if !strings.HasPrefix(got, "HTTP/1.0 411 ") {
		t.Errorf("HTTP/1.0 chunked (not a thing in HTTP/1.0):\n%s", got)
	}
	got = ask("POST / HTTP/1.0\r\nContent-Length: 5\r\n" + hdr + "\r\nhello")
	if !strings.HasPrefix(got, "HTTP/1.0 202 ") {
		t.Errorf("HTTP/1.0 with Content-Length:\n%s", got)
	}
	if rep := rs.last(t); len(rep.Events) != 1 || string(rep.Events[0].Event.Data()) != "hello" {
		t.Errorf("report %v %+v", rep.Kind, rep.Events)
	}
	got = ask("POST / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n" + hdr + "\r\n")
	if !strings.HasPrefix(got, "HTTP/1.1 202 ") {
		t.Errorf("HTTP/1.1 without a body:\n%s", got)
	}
}
