// Package client is the one place where cectl talks to the network: the transports.
//
// A table (transport.go) describes each transport once: its URL schemes and default ports,
// the content modes its protocol binding defines, and whether it has request/reply, a dry run,
// replies from listen and subscriptions. Open and Subscribe pick the transport by the URL's
// scheme, and help texts and usage errors are generated from the table. A Target sends
// events; Target.Prepare encodes one event once and returns a Sender of it and of copies that
// differ only in id and time, which is how load runs and send --from stay fast on every
// transport. One retry policy (retry.go) serves HTTP and every broker.
//
// Every outcome is classified here (ACK, NACK, not delivered), not by sdk-go: sdk-go v2.16.2
// reports a refused connection as a NACK and hides status codes behind its retry results,
// which would make exit codes lie. Adding a transport is one file that defines its Transport
// value and Target, plus its line in the table.
package client

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/cectl/cectl/internal/binding"
)

// Options configure a Client.
type Options struct {
	// Timeout bounds one attempt, from connecting to the end of the response body.
	Timeout time.Duration
	// Retries is how many times a failed attempt is tried again: after a network error or a
	// 408, 429 or 5xx answer.
	Retries int
	// Header is added to every request.
	Header http.Header
	// UserAgent is sent unless Header sets one.
	UserAgent string
	// Conns is how many connections to one host are kept open for reuse.
	Conns int
	// BackoffBase is the first retry delay before jitter; it doubles up to BackoffMax.
	BackoffBase, BackoffMax time.Duration
	// Insecure skips TLS certificate verification.
	Insecure bool
	// Key is the Kafka record key; it overrides the URL's ?key= and the partitionkey
	// extension.
	Key string
	// OnRetry, when set, is told about each retry before its wait.
	OnRetry func(attempt int, wait time.Duration, last Result)
	// Sleep waits between attempts; tests replace it. Nil means a timer that stops early
	// when ctx ends.
	Sleep func(ctx context.Context, d time.Duration) error
}

// MaxResponseBody is how much of a response body is kept for display and for reply decoding.
const MaxResponseBody = 4 << 20

// Client posts encoded events. It is safe for concurrent use.
type Client struct {
	hc   *http.Client
	opts Options
	urls sync.Map // target string → *url.URL, parsed once
}

// New returns a Client.
func New(opts Options) *Client {
	conns := max(opts.Conns, 4)
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConns = max(100, conns)
	tr.MaxIdleConnsPerHost = conns
	if opts.Insecure {
		tr.TLSClientConfig = &tls.Config{InsecureSkipVerify: true} //nolint:gosec // asked for by --insecure
	}
	hc := &http.Client{
		Transport: tr,
		// A redirected POST would silently turn into a GET; show the 3xx instead, like curl.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	return &Client{hc: hc, opts: opts}
}

// Close releases idle connections.
func (c *Client) Close() { c.hc.CloseIdleConnections() }

// Result is the outcome of delivering one message.
type Result struct {
	// Delivered is true when an HTTP response came back at all.
	Delivered bool
	// ACK is true for a 2xx response (http binding §3.3, webhook §2.2), or the broker's
	// acknowledgement.
	ACK bool
	// Unacknowledged marks a successful send over a transport that has no acknowledgement
	// (core NATS): the event reached the server, which confirms nothing more. ACK is set too,
	// so that it counts as success; it is shown as PUBLISHED, not ACK.
	Unacknowledged bool
	// Status is the HTTP status code of the last response, 0 when none came.
	Status   int
	Attempts int
	// Duration is the time from the first attempt to the end of the last.
	Duration time.Duration
	// Err is the transport error of the last attempt when nothing was delivered, or the
	// context's error when the caller gave up.
	Err error
	// Request is the last request sent (its body already consumed).
	Request *http.Request
	// Response is the last response, with Body holding up to MaxResponseBody bytes.
	Response *Response
}

// Response is what came back.
type Response struct {
	Proto     string
	Status    string
	Header    http.Header
	Body      []byte
	Truncated bool
}

// Post sends msg to target, retrying as configured.
func (c *Client) Post(ctx context.Context, target string, msg binding.Message) Result {
	return c.opts.retry(ctx, func(actx context.Context) Result {
		return c.attempt(ctx, actx, target, msg, c.opts.Header, c.opts.UserAgent)
	}, httpAgain)
}

// attempt posts msg once within actx, a child of ctx bounded by the attempt's time limit.
// extra and userAgent are added to the message's headers as newRequest does.
func (c *Client) attempt(ctx, actx context.Context, target string, msg binding.Message, extra http.Header, userAgent string) Result {
	u, err := c.parse(target)
	if err != nil {
		return Result{Err: err}
	}
	req, err := newRequest(actx, u, msg, extra, userAgent)
	if err != nil {
		return Result{Err: err}
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return Result{Request: req, Err: c.transportError(actx, req.URL.Host, err)}
	}
	defer resp.Body.Close()
	var body []byte
	var truncated bool
	if resp.ContentLength != 0 {
		body, truncated, err = readBody(resp.Body)
	}
	r := &Response{Proto: resp.Proto, Status: resp.Status, Header: resp.Header, Body: body, Truncated: truncated}
	res := Result{
		Delivered: true,
		ACK:       resp.StatusCode >= 200 && resp.StatusCode <= 299,
		Status:    resp.StatusCode,
		Request:   req,
		Response:  r,
	}
	if err != nil && ctx.Err() == nil {
		// The status line arrived, so the event was delivered; the body was cut short.
		r.Truncated = true
	}
	return res
}

func (c *Client) parse(target string) (*url.URL, error) {
	if u, ok := c.urls.Load(target); ok {
		return u.(*url.URL), nil
	}
	u, err := url.Parse(target)
	if err != nil {
		return nil, err
	}
	c.urls.Store(target, u)
	return u, nil
}

// readBody keeps up to MaxResponseBody bytes and drains a little more so the connection can
// be reused.
func readBody(rc io.Reader) ([]byte, bool, error) {
	body, err := io.ReadAll(io.LimitReader(rc, MaxResponseBody))
	if err != nil {
		return body, false, err
	}
	n, _ := io.CopyN(io.Discard, rc, 256<<10)
	return body, n > 0, nil
}

// TimeoutError says that no response came within the attempt's time limit.
type TimeoutError struct{ After time.Duration }

func (e *TimeoutError) Error() string {
	return fmt.Sprintf("no response within %s", e.After)
}

func (c *Client) transportError(actx context.Context, host string, err error) error {
	if errors.Is(actx.Err(), context.DeadlineExceeded) {
		return &TimeoutError{After: c.opts.Timeout}
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	var oe *net.OpError
	if errors.As(err, &oe) && oe.Op == "dial" {
		// A failed DNS lookup has no address yet: name the host that was dialled.
		if oe.Addr != nil {
			host = oe.Addr.String()
		}
		return fmt.Errorf("cannot connect to %s: %w", host, oe.Err)
	}
	return err
}
