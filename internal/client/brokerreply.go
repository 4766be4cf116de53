package client

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"path"
	"strings"
	"time"

	"github.com/Azure/go-amqp"
	"github.com/cectl/cectl/internal/binding"
	"github.com/cectl/cectl/internal/ce"
	ceamqp "github.com/cloudevents/sdk-go/protocol/amqp/v2"
	sdkbinding "github.com/cloudevents/sdk-go/v2/binding"
	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/eclipse/paho.golang/paho"
)

// Request/reply over MQTT 5 and AMQP 1.0: the requester names where the answer goes and
// what it answers, the responder (listen --reply) sends the reply event there.
//
//   - MQTT 5: the request carries a Response Topic and Correlation Data; the reply is
//     published to that topic with the same Correlation Data (MQTT 5.0 §4.10). The requester
//     subscribes to a topic of its own, cectl/reply/<random>, before it publishes.
//   - AMQP 1.0: the request carries a message-id and a reply-to address; the reply is sent to
//     that address with the request's message-id as its correlation-id (amqp 1.0 §3.2.4).
//     The requester receives from an address of its own next to the request's
//     (orders → cectl-reply-<random>, /queue/orders → /queue/cectl-reply-<random>), which
//     brokers that create nodes on demand (RabbitMQ's /queue/…) route.

// replyID is a random name for one request's answer.
func replyID() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// requestTimeout bounds a request that has no deadline of its own.
func requestTimeout(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, connectTimeout(d))
}

// brokerRequest is Request over a broker: each attempt (--retries) is a request of its own
// (once), and the message that answers it is read with the strict decoder.
func brokerRequest[M any](ctx context.Context, opts *Options, tr *Transport, mode binding.Mode, e *event.Event,
	once func(context.Context, binding.Mode, *event.Event) (Result, *M), decode func(*M, *decoder) (event.Event, binding.Mode, error)) (Result, []event.Event, binding.Mode, error) {
	mode, err := tr.Mode(mode)
	if err != nil {
		return Result{Err: err}, nil, mode, nil
	}
	var reply *M
	res := opts.retry(ctx, func(actx context.Context) Result {
		var r Result
		r, reply = once(actx, mode, e)
		return r
	}, brokerAgain)
	if !res.ACK || reply == nil {
		return res, nil, mode, nil
	}
	ev, rmode, err := decode(reply, &decoder{})
	if err != nil {
		return res, nil, rmode, err
	}
	return res, []event.Event{ev}, rmode, nil
}

// Request publishes the event with a response topic and correlation data and waits for the
// reply on that topic; each attempt (--retries) is a request of its own.
func (t *mqttTarget) Request(ctx context.Context, mode binding.Mode, e *event.Event) (Result, []event.Event, binding.Mode, error) {
	return brokerRequest(ctx, &t.opts, t.tr, mode, e, t.requestOnce, decodeMQTT)
}

func (t *mqttTarget) requestOnce(ctx context.Context, mode binding.Mode, e *event.Event) (Result, *paho.Publish) {
	start := time.Now()
	ctx, cancel := requestTimeout(ctx, t.opts.Timeout)
	defer cancel()
	id := replyID()
	respTopic := "cectl/reply/" + id
	replies := make(chan *paho.Publish, 1)
	c, err := mqttConnect(ctx, t.ep, t.opts.Timeout, t.opts.Insecure, paho.ClientConfig{
		OnPublishReceived: []func(paho.PublishReceived) (bool, error){func(pr paho.PublishReceived) (bool, error) {
			p := pr.Packet
			if p.Topic == respTopic && p.Properties != nil && string(p.Properties.CorrelationData) == id {
				select {
				case replies <- p:
				default:
				}
			}
			return true, nil
		}},
	}, 0, 0)
	if err != nil {
		return notDelivered(err), nil
	}
	defer c.Disconnect(&paho.Disconnect{})
	sa, err := c.Subscribe(ctx, &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: respTopic, QoS: 1}}})
	if err == nil && sa != nil && len(sa.Reasons) > 0 && sa.Reasons[0] >= 0x80 {
		err = fmt.Errorf("the broker refused the subscription: %s", mqttReason(sa.Reasons[0]))
	}
	if err != nil {
		return notDelivered(fmt.Errorf("subscribe to the response topic %s: %w", respTopic, err)), nil
	}
	pub := &paho.Publish{Topic: t.topic, QoS: t.qos}
	if err := encodeMQTT(ctx, mode, e, pub); err != nil {
		return Result{Err: err}, nil
	}
	if pub.Properties == nil {
		pub.Properties = &paho.PublishProperties{}
	}
	pub.Properties.ResponseTopic = respTopic
	pub.Properties.CorrelationData = []byte(id)
	resp, err := c.Publish(ctx, pub)
	if resp != nil && resp.ReasonCode >= 0x80 {
		return nack("MQTT", fmt.Errorf("the broker refused the request: %s", mqttReason(resp.ReasonCode))), nil
	}
	if err != nil {
		return afterSend(fmt.Errorf("publish to %s: %w", t.topic, err)), nil
	}
	select {
	case p := <-replies:
		return ack("MQTT", "reply received"), p
	case <-ctx.Done():
		return noResponse(fmt.Errorf("no reply on %s within %s (is a responder such as listen --reply subscribed to %s?)",
			respTopic, time.Since(start).Round(time.Millisecond), t.topic)), nil
	}
}

