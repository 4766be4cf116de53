package ui_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"github.com/cectl/cectl/internal/ce"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cectl/cectl/internal/listen"
	"github.com/cectl/cectl/internal/ui"
)

func get(t *testing.T, url string, hdr ...string) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		if hdr[i] == "Host" {
			req.Host = hdr[i+1]
			continue
		}
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, string(b)
}

func post(t *testing.T, url, body string, hdr ...string) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest("POST", url, strings.NewReader(body))
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, string(b)
}

func secretOf(t *testing.T, page string) string {
	t.Helper()
	const key = `<meta name="cectl-secret" content="`
	i := strings.Index(page, key)
	if i < 0 {
		t.Fatalf("no secret in the page:\n%s", page)
	}
	s := page[i+len(key):]
	return s[:strings.IndexByte(s, '"')]
}

// TestPageAndPath: a GET of the listen path is the page, with a strict CSP; POST there is
// still the event path; assets are embedded; other paths are the handler's.
func TestPageAndPath(t *testing.T) {
	l := startListener(t, ui.Options{Path: "/events"}, listen.Config{Path: "/events"})
	base := strings.TrimSuffix(l.url, "/events")
	resp, page := get(t, l.url)
	if resp.StatusCode != 200 || !strings.Contains(page, `<script src="/_cectl/app.js" defer></script>`) {
		t.Fatalf("GET %s: %d\n%s", l.url, resp.StatusCode, page)
	}
	csp := resp.Header.Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'none'", "script-src 'self'", "style-src 'self'", "connect-src 'self'", "frame-ancestors 'none'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("CSP %q lacks %q", csp, want)
		}
	}
	if strings.Contains(csp, "unsafe-inline") || strings.Contains(page, "<script>") || strings.Contains(page, "style=") || strings.Contains(page, " on") && strings.Contains(page, "onclick") {
		t.Errorf("the page has inline script or style, or the CSP allows it")
	}
	if resp.Header.Get("X-Content-Type-Options") != "nosniff" {
		t.Errorf("no nosniff")
	}
	for _, a := range []string{"app.js", "app.css", "icon.svg"} {
		if resp, body := get(t, base+"/_cectl/"+a); resp.StatusCode != 200 || len(body) < 100 {
			t.Errorf("asset %s: %d, %d bytes", a, resp.StatusCode, len(body))
		}
	}
	if resp, _ := get(t, base+"/_cectl/../../etc/passwd"); resp.StatusCode != 404 {
		t.Errorf("path outside the assets: %d", resp.StatusCode)
	}
	if resp, _ := get(t, base+"/_cectl/index.html"); resp.StatusCode != 404 {
		t.Errorf("index.html is served only as the page (with its secret): %d", resp.StatusCode)
	}
	resp, body := post(t, l.url, `{"specversion":"1.0","id":"1","source":"/s","type":"t"}`, "Content-Type", "application/cloudevents+json")
	if resp.StatusCode != 202 {
		t.Errorf("POST of an event: %d %s", resp.StatusCode, body)
	}
	if resp, _ := get(t, base+"/favicon.ico"); resp.StatusCode != 204 {
		t.Errorf("GET /favicon.ico: %d; want 204, not a rejection in the history", resp.StatusCode)
	}
	if resp, _ := get(t, base+"/other"); resp.StatusCode != 404 {
		t.Errorf("GET /other: %d; want the handler's 404", resp.StatusCode)
	}
}

