// Package client is the one place where cectl talks to the network to deliver events. It
// encodes events for the HTTP binding, posts them over kept-alive connections, retries what is
// worth retrying and classifies every outcome itself: sdk-go v2.16.2 reports a refused
// connection as a NACK and hides status codes behind its retry results, which would make exit
// codes lie.
package client

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strconv"
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
	if opts.BackoffBase <= 0 {
		opts.BackoffBase = 200 * time.Millisecond
	}
	if opts.BackoffMax <= 0 {
		opts.BackoffMax = 10 * time.Second
	}
	if opts.Sleep == nil {
		opts.Sleep = sleep
	}
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
	// ACK is true for a 2xx response (http binding §3.3, webhook §2.2).
	ACK bool
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
	start := time.Now()
	var res Result
	for attempt := 1; ; attempt++ {
		res = c.attempt(ctx, target, msg)
		res.Attempts = attempt
		if ctx.Err() != nil {
			res.Err = ctx.Err()
			break
		}
		wait, retry := c.retryDelay(res, attempt)
		if !retry || attempt > c.opts.Retries {
			break
		}
		if c.opts.OnRetry != nil {
			c.opts.OnRetry(attempt, wait, res)
		}
		if err := c.opts.Sleep(ctx, wait); err != nil {
			res.Err = err
			break
		}
	}
	res.Duration = time.Since(start)
	return res
}

func (c *Client) attempt(ctx context.Context, target string, msg binding.Message) Result {
	actx := ctx
	if c.opts.Timeout > 0 {
		var cancel context.CancelFunc
		actx, cancel = context.WithTimeout(ctx, c.opts.Timeout)
		defer cancel()
	}
	u, err := c.parse(target)
	if err != nil {
		return Result{Err: err}
	}
	req, err := newRequest(actx, u, msg, c.opts.Header, c.opts.UserAgent)
	if err != nil {
		return Result{Err: err}
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return Result{Request: req, Err: c.transportError(actx, err)}
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

func (c *Client) transportError(actx context.Context, err error) error {
	if errors.Is(actx.Err(), context.DeadlineExceeded) {
		return &TimeoutError{After: c.opts.Timeout}
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	var oe *net.OpError
	if errors.As(err, &oe) && oe.Op == "dial" {
		return fmt.Errorf("cannot connect to %s: %w", oe.Addr, oe.Err)
	}
	return err
}

// retryDelay says whether res is worth another attempt and how long to wait first: network
// errors, 408, 429 and 5xx are retried with exponential backoff and full jitter; a
// Retry-After header (RFC 9110 §10.2.3) on the response is honoured instead.
func (c *Client) retryDelay(res Result, attempt int) (time.Duration, bool) {
	if res.Delivered {
		switch s := res.Status; {
		case s == http.StatusRequestTimeout, s == http.StatusTooManyRequests, s >= 500 && s <= 599:
		default:
			return 0, false
		}
		if d, ok := RetryAfter(res.Response.Header.Get("Retry-After"), time.Now()); ok {
			return min(d, 5*time.Minute), true
		}
	} else if res.Request == nil {
		return 0, false // the request could not even be built
	}
	d := c.opts.BackoffBase << min(attempt-1, 20)
	if d <= 0 || d > c.opts.BackoffMax {
		d = c.opts.BackoffMax
	}
	return d/2 + rand.N(d/2+1), true
}

// RetryAfter parses a Retry-After value: delay seconds or an HTTP date.
func RetryAfter(v string, now time.Time) (time.Duration, bool) {
	if v == "" {
		return 0, false
	}
	if s, err := strconv.Atoi(v); err == nil {
		if s < 0 {
			return 0, false
		}
		return time.Duration(s) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(now), 0), true
	}
	return 0, false
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
