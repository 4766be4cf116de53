package metrics

import (
	"context"
	"math/rand/v2"

	"github.com/cectl/cectl/internal/client"
	"github.com/cectl/cectl/internal/load"
	"github.com/prometheus/client_golang/prometheus"
)

// SendOutcomes are the values of the outcome label of send's metrics: every outcome of a
// delivery (client.Outcome), so that the series of a metric add up to every request or event
// the run made.
var SendOutcomes = []client.Outcome{client.OutcomeACK, client.OutcomePublished, client.OutcomeNACK,
	client.OutcomeNoResponse, client.OutcomeNotDelivered}

// outcomeIndex is the index of r's outcome in SendOutcomes.
func outcomeIndex(r *client.Result) int {
	switch r.Outcome() {
	case client.OutcomeACK:
		return 0
	case client.OutcomePublished:
		return 1
	case client.OutcomeNACK:
		return 2
	case client.OutcomeNoResponse:
		return 3
	}
	return 4
}

// Send holds the metrics of a load run of send.
type Send struct {
	reg      *prometheus.Registry
	requests []prometheus.Counter // by outcome, as SendOutcomes
	events   []prometheus.Counter
	latency  prometheus.Histogram
}

// NewSend makes the metrics of a load run.
func NewSend() *Send {
	m := &Send{reg: newRegistry()}
	const outcomes = "ack (2xx or the broker's acknowledgement), published (taken by a broker that confirms nothing more: core NATS), " +
		"nack (refused), no_response (sent, no answer came: maybe delivered), not_delivered (nothing reached the receiver)"
	req := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "cectl_send_requests_total",
		Help: "Requests or publishes, warm-up excluded, by outcome: " + outcomes + "."}, []string{"outcome"})
	ev := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "cectl_send_events_total",
		Help: "Events (a batch request counts each of its events), warm-up excluded, by the outcome of their request: " + outcomes + "."}, []string{"outcome"})
	for _, o := range SendOutcomes {
		m.requests = append(m.requests, req.WithLabelValues(string(o)))
		m.events = append(m.events, ev.WithLabelValues(string(o)))
	}
	m.latency = prometheus.NewHistogram(prometheus.HistogramOpts{Name: "cectl_send_latency_seconds",
		Help:    "Time from the first attempt of a request to the end of its last, retries included.",
		Buckets: LatencyBuckets})
	m.reg.MustRegister(req, ev, m.latency)
	return m
}

// Registry is the registry the metrics are in.
func (m *Send) Registry() *prometheus.Registry { return m.reg }

// Observe counts one request of events events with result r.
func (m *Send) Observe(events int, r *client.Result) {
	i := outcomeIndex(r)
	m.requests[i].Inc()
	m.events[i].Add(float64(events))
	m.latency.Observe(r.Duration.Seconds())
}

// Wrap returns send, observing each of its measured requests: the warm-up ones (seq 0 and
// below), which the run's report does not count either, are not observed.
func (m *Send) Wrap(send load.SendFunc) load.SendFunc {
	return func(ctx context.Context, seq int64, rnd *rand.Rand) (int, client.Result) {
		n, r := send(ctx, seq, rnd)
		if seq > 0 {
			m.Observe(n, &r)
		}
		return n, r
	}
}