// TestToken: with --token the page, assets, stream and actions need the token; the page
// trades it for a cookie its later requests carry.
func TestToken(t *testing.T) {
	l := startListener(t, ui.Options{Token: "s3cret"}, listen.Config{Token: "s3cret"})
	for _, p := range []string{"", "_cectl/app.js", "_cectl/events", "_cectl/filter?expr=true"} {
		if resp, _ := get(t, l.url+p); resp.StatusCode != 401 {
			t.Errorf("%s without the token: %d", p, resp.StatusCode)
		}
	}
	if resp, _ := get(t, l.url+"?access_token=wrong"); resp.StatusCode != 401 {
		t.Errorf("a wrong token: %d", resp.StatusCode)
	}
	resp, page := get(t, l.url+"?access_token=s3cret")
	if resp.StatusCode != 200 {
		t.Fatalf("with the token: %d", resp.StatusCode)
	}
	var cookie *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == "cectl_ui" {
			cookie = c
		}
	}
	if cookie == nil || !cookie.HttpOnly || cookie.SameSite != http.SameSiteStrictMode || cookie.Value == "s3cret" {
		t.Fatalf("session cookie: %+v", cookie)
	}
	if resp, _ := get(t, l.url+"_cectl/filter?expr=true", "Cookie", "cectl_ui="+cookie.Value); resp.StatusCode != 200 {
		t.Errorf("with the cookie: %d", resp.StatusCode)
	}
	if resp, _ := get(t, l.url+"_cectl/app.js", "Authorization", "Bearer s3cret"); resp.StatusCode != 200 {
		t.Errorf("with a bearer token: %d", resp.StatusCode)
	}
	secret := secretOf(t, page)
	if resp, _ := post(t, l.url+"_cectl/clear", "", "X-Cectl-Secret", secret); resp.StatusCode != 401 {
		t.Errorf("an action with the secret but no token: %d", resp.StatusCode)
	}
	if resp, _ := post(t, l.url+"_cectl/clear", "", "X-Cectl-Secret", secret, "Cookie", "cectl_ui="+cookie.Value); resp.StatusCode != 200 {
		t.Errorf("an action with the secret and the cookie: %d", resp.StatusCode)
	}
}

// TestActionsNeedSameOrigin: resend and clear need the page's per-run secret, a POST, and
// no sign of another origin.
func TestActionsNeedSameOrigin(t *testing.T) {
	l := startListener(t, ui.Options{}, listen.Config{})
	_, page := get(t, l.url)
	secret := secretOf(t, page)
	origin := strings.TrimSuffix(l.url, "/")
	resend := l.url + "_cectl/resend"
	for _, c := range []struct {
		name string
		hdr  []string
		want int
	}{
		{"no secret", []string{"Content-Type", "application/json"}, 403},
		{"wrong secret", []string{"X-Cectl-Secret", "00" + secret[2:]}, 403},
		{"another origin", []string{"X-Cectl-Secret", secret, "Origin", "http://evil.example"}, 403},
		{"cross-site fetch", []string{"X-Cectl-Secret", secret, "Sec-Fetch-Site", "cross-site"}, 403},
		{"same origin, gone entry", []string{"X-Cectl-Secret", secret, "Origin", origin, "Sec-Fetch-Site", "same-origin"}, 404},
	} {
		if resp, body := post(t, resend, `{"seq":99,"index":0}`, c.hdr...); resp.StatusCode != c.want {
			t.Errorf("%s: %d %s, want %d", c.name, resp.StatusCode, body, c.want)
		}
	}
	if resp, _ := get(t, l.url+"_cectl/clear"); resp.StatusCode != 405 {
		t.Errorf("GET of an action: %d", resp.StatusCode)
	}
	// Two runs have two secrets.
	other := startListener(t, ui.Options{}, listen.Config{})
	if _, p := get(t, other.url); secretOf(t, p) == secret {
		t.Errorf("the secret is the same in two runs")
	}
}

// TestLoopbackHost: served on loopback, the view answers only requests that name a
// loopback host (no DNS rebinding); the event path is not affected.
func TestLoopbackHost(t *testing.T) {
	l := startListener(t, ui.Options{}, listen.Config{})
	for host, want := range map[string]int{"localhost:1": 200, "127.0.0.1": 200, "[::1]:8080": 200, "evil.example:8080": 421, "127.0.0.1.nip.io": 421} {
		if resp, _ := get(t, l.url, "Host", host); resp.StatusCode != want {
			t.Errorf("Host %s: %d, want %d", host, resp.StatusCode, want)
		}
	}
}

// sse reads the stream's events until it has n "entry" events or a timeout.
type sseEvent struct{ id, name, data string }

func readSSE(t *testing.T, url, lastID string, until func([]sseEvent) bool) []sseEvent {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", url, nil)
	if lastID != "" {
		req.Header.Set("Last-Event-ID", lastID)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("stream content type %q", ct)
	}
	var out []sseEvent
	var cur sseEvent
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "":
			if cur.name != "" {
				out = append(out, cur)
				if until(out) {
					return out
				}
			}
			cur = sseEvent{}
		case strings.HasPrefix(line, "id: "):
			cur.id = line[4:]
		case strings.HasPrefix(line, "event: "):
			cur.name = line[7:]
		case strings.HasPrefix(line, "data: "):
			cur.data = line[6:]
		}
	}
	t.Fatalf("the stream ended before the events wanted: %v", out)
	return nil
}

