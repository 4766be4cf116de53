package client

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/cectl/cectl/internal/binding"
	"github.com/cectl/cectl/internal/ce"
	"github.com/cectl/cectl/internal/trace"
	"github.com/cectl/cectl/internal/validate"
	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/nats-io/nats.go"
)

// NATS carries events in structured mode only (nats binding §1.3, §3): the JSON event format
// as the message payload.
//
// Sending publishes our JSON bytes with nats.go and flushes: a flushed publish is what
// "delivered" means on core NATS, which acknowledges nothing. sdk-go's NATS sender does the
// same publish but copies each payload through a buffer first, which cost a fifth of the
// throughput. Receiving subscribes with nats.go too (natsConsume): sdk-go's consumer only
// adds a hand-over between goroutines per message. The payload is decoded with our JSON
// codec, not sdk-go's.
var natsTransport = Transport{
	Name:        "NATS",
	Schemes:     []Scheme{{"nats", "4222"}},
	Form:        "nats://[user:pass@|token@]host[:4222][,host2...]/subject[?queue=Q&creds=FILE&tls=true&ca=FILE]",
	Modes:       []binding.Mode{binding.Structured},
	ListenReply: true,
	open: func(tr *Transport, raw string, u *url.URL, opts Options) (Target, error) {
		return openNATS(tr, raw, u, opts)
	},
	subscribe: func(ctx context.Context, tr *Transport, raw string, u *url.URL, so SubscribeOptions, handle func(context.Context, Delivery) error) error {
		ep, err := parseEndpoint(raw, u, tr.defaultPort(u.Scheme), true, natsKeys...)
		if err != nil {
			return err
		}
		if so.Group != "" {
			ep.q.Set("queue", so.Group)
		}
		return subscribeNATS(ctx, ep, so, handle)
	},
}

var natsKeys = []string{"queue", "creds"}

type natsTarget struct {
	base
	ep      endpoint
	subject string
	opts    Options
	conn    lazy[*nats.Conn]
	flushes flushGroup
}

func openNATS(tr *Transport, raw string, u *url.URL, opts Options) (*natsTarget, error) {
	ep, err := parseEndpoint(raw, u, tr.defaultPort(u.Scheme), true, natsKeys...)
	if err != nil {
		return nil, err
	}
	if err := checkPublishSubject(raw, ep.path); err != nil {
		return nil, err
	}
	if _, err := ep.tlsConfig(opts.Insecure); err != nil {
		return nil, err
	}
	t := &natsTarget{base: base{tr, raw}, ep: ep, subject: ep.path, opts: opts}
	t.conn.open = func(ctx context.Context) (*nats.Conn, error) {
		return natsConnect(ctx, ep, opts.Timeout, opts.Insecure)
	}
	t.conn.close = (*nats.Conn).Close
	return t, nil
}

// checkPublishSubject rejects what NATS cannot publish to: an empty subject, white space,
// empty tokens and the wildcards, which only subscriptions may use.
func checkPublishSubject(raw, subject string) error {
	if err := checkSubject(raw, subject); err != nil {
		return err
	}
	for _, tok := range strings.Split(subject, ".") {
		if tok == "*" || tok == ">" {
			return &UsageError{Err: fmt.Errorf("%q: cannot publish to the wildcard subject %q", raw, subject)}
		}
	}
	return nil
}

func checkSubject(raw, subject string) error {
	if subject == "" {
		return &UsageError{Err: fmt.Errorf("%q has no subject (want nats://host:4222/subject)", raw)}
	}
	if strings.ContainsAny(subject, " \t\r\n/") {
		return &UsageError{Err: fmt.Errorf("%q: subject %q holds white space or a slash", raw, subject)}
	}
	for _, tok := range strings.Split(subject, ".") {
		if tok == "" {
			return &UsageError{Err: fmt.Errorf("%q: subject %q has an empty token", raw, subject)}
		}
	}
	return nil
}

