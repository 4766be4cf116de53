package client

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cectl/cectl/internal/binding"
	"github.com/cectl/cectl/internal/ce"
	cemqtt "github.com/cloudevents/sdk-go/protocol/mqtt_paho/v2"
	sdkbinding "github.com/cloudevents/sdk-go/v2/binding"
	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/eclipse/paho.golang/paho"
)

// MQTT 5 carries events in binary mode (attributes as user properties, datacontenttype as
// the Content Type property, mqtt binding §3.1) or structured mode (mqtt binding §3.2).
//
// The topic is the URL path without its leading slash. A subscription takes a topic filter
// with the '+' and '#' wildcards written as they are (MQTT 5 §4.7): '#' would start a URL
// fragment, so in an mqtt(s):// URL it is read as part of the topic. QoS defaults to 1, so
// that ACK means the broker's PUBACK.
//
// sdk-go's MQTT writer names the user properties "ce-<attribute>", but the binding uses the
// attribute names unchanged (mqtt binding §3.1.3.1): we keep its writer and rename the
// properties before publishing. Its receiver reads only "ce-" properties and so cannot read a
// conforming binary message; we subscribe with paho directly and read both spellings.
// sdk-go's Protocol also shares one PublishProperties value between concurrent sends; we
// publish through our own paho client.
var mqttTransport = Transport{
	Name:    "MQTT",
	Schemes: []Scheme{{"mqtt", "1883"}, {"mqtts", "8883"}},
	Form:    "mqtt(s)://[user:pass@]host[:1883|:8883]/topic[?qos=0|1|2&retain=true&client-id=ID&tls=true&ca=FILE]",
	Modes:   []binding.Mode{binding.Binary, binding.Structured},
	// Request/reply with a response topic and correlation data (MQTT 5.0 §4.10).
	ListenReply: true,
	open: func(tr *Transport, raw string, u *url.URL, opts Options) (Target, error) {
		return openMQTT(tr, raw, u, opts)
	},
	subscribe: subscribeMQTT,
}

var mqttKeys = []string{"qos", "retain", "client-id"}

type mqttTarget struct {
	base
	ep     endpoint
	topic  string
	qos    byte
	retain bool
	opts   Options
	conn   lazy[*paho.Client]
}

type mqttParams struct {
	ep     endpoint
	topic  string
	qos    byte
	retain bool
}

func parseMQTT(tr *Transport, raw string, u *url.URL) (mqttParams, error) {
	u = mqttTopicURL(raw, u)
	ep, err := parseEndpoint(raw, u, tr.defaultPort(u.Scheme), false, mqttKeys...)
	if err != nil {
		return mqttParams{}, err
	}
	ep.secure = ep.secure || u.Scheme == "mqtts"
	p := mqttParams{ep: ep, topic: ep.path, qos: 1}
	if p.topic == "" {
		return p, &UsageError{Err: fmt.Errorf("%q has no topic (want mqtt://host:1883/topic)", raw)}
	}
	if v := ep.q.Get("qos"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || n > 2 {
			return p, &UsageError{Err: fmt.Errorf("%q: qos=%q: want 0, 1 or 2", raw, v)}
		}
		p.qos = byte(n)
	}
	if v := ep.q.Get("retain"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return p, &UsageError{Err: fmt.Errorf("%q: retain=%q is not true or false", raw, v)}
		}
		p.retain = b
	}
	return p, nil
}

