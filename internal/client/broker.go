package client

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/cectl/cectl/internal/binding"
	sdkbinding "github.com/cloudevents/sdk-go/v2/binding"
	"github.com/cloudevents/sdk-go/v2/binding/format"
	cecontext "github.com/cloudevents/sdk-go/v2/context"
	"github.com/cloudevents/sdk-go/v2/event"
	"go.uber.org/zap"
)

// ModeChecker is a Target whose protocol binding restricts the content modes it can carry.
type ModeChecker interface {
	// CheckMode returns the mode the target uses when asked for m, or an error when the
	// binding cannot carry m at all.
	CheckMode(m binding.Mode) (binding.Mode, error)
}

// EffectiveMode returns the content mode t uses when asked for m: NATS and JetStream carry
// only structured messages, no broker carries HTTP's batch mode.
func EffectiveMode(t Target, m binding.Mode) (binding.Mode, error) {
	if mc, ok := t.(ModeChecker); ok {
		return mc.CheckMode(m)
	}
	return m, nil
}

// StructuredSender is a Target that can send an event already encoded in the JSON event format
// (structured mode), so that a load run without placeholders encodes the event once and
// changes only its id and time. body must be one valid JSON event.
type StructuredSender interface {
	SendStructured(ctx context.Context, body []byte) Result
}

// TemplateSender is a Target that can encode an event once and then send copies of it that
// differ only in their id and time, so that a load run without placeholders does not build
// and encode every event. Template returns nil, without an error, for a mode it does not do
// this for; the events are then encoded one by one.
type TemplateSender interface {
	Template(ctx context.Context, mode binding.Mode, e *event.Event) (Template, error)
}

// Template sends copies of one encoded event.
type Template interface {
	// Send sends a copy with the given id and time in place of the event's own; an empty
	// id or a zero time keeps the event's.
	Send(ctx context.Context, id string, t time.Time) Result
}

// RequestChecker is a Target that can say before sending that it has no request/reply.
type RequestChecker interface {
	CheckRequest() error
}

// CheckRequest returns a *UsageError when t cannot do request/reply (every broker but NATS),
// so that a command can refuse before sending anything.
func CheckRequest(t Target) error {
	if rc, ok := t.(RequestChecker); ok {
		return rc.CheckRequest()
	}
	return nil
}

// noRequest is what Request returns on transports without request/reply: the usage error both
// as the result's error and as the returned error.
func noRequest(rc RequestChecker, mode binding.Mode) (Result, []event.Event, binding.Mode, error) {
	err := rc.CheckRequest()
	return Result{Err: err}, nil, mode, err
}

// checkBrokerMode is CheckMode for the bindings with a binary and a structured mode (Kafka
// §1.3, MQTT §1.3, AMQP §1.3). None of them defines a batch mode.
func checkBrokerMode(transport string, m binding.Mode) (binding.Mode, error) {
	if m == binding.Batch {
		return m, &UsageError{Err: fmt.Errorf("batch mode is not defined for %s; use binary or structured", transport)}
	}
	return m, nil
}

// oneEvent checks that a broker send carries exactly one event in a mode the binding has.
func oneEvent(mc ModeChecker, transport string, mode binding.Mode, events []*event.Event) (*event.Event, binding.Mode, error) {
	m, err := mc.CheckMode(mode)
	if err != nil {
		return nil, m, err
	}
	if len(events) != 1 {
		return nil, m, fmt.Errorf("a %s message carries one event, got %d", transport, len(events))
	}
	return events[0], m, nil
}

// structuredMessage is an event already encoded in the JSON format, handed to sdk-go's
// protocol writers so that they carry our bytes. sdk-go's own JSON encoder has the faults
// listed in SPEC-NOTES §3; ce.AppendJSON does not.
type structuredMessage []byte

func (m structuredMessage) ReadEncoding() sdkbinding.Encoding { return sdkbinding.EncodingStructured }

func (m structuredMessage) ReadStructured(ctx context.Context, w sdkbinding.StructuredWriter) error {
	return w.SetStructuredEvent(ctx, format.JSON, bytes.NewReader(m))
}

func (m structuredMessage) ReadBinary(context.Context, sdkbinding.BinaryWriter) error {
	return sdkbinding.ErrNotBinary
}

func (m structuredMessage) Finish(error) error { return nil }

var _ sdkbinding.Message = structuredMessage(nil)