// natsConnect opens a connection, bounded by timeout. Credentials come from the URL's
// userinfo (user:pass, or a lone token) or from ?creds=FILE.
func natsConnect(ctx context.Context, ep endpoint, timeout time.Duration, insecure bool) (*nats.Conn, error) {
	servers := make([]string, len(ep.hosts))
	for i, h := range ep.hosts {
		servers[i] = "nats://" + h
	}
	opts := []nats.Option{
		nats.Name("cectl"),
		nats.Timeout(connectTimeout(timeout)),
		// A publish made while reconnecting would sit in a buffer and look sent.
		nats.ReconnectBufSize(-1),
	}
	if dl, ok := ctx.Deadline(); ok {
		opts = append(opts, nats.Timeout(max(time.Until(dl), time.Millisecond)))
	}
	if ui := ep.u.User; ui != nil {
		if p, ok := ui.Password(); ok {
			opts = append(opts, nats.UserInfo(ui.Username(), p))
		} else {
			opts = append(opts, nats.Token(ui.Username()))
		}
	}
	if f := ep.q.Get("creds"); f != "" {
		opts = append(opts, nats.UserCredentials(f))
	}
	tc, err := ep.tlsConfig(insecure)
	if err != nil {
		return nil, err
	}
	if tc != nil {
		opts = append(opts, nats.Secure(tc))
	}
	// The dialer serves reconnections too: bound each dial, not all by this ctx.
	dialer := &natsDialer{d: net.Dialer{Timeout: connectTimeout(timeout)}}
	if dl, ok := ctx.Deadline(); ok {
		dialer.d.Timeout = min(dialer.d.Timeout, max(time.Until(dl), time.Millisecond))
	}
	opts = append(opts, nats.SetCustomDialer(dialer))
	nc, err := nats.Connect(strings.Join(servers, ","), opts...)
	if err != nil {
		if last := dialer.lastErr(); last != nil && errors.Is(err, nats.ErrNoServers) {
			err = last
		}
		return nil, dialError("NATS", ep.hosts, err)
	}
	return nc, nil
}

// natsDialer keeps the error of the last failed dial: nats.go reports a server it could
// not reach as "no servers available for connection" and drops why (refused, no route,
// a timeout).
type natsDialer struct {
	d    net.Dialer
	mu   sync.Mutex
	last error
}

func (n *natsDialer) Dial(network, address string) (net.Conn, error) {
	c, err := n.d.Dial(network, address)
	if err != nil {
		n.mu.Lock()
		n.last = err
		n.mu.Unlock()
	}
	return c, err
}

func (n *natsDialer) lastErr() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.last
}

func (t *natsTarget) Close() error { t.conn.shutdown(); return nil }

// Send publishes the event and flushes: ACK means the server has read the message (core NATS
// acknowledges nothing else).
func (t *natsTarget) Send(ctx context.Context, mode binding.Mode, events ...*event.Event) Result {
	e, err := oneEvent(t, mode, events)
	if err != nil {
		return Result{Err: err}
	}
	return t.publish(ctx, ce.AppendJSON(make([]byte, 0, 512), e), traceHeader(e))
}

// Prepare encodes the event once; a copy writes its id and time into the JSON text.
func (t *natsTarget) Prepare(ctx context.Context, mode binding.Mode, proto *event.Event) (Sender, error) {
	if _, err := oneEvent(t, mode, []*event.Event{proto}); err != nil {
		return nil, err
	}
	h := traceHeader(proto)
	publish := func(ctx context.Context, body []byte) Result { return t.publish(ctx, body, h) }
	return newStructuredSender(proto, publish, publish), nil
}

// traceHeader is the trace of an event that carries the distributed tracing extension as
// the traceparent and tracestate headers of W3C Trace Context, or nil: the extension is in
// the JSON body, where a subscriber that reads the trace from headers (as OpenTelemetry's
// NATS instrumentations do) does not look; HTTP, MQTT and the other bindings carry it as a
// header or property of the message too.
func traceHeader(e *event.Event) nats.Header {
	tp, ok := e.Extensions()[trace.AttrParent].(string)
	if !ok || tp == "" {
		return nil
	}
	h := nats.Header{trace.AttrParent: {tp}}
	if ts, ok := e.Extensions()[trace.AttrState].(string); ok && ts != "" {
		h[trace.AttrState] = []string{ts}
	}
	return h
}