func openMQTT(tr *Transport, raw string, u *url.URL, opts Options) (*mqttTarget, error) {
	p, err := parseMQTT(tr, raw, u)
	if err != nil {
		return nil, err
	}
	if strings.ContainsAny(p.topic, "+#") {
		return nil, &UsageError{Err: fmt.Errorf("%q: cannot publish to the topic filter %q", raw, p.topic)}
	}
	if _, err := p.ep.tlsConfig(opts.Insecure); err != nil {
		return nil, err
	}
	t := &mqttTarget{base: base{tr, raw}, ep: p.ep, topic: p.topic, qos: p.qos, retain: p.retain, opts: opts}
	t.conn.open = func(ctx context.Context) (*paho.Client, error) {
		return mqttConnect(ctx, p.ep, opts.Timeout, opts.Insecure, paho.ClientConfig{}, 0, 0)
	}
	t.conn.close = func(c *paho.Client) { _ = c.Disconnect(&paho.Disconnect{}) }
	return t, nil
}

// mqttConnect dials the broker and sends CONNECT (MQTT 5), bounded by timeout. A receiveMax
// other than 0 is sent as the Receive Maximum property (MQTT 5.0 §3.1.2.11.3), a maxPacket
// other than 0 as the Maximum Packet Size (§3.1.2.11.4): the broker then discards larger
// packets instead of sending them.
func mqttConnect(ctx context.Context, ep endpoint, timeout time.Duration, insecure bool, cc paho.ClientConfig, receiveMax uint16, maxPacket uint32) (*paho.Client, error) {
	d := connectTimeout(timeout)
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	tc, err := ep.tlsConfig(insecure)
	if err != nil {
		return nil, err
	}
	var conn net.Conn
	if tc != nil {
		conn, err = (&tls.Dialer{NetDialer: &net.Dialer{}, Config: tc}).DialContext(ctx, "tcp", ep.hosts[0])
	} else {
		conn, err = (&net.Dialer{}).DialContext(ctx, "tcp", ep.hosts[0])
	}
	if err != nil {
		return nil, dialError("MQTT", ep.hosts, err)
	}
	id := ep.q.Get("client-id")
	if id == "" {
		b := make([]byte, 6)
		_, _ = rand.Read(b)
		id = "cectl-" + hex.EncodeToString(b)
	}
	cc.ClientID = id
	cc.Conn = newBufferedConn(conn)
	cc.PacketTimeout = d
	c := paho.NewClient(cc)
	cp := &paho.Connect{ClientID: id, KeepAlive: 30, CleanStart: true}
	if receiveMax > 0 || maxPacket > 0 {
		// RequestProblemInfo keeps the protocol's default (1, §3.1.2.11.7): paho sends a 0
		// for the zero value, and a broker may then strip the user properties, which carry a
		// binary-mode event's attributes, from every packet (mochi-mqtt does).
		cp.Properties = &paho.ConnectProperties{RequestProblemInfo: true}
		if receiveMax > 0 {
			cp.Properties.ReceiveMaximum = &receiveMax
		}
		if maxPacket > 0 {
			cp.Properties.MaximumPacketSize = &maxPacket
		}
	}
	if ui := ep.u.User; ui != nil {
		cp.Username, cp.UsernameFlag = ui.Username(), true
		if p, ok := ui.Password(); ok {
			cp.Password, cp.PasswordFlag = []byte(p), true
		}
	}
	ca, err := c.Connect(ctx, cp)
	if err != nil {
		conn.Close()
		if ca != nil && ca.ReasonCode >= 0x80 {
			return nil, fmt.Errorf("the MQTT broker at %s refused the connection: %s", ep.hosts[0], mqttReason(ca.ReasonCode))
		}
		return nil, dialError("MQTT", ep.hosts, err)
	}
	return c, nil
}