func entries(evs []sseEvent) []sseEvent {
	var out []sseEvent
	for _, e := range evs {
		if e.name == "entry" {
			out = append(out, e)
		}
	}
	return out
}

// TestHistoryBounds: the history keeps the last N entries and no more bytes than asked; a
// stream that resumes after entries that were pushed out is told how many it missed.
func TestHistoryBounds(t *testing.T) {
	l := startListener(t, ui.Options{History: 5, HistoryBytes: 1 << 20}, listen.Config{})
	fill(t, l.ui, 8)
	evs := readSSE(t, l.url+"_cectl/events", "", func(e []sseEvent) bool { return len(entries(e)) == 5 })
	got := entries(evs)
	if got[0].id != "4" || got[4].id != "8" {
		t.Errorf("kept entries %s..%s, want 4..8", got[0].id, got[4].id)
	}
	// The header list is sent when it is not the one of the entry before.
	for i, e := range got {
		if has := strings.Contains(e.data, `"headers":`); has != (i == 0) {
			t.Errorf("entry %s: headers sent %v: %s", e.id, has, e.data)
		}
	}
	// Resuming after 1: 2 and 3 are gone.
	evs = readSSE(t, l.url+"_cectl/events", "1", func(e []sseEvent) bool { return len(entries(e)) == 5 })
	var gap string
	for _, e := range evs {
		if e.name == "gap" {
			gap = e.data
		}
	}
	if gap != "2" {
		t.Errorf("gap event %q, want 2 (%v)", gap, evs)
	}
	// Resuming after 6 gives 7 and 8 only.
	evs = readSSE(t, l.url+"_cectl/events", "6", func(e []sseEvent) bool { return len(entries(e)) == 2 })
	if g := entries(evs); g[0].id != "7" || g[1].id != "8" {
		t.Errorf("resumed with %v", g)
	}
	// The detail of an entry pushed out is gone; of one kept, there.
	if resp, body := get(t, l.url+"_cectl/entry?seq=3"); resp.StatusCode != 404 {
		t.Errorf("detail of a pushed-out entry: %s %s", resp.Status, body)
	}
	if resp, _ := get(t, l.url+"_cectl/entry?seq=x"); resp.StatusCode != 400 {
		t.Errorf("detail of no number: %s", resp.Status)
	}
	detail(t, l.url, "4")

	// Bytes: entries of about 1 KiB each in a 4 KiB history.
	small := startListener(t, ui.Options{History: 1000, HistoryBytes: 4 << 10}, listen.Config{})
	for i := range 20 {
		body := fmt.Sprintf(`{"specversion":"1.0","id":"%d","source":"/s","type":"t","data":"%s"}`, i, strings.Repeat("x", 600))
		if resp, _ := post(t, small.url, body, "Content-Type", "application/cloudevents+json"); resp.StatusCode != 202 {
			t.Fatal(resp.Status)
		}
	}
	evs = readSSE(t, small.url+"_cectl/events", "", func(e []sseEvent) bool { return e[0].name == "hello" })
	var hello struct {
		Events int   `json:"events"`
		Bytes  int64 `json:"bytes"`
	}
	mustJSON(t, evs[0].data, &hello)
	if hello.Events < 1 || hello.Events > 3 || hello.Bytes > 4<<10 {
		t.Errorf("a 4 KiB history of 1 KiB entries keeps %d entries in %d bytes", hello.Events, hello.Bytes)
	}
}

