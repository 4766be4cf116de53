package client

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/cectl/cectl/internal/binding"
	"github.com/cectl/cectl/internal/ce"
	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/nats-io/nats.go"
)

// JetStream is NATS with persistence; events travel as on core NATS, in structured mode
// (nats binding §3), and the server acknowledges each stored message.
//
// A stream that does not exist is created capturing exactly the URL's subject. An existing
// stream must capture the subject; cectl says so instead of publishing into nothing.
//
// sdk-go's JetStream sender would create the stream with subjects "<STREAM>.*" whatever the
// subject, and it drops the PubAck, so we publish our JSON bytes ourselves and report the
// stream sequence. Receiving subscribes with nats.go as for core NATS (natsConsume) and
// creates durable consumers itself: a consumer that nats.go creates is deleted when the
// subscription ends, which would make a durable name useless.
var jetStreamTransport = Transport{
	Name:      "JetStream",
	Schemes:   []Scheme{{"jetstream", "4222"}},
	Form:      "jetstream://[user:pass@|token@]host[:4222]/STREAM/subject[?durable=NAME&start=new|all|last|seq:N|time:RFC3339&creds=FILE&tls=true&ca=FILE]",
	Modes:     []binding.Mode{binding.Structured},
	NoRequest: "the stream answers a publish, not a consumer; use nats://host/subject for request/reply",
	UntilEnd:  true,
	open: func(tr *Transport, raw string, u *url.URL, opts Options) (Target, error) {
		return openJetStream(tr, raw, u, opts)
	},
	subscribe: subscribeJetStream,
}

var jetStreamKeys = []string{"durable", "start", "creds"}

type jetStreamTarget struct {
	base
	ep              endpoint
	stream, subject string
	opts            Options
	conn            lazy[*jsConn]
}

type jsConn struct {
	nc *nats.Conn
	js nats.JetStreamContext
}

func parseJetStream(tr *Transport, raw string, u *url.URL) (endpoint, string, string, error) {
	ep, err := parseEndpoint(raw, u, tr.defaultPort(u.Scheme), true, jetStreamKeys...)
	if err != nil {
		return ep, "", "", err
	}
	stream, subject, ok := strings.Cut(ep.path, "/")
	if !ok || stream == "" || subject == "" {
		return ep, "", "", &UsageError{Err: fmt.Errorf("%q: want jetstream://host:4222/STREAM/subject", raw)}
	}
	if strings.ContainsAny(stream, ".*> \t") {
		return ep, "", "", &UsageError{Err: fmt.Errorf("%q: stream name %q may not hold '.', '*', '>' or white space", raw, stream)}
	}
	return ep, stream, subject, nil
}

func openJetStream(tr *Transport, raw string, u *url.URL, opts Options) (*jetStreamTarget, error) {
	ep, stream, subject, err := parseJetStream(tr, raw, u)
	if err != nil {
		return nil, err
	}
	if err := checkPublishSubject(raw, subject); err != nil {
		return nil, err
	}
	if _, err := ep.tlsConfig(opts.Insecure); err != nil {
		return nil, err
	}
	t := &jetStreamTarget{base: base{tr, raw}, ep: ep, stream: stream, subject: subject, opts: opts}
	t.conn.open = func(ctx context.Context) (*jsConn, error) {
		nc, err := natsConnect(ctx, ep, opts.Timeout, opts.Insecure)
		if err != nil {
			return nil, err
		}
		js, err := nc.JetStream(nats.MaxWait(connectTimeout(opts.Timeout)))
		if err == nil {
			err = ensureStream(js, stream, subject)
		}
		if err != nil {
			nc.Close()
			return nil, err
		}
		return &jsConn{nc: nc, js: js}, nil
	}
	t.conn.close = func(c *jsConn) { c.nc.Close() }
	return t, nil
}

