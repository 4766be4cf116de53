package ui_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cectl/cectl/internal/ce"
	"github.com/cectl/cectl/internal/listen"
	"github.com/cectl/cectl/internal/ui"
	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
	"github.com/cloudevents/sdk-go/v2/event"
)

func openPage(t *testing.T, ctx context.Context, url string) {
	t.Helper()
	do(t, ctx, chromedp.Navigate(url))
	waitFor(t, ctx, `document.getElementById('conn').textContent === 'live'`)
}

func setInput(t *testing.T, ctx context.Context, id, value string) {
	t.Helper()
	setSel(t, ctx, "#"+id, value)
}

// setSel types value into the input that sel selects, as a user would: it fires input.
func setSel(t *testing.T, ctx context.Context, sel, value string) {
	t.Helper()
	eval[bool](t, ctx, fmt.Sprintf(`(() => { const i = document.querySelector(%q); i.value = %q; i.dispatchEvent(new Event('input')); return true })()`, sel, value))
}

// TestBrowserFilters: type (glob), source, subject and free-text filters, and a CESQL filter
// whose syntax error is shown inline with its position; a valid one selects live events too.
func TestBrowserFilters(t *testing.T) {
	ctx := newBrowser(t)
	l := startListener(t, ui.Options{}, listen.Config{})
	to := l.url
	mustSend(t, "--to", to, "--type", "com.example.order.placed", "--source", "/orders", "-e", "region=eu", "--data", `{"sku":"lamp"}`)
	mustSend(t, "--to", to, "--type", "com.example.order.paid", "--source", "/orders", "--subject", "o/7")
	mustSend(t, "--to", to, "--type", "com.example.user.created", "--source", "/users", "-e", "region=us")
	openPage(t, ctx, l.url)
	waitFor(t, ctx, rowCount+` === 3`)

	setInput(t, ctx, "f-type", "com.example.order.*")
	waitFor(t, ctx, rowCount+` === 2 && document.getElementById('shown').textContent === 'showing 2 of 3'`)
	setInput(t, ctx, "f-subject", "o/7")
	waitFor(t, ctx, rowCount+` === 1 && document.querySelector('#rows .ty').textContent === 'com.example.order.paid'`)
	setInput(t, ctx, "f-type", "")
	setInput(t, ctx, "f-subject", "")
	setInput(t, ctx, "f-source", "/users")
	waitFor(t, ctx, rowCount+` === 1`)
	setInput(t, ctx, "f-source", "")
	setInput(t, ctx, "f-text", "LAMP") // in the data, any case
	waitFor(t, ctx, rowCount+` === 1 && document.querySelector('#rows .ty').textContent === 'com.example.order.placed'`)
	setInput(t, ctx, "f-text", "no entry has this")
	waitFor(t, ctx, rowCount+` === 0`)
	setInput(t, ctx, "f-text", "user-agent: cectl/") // the stream sends each header list once
	waitFor(t, ctx, rowCount+` === 3`)
	setInput(t, ctx, "f-text", "ce-subject: O/7") // a header of a binary-mode event
	waitFor(t, ctx, rowCount+` === 1 && document.querySelector('#rows .ty').textContent === 'com.example.order.paid'`)
	setInput(t, ctx, "f-text", "")
	waitFor(t, ctx, rowCount+` === 3`)

	// A CESQL syntax error: the message from the --filter engine, a caret under the column,
	// and the cursor on it.
	do(t, ctx, chromedp.SetValue(chromedp.CSS(`#f-cesql`), "region = 'eu' ANDD EXISTS subject"), chromedp.Focus(chromedp.CSS(`#f-cesql`)), chromedp.KeyEvent(kb.Enter))
	waitFor(t, ctx, `!document.getElementById('f-error').hidden`)
	msg := eval[string](t, ctx, `document.getElementById('f-error-msg').textContent`)
	if msg != "syntax error at column 15: ANDD is not a keyword: did you mean AND?" {
		t.Errorf("CESQL error shown: %q", msg)
	}
	if c := eval[string](t, ctx, `document.getElementById('f-error-caret').textContent`); c != "region = 'eu' ANDD EXISTS subject\n              ^" {
		t.Errorf("caret: %q", c)
	}
	if sel := eval[float64](t, ctx, `document.getElementById('f-cesql').selectionStart`); sel != 14 {
		t.Errorf("the cursor is at %v, want 14 (the error)", sel)
	}
	if inv := eval[string](t, ctx, `document.getElementById('f-cesql').getAttribute('aria-invalid')`); inv != "true" {
		t.Errorf("aria-invalid=%q", inv)
	}
	if n := eval[int](t, ctx, rowCount); n != 3 {
		t.Errorf("a wrong expression filtered the list: %d rows", n)
	}

	do(t, ctx, chromedp.SetValue(chromedp.CSS(`#f-cesql`), "source = '/orders' OR type LIKE '%.live.match'"), chromedp.Focus(chromedp.CSS(`#f-cesql`)), chromedp.KeyEvent(kb.Enter))
	waitFor(t, ctx, `document.getElementById('f-error').hidden && `+rowCount+` === 2`)
	// Live events are judged by the same engine.
	mustSend(t, "--to", to, "--type", "com.example.live.match")
	mustSend(t, "--to", to, "--type", "com.example.live.nomatch")
	waitFor(t, ctx, `document.getElementById('count').textContent.startsWith('5 entries')`)
	waitFor(t, ctx, rowCount+` === 3 && document.querySelector('#rows .ty').textContent === 'com.example.live.match'`)
	// Clearing the expression shows everything again.
	setSel(t, ctx, `#f-cesql`, "")
	do(t, ctx, chromedp.Focus(chromedp.CSS(`#f-cesql`)), chromedp.KeyEvent(kb.Enter))
	waitFor(t, ctx, rowCount+` === 5`)
}

