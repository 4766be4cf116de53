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

// Deliver takes one message received from a broker (listen --from) through the same checks
// and steps as an HTTP request — strict validation, filter, dedupe, record, count, show — so
// that every transport behaves alike. A structured message is checked as the bytes that
// came (client.SubscribeOptions.Undecoded spares decoding them before); a binary one as its
// attributes in the string form they travelled in, laid out as a JSON event. A message that
// is no CloudEvent is shown as rejected, with the reason, and Deliver returns a
// *client.Rejected for it. The transport's metadata (subject, topic, partition, offset …)
// stands where an HTTP request shows its sender.
//
// Deliver returns nil only once the events are shown and recorded: the caller acknowledges
// the message then. Any other error but *client.Rejected means the message must not be
// acknowledged.
func (h *Handler) Deliver(ctx context.Context, d client.Delivery) error {
	if h.isStopping() || h.countDone() {
		return ErrStopped
	}
	x := h.getExchange()
	defer h.putExchange(x)
	rep := &x.rep
	*rep = Report{Received: h.cfg.Now(), Method: MethodReceive}
	rep.Proto = protoName(d.Transport)
	w := &x.answer
	w.reset()
	if d.Err != nil {
		return h.refuse(w, rep, d, http.StatusBadRequest, "not a CloudEvent: "+d.Err.Error())
	}
	dec := decoded{events: x.events[:0], warnings: x.warnings[:0]}
	var p *problem
	if d.Mode == binding.Structured && d.Raw != nil {
		p = h.decodeBrokerStructured(d, &dec)
	} else {
		p = h.decodeBrokerBinary(&d, &dec)
	}
	if p != nil {
		rep.Mode = dec.mode
		return h.refuse(w, rep, d, p.status, p.reason)
	}
	if h.cfg.ShowHeaders {
		rep.Target, rep.Header = describeDelivery(d)
	}
	rep.Events = x.arrivals[:0]
	h.handleEvents(ctx, w, nil, rep, dec, d.Raw)
	switch {
	case is2xx(w.code):
		return nil
	case w.code == http.StatusServiceUnavailable && (h.isStopping() || h.countDone()):
		return ErrStopped
	}
	// The events were not taken (the record could not be written): the broker must keep
	// the message.
	return fmt.Errorf("the message was not taken: %d %s", w.code, http.StatusText(w.code))
}

// Taking reports whether Deliver still takes messages: false once --count was reached or
// listen began to stop (client.SubscribeOptions.More).
func (h *Handler) Taking() bool { return !h.isStopping() && !h.countDone() }

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

// refuse shows a message as rejected and returns the *client.Rejected that settles it.
func (h *Handler) refuse(w http.ResponseWriter, rep *Report, d client.Delivery, status int, reason string) error {
	rep.Target, rep.Header = describeDelivery(d)
	h.reject(w, rep, status, reason)
	return &client.Rejected{Reason: reason}
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

// answer takes what the handler's steps write back for a broker message, where only the
// status counts. It is kept with the exchange, so a message costs no response recorder.
type answer struct {
	header http.Header
	code   int
}

func (a *answer) reset() {
	if a.header == nil {
		a.header = make(http.Header, 4)
	}
	clear(a.header)
	a.code = 0
}

func (a *answer) Header() http.Header { return a.header }

func (a *answer) Write(p []byte) (int, error) {
	if a.code == 0 {
		a.code = http.StatusOK
	}
	return len(p), nil
}

func (a *answer) WriteHeader(code int) {
	if a.code == 0 {
		a.code = code
	}
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

var _ http.ResponseWriter = (*answer)(nil)
