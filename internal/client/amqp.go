package client

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/Azure/go-amqp"
	"github.com/cectl/cectl/internal/binding"
	"github.com/cectl/cectl/internal/ce"
	ceamqp "github.com/cloudevents/sdk-go/protocol/amqp/v2"
	sdkbinding "github.com/cloudevents/sdk-go/v2/binding"
	"github.com/cloudevents/sdk-go/v2/event"
)

// AMQP 1.0 carries events in binary mode (attributes as "cloudEvents:"-prefixed application
// properties in native AMQP types, datacontenttype as content-type, amqp binding §3.1) or
// structured mode (amqp binding §3.2). sdk-go's AMQP writer, sender and receiver follow the
// binding and are used as they are; decoding is ours.
//
// A one-segment path is the address without its slash (amqp://host/orders → "orders"); a
// longer path is the address as written, which is what RabbitMQ's addresses look like
// (amqp://host//queue/orders or amqp://host/queue/orders → "/queue/orders"). User info logs
// in with SASL PLAIN, otherwise SASL ANONYMOUS.
//
// go-amqp v0.17 (the version sdk-go's AMQP module builds with) reports only a rejected
// disposition as an error: a message the broker released or modified counts as accepted.
var amqpTransport = Transport{
	Name:    "AMQP",
	Schemes: []Scheme{{"amqp", "5672"}, {"amqps", "5671"}},
	Form:    "amqp(s)://[user:pass@]host[:5672|:5671]/address[?tls=true&ca=FILE]",
	Modes:   []binding.Mode{binding.Binary, binding.Structured},
	// Request/reply with reply-to and correlation-id (amqp 1.0 §3.2.4).
	ListenReply: true,
	open: func(tr *Transport, raw string, u *url.URL, opts Options) (Target, error) {
		return openAMQP(tr, raw, u, opts)
	},
	subscribe: subscribeAMQP,
}

type amqpTarget struct {
	base
	ep      endpoint
	address string
	opts    Options
	conn    lazy[*amqpSender]
}

type amqpSender struct {
	client *amqp.Client
	sender *amqp.Sender
	ce     interface {
		Send(ctx context.Context, m sdkbinding.Message, transformers ...sdkbinding.Transformer) error
	}
}

func parseAMQP(tr *Transport, raw string, u *url.URL) (endpoint, string, error) {
	ep, err := parseEndpoint(raw, u, tr.defaultPort(u.Scheme), false)
	if err != nil {
		return ep, "", err
	}
	ep.secure = ep.secure || u.Scheme == "amqps"
	addr := ep.path
	if strings.Contains(strings.TrimPrefix(addr, "/"), "/") {
		addr = "/" + strings.TrimPrefix(addr, "/")
	}
	if strings.Trim(addr, "/") == "" {
		return ep, "", &UsageError{Err: fmt.Errorf("%q has no address (want amqp://host:5672/address)", raw)}
	}
	return ep, addr, nil
}

func openAMQP(tr *Transport, raw string, u *url.URL, opts Options) (*amqpTarget, error) {
	ep, addr, err := parseAMQP(tr, raw, u)
	if err != nil {
		return nil, err
	}
	if _, err := ep.tlsConfig(opts.Insecure); err != nil {
		return nil, err
	}
	t := &amqpTarget{base: base{tr, raw}, ep: ep, address: addr, opts: opts}
	t.conn.open = func(ctx context.Context) (*amqpSender, error) {
		c, s, err := amqpDial(ctx, ep, opts.Timeout, opts.Insecure)
		if err != nil {
			return nil, err
		}
		snd, err := s.NewSender(amqp.LinkTargetAddress(addr))
		if err != nil {
			c.Close()
			return nil, fmt.Errorf("open a link to %s: %w", addr, amqpLinkError(addr, err))
		}
		return &amqpSender{client: c, sender: snd, ce: ceamqp.NewSender(snd)}, nil
	}
	t.conn.close = func(a *amqpSender) { a.client.Close() }
	return t, nil
}

