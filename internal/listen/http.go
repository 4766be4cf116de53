package listen

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/cectl/cectl/internal/binding"
)

// ServeHTTP is the HTTP adapter of the pipeline. What only HTTP has — the path, the method,
// the bearer token, the webhook handshake, the body and its limits — is checked here; the
// message then goes through the pipeline, and the verdict is answered as HTTP status, headers
// and body.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	x := h.getExchange()
	defer h.putExchange(x)
	x.rep = Report{
		Received: h.cfg.Now(),
		Method:   r.Method,
		Target:   redactTarget(r),
		Proto:    r.Proto,
		Remote:   r.RemoteAddr,
		Header:   r.Header,
		Wire:     wireOf(r.Context()),
	}
	h.serve(w, r, x)
	writeVerdict(w, &x.verdict)
	h.observe(x, r.Host, w.Header())
}

// serve decides the verdict of a request in x; the answer to an OPTIONS handshake is written
// here already.
func (h *Handler) serve(w http.ResponseWriter, r *http.Request, x *exchange) {
	if h.cfg.Token != "" {
		// A listener that asks for a token tells a stranger nothing about itself: not even
		// which path it serves, so the token is checked before the path, and the handshake,
		// which grants nothing (webhook §4), is answered on every path.
		h.serveGuarded(w, r, x)
		return
	}
	if !samePath(r.URL.Path, h.cfg.Path) {
		h.reject(x, http.StatusNotFound, fmt.Sprintf("no events are taken at %s; listen takes them at %s", r.URL.Path, h.cfg.Path))
		return
	}
	if !h.checkMethod(w, r, x) {
		return
	}
	h.serveEvents(w, r, x)
}

// serveGuarded is serve with --token: method, then token, then path.
func (h *Handler) serveGuarded(w http.ResponseWriter, r *http.Request, x *exchange) {
	if !h.checkMethod(w, r, x) {
		return
	}
	if !h.authorized(r) {
		// The bearer token scheme of webhook §3 (RFC 6750 §3 for the challenge).
		w.Header().Set("WWW-Authenticate", `Bearer realm="cectl listen"`)
		h.reject(x, http.StatusUnauthorized, "missing or wrong bearer token (Authorization: Bearer <token>, or ?access_token=<token>)")
		return
	}
	if !samePath(r.URL.Path, h.cfg.Path) {
		h.reject(x, http.StatusNotFound, fmt.Sprintf("no events are taken at %s", r.URL.Path))
		return
	}
	h.serveEvents(w, r, x)
}

// checkMethod answers the handshake to OPTIONS and refuses methods other than POST and PUT;
// it reports whether the request carries events.
func (h *Handler) checkMethod(w http.ResponseWriter, r *http.Request, x *exchange) bool {
	switch r.Method {
	case http.MethodOptions:
		h.handshake(w, r, x)
		return false
	case http.MethodPost, http.MethodPut:
		// The webhook spec (§2.1) wants POST; the HTTP binding does not constrain the
		// method (§1.2) and its batch example uses PUT.
		return true
	}
	w.Header().Set("Allow", allowed)
	h.reject(x, http.StatusMethodNotAllowed, fmt.Sprintf("method %s is not allowed: send events with POST", r.Method))
	return false
}

// serveEvents reads and takes the events of a POST or PUT at the events path.
func (h *Handler) serveEvents(w http.ResponseWriter, r *http.Request, x *exchange) {
	if lengthRequired(r) {
		// The rest of the connection may be the unread body: it is not taken for a request.
		w.Header().Set("Connection", "close")
		h.reject(x, http.StatusLengthRequired, "an HTTP/1.0 request must give its body's length in Content-Length (RFC 1945 §7.2.2): the body, if any, was not read")
		return
	}
	if !h.Taking() {
		h.turnAway(x)
		return
	}
	body, p := h.readBody(w, r, x)
	if p == nil {
		body, p = h.inflate(w, r.Header, body, x)
	}
	if p != nil {
		h.reject(x, p.status, p.reason)
		return
	}
	x.msg = message{header: r.Header, body: body}
	h.run(r.Context(), x)
}

