package listen

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/cectl/cectl/internal/binding"
	"github.com/cectl/cectl/internal/ce"
	"github.com/cectl/cectl/internal/client"
)

// ErrStopped is returned by Deliver for a message that came after --count was reached or
// listen began to stop: the message is not acknowledged, so the broker keeps it.
var ErrStopped = errors.New("listener is stopping")

// Deliver is the broker adapter of the pipeline: it takes one message received from a broker
// (listen --from) through the same stages as an HTTP request — strict validation, filter,
// dedupe, record, count, show — so that every transport behaves alike. A structured message
// is checked as the bytes that came (client.SubscribeOptions.Undecoded spares decoding them
// before); a binary one as its attributes in the string form they travelled in, laid out as a
// JSON event. A message that is no CloudEvent is shown as rejected, with the reason, and
// Deliver returns a *client.Rejected for it. The transport's metadata (subject, topic,
// partition, offset …) stands where an HTTP request shows its sender.
//
// Deliver returns nil only once the events are shown and recorded: the caller acknowledges
// the message then. ErrStopped means listen takes no more messages; any other error means
// the message must not be acknowledged.
func (h *Handler) Deliver(ctx context.Context, d client.Delivery) error {
	if !h.Taking() {
		return ErrStopped
	}
	x := h.getExchange()
	defer h.putExchange(x)
	x.rep = Report{Received: h.cfg.Now(), Method: MethodReceive, Proto: protoName(d.Transport)}
	x.msg = message{delivery: d, fromBroker: true}
	switch {
	case d.Err != nil:
		h.reject(x, http.StatusBadRequest, "not a CloudEvent: "+d.Err.Error())
	case int64(len(d.Raw)) > h.cfg.MaxBody:
		// --max-body holds for every transport; the broker was asked not to send such a
		// message (client.SubscribeOptions.MaxMessage) where its protocol can say so.
		h.reject(x, http.StatusRequestEntityTooLarge, fmt.Sprintf("the message's payload is %d bytes; listen takes at most %d (--max-body)", len(d.Raw), h.cfg.MaxBody))
	default:
		if h.cfg.ShowHeaders {
			x.rep.Target, x.rep.Header = describeDelivery(d)
		}
		h.run(ctx, x)
	}
	err := sendBrokerReply(ctx, d, &x.verdict)
	h.observe(x, "", nil)
	if err != nil {
		return err
	}
	return settle(&x.verdict)
}

// settle turns a verdict into what settles a broker message: nil acknowledges it, a
// *client.Rejected settles it as no CloudEvent, ErrStopped and other errors leave it to the
// broker to deliver again.
func settle(v *Verdict) error {
	switch v.Outcome {
	case Accepted:
		return nil
	case Rejected:
		return &client.Rejected{Reason: v.Reason}
	case Stopped:
		return ErrStopped
	}
	return fmt.Errorf("the message was not taken: %d %s", v.Status, http.StatusText(v.Status))
}

// protoName is what a report shows as the protocol: the transport's name in upper case.
func protoName(transport string) string {
	switch transport {
	case "nats":
		return "NATS"
	case "jetstream":
		return "JETSTREAM"
	case "kafka":
		return "KAFKA"
	case "mqtt":
		return "MQTT"
	case "amqp":
		return "AMQP"
	case "":
		return "BROKER"
	}
	return strings.ToUpper(transport)
}

// decodeBrokerStructured checks and decodes a structured message's JSON event with the strict
// decoder. The transport's content type was checked by the subscriber (client.Delivery.Err).
func (h *Handler) decodeBrokerStructured(d client.Delivery, dec *decoded) *problem {
	bd := h.validator()
	defer h.validators.Put(bd)
	out := dec.lend()
	p := bd.DecodeStructured(d.Raw, &out)
	return dec.take(&out, p)
}

// decodeBrokerBinary checks a binary-mode event as the ce- headers of an HTTP request are
// checked (binding.Decoder.DecodeBinary): its attributes, in the form they travelled in
// (Delivery.Attrs, or those of the event the subscriber decoded), are laid out as a JSON
// event for the validator with the binding's one typing rule, and the event is built from
// them, so that the rules, the messages and the typed extensions are the same as over HTTP.
func (h *Handler) decodeBrokerBinary(d *client.Delivery, dec *decoded) *problem {
	attrs, ct, data := d.Attrs, d.ContentType, d.Raw
	if attrs == nil {
		var small [16]binding.Attr
		e := &d.Event
		attrs, ct, data = binding.AppendEventAttrs(small[:0], e), "", e.DataEncoded
		if ce.IsBase64(e) && e.DataContentType() == "" {
			// Raw bytes without a content type: say so, rather than let them pass for JSON.
			ct = "application/octet-stream"
		}
	}
	bd := h.validator()
	defer h.validators.Put(bd)
	out := dec.lend()
	p := bd.DecodeBinary(attrs, ct, data, &out)
	return dec.take(&out, p)
}

// describeDelivery says where the message came from and turns the transport's headers into
// a header map, for -v and for rejections. The names stay as they came (ce_id, not Ce_id).
// A binary message's attributes are among them; the event shown below says the rest.
func describeDelivery(d client.Delivery) (where string, header http.Header) {
	header = http.Header{}
	var parts []string
	meta := d.Metadata()
	keys := make([]string, 0, len(meta))
	for k := range meta {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		v := meta[k]
		switch {
		case strings.HasPrefix(k, "header:"), strings.HasPrefix(k, "property:"):
			_, name, _ := strings.Cut(k, ":")
			header[name] = append(header[name], v)
		default:
			parts = append(parts, k+"="+v)
		}
	}
	return strings.Join(parts, " "), header
}

// brokerRefusal fills in what a report of a refused broker message shows in place of an HTTP
// status: what the transport does with the message, and the start of its payload, so that
// a message that is no CloudEvent at all can be recognised.
func brokerRefusal(rep *Report, d *client.Delivery) {
	rep.Settled = d.Refusal()
	rep.PayloadSize = len(d.Raw)
	rep.Payload = append(rep.Payload[:0], d.Raw[:min(len(d.Raw), PreviewSize)]...)
}
