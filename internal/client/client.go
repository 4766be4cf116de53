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
	"bytes"
	"compress/gzip"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"sync"
	"sync/atomic"
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
	// Gzip compresses HTTP request bodies (Content-Encoding: gzip, RFC 9110 §8.4).
	Gzip bool
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
	// sent and received count the bytes on the wire, TLS included, of every connection.
	sent, received atomic.Int64
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
	c := &Client{opts: opts}
	dial := tr.DialContext
	tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		conn, err := dial(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return &wireConn{Conn: conn, c: c}, nil
	}
	c.hc = &http.Client{
		Transport: tr,
		// A redirected POST would silently turn into a GET; show the 3xx instead, like curl.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	return c
}

// WireBytes returns how many bytes went out and came in on the client's connections so
// far: headers, bodies and TLS records, as the network carried them.
func (c *Client) WireBytes() (sent, received int64) { return c.sent.Load(), c.received.Load() }

// wireConn counts the bytes of a connection for WireBytes.
type wireConn struct {
	net.Conn
	c *Client
}

func (cc *wireConn) Read(p []byte) (int, error) {
	n, err := cc.Conn.Read(p)
	cc.c.received.Add(int64(n))
	return n, err
}

func (cc *wireConn) Write(p []byte) (int, error) {
	n, err := cc.Conn.Write(p)
	cc.c.sent.Add(int64(n))
	return n, err
}

// Close releases idle connections.
func (c *Client) Close() { c.hc.CloseIdleConnections() }

// Result is the outcome of delivering one message.
type Result struct {
	// Delivered is true when an HTTP response came back at all.
	Delivered bool
	// Written counts the attempts whose request went out in full and got no response (a
	// timeout, the connection closed before the status line, an interrupt): the receiver may
	// have the event from each of them. Without a response, Written > 0 is the outcome
	// NO RESPONSE (maybe delivered) and 0 is NOT DELIVERED (nothing reached the receiver).
	Written int
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

// Outcome names what became of a delivery.
type Outcome string

// The outcomes of a delivery; their values are the stable "outcome" of JSON output.
const (
	OutcomeACK Outcome = "ack" // a 2xx, or the broker's acknowledgement
	// OutcomePublished: sent where the transport has no acknowledgement (core NATS): the
	// server took it, and confirms nothing more.
	OutcomePublished Outcome = "published"
	OutcomeNACK      Outcome = "nack" // any other answer
	// OutcomeNotDelivered: nothing reached the receiver (DNS, connection refused, TLS).
	OutcomeNotDelivered Outcome = "not_delivered"
	// OutcomeNoResponse: the request went out, no response came; maybe delivered.
	OutcomeNoResponse Outcome = "no_response"
)

// Outcome classifies the result.
func (r *Result) Outcome() Outcome {
	switch {
	case r.Unacknowledged:
		return OutcomePublished
	case r.ACK:
		return OutcomeACK
	case r.Delivered:
		return OutcomeNACK
	case r.Written > 0:
		return OutcomeNoResponse
	}
	return OutcomeNotDelivered
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
	msg = c.compress(msg)
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
	var wrote atomic.Bool
	req, err := newRequest(traced(actx, &wrote), u, msg, extra, userAgent)
	if err != nil {
		return Result{Err: err}
	}
	return c.exchange(ctx, actx, req, &wrote)
}

// traced is actx with a trace that sets wrote once the request went out in full: that tells
// "not delivered" from "no response", since after it the receiver may have the event even if
// no status line ever comes back.
func traced(actx context.Context, wrote *atomic.Bool) context.Context {
	return httptrace.WithClientTrace(actx, &httptrace.ClientTrace{WroteRequest: func(info httptrace.WroteRequestInfo) {
		if info.Err == nil {
			wrote.Store(true)
		}
	}})
}

// PostStream posts a body too large to hold in memory: open returns it from its start (again
// for each attempt), size bytes long; header is the message's complete header. It retries
// as Post does.
func (c *Client) PostStream(ctx context.Context, target string, header http.Header, open func() (io.ReadCloser, error), size int64) Result {
	return c.opts.retry(ctx, func(actx context.Context) Result {
		u, err := c.parse(target)
		if err != nil {
			return Result{Err: err}
		}
		var wrote atomic.Bool
		req, err := http.NewRequestWithContext(traced(actx, &wrote), http.MethodPost, u.String(), http.NoBody)
		if err != nil {
			return Result{Err: err}
		}
		body, err := open()
		if err != nil {
			return Result{Err: err}
		}
		req.Body, req.ContentLength = body, size
		req.GetBody = open
		req.Header = header
		return c.exchange(ctx, actx, req, &wrote)
	}, httpAgain)
}

// exchange sends req and reads the response.
func (c *Client) exchange(ctx, actx context.Context, req *http.Request, wrote *atomic.Bool) Result {
	resp, err := c.hc.Do(req)
	if err != nil {
		res := Result{Request: req, Err: c.transportError(actx, req.URL.Host, err, wrote.Load())}
		if wrote.Load() {
			res.Written = 1
		}
		return res
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

// isCertificateError says whether err is a failed verification of the server's certificate.
func isCertificateError(err error) bool {
	var ve *tls.CertificateVerificationError
	var ua x509.UnknownAuthorityError
	var ci x509.CertificateInvalidError
	var he x509.HostnameError
	return errors.As(err, &ve) || errors.As(err, &ua) || errors.As(err, &ci) || errors.As(err, &he)
}

// TimeoutError says that an attempt ran out of its time limit: with Sent, the request went
// out and no response came; without, the request could not even be sent (a connection or TLS
// handshake that did not finish).
type TimeoutError struct {
	After time.Duration
	Sent  bool
}

func (e *TimeoutError) Error() string {
	if !e.Sent {
		return fmt.Sprintf("could not send the request within %s", e.After)
	}
	return fmt.Sprintf("no response within %s", e.After)
}

func (c *Client) transportError(actx context.Context, host string, err error, sent bool) error {
	if errors.Is(actx.Err(), context.DeadlineExceeded) {
		return &TimeoutError{After: c.opts.Timeout, Sent: sent}
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	if isCertificateError(err) {
		// The receiver's certificate is not trusted (RFC 8446 §4.4.2 leaves trust to the
		// client): say how to skip the check when the user knows the server.
		return fmt.Errorf("cannot verify the TLS certificate of %s: %w (--insecure skips the check)", host, err)
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

// compress gzips the body of msg when Options.Gzip says so and there is a body, and says so
// in Content-Encoding (RFC 9110 §8.4). The message's header map is not changed.
func (c *Client) compress(msg binding.Message) binding.Message {
	if !c.opts.Gzip || len(msg.Body) == 0 {
		return msg
	}
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	_, _ = zw.Write(msg.Body) // a bytes.Buffer does not fail
	_ = zw.Close()
	return binding.Message{Header: gzipHeader(msg.Header), Body: b.Bytes()}
}

// gzipHeader is h with Content-Encoding: gzip, in a new map.
func gzipHeader(h http.Header) http.Header {
	out := make(http.Header, len(h)+2)
	for k, v := range h {
		out[k] = v
	}
	out["Content-Encoding"] = []string{"gzip"}
	return out
}
