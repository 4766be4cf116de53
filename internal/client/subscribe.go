package client

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/cectl/cectl/internal/binding"
	"github.com/cectl/cectl/internal/validate"
	"github.com/cloudevents/sdk-go/v2/event"
)

// Delivery is one message taken from a broker.
type Delivery struct {
	// Event is the decoded event; zero when Err is set, or when SubscribeOptions.Undecoded
	// left the message to the handler.
	Event event.Event
	// Mode is the content mode the message arrived in.
	Mode binding.Mode
	// Raw is the message payload: the JSON event in structured mode, the data in binary mode.
	Raw []byte
	// Transport names the transport the message came by: "nats", "jetstream", "kafka",
	// "mqtt" or "amqp".
	Transport string
	// Meta describes the message as the transport carried it, for display: "subject",
	// "reply", "stream", "seq", "topic", "partition", "offset", "key", "timestamp", "qos",
	// "address", "content-type", and "header:<name>" / "property:<name>" for each header,
	// user or application property. Subscribe leaves it to Metadata to build: most messages
	// are never described (-v and rejections show it), and building it for each cost the
	// listener a tenth of its CPU.
	Meta map[string]string
	// describe builds Meta from the message.
	describe func() map[string]string
	// Attrs and ContentType are a binary message's attributes as it carried them (strings,
	// or AMQP's native values with their type), when SubscribeOptions.Undecoded left the
	// message undecoded; nil otherwise. ContentType is the transport's content type, the
	// datacontenttype; a datacontenttype among Attrs counts only where the transport has
	// none (binding.Decoder.DecodeBinary).
	Attrs       []binding.Attr
	ContentType string
	// Err says why the message is not a CloudEvent the binding allows. Such a message is
	// still handed over so that it can be shown as rejected; afterwards it is settled so that
	// it does not come back (JetStream: terminated, AMQP: rejected where the broker has
	// receiver settle mode second, others: acknowledged).
	Err error
	// Reply, when not nil, answers the message with an event in a content mode (request/
	// reply: a NATS reply subject, an MQTT 5 response topic, an AMQP reply-to address). A
	// transport whose binding has one mode only uses that one.
	Reply func(ctx context.Context, e *event.Event, mode binding.Mode) error
	// refusal overrides Refusal where the subscriber knows better (AMQP's settle mode).
	refusal string
}

// Refusal says, in the transport's own terms, what becomes of this message when it is
// refused as no CloudEvent (Delivery.Err, or a *Rejected from the handler): brokers have no
// HTTP status, and whether the message comes again is what matters.
func (d *Delivery) Refusal() string {
	if d.refusal != "" {
		return d.refusal
	}
	switch d.Transport {
	case "nats":
		return "dropped (core NATS has no acknowledgement)"
	case "jetstream":
		return "terminated (AckTerm): the stream will not deliver it again"
	case "kafka":
		return "skipped: the consumer moves past its offset"
	case "mqtt":
		if d.Metadata()["qos"] == "0" {
			return "dropped (QoS 0 has no acknowledgement)"
		}
		return "acknowledged so that the broker does not deliver it again"
	case "amqp":
		return "rejected (amqp:decode-error)"
	}
	return "not taken"
}

// Metadata returns Meta, building it on the first call.
func (d *Delivery) Metadata() map[string]string {
	if d.Meta == nil && d.describe != nil {
		d.Meta = d.describe()
	}
	return d.Meta
}

// SubscribeOptions configure Subscribe. Transport options also come from the URL's query;
// a non-empty field here overrides the query.
type SubscribeOptions struct {
	// Timeout bounds connecting and subscribing; zero means 10 s.
	Timeout time.Duration
	// Insecure skips TLS certificate verification.
	Insecure bool
	// Group is the Kafka consumer group (?group=), or the NATS queue group (?queue=).
	Group string
	// Durable is the JetStream durable consumer name (?durable=).
	Durable string
	// Start is where a new subscription starts (?start=): JetStream new, all, last, seq:N or
	// time:RFC3339 (default new); Kafka newest or oldest (default newest).
	Start string
	// Ready, when not nil, is called once the subscription is in place: events published
	// after it returns are received.
	Ready func()
	// Note, when not nil, is told what a subscription found out or chose, for the banner
	// ("topic filter shop/#", "resuming durable consumer audit"); it is called before Ready.
	Note func(string)
	// Undecoded hands messages over as they came, for a caller that checks and decodes them
	// itself (listen's strict validator), which would otherwise decode every message twice:
	// a structured message's JSON event is in Raw, a binary message's attributes in Attrs
	// and ContentType and its data in Raw, and Event stays zero. A structured message in an
	// event format other than JSON still has Err set. Otherwise messages are decoded by the
	// strict decoder (binding.Decoder): what listen would refuse comes with Err set.
	Undecoded bool
	// UntilEnd reads what the stream (JetStream: up to its last sequence) or the topic
	// (Kafka: up to each partition's high watermark) holds at the start, and then returns
	// nil, like kcat -e. Without Start it starts at the beginning (all, oldest). Other
	// transports refuse it with a *UsageError.
	UntilEnd bool
	// More, when not nil, is asked before an AMQP message is taken: false ends the
	// subscription, so that a handler that takes no more messages (its count reached) leaves
	// the rest on the broker, also where taking a message accepts it (a broker that has no
	// receiver settle mode second, such as RabbitMQ 3).
	More func() bool
	// MaxMessage, when positive, is the largest payload the caller takes (listen's
	// --max-body). Where the protocol lets the receiver say so, the broker is asked not to
	// send larger messages (maxMessageSize); a larger one that comes all the same is the
	// caller's to refuse.
	MaxMessage int64
}