// mqttReplier answers a message that names a response topic (MQTT 5.0 §4.10); nil for one
// that names none.
func mqttReplier(c *paho.Client, req *paho.Publish) func(context.Context, *event.Event, binding.Mode) error {
	if req.Properties == nil || req.Properties.ResponseTopic == "" {
		return nil
	}
	topic, corr := req.Properties.ResponseTopic, req.Properties.CorrelationData
	qos := min(req.QoS, 1)
	return func(ctx context.Context, e *event.Event, mode binding.Mode) error {
		pub := &paho.Publish{Topic: topic, QoS: qos}
		if err := encodeMQTT(ctx, mode, e, pub); err != nil {
			return err
		}
		if pub.Properties == nil {
			pub.Properties = &paho.PublishProperties{}
		}
		pub.Properties.CorrelationData = corr
		// The answer to a message in hand goes out even when listen is stopping.
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		resp, err := c.Publish(ctx, pub)
		if resp != nil && resp.ReasonCode >= 0x80 {
			return fmt.Errorf("reply to %s: the broker refused it: %s", topic, mqttReason(resp.ReasonCode))
		}
		if err != nil {
			return fmt.Errorf("reply to %s: %w", topic, err)
		}
		return nil
	}
}

// amqpReplyReceiver opens the link the requester receives its reply on, and says the
// address to name as reply-to. It asks for a dynamic node first (amqp 1.0 §3.5.3): the broker
// names it and deletes it when the link goes, so each request leaves nothing behind. A broker
// that offers none (RabbitMQ 3's plugin ends the session: "Dynamic sources not supported")
// gets the named address next to the request's (amqpReplyAddress), on a new session; such a
// node outlives the request. The session to send the request on is returned too.
func amqpReplyReceiver(c *amqp.Client, s *amqp.Session, target, id string) (*amqp.Receiver, *amqp.Session, string, error) {
	r, err := s.NewReceiver(amqp.LinkAddressDynamic(), amqp.LinkCredit(1))
	if err == nil && r.Address() != "" {
		return r, s, r.Address(), nil
	}
	if s, err = c.NewSession(); err != nil {
		return nil, nil, "", err
	}
	addr := amqpReplyAddress(target, id)
	r, err = s.NewReceiver(amqp.LinkSourceAddress(addr), amqp.LinkCredit(1))
	if err != nil {
		return nil, nil, "", fmt.Errorf("open a link from the reply address %s: %w", addr, err)
	}
	return r, s, addr, nil
}

// amqpReplyAddress is the requester's own address, next to the request's, for a broker
// that offers no dynamic node.
func amqpReplyAddress(addr, id string) string {
	name := "cectl-reply-" + id
	if dir := path.Dir(addr); strings.HasPrefix(addr, "/") && dir != "/" {
		return dir + "/" + name
	}
	return name
}

