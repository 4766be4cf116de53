// Package metrics exposes what listen and send do as Prometheus metrics, made with
// prometheus/client_golang: each command's metrics are in a registry of their own (not the
// library's process-wide default one) and served by promhttp.
//
// The counters of the hot path are resolved once (WithLabelValues), when the metrics are made
// or when a type is first seen, and kept: observing an event is an atomic addition per
// counter, with no label lookup and no allocation.
package metrics

import (
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cectl/cectl/internal/client"
	"github.com/cectl/cectl/internal/listen"
	"github.com/prometheus/client_golang/prometheus"
)

// DefaultTypes is how many event types get a series of their own; events of later types
// are counted under the type "other". Types come from the network: the bound keeps the
// number of series, and so what a scrape costs, fixed.
const DefaultTypes = 50

// MaxTypeLen is the longest type, in bytes, that gets a series of its own; events of longer
// types are counted under "other", so that a scrape stays small whatever the types are.
const MaxTypeLen = 256

// OtherType is the type label of the events of types beyond the bounds.
const OtherType = "other"

// Rejection reasons, the values of the reason label of the rejected requests.
const (
	ReasonInvalid          = "invalid"                // 400: not a valid CloudEvent or request
	ReasonUnauthorized     = "unauthorized"           // 401: --token
	ReasonNotFound         = "not_found"              // 404: another path than --path
	ReasonMethod           = "method_not_allowed"     // 405
	ReasonLengthRequired   = "length_required"        // 411
	ReasonTooLarge         = "too_large"              // 413: --max-body
	ReasonUnsupportedMedia = "unsupported_media_type" // 415
	ReasonRecordFailed     = "record_failed"          // 500: the record could not be written
	ReasonBusy             = "busy"                   // 503: too many bodies at once, or the output could not take the events
	ReasonRefused          = "refused_on_purpose"     // --status, --fail-rate
	ReasonForwardFailed    = "forward_failed"         // a --forward-to target did not acknowledge (its status, 502 or 504)
	ReasonOther            = "other"
)

// reason indexes the counters of the reasons, in the order of reasons.
type reason int

const (
	rInvalid reason = iota
	rUnauthorized
	rNotFound
	rMethod
	rLengthRequired
	rTooLarge
	rUnsupportedMedia
	rRecordFailed
	rBusy
	rRefused
	rForwardFailed
	rOther
	nReasons
)

var reasons = [nReasons]string{ReasonInvalid, ReasonUnauthorized, ReasonNotFound, ReasonMethod, ReasonLengthRequired,
	ReasonTooLarge, ReasonUnsupportedMedia, ReasonRecordFailed, ReasonBusy, ReasonRefused, ReasonForwardFailed, ReasonOther}

// reasonOf is the reason of a request rejected with status before its events were taken.
func reasonOf(status int) reason {
	switch status {
	case http.StatusBadRequest:
		return rInvalid
	case http.StatusUnauthorized:
		return rUnauthorized
	case http.StatusNotFound:
		return rNotFound
	case http.StatusMethodNotAllowed:
		return rMethod
	case http.StatusLengthRequired:
		return rLengthRequired
	case http.StatusRequestEntityTooLarge:
		return rTooLarge
	case http.StatusUnsupportedMediaType:
		return rUnsupportedMedia
	case http.StatusInternalServerError:
		return rRecordFailed
	case http.StatusServiceUnavailable:
		return rBusy
	}
	return rOther
}

// LatencyBuckets are the upper bounds, in seconds, of the latency histograms: 100µs to 10s.
var LatencyBuckets = []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}

// Listen holds the metrics of a listener.
type Listen struct {
	reg      *prometheus.Registry
	events   *prometheus.CounterVec
	maxTypes int32
	nTypes   atomic.Int32
	types    sync.Map // type → prometheus.Counter
	typeMu   sync.Mutex
	other    prometheus.Counter
	dups     prometheus.Counter
	requests prometheus.Counter
	rejected [nReasons]prometheus.Counter
	bytes    prometheus.Counter
	latency  prometheus.Histogram
	recordOK prometheus.Counter
	recordNo prometheus.Counter
	fwdACK   prometheus.Counter
	fwdNACK  prometheus.Counter
	fwdLost  prometheus.Counter
}