// TestBrowserResend: resend to a second listener arrives there with the same event; resend
// without a URL comes back to this listener; the outcome is shown.
func TestBrowserResend(t *testing.T) {
	ctx := newBrowser(t)
	first := startListener(t, ui.Options{}, listen.Config{})
	second := startListener(t, ui.Options{}, listen.Config{})
	mustSend(t, "--to", first.url, "--type", "com.example.resend", "--id", "r-1", "--source", "/r", "-e", "region=eu", "--data", `{"n":1}`)
	openPage(t, ctx, first.url)
	waitFor(t, ctx, rowCount+` === 1`)
	do(t, ctx, chromedp.Click(chromedp.CSS(`#rows .row`)))
	waitFor(t, ctx, `!!document.querySelector('#detail .resend input')`)
	setSel(t, ctx, `#detail .resend input`, second.url)
	do(t, ctx, chromedp.Click(chromedp.CSS(`#detail .resend button`)))
	waitFor(t, ctx, `document.querySelector('.resend-result').textContent.startsWith('ACK')`)
	if res := eval[string](t, ctx, `document.querySelector('.resend-result').textContent`); !strings.HasPrefix(res, "ACK 202 Accepted → "+second.url) {
		t.Errorf("outcome shown: %q", res)
	}
	got := second.events()
	if len(got) != 1 || got[0].ID() != "r-1" || got[0].Type() != "com.example.resend" || got[0].Extensions()["region"] != "eu" || string(got[0].Data()) != `{"n":1}` {
		t.Fatalf("the second listener got %v", got)
	}
	// The copied commands follow the URL typed.
	if c := eval[string](t, ctx, `document.querySelector('#detail .cmd-curl').textContent`); !strings.HasPrefix(c, "curl -i "+second.url) {
		t.Errorf("curl command: %q", c)
	}

	// To this listener: the resent event arrives as a new entry.
	setSel(t, ctx, `#detail .resend input`, "")
	do(t, ctx, chromedp.Click(chromedp.CSS(`#detail .resend button`)))
	waitFor(t, ctx, rowCount+` === 2`)
	if n := len(first.events()); n != 2 {
		t.Errorf("the first listener has %d events, want 2", n)
	}
	// A receiver that refuses: NACK with its status.
	refuser := startListener(t, ui.Options{}, listen.Config{Faults: listen.Faults{Status: 503}})
	setSel(t, ctx, `#detail .resend input`, refuser.url)
	do(t, ctx, chromedp.Click(chromedp.CSS(`#detail .resend button`)))
	waitFor(t, ctx, `document.querySelector('.resend-result').textContent.startsWith('NACK 503')`)
}

