// Package ui is the live web view of listen --ui: a page served on the listen address (or one
// of its own), a history of every message listen answered, a Server-Sent Events stream of it,
// filters with the CESQL engine of --filter, and resending an event with cectl's own client.
//
// Everything a sender controls reaches the page as JSON data and is shown as text: the page's
// script never builds markup from it, and the Content-Security-Policy allows no inline script
// or style and no origin but the page's own. The assets are embedded in the binary.
package ui

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cectl/cectl/internal/binding"
	"github.com/cectl/cectl/internal/ce"
	"github.com/cectl/cectl/internal/client"
	"github.com/cectl/cectl/internal/listen"
	"github.com/cloudevents/sdk-go/v2/event"
)

//go:embed assets
var assets embed.FS

// Prefix is the reserved path prefix of the page's assets, stream and actions.
const Prefix = "/_cectl/"

// Defaults of the history's bounds.
const (
	DefaultHistory      = 1000
	DefaultHistoryBytes = 8 << 20
)

// Options configure the view.
type Options struct {
	// Path is where a browser's GET gets the page (the listen path); "/" when empty.
	Path string
	// Token, when set, is needed for the page, its assets, its stream and its actions: as
	// for events (Authorization: Bearer or ?access_token=), then by a cookie the page sets.
	Token string
	// History and HistoryBytes bound the history (defaults DefaultHistory, DefaultHistoryBytes).
	History      int
	HistoryBytes int64
	// UserAgent is sent with resent events.
	UserAgent string
}

// UI is the view. It is a listen.Observer: give it to listen.Config.Observer.
type UI struct {
	opts     Options
	hist     *history
	secret   string // same-origin proof for actions, in the page (per run)
	session  string // the cookie value that stands for the token (per run)
	tokenSum [32]byte

	mu       sync.Mutex
	target   string // where "resend here" sends: the listen URL
	loopback bool   // served on a loopback address: Host must name loopback
	done     chan struct{}
	doneOnce sync.Once
	// drop, when closed, ends the streams open now (the page reconnects); streams and
	// resumed count the streams opened, and those that resumed after an entry.
	drop    chan struct{}
	streams atomic.Int64
	resumed atomic.Int64
}

// New returns a view with an empty history.
func New(opts Options) (*UI, error) {
	if opts.Path == "" {
		opts.Path = "/"
	}
	if opts.History <= 0 {
		opts.History = DefaultHistory
	}
	if opts.HistoryBytes <= 0 {
		opts.HistoryBytes = DefaultHistoryBytes
	}
	u := &UI{opts: opts, hist: newHistory(opts.History, opts.HistoryBytes), done: make(chan struct{}), drop: make(chan struct{})}
	var err error
	if u.secret, err = randomHex(); err != nil {
		return nil, err
	}
	if u.session, err = randomHex(); err != nil {
		return nil, err
	}
	if opts.Token != "" {
		u.tokenSum = sha256.Sum256([]byte(opts.Token))
	}
	return u, nil
}

func randomHex() (string, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("--ui: no random secret: %w", err)
	}
	return hex.EncodeToString(b[:]), nil
}

// Observe keeps the exchange in the history: a copy of what listen built, nothing encoded.
func (u *UI) Observe(x *listen.Exchange) { u.hist.add(newEntry(x)) }

// SetTarget says where the events are taken: where "resend" sends when no URL is given.
func (u *UI) SetTarget(eventsURL string) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.target = eventsURL
}

// SetServed says where the page is served. On a loopback address, requests must name a
// loopback host, so that another site cannot reach the page through a DNS name of its own
// that resolves to 127.0.0.1 (DNS rebinding).
func (u *UI) SetServed(addr net.Addr) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if a, ok := addr.(*net.TCPAddr); ok {
		u.loopback = a.IP.IsLoopback()
	}
}

// Close ends the streams, so that the server can shut down.
func (u *UI) Close() { u.doneOnce.Do(func() { close(u.done) }) }

