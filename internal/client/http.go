package client

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/http/httputil"
	"net/url"
	"time"

	"github.com/cectl/cectl/internal/binding"
	"github.com/cloudevents/sdk-go/v2/event"
)

// HTTP posts events (http binding §3): binary mode with attributes in ce- headers,
// structured mode, or several events in one batch (http binding §3.3). A response may carry
// a reply event in any mode (http binding §3.2), which request shows and listen sends.
var httpTransport = Transport{
	Name:        "HTTP",
	Schemes:     []Scheme{{"http", "80"}, {"https", "443"}},
	Form:        "http(s)://host[:port]/path",
	Modes:       []binding.Mode{binding.Binary, binding.Structured, binding.Batch},
	DryRun:      true,
	ListenReply: true,
	open: func(tr *Transport, raw string, u *url.URL, opts Options) (Target, error) {
		if u.Host == "" {
			return nil, &UsageError{Err: fmt.Errorf("%q has no host", raw)}
		}
		if p := u.Port(); p != "" {
			if err := checkPort(raw, p); err != nil {
				return nil, err
			}
		}
		return &httpTarget{base: base{tr, raw}, c: New(opts)}, nil
	},
}

type httpTarget struct {
	base
	c *Client
}

func (t *httpTarget) Close() error { t.c.Close(); return nil }

// WireBytes returns the bytes sent and received on the target's connections so far.
func (t *httpTarget) WireBytes() (sent, received int64) { return t.c.WireBytes() }

func (t *httpTarget) Send(ctx context.Context, mode binding.Mode, events ...*event.Event) Result {
	msg, err := binding.Encode(mode, events...)
	if err != nil {
		return Result{Err: err}
	}
	return t.c.Post(ctx, t.raw, msg)
}

// Request posts the event and decodes the reply from the response (http binding §3.2 allows a
// response to carry an event in any mode).
func (t *httpTarget) Request(ctx context.Context, mode binding.Mode, e *event.Event) (Result, []event.Event, binding.Mode, error) {
	res := t.Send(ctx, mode, e)
	if !res.ACK || res.Response == nil {
		return res, nil, mode, nil
	}
	replies, replyMode, err := binding.Decode(res.Response.Header, res.Response.Body)
	return res, replies, replyMode, err
}

// Dump returns the HTTP request as it would go on the wire.
func (t *httpTarget) Dump(ctx context.Context, mode binding.Mode, events ...*event.Event) ([]byte, error) {
	msg, err := binding.Encode(mode, events...)
	if err != nil {
		return nil, err
	}
	req, err := NewRequest(ctx, t.raw, t.c.compress(msg), t.c.opts.Header, t.c.opts.UserAgent)
	if err != nil {
		return nil, err
	}
	// The dump goes through a transport, not a Client: add what the Client adds.
	req.Header = WireHeader(req)
	return httputil.DumpRequestOut(req, true)
}

// WireHeader is the header of req as cectl's HTTP client sends it: besides req.Header, the
// Basic credentials net/http's Client takes from user:password in the URL (RFC 7617 §2) when
// the request has no Authorization, and the Accept-Encoding: gzip its transport asks for when
// the request names no encoding and no range. The secrets are in clear: mask them to show.
func WireHeader(req *http.Request) http.Header {
	h := req.Header.Clone()
	if h == nil {
		h = http.Header{}
	}
	if u := req.URL.User; u != nil && h.Get("Authorization") == "" {
		pw, _ := u.Password()
		h.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(u.Username()+":"+pw)))
	}
	if h.Get("Accept-Encoding") == "" && h.Get("Range") == "" && req.Method != http.MethodHead {
		h.Set("Accept-Encoding", "gzip")
	}
	return h
}