// TestBrowserDownloadReplays: the shown events download as JSON lines that cectl send
// --from replays to another listener, the same events in the order they came; then Clear.
func TestBrowserDownloadReplays(t *testing.T) {
	ctx := newBrowser(t)
	l := startListener(t, ui.Options{}, listen.Config{})
	for i := range 3 {
		mustSend(t, "--to", l.url, "--type", "com.example.dl", "--id", fmt.Sprint("d", i), "--data", fmt.Sprintf(`{"i":%d}`, i))
	}
	mustSend(t, "--to", l.url, "--type", "com.example.bin", "--id", "bin", "--datacontenttype", "application/octet-stream", "--data", "\x00\x01\xff")
	// Numbers a browser's JSON.parse would round, and a decimal it would shorten.
	mustSend(t, "--to", l.url, "--type", "com.example.big", "--id", "big", "--data", `{"big":12345678901234567890,"f":1.50}`)
	dir := t.TempDir()
	if _, err := chromedp.CallBrowser(ctx, browser.SetDownloadBehavior, browser.SetDownloadBehaviorParams{
		Behavior: browser.SetDownloadBehaviorBehaviorAllow, DownloadPath: dir}); err != nil {
		t.Fatal(err)
	}
	openPage(t, ctx, l.url)
	waitFor(t, ctx, rowCount+` === 5`)
	do(t, ctx, chromedp.Click(chromedp.CSS(`#download`)))
	file := filepath.Join(dir, "cectl-events.jsonl")
	var body []byte
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if b, err := os.ReadFile(file); err == nil && len(b) > 0 {
			body = b
			break
		}
	}
	if n := strings.Count(string(body), "\n"); n != 5 {
		t.Fatalf("downloaded %d lines:\n%s", n, body)
	}
	// Each line is the event exactly as --record and -o json write it.
	for i, line := range strings.Split(strings.TrimSuffix(string(body), "\n"), "\n") {
		if want := string(ce.AppendJSON(nil, &l.events()[i])); line != want {
			t.Errorf("downloaded line %d:\n%s\nwant\n%s", i+1, line, want)
		}
	}
	replay := startListener(t, ui.Options{}, listen.Config{})
	mustSend(t, "--to", replay.url, "--from", file)
	got := replay.events()
	orig := l.events()
	if len(got) != len(orig) {
		t.Fatalf("replayed %d events, want %d", len(got), len(orig))
	}
	for i := range got {
		if got[i].ID() != orig[i].ID() || string(got[i].Data()) != string(orig[i].Data()) || got[i].DataContentType() != orig[i].DataContentType() {
			t.Errorf("event %d replayed as %s, was %s", i, got[i], orig[i])
		}
	}

	// Clear empties the list, and the history: a new page gets nothing.
	do(t, ctx, chromedp.Click(chromedp.CSS(`#clear`)))
	waitFor(t, ctx, rowCount+` === 0 && document.getElementById('count').textContent.startsWith('0 entries') && !document.getElementById('empty').hidden`)
	do(t, ctx, chromedp.Reload())
	waitFor(t, ctx, `document.getElementById('conn').textContent === 'live'`)
	mustSend(t, "--to", l.url, "--type", "com.example.after-clear")
	waitFor(t, ctx, rowCount+` === 1 && document.querySelector('#rows .ty').textContent === 'com.example.after-clear'`)
}

// TestBrowserReconnect: when the stream is lost, the page reconnects with Last-Event-ID and
// gets every entry that came meanwhile, each once.
func TestBrowserReconnect(t *testing.T) {
	ctx := newBrowser(t)
	l := startListener(t, ui.Options{}, listen.Config{})
	for i := range 3 {
		mustSend(t, "--to", l.url, "--type", "com.example.before", "--id", fmt.Sprint("b", i))
	}
	openPage(t, ctx, l.url)
	waitFor(t, ctx, rowCount+` === 3`)
	_, resumedBefore := l.ui.Streams()
	l.ui.DropStreams()
	// The page waits a second before it reconnects: these come while it is away.
	for i := range 20 {
		mustSend(t, "--to", l.url, "--type", "com.example.during", "--id", fmt.Sprint("d", i))
	}
	waitFor(t, ctx, `document.getElementById('count').textContent.startsWith('23 entries')`)
	opened, resumed := l.ui.Streams()
	if opened < 2 || resumed <= resumedBefore {
		t.Errorf("streams opened %d, resumed %d: the page did not reconnect with Last-Event-ID", opened, resumed)
	}
	ids := eval[[]string](t, ctx, `Array.from(document.querySelectorAll('#rows .row .rest')).map(r => r.textContent.match(/id=(\S+)/)[1])`)
	seen := map[string]bool{}
	for _, id := range ids {
		if seen[id] {
			t.Errorf("entry %s shown twice", id)
		}
		seen[id] = true
	}
	for i := range 20 {
		if !seen[fmt.Sprint("d", i)] {
			t.Errorf("event d%d sent while the page was away is missing (shown: %v)", i, ids)
		}
	}
}