// bufferedConn is the connection paho gets: reads go through a buffer and the parts of a
// packet are written at once. paho reads a packet a few bytes at a time (the type, each byte
// of the length, the rest) and writes each part of a packet separately, since it wraps the
// connection in a type through which net.Buffers cannot use writev: several system calls per
// packet either way, the larger part of what a message cost the sender and the listener.
//
// paho holds the connection's lock (sync.Locker) around the parts of one packet, so packets
// never interleave; the writes are gathered in a buffer and written when the lock is let go.
// A packet that comes while another goroutine's write is on the wire is appended and written
// by that goroutine right after, so concurrent publishers share system calls. A failed write
// closes the connection, which paho sees as the connection lost: a QoS 1 or 2 publish then
// fails for want of its acknowledgement, as before; a QoS 0 publish, which nothing
// acknowledges, may be reported written although it was in the failed write.
type bufferedConn struct {
	net.Conn
	r      *bufio.Reader
	packet sync.Mutex // paho's lock around the parts of one packet
	held   atomic.Bool

	mu       sync.Mutex // guards what follows
	buf      []byte
	spare    []byte
	flushing bool
	idle     *sync.Cond // signalled when flushing ends
	err      error
}

func newBufferedConn(c net.Conn) *bufferedConn {
	b := &bufferedConn{Conn: c, r: bufio.NewReaderSize(c, 16<<10)}
	b.idle = sync.NewCond(&b.mu)
	return b
}

func (c *bufferedConn) Read(p []byte) (int, error) { return c.r.Read(p) }

// Lock and Unlock make bufferedConn the sync.Locker paho's packet writer looks for.
func (c *bufferedConn) Lock() {
	c.packet.Lock()
	c.held.Store(true)
}

func (c *bufferedConn) Unlock() {
	c.held.Store(false)
	c.packet.Unlock()
	c.flush()
}

func (c *bufferedConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	if err := c.err; err != nil {
		c.mu.Unlock()
		return 0, err
	}
	c.buf = append(c.buf, p...)
	c.mu.Unlock()
	if !c.held.Load() {
		// Not written under the packet lock: nobody's Unlock will flush it.
		c.flush()
	}
	return len(p), nil
}

// flush writes what is buffered, unless another goroutine is doing so already, in which case
// that one writes it too before it stops.
func (c *bufferedConn) flush() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.flushing {
		return
	}
	c.flushing = true
	for len(c.buf) > 0 && c.err == nil {
		out := c.buf
		c.buf = c.spare[:0]
		c.mu.Unlock()
		_, err := c.Conn.Write(out)
		c.mu.Lock()
		if cap(out) <= 64<<10 {
			c.spare = out[:0]
		} else {
			c.spare = nil
		}
		if err != nil {
			c.err = err
			c.Conn.Close()
		}
	}
	c.flushing = false
	c.idle.Broadcast()
}

// Close writes what is still buffered (a DISCONNECT, say) and closes the connection. A
// write that the peer does not take within two seconds is given up, so that Close never
// hangs on a broker that stopped reading.
func (c *bufferedConn) Close() error {
	_ = c.Conn.SetWriteDeadline(time.Now().Add(2 * time.Second))
	c.flush()
	c.mu.Lock()
	for c.flushing {
		c.idle.Wait()
	}
	c.mu.Unlock()
	c.flush()
	return c.Conn.Close()
}

// mqttReason names an MQTT 5 reason code (MQTT 5.0 §2.4).
func mqttReason(code byte) string {
	names := map[byte]string{
		0x00: "success", 0x10: "no matching subscribers", 0x80: "unspecified error",
		0x81: "malformed packet", 0x82: "protocol error", 0x83: "implementation specific error",
		0x84: "unsupported protocol version", 0x85: "client identifier not valid",
		0x86: "bad user name or password", 0x87: "not authorized", 0x88: "server unavailable",
		0x89: "server busy", 0x8A: "banned", 0x8F: "topic filter invalid",
		0x90: "topic name invalid", 0x91: "packet identifier in use", 0x95: "packet too large",
		0x97: "quota exceeded", 0x99: "payload format invalid", 0x9A: "retain not supported",
		0x9B: "QoS not supported", 0x9E: "shared subscriptions not supported",
	}
	if n, ok := names[code]; ok {
		return fmt.Sprintf("%s (0x%02X)", n, code)
	}
	return fmt.Sprintf("reason code 0x%02X", code)
}

