package listen

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"

	"github.com/cectl/cectl/internal/client"
)

// ErrStopped is returned by Deliver for a message that came after --count was reached or
// listen began to stop: the message is not acknowledged, so the broker keeps it.
var ErrStopped = errors.New("listener is stopping")

// Deliver takes one message received from a broker (listen --from) through the same checks
// and steps as an HTTP request — strict validation, filter, dedupe, record, count, show — so
// that every transport behaves alike. A structured message is checked as the bytes that
// came; a binary one as its attributes laid out in ce- headers. A message that is no
// CloudEvent is shown as rejected, with the reason. The transport's metadata (subject,
// topic, partition, offset …) stands where an HTTP request shows its sender.
func (h *Handler) Deliver(ctx context.Context, d client.Delivery) error {
	if h.isStopping() || h.countDone() {
		return ErrStopped
	}
	proto, where, header := describeDelivery(d)
	if d.Err != nil {
		rep := &Report{Received: h.cfg.Now(), Method: "RECEIVE", Target: where, Proto: proto, Remote: proto, Header: header}
		h.reject(httptest.NewRecorder(), rep, http.StatusBadRequest, "not a CloudEvent: "+d.Err.Error())
		return nil
	}
	var msg client.Message
	if d.Mode == client.Structured && d.Raw != nil {
		msg = client.Message{Header: http.Header{"Content-Type": {client.ContentTypeStructured}}, Body: d.Raw}
	} else {
		var err error
		if msg, err = client.Encode(client.Binary, &d.Event); err != nil {
			rep := &Report{Received: h.cfg.Now(), Method: "RECEIVE", Target: where, Proto: proto, Remote: proto, Header: header}
			h.reject(httptest.NewRecorder(), rep, http.StatusBadRequest, err.Error())
			return nil
		}
	}
	// The report shows the transport's own headers and the event's; decoding reads only the
	// event's, so a stray transport header cannot add an attribute.
	for k, v := range msg.Header {
		header[k] = v
	}
	x := h.getExchange()
	defer h.putExchange(x)
	rep := &x.rep
	*rep = Report{Received: h.cfg.Now(), Method: "RECEIVE", Target: where, Proto: proto, Remote: proto, Header: header}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, h.cfg.Path, nil)
	if err != nil {
		return err
	}
	req.Header = msg.Header
	w := httptest.NewRecorder()
	d2 := decoded{events: x.events[:0], warnings: x.warnings[:0]}
	if p := h.decode(msg.Header, msg.Body, &d2); p != nil {
		rep.Mode = d2.mode
		h.reject(w, rep, p.status, p.reason)
		return nil
	}
	rep.Events = x.arrivals[:0]
	h.handleEvents(w, req, rep, d2, msg.Body)
	if w.Code == http.StatusServiceUnavailable && (h.isStopping() || h.countDone()) {
		return ErrStopped
	}
	return nil
}

// describeDelivery names the transport, says where the message came from, and turns the
// transport's headers into a header map for -v.
func describeDelivery(d client.Delivery) (proto, where string, header http.Header) {
	header = http.Header{}
	proto = strings.ToUpper(d.Meta["transport"])
	if proto == "" {
		proto = "BROKER"
	}
	var parts []string
	keys := make([]string, 0, len(d.Meta))
	for k := range d.Meta {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v := d.Meta[k]
		switch {
		case k == "transport":
		case strings.HasPrefix(k, "header:"), strings.HasPrefix(k, "property:"):
			_, name, _ := strings.Cut(k, ":")
			header.Add(name, v)
		default:
			parts = append(parts, k+"="+v)
		}
	}
	return proto, strings.Join(parts, " "), header
}
