package listen

import (
	"context"
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