// ensureStream checks that the stream exists and captures subject, and creates it when it
// does not exist.
func ensureStream(js nats.JetStreamContext, stream, subject string) error {
	info, err := js.StreamInfo(stream)
	if errors.Is(err, nats.ErrStreamNotFound) {
		if _, err := js.AddStream(&nats.StreamConfig{Name: stream, Subjects: []string{subject}}); err != nil {
			return fmt.Errorf("create stream %s for subject %s: %w", stream, subject, err)
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("stream %s: %w", stream, err)
	}
	subjects := info.Config.Subjects
	if len(subjects) == 0 {
		subjects = []string{stream}
	}
	for _, s := range subjects {
		if subjectWithin(subject, s) {
			return nil
		}
	}
	return &UsageError{Err: fmt.Errorf("stream %s does not capture subject %s (its subjects: %s)", stream, subject, strings.Join(subjects, " "))}
}

// subjectWithin reports whether every subject that sub matches is matched by filter, both
// possibly holding the wildcards "*" (one token) and ">" (the rest).
func subjectWithin(sub, filter string) bool {
	st, ft := strings.Split(sub, "."), strings.Split(filter, ".")
	for i, f := range ft {
		if f == ">" {
			return i < len(st)
		}
		if i >= len(st) {
			return false
		}
		switch s := st[i]; {
		case s == ">":
			return false
		case f == "*":
		case s != f:
			return false
		}
	}
	return len(st) == len(ft)
}

func (t *jetStreamTarget) Close() error { t.conn.shutdown(); return nil }

// Send publishes and waits for the PubAck: ACK when the stream stored the event, NACK when
// JetStream answered with an error.
func (t *jetStreamTarget) Send(ctx context.Context, mode binding.Mode, events ...*event.Event) Result {
	e, err := oneEvent(t, mode, events)
	if err != nil {
		return Result{Err: err}
	}
	// The payload is the JSON event and nothing else (nats binding §3.1), which is what
	// sdk-go's writer would copy it into; structured mode has no attribute headers, only the
	// event's trace as W3C headers (traceHeader).
	return t.publish(ctx, ce.AppendJSON(make([]byte, 0, 512), e), traceHeader(e), true)
}

// Prepare encodes the event once; a copy writes its id and time into the JSON text.
func (t *jetStreamTarget) Prepare(ctx context.Context, mode binding.Mode, proto *event.Event) (Sender, error) {
	if _, err := oneEvent(t, mode, []*event.Event{proto}); err != nil {
		return nil, err
	}
	h := traceHeader(proto)
	return newStructuredSender(proto,
		func(ctx context.Context, body []byte) Result { return t.publish(ctx, body, h, true) },
		func(ctx context.Context, body []byte) Result { return t.publish(ctx, body, h, false) }), nil
}

// publish publishes body, with header h (the event's trace, or nil), and waits for the PubAck. With interruptible, the wait ends with
// ctx too (a Ctrl-C, the attempt's timeout); without, only the JetStream context's MaxWait,
// which is the attempt's timeout, bounds it: a publish option costs every message a header
// map, and the context its timer, 5-20% of a load run's CPU; an interrupted load run waits
// at most that long for the PubAcks of the events it has in flight.
func (t *jetStreamTarget) publish(ctx context.Context, body []byte, h nats.Header, interruptible bool) Result {
	return t.opts.retry(ctx, func(ctx context.Context) Result {
		c, err := t.conn.get(ctx)
		if err != nil {
			return notDelivered(err)
		}
		msg := &nats.Msg{Subject: t.subject, Data: body, Header: h}
		var pa *nats.PubAck
		if interruptible {
			pa, err = c.js.PublishMsg(msg, nats.Context(ctx))
		} else {
			pa, err = c.js.PublishMsg(msg)
		}
		var apiErr *nats.APIError
		switch {
		case errors.Is(err, nats.ErrNoStreamResponse), errors.Is(err, nats.ErrNoResponders):
			return notDelivered(fmt.Errorf("no stream stored the event on subject %s", t.subject))
		case errors.As(err, &apiErr):
			return nack("JetStream", fmt.Errorf("stream %s refused the event: %w", t.stream, err))
		case err != nil:
			return afterSend(fmt.Errorf("publish to %s: %w", t.subject, err))
		}
		status := "PubAck stream " + pa.Stream + " seq " + strconv.FormatUint(pa.Sequence, 10)
		if pa.Duplicate {
			status += " (duplicate)"
		}
		return ack("JetStream", status)
	}, brokerAgain)
}

// subscribeJetStream reads a stream through an ephemeral consumer, or a durable one when a
// name is given, acknowledging each message after handle returned.
func subscribeJetStream(ctx context.Context, tr *Transport, raw string, u *url.URL, so SubscribeOptions, handle func(context.Context, Delivery) error) error {
	ep, stream, subject, err := parseJetStream(tr, raw, u)
	if err != nil {
		return err
	}
	if err := checkSubject(raw, subject); err != nil {
		return err
	}
	durable := firstNonEmpty(so.Durable, ep.q.Get("durable"))
	start := firstNonEmpty(so.Start, ep.q.Get("start"))
	if so.UntilEnd && start == "" {
		start = "all"
	}
	policy, err := jsDeliverPolicy(raw, start)
	if err != nil {
		return err
	}
	nc, err := natsConnect(ctx, ep, so.Timeout, so.Insecure)
	if err != nil {
		return err
	}
	defer nc.Close()
	js, err := nc.JetStream(nats.MaxWait(connectTimeout(so.Timeout)))
	if err != nil {
		return err
	}
	if err := ensureStream(js, stream, subject); err != nil {
		return err
	}
	acks := &jsAcker{nc: nc}
	defer acks.stop()
	if so.UntilEnd && durable != "" && firstNonEmpty(so.Start, ep.q.Get("start")) == "" {
		start = "" // an existing durable keeps its position; a new one starts at all
	}
	js2 := &jsSubscriber{
		stream: stream, durable: durable, start: start, deliver: policy,
		ready: so.ready(), note: so.note, nc: nc, acks: acks,
	}
	var end *jsEnd
	if so.UntilEnd {
		if end, err = jsEndAt(js, stream); err != nil {
			return err
		}
	}
	consumeCtx, reachedEnd := context.WithCancel(ctx)
	defer reachedEnd()
	err = natsConsume(consumeCtx, nc, func(cb nats.MsgHandler) (*nats.Subscription, error) {
		sub, err := js2.Subscribe(js, subject, cb)
		if err == nil && end != nil {
			empty, err := end.emptyAtStart(sub)
			if err != nil {
				_ = sub.Unsubscribe()
				return nil, err
			}
			if empty {
				reachedEnd()
			}
		}
		return sub, err
	}, func(msg *nats.Msg) error {
		d := natsDelivery("jetstream", msg, so.Undecoded)
		refuse, err := deliver(ctx, handle, d)
		if err != nil {
			return err
		}
		if refuse != nil {
			// Not a CloudEvent: redelivering it would not change that.
			err = msg.Term()
		} else {
			err = acks.handled(msg)
		}
		if err == nil && end != nil && end.last(msg) {
			return errReachedEnd
		}
		return err
	})
	if errors.Is(err, errReachedEnd) {
		return nil
	}
	return err
}

// Acknowledgement groups: with the consumer's ack policy "all", acknowledging a message
// acknowledges every one before it, so listen acknowledges the last handled message once
// ackGroup more were handled, or ackDelay after the first of them, or when the subscription
// ends. A consumer made for one subscription delivers in stream order and the messages are
// handled one at a time in that order, so every message a group's ack covers was shown and
// recorded; one that was not (its record failed, or it came after --count) ends the
// subscription before its group is acknowledged. Acknowledging one message in 64 spares the
// client and the server most of the work of acknowledging.
const (
	ackGroup = 64
	ackDelay = 20 * time.Millisecond
)

// jsAcker acknowledges handled messages, in groups when the consumer allows it.
type jsAcker struct {
	nc      *nats.Conn
	grouped bool
	mu      sync.Mutex
	last    *nats.Msg // the last handled message not yet acknowledged
	pending int
	timer   *time.Timer
}

func (a *jsAcker) handled(msg *nats.Msg) error {
	if !a.grouped {
		return msg.Ack()
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	a.last = msg
	a.pending++
	if a.pending >= ackGroup {
		return a.flushLocked()
	}
	if a.pending == 1 {
		if a.timer == nil {
			a.timer = time.AfterFunc(ackDelay, a.flush)
		} else {
			a.timer.Reset(ackDelay)
		}
	}
	return nil
}

func (a *jsAcker) flush() {
	a.mu.Lock()
	defer a.mu.Unlock()
	_ = a.flushLocked()
}

func (a *jsAcker) flushLocked() error {
	if a.last == nil {
		return nil
	}
	msg := a.last
	a.last, a.pending = nil, 0
	if a.timer != nil {
		a.timer.Stop()
	}
	return msg.Ack()
}

// stop acknowledges what was handled and waits until the server has read it.
func (a *jsAcker) stop() {
	a.mu.Lock()
	if a.timer != nil {
		a.timer.Stop()
	}
	err := a.flushLocked()
	a.mu.Unlock()
	if err == nil && !a.nc.IsClosed() {
		_ = a.nc.FlushTimeout(5 * time.Second)
	}
}

func firstNonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// jsDeliverPolicy parses ?start=; nil means the server's default (or the existing durable's).
func jsDeliverPolicy(raw, start string) (*nats.ConsumerConfig, error) {
	cfg := &nats.ConsumerConfig{}
	// The keywords are case-insensitive, as every enum value cectl takes.
	if kw, rest, ok := strings.Cut(start, ":"); ok {
		start = strings.ToLower(kw) + ":" + rest
	} else {
		start = strings.ToLower(start)
	}
	switch {
	case start == "" || start == "new":
		cfg.DeliverPolicy = nats.DeliverNewPolicy
	case start == "all":
		cfg.DeliverPolicy = nats.DeliverAllPolicy
	case start == "last":
		cfg.DeliverPolicy = nats.DeliverLastPolicy
	case strings.HasPrefix(start, "seq:"):
		n, err := strconv.ParseUint(start[4:], 10, 64)
		if err != nil || n == 0 {
			return nil, &UsageError{Err: fmt.Errorf("%q: start=%q: want seq:N with N ≥ 1", raw, start)}
		}
		cfg.DeliverPolicy = nats.DeliverByStartSequencePolicy
		cfg.OptStartSeq = n
	case strings.HasPrefix(start, "time:"):
		t, err := ce.ParseTime(start[5:])
		if err != nil {
			return nil, &UsageError{Err: fmt.Errorf("%q: start=%q: %w", raw, start, err)}
		}
		cfg.DeliverPolicy = nats.DeliverByStartTimePolicy
		cfg.OptStartTime = &t
	default:
		return nil, &UsageError{Err: fmt.Errorf("%q: start=%q: want new, all, last, seq:N or time:RFC3339", raw, start)}
	}
	return cfg, nil
}

// jsSubscriber creates the consumer and subscribes: ephemeral consumers through
// nats.go (deleted when the subscription ends), durable ones explicitly so that they outlive
// this run.
// Ephemeral consumers have the ack policy "all" (acknowledgement groups, see ackGroup): they
// live for one subscription, which handles their messages in the order they come. Durable
// ones it creates have "explicit", and each message is acknowledged; an existing durable
// keeps its policy.
type jsSubscriber struct {
	stream, durable, start string
	deliver                *nats.ConsumerConfig
	ready                  func()
	note                   func(string)
	nc                     *nats.Conn
	ackAll                 bool     // set by Subscribe: the consumer's ack policy is "all"
	acks                   *jsAcker // told the policy before the first message comes
}

func (s *jsSubscriber) Subscribe(js nats.JetStreamContext, subject string, cb nats.MsgHandler, _ ...nats.SubOpt) (*nats.Subscription, error) {
	opts := []nats.SubOpt{nats.BindStream(s.stream), nats.ManualAck()}
	if s.durable == "" {
		opts = append(opts, nats.AckAll())
		s.ackAll = true
		switch s.deliver.DeliverPolicy {
		case nats.DeliverNewPolicy:
			opts = append(opts, nats.DeliverNew())
		case nats.DeliverAllPolicy:
			opts = append(opts, nats.DeliverAll())
		case nats.DeliverLastPolicy:
			opts = append(opts, nats.DeliverLast())
		case nats.DeliverByStartSequencePolicy:
			opts = append(opts, nats.StartSequence(s.deliver.OptStartSeq))
		case nats.DeliverByStartTimePolicy:
			opts = append(opts, nats.StartTime(*s.deliver.OptStartTime))
		}
	} else {
		info, err := js.ConsumerInfo(s.stream, s.durable)
		switch {
		case errors.Is(err, nats.ErrConsumerNotFound):
			cfg := *s.deliver
			cfg.Durable = s.durable
			cfg.DeliverSubject = nats.NewInbox()
			// Explicit: a durable consumer outlives this run, and the next run may get a
			// message this one left unacknowledged after later ones, which an ack of
			// policy "all" would then acknowledge unhandled.
			cfg.AckPolicy = nats.AckExplicitPolicy
			cfg.FilterSubject = subject
			// A message pushed while no subscription was bound (between two runs of
			// listen, before the server saw the old one go) waits out the ack wait before
			// it comes again: keep that short, since listen acknowledges messages within
			// ackDelay of their being shown and recorded.
			cfg.AckWait = 5 * time.Second
			if _, err := js.AddConsumer(s.stream, &cfg); err != nil {
				return nil, fmt.Errorf("create durable consumer %s on stream %s: %w", s.durable, s.stream, err)
			}
			s.note(fmt.Sprintf("durable consumer %s created on stream %s (start %s)", s.durable, s.stream, firstNonEmpty(strings.ToLower(s.start), "new")))
		case err != nil:
			return nil, fmt.Errorf("durable consumer %s on stream %s: %w", s.durable, s.stream, err)
		default:
			// Resuming a durable is what it is for: it goes on after the last message it
			// acknowledged, so a start position (the one it was created with, as in a
			// script run again) cannot apply.
			s.ackAll = info.Config.AckPolicy == nats.AckAllPolicy
			line := fmt.Sprintf("resuming durable consumer %s on stream %s: %d pending, %d unacknowledged", s.durable, s.stream, info.NumPending, info.NumAckPending)
			if s.start != "" {
				line += fmt.Sprintf("; start=%s ignored, a durable keeps its position", s.start)
			}
			s.note(line)
		}
		opts = append(opts, nats.Bind(s.stream, s.durable))
	}
	if s.acks != nil {
		s.acks.grouped = s.ackAll
	}
	sub, err := js.Subscribe(subject, cb, opts...)
	if err != nil {
		return nil, fmt.Errorf("subscribe to %s on stream %s: %w", subject, s.stream, err)
	}
	if err := s.nc.Flush(); err != nil {
		return nil, err
	}
	s.ready()
	return sub, nil
}