// amqpDial opens a connection and a session, bounded by timeout.
func amqpDial(ctx context.Context, ep endpoint, timeout time.Duration, insecure bool) (*amqp.Client, *amqp.Session, error) {
	d := connectTimeout(timeout)
	if dl, ok := ctx.Deadline(); ok {
		d = min(d, max(time.Until(dl), time.Millisecond))
	}
	opts := []amqp.ConnOption{amqp.ConnConnectTimeout(d), amqp.ConnServerHostname(strings.Split(ep.hosts[0], ":")[0])}
	if ui := ep.u.User; ui != nil {
		opts = append(opts, amqp.ConnSASLPlain(ui.Username(), ep.password()))
	} else {
		opts = append(opts, amqp.ConnSASLAnonymous())
	}
	tc, err := ep.tlsConfig(insecure)
	if err != nil {
		return nil, nil, err
	}
	scheme := "amqp://"
	if tc != nil {
		scheme = "amqps://"
		opts = append(opts, amqp.ConnTLSConfig(tc))
	}
	type result struct {
		c   *amqp.Client
		s   *amqp.Session
		err error
	}
	ch := make(chan result, 1)
	go func() {
		c, err := amqp.Dial(scheme+ep.hosts[0], opts...)
		if err != nil {
			ch <- result{err: err}
			return
		}
		s, err := c.NewSession()
		if err != nil {
			c.Close()
		}
		ch <- result{c, s, err}
	}()
	select {
	case r := <-ch:
		if r.err != nil {
			return nil, nil, dialError("AMQP", ep.hosts, amqpLoginError(ep, r.err))
		}
		return r.c, r.s, nil
	case <-ctx.Done():
		go func() {
			if r := <-ch; r.err == nil {
				r.c.Close()
			}
		}()
		return nil, nil, dialError("AMQP", ep.hosts, ctx.Err())
	}
}

func (t *amqpTarget) Close() error { t.conn.shutdown(); return nil }

// Send transfers the event and waits for the disposition: ACK when accepted, NACK when
// rejected.
func (t *amqpTarget) Send(ctx context.Context, mode binding.Mode, events ...*event.Event) Result {
	msg, err := t.message(mode, events)
	if err != nil {
		return Result{Err: err}
	}
	return t.send(ctx, msg)
}

// Prepare encodes the event once for Send; copies are encoded one by one.
func (t *amqpTarget) Prepare(ctx context.Context, mode binding.Mode, proto *event.Event) (Sender, error) {
	msg, err := t.message(mode, []*event.Event{proto})
	if err != nil {
		return nil, err
	}
	return &amqpPrepared{copies: copies{t: t, mode: mode, proto: proto}, msg: msg}, nil
}

type amqpPrepared struct {
	copies
	msg sdkbinding.Message
}

func (s *amqpPrepared) Send(ctx context.Context) Result { return s.t.(*amqpTarget).send(ctx, s.msg) }

// message is the event as sdk-go's AMQP writer takes it: in binary mode the event itself,
// in structured mode our JSON bytes.
func (t *amqpTarget) message(mode binding.Mode, events []*event.Event) (sdkbinding.Message, error) {
	e, err := oneEvent(t, mode, events)
	if err != nil {
		return nil, err
	}
	if mode == binding.Structured {
		return structuredMessage(ce.AppendJSON(make([]byte, 0, 512), e)), nil
	}
	return sdkbinding.ToMessage(e), nil
}

func (t *amqpTarget) send(ctx context.Context, msg sdkbinding.Message) Result {
	return t.opts.retry(ctx, func(ctx context.Context) Result {
		a, err := t.conn.get(ctx)
		if err != nil {
			return notDelivered(err)
		}
		err = a.ce.Send(quiet(ctx), msg)
		var ae *amqp.Error
		var de *amqp.DetachError
		switch {
		case err == nil:
			return ack("AMQP", "accepted")
		case errors.As(err, &de):
			t.conn.forget(a, func(x, y *amqpSender) bool { return x == y })
			return nack("AMQP", fmt.Errorf("%s rejected the message and closed the link: %w", t.address, err))
		case errors.As(err, &ae):
			return nack("AMQP", fmt.Errorf("%s rejected the message: %w", t.address, err))
		}
		t.conn.forget(a, func(x, y *amqpSender) bool { return x == y })
		return afterSend(fmt.Errorf("send to %s: %w", t.address, err))
	}, brokerAgain)
}