const allowed = "OPTIONS, POST, PUT"

// lengthRequired reports whether r is an HTTP/1.0 request without Content-Length. HTTP/1.0
// has no chunked encoding (net/http ignores Transfer-Encoding there), so such a body cannot be
// delimited and is read as empty; answering 202 would tell the sender its event arrived. 411
// Length Required (RFC 9110 §15.5.12) is what nginx answers. In HTTP/1.1 a request without
// Content-Length or chunked encoding has no body (RFC 9112 §6.3), which is a valid binary-mode
// event without data.
func lengthRequired(r *http.Request) bool {
	return !r.ProtoAtLeast(1, 1) && r.ContentLength <= 0 && len(r.Header["Content-Length"]) == 0
}

// samePath reports whether a request for path reaches the events path served: exactly, or
// with or without one trailing slash (/events and /events/ name the same endpoint to a
// sender, whatever RFC 3986 §6.2.3 leaves to the server).
func samePath(path, served string) bool {
	if path == served {
		return true
	}
	return served != "/" && path != "/" && strings.TrimSuffix(path, "/") == strings.TrimSuffix(served, "/")
}

// writeVerdict answers v over HTTP. Refusals are explained in plain text; an accepted message
// is answered with the reply event, if any, in its content mode (http binding §3).
func writeVerdict(w http.ResponseWriter, v *Verdict) {
	hdr := w.Header()
	if v.RetryAfter != "" {
		hdr.Set("Retry-After", v.RetryAfter)
	}
	switch v.Outcome {
	case Accepted:
		var reply []byte
		if v.Reply != nil {
			if msg, err := binding.Encode(v.ReplyMode, v.Reply); err == nil {
				for k, vs := range msg.Header {
					hdr[k] = vs
				}
				reply = msg.Body
			}
		}
		if len(reply) > 0 {
			hdr.Set("Content-Length", strconv.Itoa(len(reply)))
			if _, ok := hdr["Content-Type"]; !ok {
				// A reply without datacontenttype has no Content-Type (http binding
				// §3.1.1); net/http would otherwise guess one and add it to the event.
				hdr["Content-Type"] = nil
			}
		}
		w.WriteHeader(v.Status)
		if len(reply) > 0 && v.Status != http.StatusNoContent {
			w.Write(reply)
		}
	case Refused:
		hdr.Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(v.Status)
		fmt.Fprintf(w, "refused on purpose (%s)\n", v.Reason)
	case Stopped:
		// The connection is not kept: the sender had better find out where to go next.
		hdr.Set("Connection", "close")
		http.Error(w, v.Reason, v.Status)
	default:
		hdr.Set("Content-Type", "text/plain; charset=utf-8")
		hdr.Set("X-Content-Type-Options", "nosniff")
		w.WriteHeader(v.Status)
		io.WriteString(w, v.Reason+"\n")
	}
}

// handshake answers the webhook validation request (webhook §4.2): listen agrees to receive
// from any origin at any rate.
func (h *Handler) handshake(w http.ResponseWriter, r *http.Request, x *exchange) {
	hdr := w.Header()
	hdr.Set("Allow", allowed)
	rep := &x.rep
	rep.Kind = KindHandshake
	rep.Origin = r.Header.Get("WebHook-Request-Origin")
	if rep.Origin != "" {
		// §4.2.1: the origin asked for; §4.2.2: "*" is no rate limit.
		hdr.Set("WebHook-Allowed-Origin", rep.Origin)
		hdr.Set("WebHook-Allowed-Rate", "*")
	}
	rep.Status = http.StatusOK
	h.stats.handshake()
	h.cfg.Report(rep)
	x.verdict = Verdict{Outcome: Accepted, Status: http.StatusOK}
}