// Request sends the event with a message-id and a reply-to address and waits for the message
// that answers it (correlation-id = message-id) at that address; each attempt (--retries) is
// a request of its own.
func (t *amqpTarget) Request(ctx context.Context, mode binding.Mode, e *event.Event) (Result, []event.Event, binding.Mode, error) {
	return brokerRequest(ctx, &t.opts, t.tr, mode, e, t.requestOnce, decodeAMQP)
}

func (t *amqpTarget) requestOnce(ctx context.Context, mode binding.Mode, e *event.Event) (Result, *amqp.Message) {
	start := time.Now()
	ctx, cancel := requestTimeout(ctx, t.opts.Timeout)
	defer cancel()
	c, s, err := amqpDial(ctx, t.ep, t.opts.Timeout, t.opts.Insecure)
	if err != nil {
		return notDelivered(err), nil
	}
	defer c.Close()
	id := replyID()
	r, s, replyTo, err := amqpReplyReceiver(c, s, t.address, id)
	if err != nil {
		return notDelivered(err), nil
	}
	snd, err := s.NewSender(amqp.LinkTargetAddress(t.address))
	if err != nil {
		return notDelivered(fmt.Errorf("open a link to %s: %w", t.address, err)), nil
	}
	msg, err := amqpEventMessage(ctx, mode, e)
	if err != nil {
		return Result{Err: err}, nil
	}
	msg.Properties.MessageID = id
	msg.Properties.ReplyTo = &replyTo
	if err := snd.Send(ctx, msg); err != nil {
		var ae *amqp.Error
		if errors.As(err, &ae) {
			return nack("AMQP", fmt.Errorf("%s rejected the request: %w", t.address, err)), nil
		}
		return afterSend(fmt.Errorf("send to %s: %w", t.address, err)), nil
	}
	for {
		m, err := r.Receive(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return noResponse(fmt.Errorf("no reply at %s within %s (is a responder such as listen --reply receiving from %s?)",
					replyTo, time.Since(start).Round(time.Millisecond), t.address)), nil
			}
			return notDelivered(err), nil
		}
		_ = r.AcceptMessage(ctx, m)
		if m.Properties != nil && fmt.Sprint(m.Properties.CorrelationID) == id {
			return ack("AMQP", "reply received"), m
		}
		// Not the answer to this request.
	}
}

// amqpEventMessage writes the event into an AMQP message in a content mode (amqp binding §3).
func amqpEventMessage(ctx context.Context, mode binding.Mode, e *event.Event) (*amqp.Message, error) {
	var msg sdkbinding.Message = sdkbinding.ToMessage(e)
	if mode == binding.Structured {
		msg = structuredMessage(ce.AppendJSON(make([]byte, 0, 512), e))
	}
	var am amqp.Message
	if err := ceamqp.WriteMessage(quiet(ctx), msg, &am); err != nil {
		return nil, err
	}
	if am.Properties == nil {
		am.Properties = &amqp.MessageProperties{}
	}
	return &am, nil
}

// amqpReplier answers a message that names a reply-to address, with its message-id as the
// correlation-id (amqp 1.0 §3.2.4); nil for one that names none.
func amqpReplier(s *amqp.Session, req *amqp.Message) func(context.Context, *event.Event, binding.Mode) error {
	if req.Properties == nil || req.Properties.ReplyTo == nil || *req.Properties.ReplyTo == "" {
		return nil
	}
	to, corr := *req.Properties.ReplyTo, req.Properties.MessageID
	return func(ctx context.Context, e *event.Event, mode binding.Mode) error {
		// The answer to a message in hand goes out even when listen is stopping.
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		msg, err := amqpEventMessage(ctx, mode, e)
		if err != nil {
			return err
		}
		msg.Properties.CorrelationID = corr
		msg.Properties.To = &to
		snd, err := s.NewSender(amqp.LinkTargetAddress(to))
		if err != nil {
			return fmt.Errorf("reply to %s: %w", to, err)
		}
		// The link is closed apart: RabbitMQ 3 does not answer a detach, and waiting for it
		// would hold the next message for the whole timeout.
		defer func() {
			go func() {
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				_ = snd.Close(ctx)
			}()
		}()
		if err := snd.Send(ctx, msg); err != nil {
			return fmt.Errorf("reply to %s: %w", to, err)
		}
		return nil
	}
}