func (t *mqttTarget) Close() error { t.conn.shutdown(); return nil }

// Send publishes the event. With QoS 1 or 2 it waits for the broker's answer: ACK for a
// success reason code, NACK for an error one. With QoS 0 ACK only means written.
func (t *mqttTarget) Send(ctx context.Context, mode binding.Mode, events ...*event.Event) Result {
	pub, err := t.publish(ctx, mode, events)
	if err != nil {
		return Result{Err: err}
	}
	return t.send(ctx, pub)
}

// Prepare encodes the event once for Send; copies are encoded one by one.
func (t *mqttTarget) Prepare(ctx context.Context, mode binding.Mode, proto *event.Event) (Sender, error) {
	pub, err := t.publish(ctx, mode, []*event.Event{proto})
	if err != nil {
		return nil, err
	}
	return &mqttSender{copies: copies{t: t, mode: mode, proto: proto}, pub: pub}, nil
}

type mqttSender struct {
	copies
	pub *paho.Publish
}

func (s *mqttSender) Send(ctx context.Context) Result { return s.t.(*mqttTarget).send(ctx, s.pub) }

// send publishes pub (binary mode needs MQTT 5, which is what cectl speaks: mqtt binding
// §1.3).
func (t *mqttTarget) send(ctx context.Context, pub *paho.Publish) Result {
	return t.opts.retry(ctx, func(ctx context.Context) Result {
		c, err := t.conn.get(ctx)
		if err != nil {
			return notDelivered(err)
		}
		p := *pub
		resp, err := c.Publish(ctx, &p)
		if resp != nil && resp.ReasonCode >= 0x80 {
			return nack("MQTT", fmt.Errorf("the broker refused the message: %s", mqttReason(resp.ReasonCode)))
		}
		if err != nil {
			if isDone(c.Done()) {
				t.conn.forget(c, func(a, b *paho.Client) bool { return a == b })
			}
			return afterSend(fmt.Errorf("publish to %s: %w", t.topic, err))
		}
		if pub.QoS == 0 {
			return ack("MQTT", "published (QoS 0)")
		}
		return ack("MQTT", fmt.Sprintf("PUB%s %s", map[byte]string{1: "ACK", 2: "COMP"}[pub.QoS], mqttReason(resp.ReasonCode)))
	}, brokerAgain)
}

// publish encodes the event with sdk-go's writer and gives the user properties the names the
// binding requires.
func (t *mqttTarget) publish(ctx context.Context, mode binding.Mode, events []*event.Event) (*paho.Publish, error) {
	e, err := oneEvent(t, mode, events)
	if err != nil {
		return nil, err
	}
	pub := &paho.Publish{Topic: t.topic, QoS: t.qos, Retain: t.retain}
	if err := encodeMQTT(ctx, mode, e, pub); err != nil {
		return nil, err
	}
	return pub, nil
}

// encodeMQTT writes the event into pub in a content mode.
func encodeMQTT(ctx context.Context, mode binding.Mode, e *event.Event, pub *paho.Publish) error {
	var msg sdkbinding.Message = sdkbinding.ToMessage(e)
	if mode == binding.Structured {
		msg = structuredMessage(ce.AppendJSON(make([]byte, 0, 512), e))
	}
	if err := cemqtt.WritePubMessage(quiet(ctx), msg, pub); err != nil {
		return err
	}
	if pub.Properties != nil {
		// mqtt binding §3.1.3.1: attribute names are used unchanged as property names.
		for i, up := range pub.Properties.User {
			pub.Properties.User[i].Key = strings.TrimPrefix(up.Key, "ce-")
		}
	}
	return nil
}