// authorized checks the bearer token in the Authorization header (webhook §3.1) or the
// access_token query parameter (§3.2). Hashes are compared so that neither the content nor
// the length of the token leaks through timing.
func (h *Handler) authorized(r *http.Request) bool {
	if h.cfg.Token == "" {
		return true
	}
	var got string
	if a := r.Header.Get("Authorization"); len(a) > 7 && strings.EqualFold(a[:7], "bearer ") {
		got = strings.TrimSpace(a[7:])
	} else if a == "" && r.URL.RawQuery != "" {
		got = r.URL.Query().Get("access_token")
	}
	sum := sha256.Sum256([]byte(got))
	return subtle.ConstantTimeCompare(sum[:], h.tokenSum[:]) == 1
}

// redactTarget is the request target to show, with an access_token hidden, however its
// name is percent-encoded (access%5Ftoken decodes to the same parameter, RFC 3986 §2.1).
func redactTarget(r *http.Request) string {
	u := r.URL
	var q url.Values
	if u.RawQuery != "" && mayHoldToken(u.RawQuery) {
		q, _ = url.ParseQuery(u.RawQuery)
	}
	if !q.Has("access_token") {
		if r.RequestURI != "" {
			return r.RequestURI
		}
		return u.RequestURI()
	}
	q.Set("access_token", "REDACTED")
	c := *u
	c.RawQuery = q.Encode()
	return c.RequestURI()
}

// mayHoldToken reports whether a raw query may name access_token, encoded or not.
func mayHoldToken(rawQuery string) bool {
	return strings.Contains(rawQuery, "access_token") || strings.Contains(rawQuery, "%")
}

// growBody makes room for n more bytes of a body in buf, taken from the budget of bodies
// being read at once (x.reserved gives it back when the message is done); past the budget the
// message is answered 503.
func (h *Handler) growBody(x *exchange, buf []byte, n int64) ([]byte, *problem) {
	if !h.budget.tryAcquire(n) {
		return nil, &problem{http.StatusServiceUnavailable, "too many requests at once: try again"}
	}
	x.reserved += n
	nb := make([]byte, len(buf), int64(cap(buf))+n)
	copy(nb, buf)
	return nb, nil
}

// readBody reads the body into x's buffer within --max-body and the memory budget; the
// memory is given back with x.
func (h *Handler) readBody(w http.ResponseWriter, r *http.Request, x *exchange) ([]byte, *problem) {
	limit := h.cfg.MaxBody
	if r.ContentLength > limit {
		return nil, &problem{http.StatusRequestEntityTooLarge, fmt.Sprintf("the body is %d bytes; listen takes at most %d (--max-body)", r.ContentLength, limit)}
	}
	want := int64(firstRead)
	if r.ContentLength >= 0 {
		want = r.ContentLength + 1 // one more byte to see the end without growing
	}
	want = min(want, limit+1)
	if !h.budget.tryAcquire(want) {
		ctx, cancel := context.WithTimeout(r.Context(), budgetWait)
		err := h.budget.acquire(ctx, want)
		cancel()
		if err != nil {
			return nil, &problem{http.StatusServiceUnavailable, "too many requests at once: try again"}
		}
	}
	x.reserved = want
	buf := x.body[:0]
	if int64(cap(buf)) < want && want > pooledBuffer {
		select {
		case big := <-h.bigBodies:
			buf = big
		default:
		}
	}
	if int64(cap(buf)) < want {
		buf = make([]byte, 0, want)
	}
	defer func() { x.body = buf }()
	// A declared length was checked above and the server reads no further than it; a body of
	// unknown length is cut at the limit.
	rd := r.Body
	if r.ContentLength < 0 {
		rd = http.MaxBytesReader(w, r.Body, limit)
	}
	for {
		if len(buf) == cap(buf) {
			nb, p := h.growBody(x, buf, max(min(int64(cap(buf)), limit+1-int64(cap(buf))), 1))
			if p != nil {
				return nil, p
			}
			buf = nb
		}
		n, err := rd.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if errors.Is(err, io.EOF) {
			return buf, nil
		}
		if err != nil {
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				return nil, &problem{http.StatusRequestEntityTooLarge, fmt.Sprintf("the body is larger than %d bytes (--max-body)", limit)}
			}
			return nil, &problem{http.StatusBadRequest, "reading the body: " + err.Error()}
		}
	}
}