// TestBrowserInjection: attributes, extensions, data, headers and a rejected request full of
// markup and javascript: URLs are shown as text; no script runs and no element is made from
// them.
func TestBrowserInjection(t *testing.T) {
	ctx := newBrowser(t)
	l := startListener(t, ui.Options{}, listen.Config{})
	const xss = `<img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script>`
	mustSend(t, "--to", l.url, "--type", `<script>window.__pwned=3</script>`, "--source", `javascript:window.__pwned=4`,
		"--subject", `"><svg onload="window.__pwned=5">`, "--id", `<a href="javascript:window.__pwned=6">x</a>`,
		"--dataschema", "javascript:window.__pwned=7", "-e", "html="+xss,
		"-H", `X-Evil: <iframe src="javascript:window.__pwned=8"></iframe>`,
		"--datacontenttype", "text/html", "--data", `<body onload="window.__pwned=9">`+xss)
	mustSend(t, "--to", l.url, "--mode", "structured", "--type", "com.example.json", "--data", `{"k":"`+strings.ReplaceAll(xss, `"`, `\"`)+`","<b>":1}`)
	req, _ := http.NewRequest("POST", l.url+"?q=<script>window.__pwned=10</script>", strings.NewReader(xss))
	req.Header.Set("Content-Type", "text/html")
	req.Header.Set("X-Evil", xss)
	if resp, err := http.DefaultClient.Do(req); err != nil {
		t.Fatal(err)
	} else if resp.Body.Close(); resp.StatusCode != http.StatusUnsupportedMediaType {
		t.Fatalf("the bad request got %d", resp.StatusCode)
	}
	openPage(t, ctx, l.url)
	waitFor(t, ctx, rowCount+` === 3`)
	for i := range 3 {
		do(t, ctx, chromedp.Click(chromedp.CSS(fmt.Sprintf(`#rows .row:nth-child(%d)`, i+1))))
		waitFor(t, ctx, `!document.getElementById('detail').hidden`)
		// Copy and the batch tabs render too.
		eval[bool](t, ctx, `document.querySelectorAll('#detail button').forEach(b => { if (b.textContent.startsWith('event')) b.click() }); true`)
	}
	// A CESQL error message that quotes the expression.
	do(t, ctx, chromedp.SetValue(chromedp.CSS(`#f-cesql`), xss), chromedp.Focus(chromedp.CSS(`#f-cesql`)), chromedp.KeyEvent(kb.Enter))
	waitFor(t, ctx, `!document.getElementById('f-error').hidden`)
	time.Sleep(300 * time.Millisecond) // an onerror or onload would have run by now

	if v := eval[string](t, ctx, `String(window.__pwned)`); v != "undefined" {
		t.Errorf("a script from a sender ran: window.__pwned = %s", v)
	}
	if n := eval[int](t, ctx, `document.querySelectorAll('img, svg, iframe, object, embed, a, b, body *[onload], [onerror], [onload]').length`); n != 0 {
		t.Errorf("%d elements were made from sender data: %s", n, eval[string](t, ctx, `Array.from(document.querySelectorAll('img, svg, iframe, object, embed, a, b, [onerror], [onload]')).map(e => e.outerHTML).join('\n')`))
	}
	if n := eval[int](t, ctx, `document.scripts.length`); n != 1 {
		t.Errorf("the page has %d scripts; want only its own", n)
	}
	// The values are there, as text.
	do(t, ctx, chromedp.Click(chromedp.CSS(`#rows .row:nth-child(3)`)))
	waitFor(t, ctx, `document.querySelector('#detail h2').textContent === '<script>window.__pwned=3</script>'`)
	text := eval[string](t, ctx, `document.getElementById('detail').textContent`)
	for _, want := range []string{`javascript:window.__pwned=4`, `"><svg onload="window.__pwned=5">`, xss, `X-Evil`, `<iframe src="javascript:window.__pwned=8"></iframe>`} {
		if !strings.Contains(text, want) {
			t.Errorf("detail does not show %q as text", want)
		}
	}
}