// quiet returns ctx with a logger that discards: without one sdk-go writes zap JSON lines to
// stderr (SPEC-NOTES §3).
func quiet(ctx context.Context) context.Context {
	return cecontext.WithLogger(ctx, zap.NewNop().Sugar())
}

// endpoint is a broker URL taken apart.
type endpoint struct {
	raw    string
	u      *url.URL
	hosts  []string // host:port, the default port filled in
	path   string   // the decoded path without its leading slash
	q      url.Values
	secure bool // TLS asked for by the scheme or ?tls=true
}

// parseEndpoint checks a broker URL: a host, only the query keys the transport knows, and
// fills in the default port. Several comma-separated hosts are allowed when multi is set.
func parseEndpoint(raw string, u *url.URL, defPort string, multi bool, keys ...string) (endpoint, error) {
	ep := endpoint{raw: raw, u: u, q: u.Query(), path: strings.TrimPrefix(u.Path, "/")}
	if u.Host == "" {
		return ep, &UsageError{Err: fmt.Errorf("%q has no host", raw)}
	}
	if u.Fragment != "" {
		return ep, &UsageError{Err: fmt.Errorf("%q: a broker URL has no #fragment", raw)}
	}
	hosts := []string{u.Host}
	if multi {
		hosts = strings.Split(u.Host, ",")
	}
	for _, h := range hosts {
		if h == "" {
			return ep, &UsageError{Err: fmt.Errorf("%q: empty host in the host list", raw)}
		}
		if _, _, err := net.SplitHostPort(h); err != nil {
			h = net.JoinHostPort(strings.Trim(h, "[]"), defPort)
		}
		ep.hosts = append(ep.hosts, h)
	}
	keys = append(keys, "tls", "ca")
	for k := range ep.q {
		if !slices.Contains(keys, k) {
			slices.Sort(keys)
			return ep, &UsageError{Err: fmt.Errorf("%q: unknown query parameter %q (known: %s)", raw, k, strings.Join(keys, ", "))}
		}
	}
	if v := ep.q.Get("tls"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return ep, &UsageError{Err: fmt.Errorf("%q: tls=%q is not true or false", raw, v)}
		}
		ep.secure = b
	}
	if ep.q.Get("ca") != "" {
		ep.secure = true
	}
	return ep, nil
}

// tlsConfig returns the TLS configuration the endpoint asks for, nil for plain TCP.
func (ep endpoint) tlsConfig(insecure bool) (*tls.Config, error) {
	if !ep.secure {
		return nil, nil
	}
	host, _, _ := net.SplitHostPort(ep.hosts[0])
	cfg := &tls.Config{ServerName: host, InsecureSkipVerify: insecure} //nolint:gosec // asked for by --insecure
	if ca := ep.q.Get("ca"); ca != "" {
		pem, err := os.ReadFile(ca)
		if err != nil {
			return nil, &UsageError{Err: fmt.Errorf("%q: ca: %w", ep.raw, err)}
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, &UsageError{Err: fmt.Errorf("%q: ca: %s holds no PEM certificate", ep.raw, ca)}
		}
		cfg.RootCAs = pool
	}
	return cfg, nil
}

// password returns the password of the URL's userinfo.
func (ep endpoint) password() string {
	p, _ := ep.u.User.Password()
	return p
}

// connectTimeout bounds connecting when the caller set no time limit: a broker that does not
// answer must never make cectl hang.
func connectTimeout(d time.Duration) time.Duration {
	if d <= 0 {
		return 10 * time.Second
	}
	return d
}

// lazy opens a broker connection on first use and shares it. Concurrent callers wait for one
// attempt; a failed attempt is not kept, so a later call tries again.
type lazy[T any] struct {
	open  func(ctx context.Context) (T, error)
	mu    sync.Mutex
	cur   *lazyAttempt[T]
	close func(T)
}

type lazyAttempt[T any] struct {
	done chan struct{}
	v    T
	err  error
}

func (l *lazy[T]) get(ctx context.Context) (T, error) {
	l.mu.Lock()
	a := l.cur
	if a == nil {
		a = &lazyAttempt[T]{done: make(chan struct{})}
		l.cur = a
		l.mu.Unlock()
		a.v, a.err = l.open(ctx)
		if a.err != nil {
			l.mu.Lock()
			l.cur = nil
			l.mu.Unlock()
		}
		close(a.done)
	} else {
		l.mu.Unlock()
	}
	select {
	case <-a.done:
		return a.v, a.err
	case <-ctx.Done():
		var zero T
		return zero, ctx.Err()
	}
}

