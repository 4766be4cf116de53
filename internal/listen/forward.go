package listen

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/cectl/cectl/internal/binding"
	"github.com/cectl/cectl/internal/client"
)

// Forwarder relays accepted requests to other receivers exactly as they came: the same
// Content-Type, the same ce- headers with their values still encoded as received, the same
// body. Nothing is decoded and encoded again, so what the next hop sees is what the sender
// sent (http binding §3: the mode and the encoding stay the sender's choice).
type Forwarder struct {
	targets []string
	c       *client.Client
}

// Forwarded is the outcome of relaying one request to one target.
type Forwarded struct {
	To     string
	Result client.Result
}

// NewForwarder relays to targets with c.
func NewForwarder(targets []string, c *client.Client) *Forwarder {
	return &Forwarder{targets: targets, c: c}
}

// Targets are the URLs relayed to.
func (f *Forwarder) Targets() []string { return f.targets }

// forwardHeader picks what travels on: Content-Type, every ce- header and the W3C Trace
// Context headers (traceparent, tracestate: the relay stays in the sender's trace), but
// nothing meant for listen itself (Authorization) or for one hop only (Connection,
// Content-Length).
func forwardHeader(h http.Header) http.Header {
	out := make(http.Header, len(h))
	for k, vs := range h {
		if strings.EqualFold(k, "Content-Type") || len(k) > 3 && strings.EqualFold(k[:3], "ce-") ||
			strings.EqualFold(k, "Traceparent") || strings.EqualFold(k, "Tracestate") {
			out[k] = vs
		}
	}
	return out
}

// Forward posts the request's headers and body to every target at once and returns the
// outcomes in the order of the targets.
func (f *Forwarder) Forward(ctx context.Context, h http.Header, body []byte, timeout time.Duration) []Forwarded {
	msg := binding.Message{Header: forwardHeader(h), Body: body}
	out := make([]Forwarded, len(f.targets))
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if len(f.targets) == 1 {
		out[0] = Forwarded{To: f.targets[0], Result: f.c.Post(ctx, f.targets[0], msg)}
		return out
	}
	var wg sync.WaitGroup
	for i, to := range f.targets {
		wg.Go(func() { out[i] = Forwarded{To: to, Result: f.c.Post(ctx, to, msg)} })
	}
	wg.Wait()
	return out
}

// relayed makes the answer the relays' outcome: the targets of --forward-to are sinks like
// the record, so the sender gets a 2xx only when every one of them acknowledged (http
// binding §3.3: a 2xx says the event was accepted). Otherwise the first target that did not
// acknowledge decides: its own 4xx or 5xx status is passed back (with its Retry-After), a
// relay that got no answer in time is 504 Gateway Timeout, and one that was not delivered or
// got another answer is 502 Bad Gateway (RFC 9110 §15.6.3, §15.6.5).
func (h *Handler) relayed(x *exchange) {
	for i := range x.rep.Forwards {
		f := &x.rep.Forwards[i]
		r := &f.Result
		if r.ACK {
			continue
		}
		h.stats.relayFailed()
		h.uncount(x)
		v := Verdict{Outcome: Failed, Status: http.StatusBadGateway}
		switch {
		case r.Delivered && r.Status >= 400 && r.Status <= 599:
			v.Status = r.Status
			v.Reason = fmt.Sprintf("relaying to %s: %d %s", f.To, r.Status, http.StatusText(r.Status))
			if r.Status < 500 && r.Status != http.StatusTooManyRequests && r.Status != http.StatusRequestTimeout {
				v.Outcome = Rejected
			}
			if r.Response != nil {
				v.RetryAfter = r.Response.Header.Get("Retry-After")
			}
		case r.Delivered:
			v.Reason = fmt.Sprintf("relaying to %s: answered %d, not a 2xx", f.To, r.Status)
		case relayTimedOut(r.Err):
			v.Status = http.StatusGatewayTimeout
			v.Reason = fmt.Sprintf("relaying to %s: no answer in time", f.To)
		default:
			v.Reason = fmt.Sprintf("relaying to %s: not delivered", f.To)
			if r.Err != nil {
				v.Reason += ": " + r.Err.Error()
			}
		}
		if v.Outcome == Failed && v.RetryAfter == "" {
			v.RetryAfter = "1"
		}
		x.verdict = v
		return
	}
}

func relayTimedOut(err error) bool {
	var te *client.TimeoutError
	var ne net.Error
	return errors.As(err, &te) || errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ne) && ne.Timeout()
}