// Preload adds the events of a --record file (JSON lines) to the history. It returns how
// many it added and the first line that is no event, if any; such lines are skipped.
func (u *UI) Preload(r io.Reader, name string) (int, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 64<<20)
	n, line := 0, 0
	var first error
	for sc.Scan() {
		line++
		text := strings.TrimSpace(sc.Text())
		if text == "" {
			continue
		}
		ev, err := ce.Decode([]byte(text))
		if err != nil {
			if first == nil {
				first = fmt.Errorf("%s:%d: not an event: %v", name, line, err)
			}
			continue
		}
		e := &entry{kind: listen.KindEvents, preload: true, mode: binding.Structured, status: 0,
			events: []event.Event{ev}, info: []eventInfo{{selected: true}}}
		if t := ev.Time(); !t.IsZero() {
			e.received = t
		}
		e.size = int64(2*entryOverhead + len(text))
		u.hist.add(e)
		n++
	}
	if err := sc.Err(); err != nil && first == nil {
		first = fmt.Errorf("%s: %w", name, err)
	}
	return n, first
}

// Wrap puts the view's routes in front of next: everything under Prefix, and a GET or HEAD of
// the listen path (a browser's). Everything else, POST to the listen path included, goes to
// next.
func (u *UI) Wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case strings.HasPrefix(r.URL.Path, Prefix):
			u.serveUI(w, r)
		case (r.Method == http.MethodGet || r.Method == http.MethodHead) && u.isPagePath(r.URL.Path):
			u.servePage(w, r)
		case r.Method == http.MethodGet && r.URL.Path == "/favicon.ico":
			// Browsers ask for it on their own: not a request to show as rejected.
			w.WriteHeader(http.StatusNoContent)
		default:
			next.ServeHTTP(w, r)
		}
	})
}

// Handler serves the view alone (listen --ui-addr), at "/" whatever the listen path.
func (u *UI) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case strings.HasPrefix(r.URL.Path, Prefix):
			u.serveUI(w, r)
		case r.URL.Path == "/" && (r.Method == http.MethodGet || r.Method == http.MethodHead):
			u.servePage(w, r)
		default:
			http.Error(w, "not found: the page is at /", http.StatusNotFound)
		}
	})
}

func (u *UI) isPagePath(p string) bool {
	if p == u.opts.Path {
		return true
	}
	return p != "/" && u.opts.Path != "/" && strings.TrimSuffix(p, "/") == strings.TrimSuffix(u.opts.Path, "/")
}

// csp allows the page's own script, style, stream and images only: no inline script or style
// (a sender's text that ended up as markup could not run), no plugins, no framing.
const csp = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
	"base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

func securityHeaders(h http.Header) {
	h.Set("Content-Security-Policy", csp)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Cache-Control", "no-store")
	h.Set("Cross-Origin-Resource-Policy", "same-origin")
}

const sessionCookie = "cectl_ui"

// allowed checks the Host (on loopback) and, with a token, the token or the session cookie.
// On the page, a good token sets the cookie that the page's later requests carry.
func (u *UI) allowed(w http.ResponseWriter, r *http.Request, page bool) bool {
	u.mu.Lock()
	loopback := u.loopback
	u.mu.Unlock()
	if loopback && !loopbackHost(r.Host) {
		http.Error(w, "the page is served to localhost, 127.0.0.1 and [::1] only", http.StatusMisdirectedRequest)
		return false
	}
	if u.opts.Token == "" {
		return true
	}
	if c, err := r.Cookie(sessionCookie); err == nil && subtle.ConstantTimeCompare([]byte(c.Value), []byte(u.session)) == 1 {
		return true
	}
	var got string
	if a := r.Header.Get("Authorization"); len(a) > 7 && strings.EqualFold(a[:7], "bearer ") {
		got = strings.TrimSpace(a[7:])
	} else {
		got = r.URL.Query().Get("access_token")
	}
	sum := sha256.Sum256([]byte(got))
	if got != "" && subtle.ConstantTimeCompare(sum[:], u.tokenSum[:]) == 1 {
		if page {
			http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: u.session, Path: "/", HttpOnly: true,
				SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil})
		}
		return true
	}
	w.Header().Set("WWW-Authenticate", `Bearer realm="cectl listen"`)
	http.Error(w, "this listener needs its token: open the page with ?access_token=TOKEN", http.StatusUnauthorized)
	return false
}