// mqttReceiveMaximum is how many QoS 1 and 2 messages the broker may send before the first of
// them is acknowledged (MQTT 5.0 §3.1.2.11.3). Without the property the protocol's default is
// 65535, but Mosquitto then keeps to its own max_inflight_messages (20) and queues the rest
// in a queue of max_queued_messages (1000), dropping QoS 1 messages beyond it: a listener
// that falls a second behind a fast sender would lose events. Asking for a wide window moves
// the backlog from the broker's queue into our socket, where nothing is dropped. Nothing is
// acknowledged earlier for it: each message is still acknowledged after it was handled, and
// with a clean session what is in flight when listen ends is what the broker would have
// discarded from its queue anyway.
const mqttReceiveMaximum = 65535

// mqttMaxPacket is the largest Maximum Packet Size MQTT 5 can say (§2.2.3: a packet's
// Remaining Length is at most 268,435,455 bytes).
const mqttMaxPacket = 268435455 + 5

// subscribeMQTT subscribes to a topic filter. Messages of QoS 1 and 2 are acknowledged after
// handle returned.
func subscribeMQTT(ctx context.Context, tr *Transport, raw string, u *url.URL, so SubscribeOptions, handle func(context.Context, Delivery) error) error {
	p, err := parseMQTT(tr, raw, u)
	if err != nil {
		return err
	}
	if err := checkTopicFilter(p.topic); err != nil {
		return &UsageError{Err: fmt.Errorf("%q: %w", raw, err)}
	}
	var (
		mu      sync.Mutex
		failure error
		failed  = make(chan struct{})
	)
	fail := func(err error) {
		mu.Lock()
		defer mu.Unlock()
		if failure == nil {
			failure = err
			close(failed)
		}
	}
	// handling is held while a message is handled, so that the subscription ends only after
	// the message in hand was handled, answered and acknowledged.
	var handling sync.Mutex
	stopped := false
	onPublish := func(pr paho.PublishReceived) (bool, error) {
		handling.Lock()
		defer handling.Unlock()
		if stopped || isDone(failed) || ctx.Err() != nil {
			return true, nil
		}
		d := mqttDelivery(pr.Packet, so.Undecoded)
		d.Reply = mqttReplier(pr.Client, pr.Packet)
		if _, err := deliver(ctx, handle, d); err != nil {
			fail(err)
			return true, nil
		}
		if pr.Packet.QoS > 0 {
			_ = pr.Client.Ack(pr.Packet)
		}
		return true, nil
	}
	c, err := mqttConnect(ctx, p.ep, so.Timeout, so.Insecure, paho.ClientConfig{
		OnPublishReceived:          []func(paho.PublishReceived) (bool, error){onPublish},
		EnableManualAcknowledgment: true,
	}, mqttReceiveMaximum, uint32(min(so.maxMessageSize(), mqttMaxPacket)))
	if err != nil {
		return err
	}
	defer c.Disconnect(&paho.Disconnect{})
	defer func() {
		handling.Lock()
		stopped = true
		handling.Unlock()
	}()
	sctx, cancel := context.WithTimeout(ctx, connectTimeout(so.Timeout))
	sa, err := c.Subscribe(sctx, &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: p.topic, QoS: p.qos}}})
	cancel()
	if err == nil && sa != nil && len(sa.Reasons) > 0 && sa.Reasons[0] >= 0x80 {
		err = fmt.Errorf("the broker refused the subscription: %s", mqttReason(sa.Reasons[0]))
	}
	if err != nil {
		return fmt.Errorf("subscribe to %s: %w", p.topic, err)
	}
	so.note("topic filter " + p.topic)
	so.ready()()
	select {
	case <-ctx.Done():
		return nil
	case <-failed:
		return failure
	case <-c.Done():
		if ctx.Err() != nil {
			return nil
		}
		return fmt.Errorf("the connection to the MQTT broker at %s was lost", p.ep.hosts[0])
	}
}

func mqttDelivery(p *paho.Publish, undecoded bool) Delivery {
	d := Delivery{Raw: p.Payload, Transport: "mqtt", describe: func() map[string]string { return mqttMeta(p) }}
	decodeInto(&d, undecoded, func(dc *decoder) (event.Event, binding.Mode, error) { return decodeMQTT(p, dc) })
	return d
}