// subscribeAMQP attaches a receiving link to the address; each message is accepted after
// handle returned, and one that is not a CloudEvent is rejected.
func subscribeAMQP(ctx context.Context, tr *Transport, raw string, u *url.URL, so SubscribeOptions, handle func(context.Context, Delivery) error) error {
	ep, addr, err := parseAMQP(tr, raw, u)
	if err != nil {
		return err
	}
	cctx, cancel := context.WithTimeout(ctx, connectTimeout(so.Timeout))
	c, s, err := amqpDial(cctx, ep, so.Timeout, so.Insecure)
	cancel()
	if err != nil {
		return err
	}
	defer c.Close()
	r, s, second, err := amqpReceiver(c, s, addr, so.maxMessageSize())
	if err != nil {
		return fmt.Errorf("open a link from %s: %w", addr, amqpLinkError(addr, err))
	}
	// Ending the session before the connection closes makes the broker take every
	// disposition sent before the end (frames on a connection keep their order), the ones
	// of mode first too, which have no answer and could else be lost with the connection.
	defer closeAMQPSession(s)
	so.ready()()
	st := newAMQPSettler(ctx, r)
	defer st.wait()
	for {
		if err := st.failed(); err != nil {
			return fmt.Errorf("settle a message from %s: %w", addr, err)
		}
		if so.More != nil && !so.More() {
			// In mode first taking the next message would accept it (see amqpReceiver);
			// in mode second the handler would only refuse it.
			return nil
		}
		m, err := r.Receive(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("receive from %s: %w", addr, err)
		}
		d := amqpDelivery(addr, m, so.Undecoded)
		d.Reply = amqpReplier(s, m)
		if !second {
			// In mode first the broker settled the message when it was taken.
			d.refusal = "dropped: the broker settled it on delivery (receiver settle mode first)"
		}
		refuse, err := deliver(ctx, handle, d)
		if err != nil {
			return err
		}
		if second {
			st.settle(m, refuse)
		}
	}
}

// amqpReceiver opens the link to receive from. It asks for receiver settle mode second
// (amqp 1.0 §2.8.2): a message is then accepted only by our disposition after it was
// handled, and the broker's settlement confirms that. A broker that does not have mode
// second (RabbitMQ 3) ends the session; the link is then opened again in mode first, in
// which go-amqp v0.17 accepts and settles each message as Receive takes it: taken only when
// it is handled next, a message can then be lost only when listen dies while handling it.
// A maxSize other than 0 is the link's max-message-size (§2.7.3): the broker must not send
// larger messages on it.
func amqpReceiver(c *amqp.Client, s *amqp.Session, addr string, maxSize uint64) (r *amqp.Receiver, _ *amqp.Session, second bool, err error) {
	opts := []amqp.LinkOption{amqp.LinkSourceAddress(addr), amqp.LinkCredit(amqpCredit)}
	if maxSize > 0 {
		opts = append(opts, amqp.LinkMaxMessageSize(maxSize))
	}
	r, err = s.NewReceiver(append(opts, amqp.LinkReceiverSettle(amqp.ModeSecond))...)
	if err == nil {
		return r, s, true, nil
	}
	// go-amqp v0.17 reports the broker's end of the session as text only.
	if !strings.Contains(err.Error(), string(amqp.ErrorNotImplemented)) {
		return nil, nil, false, err
	}
	if s, err = c.NewSession(); err != nil {
		return nil, nil, false, err
	}
	r, err = s.NewReceiver(opts...)
	return r, s, false, err
}

// closeAMQPSession ends s and waits for the broker's answer, at most 5 s (listen's grace
// for stopping). (RabbitMQ 3 does not answer a link's detach, so the session is what is
// closed.)
func closeAMQPSession(s *amqp.Session) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = s.Close(ctx)
}

// amqpCredit is how many messages the broker may send ahead (amqp 1.0 §2.6.7), which also
// bounds the messages handled but not yet settled. Messages sent ahead are not accepted
// before they are handled, in either settle mode: when listen ends they go back to the broker.
const amqpCredit = 256

// amqpSettler settles handled messages without making the next one wait for the broker's
// confirmation: each disposition waits for its answer in a goroutine of its own (at most
// amqpCredit at once), while the receive loop goes on. A settlement that fails ends the
// subscription; the messages it did not settle are the broker's to deliver again.
type amqpSettler struct {
	ctx    context.Context
	cancel context.CancelFunc
	r      *amqp.Receiver
	slots  chan struct{}
	wg     sync.WaitGroup
	mu     sync.Mutex
	err    error
}

func newAMQPSettler(ctx context.Context, r *amqp.Receiver) *amqpSettler {
	// Settling goes on after ctx ends, so that what was handled is settled before the link
	// closes; a broker that does not answer holds it up for at most 5 s, within listen's
	// grace for stopping.
	sctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	context.AfterFunc(ctx, func() { time.AfterFunc(5*time.Second, cancel) })
	return &amqpSettler{ctx: sctx, cancel: cancel, r: r, slots: make(chan struct{}, amqpCredit)}
}

