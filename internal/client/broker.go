package client

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/cectl/cectl/internal/binding"
	"github.com/cectl/cectl/internal/ce"
	sdkbinding "github.com/cloudevents/sdk-go/v2/binding"
	"github.com/cloudevents/sdk-go/v2/binding/format"
	cecontext "github.com/cloudevents/sdk-go/v2/context"
	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/nats-io/nats.go"
	"go.uber.org/zap"
)

// oneEvent checks that a broker send carries exactly one event in a mode the binding has.
func oneEvent(t Target, mode binding.Mode, events []*event.Event) (*event.Event, error) {
	if _, err := t.Transport().Mode(mode); err != nil {
		return nil, err
	}
	if len(events) != 1 {
		return nil, fmt.Errorf("a %s message carries one event, got %d", t.Transport().Name, len(events))
	}
	return events[0], nil
}

// structuredSender is the Sender of the transports whose structured message is the JSON
// event and nothing else (nats binding §3.1): the event is encoded once and a copy writes its
// id and time into the text.
type structuredSender struct {
	proto                *event.Event
	body                 []byte
	json                 *jsonTemplate
	publish, publishCopy func(ctx context.Context, body []byte) Result
}

func newStructuredSender(proto *event.Event, publish, publishCopy func(context.Context, []byte) Result) *structuredSender {
	return &structuredSender{
		proto: proto, body: ce.AppendJSON(make([]byte, 0, 512), proto), json: newJSONTemplate(proto),
		publish: publish, publishCopy: publishCopy,
	}
}

func (s *structuredSender) Send(ctx context.Context) Result { return s.publish(ctx, s.body) }

func (s *structuredSender) SendCopy(ctx context.Context, id string, tm time.Time) Result {
	if id == "" && tm.IsZero() {
		return s.publishCopy(ctx, s.body)
	}
	if s.json != nil {
		if body, ok := s.json.event(id, tm); ok {
			return s.publishCopy(ctx, body)
		}
	}
	return s.publishCopy(ctx, ce.AppendJSON(make([]byte, 0, 512), copyEvent(s.proto, id, tm)))
}

// structuredMessage is an event already encoded in the JSON format, handed to sdk-go's
// protocol writers so that they carry our bytes: sdk-go v2.16.2's JSON encoder writes a
// []byte datum of a JSON event as data_base64 and fails on zero-length data, where the JSON
// format (json-format §3.1) wants the data as JSON; ce.AppendJSON does.
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
// stderr, in the middle of cectl's output.
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
		if _, port, err := net.SplitHostPort(h); err != nil {
			h = net.JoinHostPort(strings.Trim(h, "[]"), defPort)
		} else if err := checkPort(raw, port); err != nil {
			return ep, err
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

// ack, nack and notDelivered build the results of one broker publish. The status line says
// what the broker answered, in its own words.
func ack(proto, status string) Result {
	return Result{Delivered: true, ACK: true, Response: &Response{Proto: proto, Status: status}}
}

func nack(proto string, err error) Result {
	return Result{Delivered: true, Err: err, Response: &Response{Proto: proto, Status: "refused"}}
}

func notDelivered(err error) Result { return Result{Err: err} }

// noResponse is the result of a message handed to the broker over a live connection whose
// confirmation did not come: the broker may have it (maybe delivered), as an HTTP request
// that went out and got no response.
func noResponse(err error) Result { return Result{Err: err, Written: 1} }

// afterSend is the result of an error that came after the message was handed to a live
// connection: a timeout or an interrupt leaves it maybe delivered; other errors say the
// broker did not take it.
func afterSend(err error) Result {
	var ne net.Error
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) || errors.Is(err, nats.ErrTimeout) ||
		errors.As(err, &ne) && ne.Timeout() {
		return noResponse(err)
	}
	return notDelivered(err)
}

// checkPort refuses a port that no server can listen on: a usage error, not a failed delivery.
func checkPort(raw, port string) error {
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return &UsageError{Err: fmt.Errorf("%q: port %q is not a port number (1 to 65535)", raw, port)}
	}
	return nil
}

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