// forget drops a connection that turned out dead, so that the next call opens a new one.
func (l *lazy[T]) forget(v T, same func(a, b T) bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if a := l.cur; a != nil && isDone(a.done) && a.err == nil && same(a.v, v) {
		l.cur = nil
		if l.close != nil {
			go l.close(v)
		}
	}
}

func isDone(c <-chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

// shutdown closes the connection if one was opened.
func (l *lazy[T]) shutdown() {
	l.mu.Lock()
	a := l.cur
	l.cur = nil
	l.mu.Unlock()
	if a == nil {
		return
	}
	<-a.done
	if a.err == nil && l.close != nil {
		l.close(a.v)
	}
}

// brokerSend runs one publish per attempt, each bounded by opts.Timeout, and retries the
// attempts that delivered nothing as often as opts.Retries allows, with the same backoff as
// HTTP. Attempts that reached the broker are not retried: a NACK is the broker's answer.
func brokerSend(ctx context.Context, opts Options, once func(ctx context.Context) Result) Result {
	start := time.Now()
	base, top := opts.BackoffBase, opts.BackoffMax
	if base <= 0 {
		base = 200 * time.Millisecond
	}
	if top <= 0 {
		top = 10 * time.Second
	}
	wait := opts.Sleep
	if wait == nil {
		wait = sleep
	}
	var res Result
	for attempt := 1; ; attempt++ {
		actx, cancel := ctx, context.CancelFunc(func() {})
		if opts.Timeout > 0 {
			actx, cancel = context.WithTimeout(ctx, opts.Timeout)
		}
		res = once(actx)
		if !res.Delivered && res.Err != nil && errors.Is(actx.Err(), context.DeadlineExceeded) && ctx.Err() == nil {
			res.Err = fmt.Errorf("%w: %w", &TimeoutError{After: opts.Timeout}, res.Err)
		}
		cancel()
		res.Attempts = attempt
		if ctx.Err() != nil {
			res.Err = ctx.Err()
			break
		}
		var ue *UsageError
		if res.Delivered || attempt > opts.Retries || errors.As(res.Err, &ue) {
			break
		}
		d := base << min(attempt-1, 20)
		if d <= 0 || d > top {
			d = top
		}
		d = d/2 + rand.N(d/2+1)
		if opts.OnRetry != nil {
			opts.OnRetry(attempt, d, res)
		}
		if err := wait(ctx, d); err != nil {
			res.Err = err
			break
		}
	}
	res.Duration = time.Since(start)
	return res
}

// ack, nack and notDelivered build the results of one broker publish. The status line says
// what the broker answered, in its own words.
func ack(proto, status string) Result {
	return Result{Delivered: true, ACK: true, Response: &Response{Proto: proto, Status: status}}
}

func nack(proto string, err error) Result {
	return Result{Delivered: true, Err: err, Response: &Response{Proto: proto, Status: "refused"}}
}

func notDelivered(err error) Result { return Result{Err: err} }

// dialError names the address a failed connection was for.
func dialError(what string, hosts []string, err error) error {
	return fmt.Errorf("cannot connect to %s at %s: %w", what, strings.Join(hosts, ","), err)
}

// binaryValue is one attribute as a broker message carries it in binary mode: a string (MQTT,
// Kafka, NATS headers) or a native type (AMQP application properties, AMQP §3.1.3.2).
type binaryValue struct {
	name  string
	value any
}

// binaryAttrs turns the attributes a transport read into the binding's form: the specversion
// first, then the others, each value in canonical string form with its native type
// (binding.NativeAttr).
func binaryAttrs(specversion string, attrs []binaryValue) ([]binding.Attr, error) {
	out := make([]binding.Attr, 1, len(attrs)+1)
	out[0] = binding.Attr{Name: "specversion", Value: specversion}
	for _, a := range attrs {
		if a.name == "specversion" {
			continue
		}
		at, err := binding.NativeAttr(a.name, a.value)
		if err != nil {
			return nil, err
		}
		out = append(out, at)
	}
	return out, nil
}

// canonical is the canonical string form of a native value (spec v1.0.2 §3.1.1), for showing
// a property.
func canonical(v any) (string, error) {
	a, err := binding.NativeAttr("", v)
	return a.Value, err
}