// TestBrowserTenThousand: with 10,000 entries in the history, a filter renders in under
// 100 ms, measured in the page.
func TestBrowserTenThousand(t *testing.T) {
	ctx := newBrowser(t)
	l := startListener(t, ui.Options{History: 10000, HistoryBytes: 64 << 20}, listen.Config{})
	fill(t, l.ui, 10000)
	openPage(t, ctx, l.url)
	waitFor(t, ctx, `document.getElementById('count').textContent.startsWith('10000 entries')`)
	if n := eval[int](t, ctx, `document.querySelectorAll('#rows .row').length`); n > 100 {
		t.Errorf("%d rows in the DOM: the list should render what is visible", n)
	}
	for _, f := range []struct{ id, value, want string }{
		{"f-type", "com.example.kind3", "showing 1000 of 10000"},
		{"f-text", "n-4243", "showing 1 of 10000"},
		{"f-type", "", "showing 1 of 10000"},
		{"f-text", "", ""},
	} {
		// The best of three, as other processes may hold the CPU for a while.
		ms := eval[float64](t, ctx, fmt.Sprintf(`(() => {
			const i = document.getElementById(%q), prev = i.value;
			let best = Infinity;
			for (let k = 0; k < 3; k++) {
				if (k > 0) { i.value = prev; i.dispatchEvent(new Event('input')); }
				const t0 = performance.now();
				i.value = %q; i.dispatchEvent(new Event('input'));
				document.getElementById('rows').getBoundingClientRect(); // layout included
				best = Math.min(best, performance.now() - t0);
			}
			return best; })()`, f.id, f.value))
		if got := eval[string](t, ctx, `document.getElementById('shown').textContent`); got != f.want {
			t.Errorf("%s=%q: %q, want %q", f.id, f.value, got, f.want)
		}
		t.Logf("%s=%q renders in %.1f ms", f.id, f.value, ms)
		if ms >= 100 {
			t.Errorf("%s=%q took %.1f ms to render; want under 100", f.id, f.value, ms)
		}
	}
}

// fill puts n events into the history as listen would.
func fill(t *testing.T, v *ui.UI, n int) {
	t.Helper()
	for i := range n {
		e, _ := ce.NewEvent(ce.V1)
		e.SetID(fmt.Sprint("n-", i))
		e.SetSource("/fill")
		e.SetType(fmt.Sprint("com.example.kind", i%10))
		e.SetSubject(fmt.Sprint("s/", i))
		e.SetTime(time.Now())
		if err := e.SetData("application/json", map[string]int{"i": i}); err != nil {
			t.Fatal(err)
		}
		v.Observe(&listen.Exchange{
			Report:   &listen.Report{Kind: listen.KindEvents, Received: time.Now(), Method: "POST", Target: "/", Proto: "HTTP/1.1", Header: http.Header{"Content-Type": {"application/cloudevents+json"}}},
			Events:   []event.Event{e},
			Selected: []listen.Arrival{{Index: 0}},
			Body:     ce.AppendJSON(nil, &e),
			Verdict:  &listen.Verdict{Outcome: listen.Accepted, Status: 202},
		})
	}
}

// TestBrowserToken: with --token the page opened with ?access_token works on its cookie;
// a page whose session is no longer good says it needs the token rather than retrying.
func TestBrowserToken(t *testing.T) {
	ctx := newBrowser(t)
	l := startListener(t, ui.Options{Token: "t0k"}, listen.Config{Token: "t0k"})
	do(t, ctx, chromedp.Navigate(l.url))
	if body := eval[string](t, ctx, `document.body.innerText`); !strings.Contains(body, "needs its token") {
		t.Fatalf("without the token the page shows: %q", body)
	}
	openPage(t, ctx, l.url+"?access_token=t0k")
	mustSend(t, "--to", l.url, "--type", "com.example.with-token", "-H", "Authorization: Bearer t0k")
	waitFor(t, ctx, rowCount+` === 1`)
	if _, err := chromedp.Call(ctx, network.ClearBrowserCookies, cdp.Empty{}); err != nil {
		t.Fatal(err)
	}
	l.ui.DropStreams()
	waitFor(t, ctx, `document.getElementById('conn').textContent.startsWith('needs the token')`)
}