func loopbackHost(hostport string) bool {
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.Trim(host, "[]"), ".")
	if strings.EqualFold(host, "localhost") || strings.HasSuffix(strings.ToLower(host), ".localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func (u *UI) servePage(w http.ResponseWriter, r *http.Request) {
	securityHeaders(w.Header())
	if !u.allowed(w, r, true) {
		return
	}
	page, err := assets.ReadFile("assets/index.html")
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	u.mu.Lock()
	target := u.target
	u.mu.Unlock()
	// The secret is hex; the target is escaped for the attribute it goes in.
	page = []byte(strings.NewReplacer("{{SECRET}}", u.secret, "{{TARGET}}", html.EscapeString(target)).Replace(string(page)))
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Length", strconv.Itoa(len(page)))
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		w.Write(page)
	}
}

func assetType(name string) (string, bool) {
	switch name {
	case "app.js":
		return "text/javascript; charset=utf-8", true
	case "app.css":
		return "text/css; charset=utf-8", true
	case "icon.svg":
		return "image/svg+xml", true
	}
	return "", false
}

func (u *UI) serveUI(w http.ResponseWriter, r *http.Request) {
	securityHeaders(w.Header())
	if !u.allowed(w, r, false) {
		return
	}
	name := strings.TrimPrefix(r.URL.Path, Prefix)
	switch name {
	case "events":
		u.serveStream(w, r)
	case "entry":
		u.serveEntry(w, r)
	case "filter":
		u.serveFilter(w, r)
	case "resend":
		u.serveResend(w, r)
	case "clear":
		u.serveClear(w, r)
	default:
		ct, ok := assetType(name)
		if !ok || (r.Method != http.MethodGet && r.Method != http.MethodHead) {
			http.Error(w, "not found", http.StatusNotFound)
			return
		}
		b, err := assets.ReadFile("assets/" + name)
		if err != nil {
			http.Error(w, "not found", http.StatusNotFound)
			return
		}
		w.Header().Set("Content-Type", ct)
		w.Write(b)
	}
}

// sameOrigin admits an action only from the page itself: a POST with the per-run secret the
// page carries (another site cannot read it, nor send the header without a CORS preflight,
// which is never granted), and, where the browser says, from the same origin.
func (u *UI) sameOrigin(w http.ResponseWriter, r *http.Request) bool {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "use POST", http.StatusMethodNotAllowed)
		return false
	}
	got := r.Header.Get("X-Cectl-Secret")
	if subtle.ConstantTimeCompare([]byte(got), []byte(u.secret)) != 1 {
		http.Error(w, "this action needs the page's secret: reload the page", http.StatusForbidden)
		return false
	}
	if s := r.Header.Get("Sec-Fetch-Site"); s != "" && s != "same-origin" {
		http.Error(w, "cross-site request refused", http.StatusForbidden)
		return false
	}
	if o := r.Header.Get("Origin"); o != "" {
		scheme := "http://"
		if r.TLS != nil {
			scheme = "https://"
		}
		if o != scheme+r.Host {
			http.Error(w, "cross-origin request refused", http.StatusForbidden)
			return false
		}
	}
	return true
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"error":"encoding the answer failed"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(b)
}

// filterError is a CESQL expression's error as the page marks it: the message and, for a
// syntax error, where.
type filterError struct {
	Error  string `json:"error"`
	Line   int    `json:"line,omitempty"`
	Column int    `json:"column,omitempty"`
}

// parseFilter parses a CESQL expression with the engine of --filter.
func parseFilter(expr string) (*listen.Filter, *filterError) {
	f, err := listen.NewFilter(expr, nil)
	if err == nil {
		return f, nil
	}
	fe := &filterError{Error: err.Error()}
	var se *listen.SyntaxError
	if errors.As(err, &se) {
		fe.Error = "syntax error at column " + strconv.Itoa(se.Column) + ": " + se.Msg
		if se.Line > 1 {
			fe.Error = "syntax error at line " + strconv.Itoa(se.Line) + ", column " + strconv.Itoa(se.Column) + ": " + se.Msg
		}
		fe.Line, fe.Column = se.Line, se.Column
	}
	return nil, fe
}

