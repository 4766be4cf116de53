package client

import (
	"context"
	"fmt"
	"net/http/httputil"
	"net/url"

	"github.com/cectl/cectl/internal/binding"
	"github.com/cloudevents/sdk-go/v2/event"
)

// Target is where send and request deliver events. The URL scheme picks the transport.
type Target interface {
	// Send delivers events in one message (several only in batch mode) and classifies the
	// outcome.
	Send(ctx context.Context, mode binding.Mode, events ...*event.Event) Result
	// Request delivers one event and returns the events of the reply.
	Request(ctx context.Context, mode binding.Mode, e *event.Event) (Result, []event.Event, binding.Mode, error)
	// URL is the target as the user gave it.
	URL() string
	Close() error
}

// UsageError is a target URL that cannot be used as given; commands report it as a usage error.
type UsageError struct{ Err error }

func (e *UsageError) Error() string { return e.Err.Error() }
func (e *UsageError) Unwrap() error { return e.Err }

// Open returns the Target for a URL: http and https post over HTTP; nats, jetstream, kafka,
// mqtt(s) and amqp(s) publish to a broker (see the files of each transport for the URL forms).
func Open(raw string, opts Options) (Target, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, &UsageError{Err: fmt.Errorf("%q is not a URL: %w", raw, unwrapURLError(err))}
	}
	switch u.Scheme {
	case "http", "https":
		if u.Host == "" {
			return nil, &UsageError{Err: fmt.Errorf("%q has no host", raw)}
		}
		return &httpTarget{c: New(opts), url: raw}, nil
	case "nats":
		return openNATS(raw, u, opts)
	case "jetstream":
		return openJetStream(raw, u, opts)
	case "kafka":
		return openKafka(raw, u, opts)
	case "mqtt", "mqtts":
		return openMQTT(raw, u, opts)
	case "amqp", "amqps":
		return openAMQP(raw, u, opts)
	case "":
		return nil, &UsageError{Err: fmt.Errorf("%q has no scheme (want http, https, nats, jetstream, kafka, mqtt or amqp)", raw)}
	}
	return nil, &UsageError{Err: fmt.Errorf("%q: unsupported scheme %q (want http, https, nats, jetstream, kafka, mqtt, mqtts, amqp or amqps)", raw, u.Scheme)}
}

func unwrapURLError(err error) error {
	if ue, ok := err.(*url.Error); ok {
		return ue.Err
	}
	return err
}

type httpTarget struct {
	c   *Client
	url string
}

func (t *httpTarget) URL() string  { return t.url }
func (t *httpTarget) Close() error { t.c.Close(); return nil }

func (t *httpTarget) Send(ctx context.Context, mode binding.Mode, events ...*event.Event) Result {
	msg, err := binding.Encode(mode, events...)
	if err != nil {
		return Result{Err: err}
	}
	return t.c.Post(ctx, t.url, msg)
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

// Dumper is a Target that can show the exact message it would send, for --dry-run.
type Dumper interface {
	Dump(ctx context.Context, mode binding.Mode, events ...*event.Event) ([]byte, error)
}

// Dump returns the HTTP request as it would go on the wire.
func (t *httpTarget) Dump(ctx context.Context, mode binding.Mode, events ...*event.Event) ([]byte, error) {
	msg, err := binding.Encode(mode, events...)
	if err != nil {
		return nil, err
	}
	req, err := NewRequest(ctx, t.url, msg, t.c.opts.Header, t.c.opts.UserAgent)
	if err != nil {
		return nil, err
	}
	return httputil.DumpRequestOut(req, true)
}
