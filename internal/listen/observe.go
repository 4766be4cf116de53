package listen

import (
	"net/http"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
)

// Observer is told about every message once listen has answered it: events taken, events
// refused, and requests rejected before any event was read. listen --ui keeps them as its
// history. Observe is called concurrently, after the answer was written; it must not keep
// anything of the Exchange but copies, and must return quickly: the sender's next message on
// the same connection waits for it.
type Observer interface {
	Observe(*Exchange)
}

// Exchange is one message and what listen made of it. It and everything it points to are
// valid only during Observe: the buffers are reused for the next message.
type Exchange struct {
	// Report is the message as listen saw it: when, from where, the wire headers or broker
	// properties (Header, Target), the status and reason of the answer.
	Report *Report
	// Events are all the events the message carried, selected by the filter or not (Selected
	// says which, by index); nil when it was rejected.
	Events []event.Event
	// Selected are the events the filter selected, with their warnings and duplicate marks.
	Selected []Arrival
	// Host is the HTTP request's Host (not among its headers); empty for a broker message.
	Host string
	// Body is the request body or the broker message's payload, as it came.
	Body []byte
	// Verdict is what listen decided; Answer the headers of the HTTP answer (nil for a
	// broker message).
	Verdict *Verdict
	Answer  http.Header
	// Took is the time from arrival to the answer.
	Took time.Duration
}

// observe hands the exchange x to the observer, if there is one.
func (h *Handler) observe(x *exchange, host string, answer http.Header) {
	o := h.cfg.Observer
	if o == nil {
		return
	}
	events := x.dec.events
	if x.rep.Kind == KindRejected {
		events = nil
	}
	body := x.msg.body
	if x.msg.fromBroker {
		body = x.msg.delivery.Raw
		if x.rep.Header == nil {
			x.rep.Target, x.rep.Header = describeDelivery(x.msg.delivery)
		}
	}
	o.Observe(&Exchange{
		Report:   &x.rep,
		Events:   events,
		Selected: x.rep.Events,
		Host:     host,
		Body:     body,
		Verdict:  &x.verdict,
		Answer:   answer,
		Took:     h.cfg.Now().Sub(x.rep.Received),
	})
}