// messageHeadroom is what a message may hold besides its payload: the attributes in its
// headers or properties, its topic or address (as much as an HTTP request's headers).
const messageHeadroom = 64 << 10

// maxMessageSize is the message size to ask a broker for: the payload limit plus room for
// the rest of the message; 0 for none.
func (so *SubscribeOptions) maxMessageSize() uint64 {
	if so.MaxMessage <= 0 {
		return 0
	}
	return uint64(so.MaxMessage) + messageHeadroom
}

// decoder decodes a message's content for its Delivery with the strict decoder
// (binding.Decoder), or, undecoded (SubscribeOptions.Undecoded), keeps a binary message's
// attributes for the Delivery.
type decoder struct {
	undecoded   bool
	strict      *binding.Decoder
	attrs       []binding.Attr
	contentType string
}

func (dc *decoder) decoder() *binding.Decoder {
	if dc.strict == nil {
		dc.strict = binding.NewDecoder(validate.Options{})
	}
	return dc.strict
}

// one returns the event of a message the strict decoder read, or its refusal.
func one(out *binding.Decoded, p *binding.Problem) (event.Event, error) {
	if p != nil {
		return event.Event{}, p
	}
	if len(out.Events) != 1 {
		return event.Event{}, fmt.Errorf("the message carries %d events, not one", len(out.Events))
	}
	return out.Events[0], nil
}

// structured decodes a JSON event, unless undecoded.
func (dc *decoder) structured(b []byte) (event.Event, error) {
	if dc.undecoded {
		return event.Event{}, nil
	}
	var out binding.Decoded
	p := dc.decoder().DecodeStructured(b, &out)
	return one(&out, p)
}

// binary decodes a binary-mode message from its attributes, unless undecoded: then they are
// kept for the Delivery.
func (dc *decoder) binary(specversion string, attrs []binaryValue, contentType string, data []byte) (event.Event, error) {
	in, err := binaryAttrs(specversion, attrs)
	if err != nil {
		return event.Event{}, err
	}
	if dc.undecoded {
		dc.attrs, dc.contentType = in, contentType
		return event.Event{}, nil
	}
	var out binding.Decoded
	p := dc.decoder().DecodeBinary(in, contentType, data, &out)
	return one(&out, p)
}

// decodeInto decodes a message into d with decode, under recover: a message off the network
// must not be able to crash the receiver.
func decodeInto(d *Delivery, undecoded bool, decode func(*decoder) (event.Event, binding.Mode, error)) {
	dc := decoder{undecoded: undecoded}
	d.Event, d.Mode, d.Err = safeDecode(func() (event.Event, binding.Mode, error) { return decode(&dc) })
	if d.Err == nil {
		d.Attrs, d.ContentType = dc.attrs, dc.contentType
	}
}

// Rejected is what a handler returns for a message it refuses as no valid CloudEvent,
// typically one that Subscribe handed over undecoded: Subscribe settles it as it settles a
// message whose Delivery.Err is set, and goes on receiving.
type Rejected struct{ Reason string }

func (r *Rejected) Error() string { return r.Reason }

// deliver hands d to handle and says how the message is to be settled: refuse is why it is
// no CloudEvent (Delivery.Err, or a *Rejected from handle), nil to acknowledge it; err is
// any other error of handle, which ends the subscription and leaves the message unsettled.
func deliver(ctx context.Context, handle func(context.Context, Delivery) error, d Delivery) (refuse, err error) {
	err = handle(ctx, d)
	var rj *Rejected
	switch {
	case errors.As(err, &rj):
		return rj, nil
	case err != nil:
		return nil, err
	}
	return d.Err, nil
}

// note passes a line for the banner to SubscribeOptions.Note.
func (so SubscribeOptions) note(line string) {
	if so.Note != nil {
		so.Note(line)
	}
}

func (so SubscribeOptions) ready() func() {
	var once sync.Once
	return func() {
		if so.Ready != nil {
			once.Do(so.Ready)
		}
	}
}

// safeDecode runs a decoder under recover: a message off the network must not be able to
// crash the receiver.
func safeDecode(decode func() (event.Event, binding.Mode, error)) (e event.Event, m binding.Mode, err error) {
	defer func() {
		if r := recover(); r != nil {
			e, err = event.Event{}, fmt.Errorf("the message could not be decoded: %v", r)
		}
	}()
	e, m, err = decode()
	if err != nil {
		e = event.Event{}
	}
	return e, m, err
}