// TestRejectedInHistory: rejected requests are in the history with their reason, headers,
// raw request and the answer.
func TestRejectedInHistory(t *testing.T) {
	l := startListener(t, ui.Options{}, listen.Config{})
	post(t, l.url, `{"specversion":"1.0","id":"1","source":"/s","type":"t","time":"yesterday"}`, "Content-Type", "application/cloudevents+json", "X-Trace", "abc", "Cookie", "sid=s3cret")
	evs := readSSE(t, l.url+"_cectl/events", "", func(e []sseEvent) bool { return len(entries(e)) == 1 })
	var en struct {
		Kind    string      `json:"kind"`
		Status  int         `json:"status"`
		Reason  string      `json:"reason"`
		Headers [][2]string `json:"headers"`
		Body    string      `json:"body"`
		Answer  struct {
			Status int    `json:"status"`
			Body   string `json:"body"`
		} `json:"answer"`
	}
	// The stream has what the list shows and the text filter searches; the page fetches the
	// detail when the entry is opened.
	var sum struct {
		Kind    string   `json:"kind"`
		Status  int      `json:"status"`
		Reason  string   `json:"reason"`
		Headers []string `json:"headers"`
		Lines   []string `json:"lines"`
	}
	mustJSON(t, entries(evs)[0].data, &sum)
	if sum.Kind != "rejected" || sum.Status != 400 || !strings.Contains(sum.Reason, "time-format") || len(sum.Lines) != 0 ||
		!slices.Contains(sum.Headers, "X-Trace") || sum.Headers[slices.Index(sum.Headers, "X-Trace")+1] != "abc" {
		t.Errorf("rejected entry in the stream: %s", entries(evs)[0].data)
	}
	if i := slices.Index(sum.Headers, "Cookie"); i < 0 || sum.Headers[i+1] != "(hidden)" || strings.Contains(entries(evs)[0].data, "s3cret") {
		t.Errorf("credentials in the stream: %s", entries(evs)[0].data)
	}
	mustJSON(t, detail(t, l.url, entries(evs)[0].id), &en)
	if en.Kind != "rejected" || en.Status != 400 || !strings.Contains(en.Reason, "time-format") || en.Answer.Status != 400 || !strings.Contains(en.Answer.Body, "time-format") {
		t.Errorf("rejected entry: %+v", en)
	}
	if en.Body != `{"specversion":"1.0","id":"1","source":"/s","type":"t","time":"yesterday"}` || !slices.Contains(en.Headers, [2]string{"X-Trace", "abc"}) {
		t.Errorf("body %q, headers %v", en.Body, en.Headers)
	}
}