// NewListen makes the metrics of a listener that gives the first maxTypes event types a
// series each (DefaultTypes when 0).
func NewListen(maxTypes int) *Listen {
	if maxTypes <= 0 {
		maxTypes = DefaultTypes
	}
	m := &Listen{reg: newRegistry(), maxTypes: int32(maxTypes)}
	m.events = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "cectl_listen_events_accepted_total",
		Help: "Events accepted (selected by --filter/--type and answered 2xx), by type; types beyond the first " + strconv.Itoa(maxTypes) +
			" (or longer than " + strconv.Itoa(MaxTypeLen) + " bytes) count as \"other\"."}, []string{"type"})
	m.other = m.events.WithLabelValues(OtherType)
	m.dups = prometheus.NewCounter(prometheus.CounterOpts{Name: "cectl_listen_events_duplicate_total",
		Help: "Accepted events whose source and id were accepted before (--dedupe); not counted as accepted."})
	m.requests = prometheus.NewCounter(prometheus.CounterOpts{Name: "cectl_listen_requests_total",
		Help: "Well-formed requests or broker messages carrying events (or an empty batch)."})
	rej := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "cectl_listen_requests_rejected_total",
		Help: "Requests or messages answered with an error, by reason."}, []string{"reason"})
	for i, r := range reasons {
		m.rejected[i] = rej.WithLabelValues(r)
	}
	m.bytes = prometheus.NewCounter(prometheus.CounterOpts{Name: "cectl_listen_received_bytes_total",
		Help: "Bytes of the bodies (HTTP) or payloads (brokers) of the requests that were read."})
	m.latency = prometheus.NewHistogram(prometheus.HistogramOpts{Name: "cectl_listen_handling_seconds",
		Help:    "Time from a request's arrival until its answer was decided (after record, relay and reply; before --delay).",
		Buckets: LatencyBuckets})
	rec := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "cectl_listen_record_writes_total",
		Help: "Events written to --record, by outcome of the write: ok (kept), error (the write failed; the request was answered 500)."}, []string{"outcome"})
	m.recordOK, m.recordNo = rec.WithLabelValues("ok"), rec.WithLabelValues("error")
	fwd := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "cectl_listen_forwards_total",
		Help: "Relays to --forward-to targets, by outcome: ack (2xx), nack (another status), not_delivered (no response)."}, []string{"outcome"})
	m.fwdACK, m.fwdNACK, m.fwdLost = fwd.WithLabelValues("ack"), fwd.WithLabelValues("nack"), fwd.WithLabelValues("not_delivered")
	m.reg.MustRegister(m.events, m.dups, m.requests, rej, m.bytes, m.latency, rec, fwd)
	return m
}

// Registry is the registry the metrics are in.
func (m *Listen) Registry() *prometheus.Registry { return m.reg }

// Handler serves the metrics.
func (m *Listen) Handler() http.Handler { return Handler(m.reg) }

// typeCounter returns the counter of events of type t, making it if the bounds allow.
func (m *Listen) typeCounter(t string) prometheus.Counter {
	if c, ok := m.types.Load(t); ok {
		return c.(prometheus.Counter)
	}
	if m.nTypes.Load() >= m.maxTypes || len(t) > MaxTypeLen {
		return m.other
	}
	m.typeMu.Lock()
	defer m.typeMu.Unlock()
	if c, ok := m.types.Load(t); ok {
		return c.(prometheus.Counter)
	}
	if m.nTypes.Load() >= m.maxTypes || t == OtherType {
		return m.other
	}
	c, err := m.events.GetMetricWithLabelValues(t)
	if err != nil { // not UTF-8: the decoder refuses such types, but a panic here would end listen
		return m.other
	}
	m.types.Store(t, c)
	m.nTypes.Add(1)
	return c
}

// Observe counts one request as listen reported it. It is safe for concurrent use.
func (m *Listen) Observe(rep *listen.Report) {
	if rep.Bytes > 0 {
		m.bytes.Add(float64(rep.Bytes))
	}
	if rep.Recorded > 0 {
		m.recordOK.Add(float64(rep.Recorded))
	}
	if rep.RecordFailed > 0 {
		m.recordNo.Add(float64(rep.RecordFailed))
	}
	switch rep.Kind {
	case listen.KindRejected:
		m.rejected[reasonOf(rep.Status)].Inc()
	case listen.KindEvents:
		m.requests.Inc()
		switch {
		case rep.Reason != "": // refused on purpose (--status, --fail-rate)
			m.rejected[rRefused].Inc()
		case rep.Status < 200 || rep.Status > 299:
			// Taken, then not acknowledged: a relay failed and its status was passed on.
			m.rejected[unrelayed(rep)].Inc()
		default:
			for i := range rep.Events {
				a := &rep.Events[i]
				if a.Duplicate {
					m.dups.Inc()
					continue
				}
				m.typeCounter(a.Event.Type()).Inc()
			}
		}
		for i := range rep.Forwards {
			m.forward(&rep.Forwards[i].Result)
		}
	default:
		return
	}
	if !rep.Received.IsZero() {
		m.latency.Observe(time.Since(rep.Received).Seconds())
	}
}

// unrelayed is the reason an event request that listen did not refuse was answered non-2xx:
// a --forward-to target did not acknowledge it (listen's summary: "not relayed").
func unrelayed(rep *listen.Report) reason {
	for i := range rep.Forwards {
		if !rep.Forwards[i].Result.ACK {
			return rForwardFailed
		}
	}
	return rOther
}

func (m *Listen) forward(r *client.Result) {
	switch {
	case r.ACK:
		m.fwdACK.Inc()
	case r.Delivered:
		m.fwdNACK.Inc()
	default:
		m.fwdLost.Inc()
	}
}