// publish publishes a JSON event as Send does, with header h (nil for none).
func (t *natsTarget) publish(ctx context.Context, body []byte, h nats.Header) Result {
	return t.opts.retry(ctx, func(ctx context.Context) Result {
		nc, err := t.conn.get(ctx)
		if err != nil {
			return notDelivered(err)
		}
		pubErr, err := t.flushes.publish(ctx, nc, t.subject, body, h, connectTimeout(t.opts.Timeout))
		if pubErr != nil {
			return notDelivered(fmt.Errorf("publish to %s: %w", t.subject, pubErr))
		}
		if err != nil {
			return afterSend(fmt.Errorf("publish to %s: the server did not confirm: %w", t.subject, err))
		}
		// Core NATS has no acknowledgement: the flush confirms that the server read the
		// message, not that any subscriber got it.
		res := ack("NATS", "core NATS has no ack")
		res.Unacknowledged = true
		return res
	}, brokerAgain)
}

// flushGroup lets concurrent publishers share the round trip that confirms their messages: a
// PONG answers a PING only after the server has read everything the connection sent before
// it, so one flush confirms every message published before it. A round publishes the
// messages gathered for it and then flushes; while one round is on the wire, the messages
// that come meanwhile gather for the next. Under load this is one round trip for many
// messages instead of one each, and a few writes instead of one per message (nats.go writes
// out each publish on its own when publishes come one by one), for the client and for the
// server.
type flushGroup struct {
	mu      sync.Mutex
	running bool
	next    *flushRound
}

type flushRound struct {
	nc      *nats.Conn
	subject string
	bodies  [][]byte
	headers []nats.Header // per body, nil for none
	errs    []error       // per body: why it could not be published
	done    chan struct{}
	err     error // why the server did not confirm the round
}