// TestWireHeaders: an event request listen read itself shows its header fields as they came,
// in their order and case, credentials hidden; the stream's list leaves a binary-mode event's
// ce- fields out, whatever their case.
func TestWireHeaders(t *testing.T) {
	l := startListener(t, ui.Options{}, listen.Config{})
	c, err := net.Dial("tcp", strings.TrimPrefix(strings.TrimSuffix(l.url, "/"), "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	io.WriteString(c, "POST / HTTP/1.1\r\nx-zeta: 1\r\nce-specversion: 1.0\r\nHOST: 127.0.0.1\r\nce-id: 1\r\nce-source: /s\r\n"+
		"ce-type: t\r\nauthorization: Bearer s3cret\r\nX-Alpha: 2\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
	if resp, _ := io.ReadAll(c); !strings.HasPrefix(string(resp), "HTTP/1.1 202 ") {
		t.Fatalf("answer %q", resp)
	}
	evs := readSSE(t, l.url+"_cectl/events", "", func(e []sseEvent) bool { return len(entries(e)) == 1 })
	var sum struct {
		Headers []string `json:"headers"`
	}
	mustJSON(t, entries(evs)[0].data, &sum)
	want := []string{"x-zeta", "1", "HOST", "127.0.0.1", "authorization", "Bearer (hidden)", "X-Alpha", "2", "Content-Length", "0", "Connection", "close"}
	if !slices.Equal(sum.Headers, want) {
		t.Errorf("stream headers %q, want %q", sum.Headers, want)
	}
	var en struct {
		Headers [][2]string `json:"headers"`
	}
	d := detail(t, l.url, entries(evs)[0].id)
	mustJSON(t, d, &en)
	if len(en.Headers) != 10 || en.Headers[1] != [2]string{"ce-specversion", "1.0"} || en.Headers[6] != [2]string{"authorization", "Bearer (hidden)"} || strings.Contains(d, "s3cret") {
		t.Errorf("detail headers %q", en.Headers)
	}
}

// TestClearStream: clearing the history tells open streams.
func TestClearStream(t *testing.T) {
	l := startListener(t, ui.Options{}, listen.Config{})
	fill(t, l.ui, 3)
	_, page := get(t, l.url)
	done := make(chan []sseEvent)
	go func() {
		done <- readSSE(t, l.url+"_cectl/events", "", func(e []sseEvent) bool { return e[len(e)-1].name == "clear" })
	}()
	time.Sleep(100 * time.Millisecond)
	if resp, _ := post(t, l.url+"_cectl/clear", "", "X-Cectl-Secret", secretOf(t, page)); resp.StatusCode != 200 {
		t.Fatal(resp.Status)
	}
	evs := <-done
	if last := evs[len(evs)-1]; last.data != "3" {
		t.Errorf("clear event %+v, want up to 3", last)
	}
	if resp, body := get(t, l.url+"_cectl/filter?expr=true"); resp.StatusCode != 200 || body != `{"seqs":[]}` {
		t.Errorf("after clear: %s", body)
	}
}

// TestPreload: the events of a record file are in the history from the start; a line that
// is no event is named.
func TestPreload(t *testing.T) {
	v, err := ui.New(ui.Options{})
	if err != nil {
		t.Fatal(err)
	}
	rec := `{"specversion":"1.0","id":"1","source":"/s","type":"t"}` + "\n" + "not json\n" + `{"specversion":"1.0","id":"2","source":"/s","type":"t"}` + "\n"
	n, err := v.Preload(strings.NewReader(rec), "rec.jsonl")
	if n != 2 || err == nil || !strings.HasPrefix(err.Error(), "rec.jsonl:2: not an event") {
		t.Errorf("Preload: %d, %v", n, err)
	}
	srv := httptest.NewServer(v.Handler())
	defer srv.Close()
	v.SetServed(srv.Listener.Addr())
	defer v.Close()
	evs := readSSE(t, srv.URL+"/_cectl/events", "", func(e []sseEvent) bool { return len(entries(e)) == 2 })
	var en struct {
		Kind   string `json:"kind"`
		Events []struct {
			Line string `json:"line"`
		} `json:"events"`
	}
	mustJSON(t, detail(t, srv.URL+"/", entries(evs)[1].id), &en)
	if en.Kind != "recorded" || len(en.Events) != 1 || en.Events[0].Line != `{"specversion":"1.0","id":"2","source":"/s","type":"t"}` {
		t.Errorf("preloaded entry: %s", entries(evs)[1].data)
	}
	var sum struct {
		Kind  string   `json:"kind"`
		Lines []string `json:"lines"`
	}
	mustJSON(t, entries(evs)[1].data, &sum)
	if sum.Kind != "recorded" || len(sum.Lines) != 1 || sum.Lines[0] != en.Events[0].Line {
		t.Errorf("preloaded entry in the stream: %s", entries(evs)[1].data)
	}
}

// TestFilterEndpoint: the CESQL engine of --filter, with the position of a syntax error.
func TestFilterEndpoint(t *testing.T) {
	l := startListener(t, ui.Options{}, listen.Config{})
	fill(t, l.ui, 10)
	for expr, want := range map[string]string{
		"type = 'com.example.kind3'": `{"seqs":[4]}`,
		"EXSTS subject":              `{"error":"syntax error at column 1: EXSTS is not a keyword: did you mean EXISTS?","line":1,"column":1}`,
		"type = ":                    `{"error":"syntax error at column 8: the expression ends too early","line":1,"column":8}`,
		"subject":                    `{"error":"the expression gives a string, not a boolean (compare it, e.g. subject = 'x')"}`,
	} {
		_, body := get(t, l.url+"_cectl/filter?expr="+urlQuery(expr))
		if body != want {
			t.Errorf("%q: %s, want %s", expr, body, want)
		}
	}
}

func urlQuery(s string) string {
	r := strings.NewReplacer(" ", "%20", "'", "%27", "=", "%3D")
	return r.Replace(s)
}

// detail fetches the detail of the entry whose sequence number is seq.
func detail(t *testing.T, base, seq string) string {
	t.Helper()
	resp, body := get(t, base+"_cectl/entry?seq="+seq)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("detail of %s: %s %s", seq, resp.Status, body)
	}
	return body
}

func mustJSON(t *testing.T, s string, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(s), v); err != nil {
		t.Fatalf("%v: %s", err, s)
	}
}

