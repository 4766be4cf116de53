package listen

import (
	"strings"
	"testing"
)

// A broker message that is no CloudEvent is reported with what the transport does with it
// (no HTTP status) and the start of its payload.
func TestDeliverReportsRefusalInTheTransportsTerms(t *testing.T) {
	h, rs := newTestHandler(Config{})
	long := strings.Repeat("x", PreviewSize+50)
	for _, c := range []struct {
		transport, payload, settled string
	}{
		{"nats", "hello", "dropped (core NATS has no acknowledgement)"},
		{"jetstream", `{"hello":"world"}`, "terminated (AckTerm): the stream will not deliver it again"},
		{"kafka", long, "skipped: the consumer moves past its offset"},
	} {
		d := structuredDelivery(c.payload)
		d.Transport = c.transport
		if err := h.Deliver(t.Context(), d); err == nil {
			t.Fatalf("%s: %q taken", c.transport, c.payload)
		}
		rep := rs.last(t)
		if rep.Kind != KindRejected || rep.Settled != c.settled {
			t.Errorf("%s: kind %v, settled %q, want %q", c.transport, rep.Kind, rep.Settled, c.settled)
		}
		want := c.payload[:min(len(c.payload), PreviewSize)]
		if string(rep.Payload) != want || rep.PayloadSize != len(c.payload) {
			t.Errorf("%s: payload %q (%d bytes), want %q (%d)", c.transport, rep.Payload, rep.PayloadSize, want, len(c.payload))
		}
	}
	d := structuredDelivery("x")
	d.Transport, d.Meta = "mqtt", map[string]string{"qos": "0"}
	if got := d.Refusal(); got != "dropped (QoS 0 has no acknowledgement)" {
		t.Errorf("MQTT QoS 0: %q", got)
	}
}