func mqttMeta(p *paho.Publish) map[string]string {
	m := map[string]string{"topic": p.Topic, "qos": strconv.Itoa(int(p.QoS))}
	if p.Retain {
		m["retain"] = "true"
	}
	if p.Properties != nil {
		if p.Properties.ContentType != "" {
			m["content-type"] = p.Properties.ContentType
		}
		for _, up := range p.Properties.User {
			m["property:"+up.Key] = up.Value
		}
	}
	return m
}

// decodeMQTT tells the mode by the Content Type property (mqtt binding §3): a CloudEvents
// media type is structured, otherwise a specversion user property makes it binary. Property
// names are read as the binding has them and, failing that, with sdk-go's "ce-" prefix. A
// message with neither is read as structured JSON, as MQTT 3.1.1 senders send it (mqtt
// binding §3.2.1).
func decodeMQTT(p *paho.Publish, dc *decoder) (event.Event, binding.Mode, error) {
	var ct string
	var user paho.UserProperties
	if p.Properties != nil {
		ct, user = p.Properties.ContentType, p.Properties.User
	}
	if strings.HasPrefix(ce.MediaType(ct), "application/cloudevents") {
		if err := checkStructuredType(ct); err != nil {
			return event.Event{}, binding.Structured, err
		}
		e, err := dc.structured(p.Payload)
		return e, binding.Structured, err
	}
	prefix := ""
	sv := user.Get("specversion")
	if sv == "" {
		if sv = user.Get("ce-specversion"); sv != "" {
			prefix = "ce-"
		}
	}
	if sv == "" {
		if ct == "" {
			e, err := dc.structured(p.Payload)
			return e, binding.Structured, err
		}
		return event.Event{}, binding.Binary, errors.New("the message carries no CloudEvent (no specversion user property and not a structured content type)")
	}
	var attrs []binaryValue
	for _, up := range user {
		name, ok := strings.CutPrefix(up.Key, prefix)
		if !ok || name == "datacontenttype" && ct != "" {
			continue
		}
		if prefix == "" && !isAttributeName(name) {
			continue
		}
		attrs = append(attrs, binaryValue{name: name, value: up.Value})
	}
	e, err := dc.binary(sv, attrs, ct, p.Payload)
	return e, binding.Binary, err
}

// isAttributeName reports whether a user property can name a CloudEvents attribute
// (spec v1.0.2 §3.1.1: lower-case letters and digits). Other properties are the
// application's own and are left out of the event.
func isAttributeName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// mqttTopicURL reads a '#' in an MQTT URL as the multi-level wildcard of the topic (MQTT 5
// §4.7.1.2), not as the start of a URL fragment: "mqtt://host/shop/#" subscribes to
// "shop/#", not to "shop/". A query may follow it ("shop/#?qos=2").
func mqttTopicURL(raw string, u *url.URL) *url.URL {
	if !strings.Contains(raw, "#") {
		return u
	}
	if v, err := url.Parse(strings.ReplaceAll(raw, "#", "%23")); err == nil {
		return v
	}
	return u
}

// checkTopicFilter checks the wildcards of a topic filter (MQTT 5 §4.7.1): '#' only as the
// last level, '+' only as a whole level. A topic name without wildcards always passes.
func checkTopicFilter(topic string) error {
	levels := strings.Split(topic, "/")
	for i, l := range levels {
		switch {
		case strings.Contains(l, "#") && (l != "#" || i != len(levels)-1):
			return fmt.Errorf("topic filter %q: '#' must be a level of its own and the last one, as in shop/#", topic)
		case strings.Contains(l, "+") && l != "+":
			return fmt.Errorf("topic filter %q: '+' must be a level of its own, as in shop/+/orders", topic)
		}
	}
	return nil
}