// publish publishes body, with header h, to subject on nc and returns once the server has
// read it: pubErr says why it could not be published, err why the server did not confirm it.
func (g *flushGroup) publish(ctx context.Context, nc *nats.Conn, subject string, body []byte, h nats.Header, timeout time.Duration) (pubErr, err error) {
	g.mu.Lock()
	r := g.next
	if r != nil && (r.nc != nc || r.subject != subject) {
		// Not what this group gathers (a connection or subject of its own): alone.
		g.mu.Unlock()
		if err := publishMsg(nc, subject, body, h); err != nil {
			return err, nil
		}
		return nil, nc.FlushTimeout(timeout)
	}
	if r == nil {
		r = &flushRound{nc: nc, subject: subject, done: make(chan struct{})}
		g.next = r
	}
	i := len(r.bodies)
	r.bodies = append(r.bodies, body)
	r.headers = append(r.headers, h)
	if !g.running {
		g.start(timeout)
	}
	g.mu.Unlock()
	select {
	case <-r.done:
		if r.errs[i] != nil {
			return r.errs[i], nil
		}
		return nil, r.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// start puts the gathered round on the wire; g.mu is held.
func (g *flushGroup) start(timeout time.Duration) {
	r := g.next
	g.next = nil
	g.running = true
	go func() {
		r.errs = make([]error, len(r.bodies))
		for i, b := range r.bodies {
			r.errs[i] = publishMsg(r.nc, r.subject, b, r.headers[i])
		}
		r.err = r.nc.FlushTimeout(timeout)
		close(r.done)
		g.mu.Lock()
		defer g.mu.Unlock()
		g.running = false
		if g.next != nil {
			g.start(timeout)
		}
	}()
}

// publishMsg publishes body to subject, with header h when it is not nil.
func publishMsg(nc *nats.Conn, subject string, body []byte, h nats.Header) error {
	if h == nil {
		return nc.Publish(subject, body)
	}
	return nc.PublishMsg(&nats.Msg{Subject: subject, Data: body, Header: h})
}

// Request sends the event as a NATS request and decodes the reply: structured JSON, or
// binary with ce- headers as sdk-go's JetStream sender writes them.
func (t *natsTarget) Request(ctx context.Context, mode binding.Mode, e *event.Event) (Result, []event.Event, binding.Mode, error) {
	if _, err := t.tr.Mode(mode); err != nil {
		return Result{Err: err}, nil, mode, nil
	}
	body := ce.AppendJSON(make([]byte, 0, 512), e)
	var reply *nats.Msg
	res := t.opts.retry(ctx, func(ctx context.Context) Result {
		nc, err := t.conn.get(ctx)
		if err != nil {
			return notDelivered(err)
		}
		if _, ok := ctx.Deadline(); !ok {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, connectTimeout(t.opts.Timeout))
			defer cancel()
		}
		msg, err := nc.RequestMsgWithContext(ctx, &nats.Msg{Subject: t.subject, Data: body, Header: traceHeader(e)})
		switch {
		case errors.Is(err, nats.ErrNoResponders):
			return notDelivered(fmt.Errorf("no responders on subject %s", t.subject))
		case err != nil:
			return afterSend(fmt.Errorf("request on %s: %w", t.subject, err))
		}
		reply = msg
		return ack("NATS", "reply received")
	}, brokerAgain)
	if !res.ACK || reply == nil {
		return res, nil, binding.Structured, nil
	}
	events, rmode, err := decodeNATSReply(reply)
	return res, events, rmode, err
}

func decodeNATSReply(msg *nats.Msg) ([]event.Event, binding.Mode, error) {
	if ct := msg.Header.Get("Content-Type"); binding.ModeOf(ct) == binding.Batch {
		var out binding.Decoded
		if p := binding.NewDecoder(validate.Options{}).DecodeBatch(msg.Data, &out); p != nil {
			return nil, binding.Batch, p
		}
		return out.Events, binding.Batch, nil
	}
	e, mode, err := decodeNATSMsg(msg, &decoder{})
	if err != nil {
		return nil, mode, err
	}
	return []event.Event{e}, mode, nil
}

// decodeNATSMsg decodes a NATS message: structured (nats binding §3) with structured, or
// binary when it has a ce-specversion header, which sdk-go's JetStream sender and later NATS
// bindings write.
func decodeNATSMsg(msg *nats.Msg, dc *decoder) (event.Event, binding.Mode, error) {
	if sv := headerGet(msg.Header, "ce-specversion"); sv != "" {
		var attrs []binaryValue
		for k, vs := range msg.Header {
			if len(k) > 3 && strings.EqualFold(k[:3], "ce-") && len(vs) > 0 {
				attrs = append(attrs, binaryValue{name: strings.ToLower(k[3:]), value: vs[0]})
			}
		}
		e, err := dc.binary(sv, attrs, headerGet(msg.Header, "content-type"), msg.Data)
		return e, binding.Binary, err
	}
	if ct := headerGet(msg.Header, "content-type"); ct != "" {
		if err := checkStructuredType(ct); err != nil {
			return event.Event{}, binding.Structured, err
		}
	}
	e, err := dc.structured(msg.Data)
	return e, binding.Structured, err
}

// checkStructuredType accepts the JSON event format's media type (json-format §3) and
// rejects other event formats.
func checkStructuredType(ct string) error {
	mt := ce.MediaType(ct)
	if strings.HasPrefix(mt, "application/cloudevents") && mt != "application/cloudevents+json" {
		return fmt.Errorf("unsupported event format %q (want application/cloudevents+json)", mt)
	}
	return nil
}

// headerGet finds a header whatever the case of its name: NATS headers are case-sensitive
// and senders differ.
func headerGet(h nats.Header, name string) string {
	if v := h.Get(name); v != "" {
		return v
	}
	for k, vs := range h {
		if strings.EqualFold(k, name) && len(vs) > 0 {
			return vs[0]
		}
	}
	return ""
}

// subscribeNATS receives from a core NATS subject (wildcards allowed), in a queue group when
// ?queue= is given.
func subscribeNATS(ctx context.Context, ep endpoint, so SubscribeOptions, handle func(context.Context, Delivery) error) error {
	if err := checkSubject(ep.raw, ep.path); err != nil {
		return err
	}
	nc, err := natsConnect(ctx, ep, so.Timeout, so.Insecure)
	if err != nil {
		return err
	}
	defer nc.Close()
	rs := &natsReadySubscriber{queue: ep.q.Get("queue"), ready: so.ready()}
	return natsConsume(ctx, nc, func(cb nats.MsgHandler) (*nats.Subscription, error) {
		return rs.Subscribe(nc, ep.path, cb)
	}, func(msg *nats.Msg) error {
		d := natsDelivery("nats", msg, so.Undecoded)
		if msg.Reply != "" {
			d.Reply = natsReplier(nc, msg.Reply)
		}
		_, err := deliver(ctx, handle, d)
		return err
	})
}

type natsReadySubscriber struct {
	queue string
	ready func()
}

func (s *natsReadySubscriber) Subscribe(nc *nats.Conn, subject string, cb nats.MsgHandler) (*nats.Subscription, error) {
	var sub *nats.Subscription
	var err error
	if s.queue != "" {
		sub, err = nc.QueueSubscribe(subject, s.queue, cb)
	} else {
		sub, err = nc.Subscribe(subject, cb)
	}
	if err != nil {
		return nil, fmt.Errorf("subscribe to %s: %w", subject, err)
	}
	// The subscription is in place once the server has read it.
	if err := nc.Flush(); err != nil {
		return nil, fmt.Errorf("subscribe to %s: %w", subject, err)
	}
	s.ready()
	return sub, nil
}

// natsReplier answers on the reply subject, in structured mode whatever mode was asked: the
// only one the NATS binding has (nats binding §1.3).
func natsReplier(nc *nats.Conn, subject string) func(context.Context, *event.Event, binding.Mode) error {
	return func(ctx context.Context, e *event.Event, _ binding.Mode) error {
		if err := nc.Publish(subject, ce.AppendJSON(nil, e)); err != nil {
			return fmt.Errorf("reply to %s: %w", subject, err)
		}
		return nc.FlushTimeout(5 * time.Second)
	}
}

// natsDelivery decodes a NATS message (also a JetStream one) for the handler.
func natsDelivery(transport string, msg *nats.Msg, undecoded bool) Delivery {
	d := Delivery{Raw: msg.Data, Transport: transport, describe: func() map[string]string { return natsMeta(transport, msg) }}
	decodeInto(&d, undecoded, func(dc *decoder) (event.Event, binding.Mode, error) { return decodeNATSMsg(msg, dc) })
	return d
}

func natsMeta(transport string, msg *nats.Msg) map[string]string {
	m := map[string]string{"subject": msg.Subject}
	if msg.Reply != "" && transport == "nats" {
		m["reply"] = msg.Reply
	}
	for k, vs := range msg.Header {
		m["header:"+k] = strings.Join(vs, ",")
	}
	if transport == "jetstream" {
		if md, err := msg.Metadata(); err == nil {
			m["stream"] = md.Stream
			m["consumer"] = md.Consumer
			m["seq"] = strconv.FormatUint(md.Sequence.Stream, 10)
			m["delivered"] = strconv.FormatUint(md.NumDelivered, 10)
			m["timestamp"] = md.Timestamp.Format(time.RFC3339Nano)
		}
	}
	return m
}

// natsConsume subscribes with subscribe and hands each message to handle from nats.go's
// delivery goroutine of the subscription, one at a time and in order, until ctx ends, handle
// fails or the connection is closed for good. sdk-go's consumers put a channel and another
// goroutine between the two, a hand-over per message. Once natsConsume returns, handle runs no
// more. It returns handle's error, or nil when ctx ended.
func natsConsume(ctx context.Context, nc *nats.Conn, subscribe func(nats.MsgHandler) (*nats.Subscription, error), handle func(*nats.Msg) error) error {
	var (
		mu      sync.Mutex
		stopped bool
		failure error
	)
	failed := make(chan struct{})
	cb := func(m *nats.Msg) {
		mu.Lock()
		defer mu.Unlock()
		if stopped {
			return
		}
		if err := handle(m); err != nil {
			stopped, failure = true, err
			close(failed)
		}
	}
	closed := make(chan struct{})
	nc.SetClosedHandler(func(*nats.Conn) { close(closed) })
	sub, err := subscribe(cb)
	if err != nil {
		return err
	}
	var result error
	select {
	case <-ctx.Done():
	case <-failed:
	case <-closed:
		result = errors.New("the connection to the NATS server was closed")
	}
	mu.Lock()
	stopped = true
	if failure != nil {
		result = failure
	}
	mu.Unlock()
	_ = sub.Unsubscribe()
	return result
}
