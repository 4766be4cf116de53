package metrics

import (
	"context"
	"math/rand/v2"

	"github.com/cectl/cectl/internal/client"
	"github.com/cectl/cectl/internal/load"
	"github.com/prometheus/client_golang/prometheus"
)

// Send holds the metrics of a load run of send.
type Send struct {
	reg     *prometheus.Registry
	events  prometheus.Counter
	ack     prometheus.Counter
	nack    prometheus.Counter
	lost    prometheus.Counter
	latency prometheus.Histogram
}

// NewSend makes the metrics of a load run.
func NewSend() *Send {
	m := &Send{reg: newRegistry()}
	m.events = prometheus.NewCounter(prometheus.CounterOpts{Name: "cectl_send_events_sent_total",
		Help: "Events sent (a batch request counts each of its events)."})
	req := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "cectl_send_requests_total",
		Help: "Requests or publishes by outcome: ack (2xx or broker acknowledgement), nack (refused), not_delivered (no answer at all)."}, []string{"outcome"})
	m.ack, m.nack, m.lost = req.WithLabelValues("ack"), req.WithLabelValues("nack"), req.WithLabelValues("not_delivered")
	m.latency = prometheus.NewHistogram(prometheus.HistogramOpts{Name: "cectl_send_latency_seconds",
		Help:    "Time from the first attempt of a request to the end of its last, retries included.",
		Buckets: LatencyBuckets})
	m.reg.MustRegister(m.events, req, m.latency)
	return m
}

// Registry is the registry the metrics are in.
func (m *Send) Registry() *prometheus.Registry { return m.reg }

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
