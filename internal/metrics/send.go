package metrics

import (
	"context"
	"math/rand/v2"

	"github.com/cectl/cectl/internal/client"
	"github.com/cectl/cectl/internal/load"
)

// Send holds the metrics of a load run of send.
type Send struct {
	reg     *Registry
	events  *Counter
	ack     *Counter
	nack    *Counter
	lost    *Counter
	latency *Histogram
}

// NewSend makes the metrics of a load run.
func NewSend() *Send {
	r := NewRegistry()
	m := &Send{reg: r}
	m.events = r.Counter("cectl_send_events_sent_total", "Events sent (a batch request counts each of its events).")
	req := r.CounterVec("cectl_send_requests_total",
		"Requests or publishes by outcome: ack (2xx or broker acknowledgement), nack (refused), not_delivered (no answer at all).", "outcome")
	m.ack, m.nack, m.lost = req.With("ack"), req.With("nack"), req.With("not_delivered")
	m.latency = r.Histogram("cectl_send_latency_seconds", "Time from the first attempt of a request to the end of its last, retries included.", LatencyBuckets)
	return m
}

// Registry is the registry the metrics are in.
func (m *Send) Registry() *Registry { return m.reg }

// Observe counts one request of events events with result r.
func (m *Send) Observe(events int, r client.Result) {
	m.events.Add(float64(events))
	switch {
	case r.ACK:
		m.ack.Inc()
	case r.Delivered:
		m.nack.Inc()
	default:
		m.lost.Inc()
	}
	m.latency.Observe(r.Duration.Seconds())
}

// Wrap returns send, observing each of its requests.
func (m *Send) Wrap(send load.SendFunc) load.SendFunc {
	return func(ctx context.Context, seq int64, rnd *rand.Rand) (int, client.Result) {
		n, r := send(ctx, seq, rnd)
		m.Observe(n, r)
		return n, r
	}
}