// serveFilter answers which entries of the history have an event matching a CESQL
// expression, or where the expression is wrong.
func (u *UI) serveFilter(w http.ResponseWriter, r *http.Request) {
	expr := r.URL.Query().Get("expr")
	f, fe := parseFilter(expr)
	if fe != nil {
		writeJSON(w, http.StatusBadRequest, fe)
		return
	}
	entries, _, _ := u.hist.since(0, nil)
	seqs := make([]uint64, 0, len(entries))
	for _, e := range entries {
		for i := range e.events {
			if f.Match(&e.events[i]) {
				seqs = append(seqs, e.seq)
				break
			}
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"seqs": seqs})
}

func (u *UI) serveClear(w http.ResponseWriter, r *http.Request) {
	if !u.sameOrigin(w, r) {
		return
	}
	u.hist.clear()
	writeJSON(w, http.StatusOK, map[string]any{"cleared": true})
}

type resendRequest struct {
	Seq   uint64 `json:"seq"`
	Index int    `json:"index"`
	To    string `json:"to"`
}

type resendResult struct {
	To         string  `json:"to"`
	Delivered  bool    `json:"delivered"`
	ACK        bool    `json:"ack"`
	Status     int     `json:"status,omitempty"`
	StatusText string  `json:"statusText,omitempty"`
	TookMS     float64 `json:"tookMs"`
	Error      string  `json:"error,omitempty"`
	Body       string  `json:"body,omitempty"`
}

// resendTimeout bounds a resend, retries included.
const resendTimeout = 15 * time.Second

// serveResend sends one event of the history again, with cectl's client, to this listener or
// to the URL given (any transport send takes), and answers the outcome.
func (u *UI) serveResend(w http.ResponseWriter, r *http.Request) {
	if !u.sameOrigin(w, r) {
		return
	}
	var req resendRequest
	if err := json.NewDecoder(io.LimitReader(r.Body, 64<<10)).Decode(&req); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "the request is not JSON: " + err.Error()})
		return
	}
	e := u.hist.find(req.Seq)
	if e == nil || req.Index < 0 || req.Index >= len(e.events) {
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "that event is no longer in the history"})
		return
	}
	u.mu.Lock()
	self := u.target
	u.mu.Unlock()
	to := strings.TrimSpace(req.To)
	opts := client.Options{Timeout: 10 * time.Second, UserAgent: u.opts.UserAgent}
	if to == "" {
		to = self
		if to == "" {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "this view has no listener of its own to send to: give a URL"})
			return
		}
		if u.opts.Token != "" {
			opts.Header = http.Header{"Authorization": {"Bearer " + u.opts.Token}}
		}
		// The certificate is the one this listener serves (--tls-cert), often self-signed.
		opts.Insecure = strings.HasPrefix(to, "https:")
	}
	t, err := client.Open(to, opts)
	if err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
		return
	}
	defer t.Close()
	mode := e.mode
	if e.preload || mode == binding.Batch {
		mode = binding.Structured
	}
	if m, err := t.Transport().Mode(mode); err == nil {
		mode = m
	}
	ev := e.events[req.Index].Clone()
	ctx, cancel := context.WithTimeout(r.Context(), resendTimeout)
	defer cancel()
	res := t.Send(ctx, mode, &ev)
	out := resendResult{To: to, Delivered: res.Delivered, ACK: res.ACK, Status: res.Status, TookMS: float64(res.Duration.Microseconds()) / 1000}
	if res.Status != 0 {
		out.StatusText = http.StatusText(res.Status)
	}
	if res.Err != nil {
		out.Error = res.Err.Error()
	}
	if res.Response != nil {
		body := res.Response.Body
		if len(body) > 4096 {
			body = body[:4096]
		}
		out.Body = strings.ToValidUTF8(string(body), "\uFFFD")
	}
	writeJSON(w, http.StatusOK, out)
}