// Prepare encodes proto once, with the extra headers and the User-Agent already in place:
// a copy changes the ce-id and ce-time headers in binary mode (http binding §3.1.3), the
// id and time members of the JSON event in structured mode.
func (t *httpTarget) Prepare(ctx context.Context, mode binding.Mode, proto *event.Event) (Sender, error) {
	msg, err := binding.Encode(mode, proto)
	if err != nil {
		return nil, err
	}
	msg.Header = requestHeader(msg.Header, t.c.opts.Header, t.c.opts.UserAgent)
	s := &httpSender{t: t, mode: mode, proto: proto, msg: t.c.compress(msg)}
	switch {
	case mode == binding.Binary && plainValue(proto.ID()):
		s.headers = true
	case mode == binding.Structured:
		s.json = newJSONTemplate(proto)
	}
	return s, nil
}

type httpSender struct {
	t       *httpTarget
	mode    binding.Mode
	proto   *event.Event
	msg     binding.Message // with every header of the request
	headers bool            // a binary copy needs only new ce-id and ce-time headers
	json    *jsonTemplate   // the structured copies' body; nil to encode each
}

func (s *httpSender) Send(ctx context.Context) Result { return s.post(ctx, s.msg) }

func (s *httpSender) SendCopy(ctx context.Context, id string, tm time.Time) Result {
	if id == "" && tm.IsZero() {
		return s.post(ctx, s.msg)
	}
	switch {
	case s.headers && plainValue(id):
		h := make(http.Header, len(s.msg.Header)+1)
		for k, v := range s.msg.Header {
			h[k] = v
		}
		if id != "" {
			h["Ce-Id"] = []string{id}
		}
		if !tm.IsZero() {
			h["Ce-Time"] = []string{tm.UTC().Format(time.RFC3339Nano)}
		}
		return s.post(ctx, binding.Message{Header: h, Body: s.msg.Body})
	case s.json != nil:
		if body, ok := s.json.event(id, tm); ok {
			if s.t.c.opts.Gzip {
				// s.msg.Header says gzip already.
				body = s.t.c.compress(binding.Message{Body: body}).Body
			}
			return s.post(ctx, binding.Message{Header: s.msg.Header, Body: body})
		}
	}
	msg, err := binding.Encode(s.mode, copyEvent(s.proto, id, tm))
	if err != nil {
		return Result{Err: err}
	}
	msg.Header = requestHeader(msg.Header, s.t.c.opts.Header, s.t.c.opts.UserAgent)
	return s.post(ctx, s.t.c.compress(msg))
}

// post sends a message whose headers are complete.
func (s *httpSender) post(ctx context.Context, msg binding.Message) Result {
	c := s.t.c
	return c.opts.retry(ctx, func(actx context.Context) Result {
		return c.attempt(ctx, actx, s.t.raw, msg, nil, "")
	}, httpAgain)
}

// NewRequest builds the HTTP request that carries the message to target.
func NewRequest(ctx context.Context, target string, msg binding.Message, extra http.Header, userAgent string) (*http.Request, error) {
	u, err := url.Parse(target)
	if err != nil {
		return nil, err
	}
	return newRequest(ctx, u, msg, extra, userAgent)
}

// newRequest builds the request for an already parsed URL, which delivery parses once per
// target instead of once per event.
func newRequest(ctx context.Context, u *url.URL, msg binding.Message, extra http.Header, userAgent string) (*http.Request, error) {
	// An empty URL parses at no cost; the copy of u keeps requests independent.
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "", bytes.NewReader(msg.Body))
	if err != nil {
		return nil, err
	}
	uc := *u
	req.URL = &uc
	req.Host = uc.Host
	// NewRequestWithContext sets GetBody for a bytes.Reader, so retries can send the body
	// again.
	req.Header = requestHeader(msg.Header, extra, userAgent)
	return req, nil
}

// requestHeader is the message's headers with extra added (extra wins) and userAgent unless
// a User-Agent is set. With nothing to add it is the message's own map.
func requestHeader(h, extra http.Header, userAgent string) http.Header {
	_, hasUA := h["User-Agent"]
	if len(extra) == 0 && (hasUA || userAgent == "") {
		return h
	}
	out := make(http.Header, len(h)+len(extra)+1)
	for k, v := range h {
		out[k] = v
	}
	for k, v := range extra {
		out[k] = v
	}
	if _, ok := out["User-Agent"]; !ok && userAgent != "" {
		out["User-Agent"] = []string{userAgent}
	}
	return out
}