// TestDataKinds: JSON data pretty-printed, text as it is, binary as hex and base64; warnings
// and extension types come along.
func TestDataKinds(t *testing.T) {
	l := startListener(t, ui.Options{}, listen.Config{})
	send := func(ct, body string, hdr ...string) {
		h := append([]string{"Content-Type", ct, "Ce-Specversion", "1.0", "Ce-Id", "1", "Ce-Source", "/s", "Ce-Type", "t"}, hdr...)
		if resp, b := post(t, l.url, body, h...); resp.StatusCode != 202 {
			t.Fatalf("%s: %d %s", ct, resp.StatusCode, b)
		}
	}
	send("application/json", `{"a":[1,2]}`, "Ce-Averyveryverylongextensionname", "x", "Ce-Sampledrate", "5")
	send("text/plain", "hello\tworld")
	send("application/octet-stream", "\x00\x01\xfe\xff")
	// data_base64 without a content type is bytes, even when they are valid UTF-8.
	if resp, b := post(t, l.url, `{"specversion":"1.0","id":"4","source":"/s","type":"t","data_base64":"AAE="}`, "Content-Type", "application/cloudevents+json"); resp.StatusCode != 202 {
		t.Fatalf("%d %s", resp.StatusCode, b)
	}
	evs := entries(readSSE(t, l.url+"_cectl/events", "", func(e []sseEvent) bool { return len(entries(e)) == 4 }))
	type ev struct {
		Ext  [][2]string `json:"ext"`
		Data struct {
			Kind   string `json:"kind"`
			Size   int    `json:"size"`
			Text   string `json:"text"`
			Hex    string `json:"hex"`
			Base64 string `json:"base64"`
		} `json:"data"`
		Warnings []string `json:"warnings"`
	}
	var got [4]struct {
		Events   []ev   `json:"events"`
		BodyNote string `json:"bodyNote"`
	}
	for i := range got {
		mustJSON(t, detail(t, l.url, evs[i].id), &got[i])
	}
	j := got[0].Events[0]
	if j.Data.Kind != "json" || j.Data.Text != "{\n  \"a\": [\n    1,\n    2\n  ]\n}" {
		t.Errorf("JSON data: %+v", j.Data)
	}
	if !slices.Contains(j.Ext, [2]string{"sampledrate", "Integer"}) || !slices.Contains(j.Ext, [2]string{"averyveryverylongextensionname", "String"}) {
		t.Errorf("extension types: %v", j.Ext)
	}
	if len(j.Warnings) != 1 || !strings.Contains(j.Warnings[0], "20") {
		t.Errorf("warnings: %v", j.Warnings)
	}
	if d := got[1].Events[0].Data; d.Kind != "text" || d.Text != "hello\tworld" {
		t.Errorf("text data: %+v", d)
	}
	d := got[2].Events[0].Data
	if d.Kind != "binary" || d.Base64 != "AAH+/w==" || !strings.HasPrefix(d.Hex, "00000000  00 01 fe ff") || d.Size != 4 {
		t.Errorf("binary data: %+v", d)
	}
	if d := got[3].Events[0].Data; d.Kind != "binary" || d.Base64 != "AAE=" {
		t.Errorf("data_base64: %+v", d)
	}
	if got[2].BodyNote != "4 bytes of binary body, not shown as text" {
		t.Errorf("binary body note: %q", got[2].BodyNote)
	}
}

// TestAppendString: the quick path of the view's JSON strings gives what the event format's
// encoder gives.
func TestAppendString(t *testing.T) {
	for _, s := range []string{"", "plain", `a"b\c`, "tab\there", "\x00\x1f\x7f", "é✓\u2028\u202e", "\xff\xfe", `{"a":"é"}` + "\n", strings.Repeat(`x"`, 100) + "\u00e9"} {
		if got, want := string(ui.AppendString(nil, s)), string(ce.AppendString(nil, s)); got != want {
			t.Errorf("%q: %s, want %s", s, got, want)
		}
	}
}

// TestMaySecret: every credential field that format.HideCredentials hides, in any case, is
// looked at.
func TestMaySecret(t *testing.T) {
	for _, k := range []string{"Authorization", "Proxy-Authorization", "Cookie", "Set-Cookie", "X-Api-Key", "authorization", "COOKIE", "x-api-key", " Cookie"} {
		if !ui.MaySecret(k) {
			t.Errorf("%q is not looked at", k)
		}
	}
	if ui.MaySecret("Content-Type") || ui.MaySecret("User-Agent") {
		t.Error("ordinary fields looked at")
	}
}