// settle accepts m, or rejects it when refuse says why it is no CloudEvent.
func (s *amqpSettler) settle(m *amqp.Message, refuse error) {
	s.slots <- struct{}{}
	s.wg.Add(1)
	go func() {
		defer func() { <-s.slots; s.wg.Done() }()
		var err error
		if refuse != nil {
			// amqp 1.0 §2.8.15: the message's content could not be taken as what it
			// claims to be.
			err = s.r.RejectMessage(s.ctx, m, &amqp.Error{Condition: amqp.ErrorCondition("amqp:decode-error"), Description: refuse.Error()})
		} else {
			err = s.r.AcceptMessage(s.ctx, m)
		}
		if err != nil {
			s.mu.Lock()
			if s.err == nil {
				s.err = err
			}
			s.mu.Unlock()
		}
	}()
}

func (s *amqpSettler) failed() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// wait returns once every settlement begun has its answer.
func (s *amqpSettler) wait() {
	s.wg.Wait()
	s.cancel()
}

func amqpDelivery(addr string, m *amqp.Message, undecoded bool) Delivery {
	d := Delivery{Raw: amqpPayload(m), Transport: "amqp", describe: func() map[string]string { return amqpMeta(addr, m) }}
	decodeInto(&d, undecoded, func(dc *decoder) (event.Event, binding.Mode, error) { return decodeAMQP(m, dc) })
	return d
}

func amqpMeta(addr string, m *amqp.Message) map[string]string {
	meta := map[string]string{"address": addr}
	if p := m.Properties; p != nil {
		if p.ContentType != nil {
			meta["content-type"] = *p.ContentType
		}
		if p.MessageID != nil {
			meta["message-id"] = fmt.Sprint(p.MessageID)
		}
		if p.Subject != nil {
			meta["subject"] = *p.Subject
		}
	}
	for k, v := range m.ApplicationProperties {
		s, err := canonical(v)
		if err != nil {
			s = fmt.Sprint(v)
		}
		meta["property:"+k] = s
	}
	return meta
}

// amqpPayload is the message body: its first data section, or an amqp-value holding bytes
// or a string, which some clients send instead.
func amqpPayload(m *amqp.Message) []byte {
	if b := m.GetData(); b != nil {
		return b
	}
	switch v := m.Value.(type) {
	case []byte:
		return v
	case string:
		return []byte(v)
	}
	return nil
}

// amqpPrefixes are the application-property prefixes of binary mode: the binding's (amqp
// binding §3.1.3.1) and the underscore form that JMS-based clients use.
var amqpPrefixes = []string{"cloudEvents:", "cloudEvents_"}

// decodeAMQP tells the mode by content-type (amqp binding §3): a CloudEvents media type is
// structured, a cloudEvents:specversion application property is binary. Property values may
// be native AMQP types or canonical strings (amqp binding §3.1.3.2).
func decodeAMQP(m *amqp.Message, dc *decoder) (event.Event, binding.Mode, error) {
	var ct string
	if m.Properties != nil && m.Properties.ContentType != nil {
		ct = *m.Properties.ContentType
	}
	body := amqpPayload(m)
	if strings.HasPrefix(ce.MediaType(ct), "application/cloudevents") {
		if err := checkStructuredType(ct); err != nil {
			return event.Event{}, binding.Structured, err
		}
		e, err := dc.structured(body)
		return e, binding.Structured, err
	}
	for _, prefix := range amqpPrefixes {
		v, ok := m.ApplicationProperties[prefix+"specversion"]
		if !ok {
			continue
		}
		sv, ok := v.(string)
		if !ok {
			return event.Event{}, binding.Binary, fmt.Errorf("%sspecversion is a %T, not a string", prefix, v)
		}
		var attrs []binaryValue
		for k, v := range m.ApplicationProperties {
			if name, ok := strings.CutPrefix(k, prefix); ok && name != "datacontenttype" {
				attrs = append(attrs, binaryValue{name: name, value: v})
			}
		}
		e, err := dc.binary(sv, attrs, ct, body)
		return e, binding.Binary, err
	}
	return event.Event{}, binding.Binary, errors.New("the message carries no CloudEvent (no cloudEvents:specversion application property and not a structured content type)")
}
