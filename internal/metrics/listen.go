// Package metrics exposes what listen and send do as Prometheus metrics, each in a registry
// of its own, served in the Prometheus text exposition format.
// The counters of the hot path are resolved once, when the metrics are made or when a type
// is first seen, so that observing an event is a few atomic additions.
package metrics

import (
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cectl/cectl/internal/client"
	"github.com/cectl/cectl/internal/listen"
)

// DefaultTypes is how many event types get a series of their own; events of later types
// are counted under the type "other". Types come from the network: the bound keeps the
// number of series, and so what a scrape costs, fixed.
const DefaultTypes = 50

// OtherType is the type label of the events of types beyond the bound.
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
	ReasonBusy             = "busy"                   // 503: too many bodies at once, or stopping
	ReasonRefused          = "refused_on_purpose"     // --status, --fail-rate
	ReasonOther            = "other"
)

var reasons = []string{ReasonInvalid, ReasonUnauthorized, ReasonNotFound, ReasonMethod, ReasonLengthRequired,
	ReasonTooLarge, ReasonUnsupportedMedia, ReasonRecordFailed, ReasonBusy, ReasonRefused, ReasonOther}

func reasonOf(status int) string {
	switch status {
	case http.StatusBadRequest:
		return ReasonInvalid
	case http.StatusUnauthorized:
		return ReasonUnauthorized
	case http.StatusNotFound:
		return ReasonNotFound
	case http.StatusMethodNotAllowed:
		return ReasonMethod
	case http.StatusLengthRequired:
		return ReasonLengthRequired
	case http.StatusRequestEntityTooLarge:
		return ReasonTooLarge
	case http.StatusUnsupportedMediaType:
		return ReasonUnsupportedMedia
	case http.StatusInternalServerError:
		return ReasonRecordFailed
	case http.StatusServiceUnavailable:
		return ReasonBusy
	}
	return ReasonOther
}

// LatencyBuckets are the upper bounds, in seconds, of the latency histograms: 100µs to 10s.
var LatencyBuckets = []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}

// Listen holds the metrics of a listener.
type Listen struct {
	reg      *Registry
	events   *CounterVec
	maxTypes int32
	nTypes   atomic.Int32
	types    sync.Map // type → *Counter
	typeMu   sync.Mutex
	other    *Counter
	dups     *Counter
	requests *Counter
	rejected map[string]*Counter
	bytes    *Counter
	latency  *Histogram
	recordOK *Counter
	recordNo *Counter
	fwdACK   *Counter
	fwdNACK  *Counter
	fwdLost  *Counter
	recorded bool
}

// NewListen makes the metrics of a listener that gives the first maxTypes event types a
// series each (DefaultTypes when 0); recording says whether it writes a record, so that
// each accepted request counts as a record write.
func NewListen(maxTypes int, recording bool) *Listen {
	if maxTypes <= 0 {
		maxTypes = DefaultTypes
	}
	r := NewRegistry()
	m := &Listen{reg: r, maxTypes: int32(maxTypes), recorded: recording}
	m.events = r.CounterVec("cectl_listen_events_accepted_total",
		"Events accepted (selected by --filter/--type and answered 2xx), by type; types beyond the first "+strconv.Itoa(maxTypes)+" count as \"other\".", "type")
	m.other = m.events.With(OtherType)
	m.dups = r.Counter("cectl_listen_events_duplicate_total", "Accepted events whose source and id were accepted before (--dedupe); not counted as accepted.")
	m.requests = r.Counter("cectl_listen_requests_total", "Well-formed requests or broker messages carrying events (or an empty batch).")
	rej := r.CounterVec("cectl_listen_requests_rejected_total", "Requests or messages answered with an error, by reason.", "reason")
	m.rejected = map[string]*Counter{}
	for _, reason := range reasons {
		m.rejected[reason] = rej.With(reason)
	}
	m.bytes = r.Counter("cectl_listen_received_bytes_total", "Bytes of the bodies (HTTP) or payloads (brokers) of the requests that were read.")
	m.latency = r.Histogram("cectl_listen_handling_seconds",
		"Time from a request's arrival until its answer was decided (after record, relay and reply; before --delay).", LatencyBuckets)
	rec := r.CounterVec("cectl_listen_record_writes_total", "Writes of accepted events to --record, by outcome.", "outcome")
	m.recordOK, m.recordNo = rec.With("ok"), rec.With("error")
	fwd := r.CounterVec("cectl_listen_forwards_total",
		"Relays to --forward-to targets, by outcome: ack (2xx), nack (another status), not_delivered (no response).", "outcome")
	m.fwdACK, m.fwdNACK, m.fwdLost = fwd.With("ack"), fwd.With("nack"), fwd.With("not_delivered")
	return m
}

// Registry is the registry the metrics are in.
func (m *Listen) Registry() *Registry { return m.reg }

// Handler serves the metrics in the Prometheus text exposition format.
func (m *Listen) Handler() http.Handler { return Handler(m.reg) }

// typeCounter returns the counter of events of type t, making it if the bound allows.
func (m *Listen) typeCounter(t string) *Counter {
	if c, ok := m.types.Load(t); ok {
		return c.(*Counter)
	}
	if m.nTypes.Load() >= m.maxTypes {
		return m.other
	}
	m.typeMu.Lock()
	defer m.typeMu.Unlock()
	if c, ok := m.types.Load(t); ok {
		return c.(*Counter)
	}
	if m.nTypes.Load() >= m.maxTypes || t == OtherType {
		return m.other
	}
	c := m.events.With(t)
	m.types.Store(t, c)
	m.nTypes.Add(1)
	return c
}

// Observe counts one request as listen reported it. It is safe for concurrent use.
func (m *Listen) Observe(rep *listen.Report) {
	if rep.Bytes > 0 {
		m.bytes.Add(float64(rep.Bytes))
	}
	switch rep.Kind {
	case listen.KindRejected:
		m.rejected[reasonOf(rep.Status)].Inc()
		if rep.Status == http.StatusInternalServerError && m.recorded {
			m.recordNo.Inc()
		}
	case listen.KindEvents:
		m.requests.Inc()
		if rep.Reason != "" { // refused on purpose (--status, --fail-rate)
			m.rejected[ReasonRefused].Inc()
		} else if rep.Status < 300 {
			fresh := 0
			for i := range rep.Events {
				a := &rep.Events[i]
				if a.Duplicate {
					m.dups.Inc()
					continue
				}
				fresh++
				m.typeCounter(a.Event.Type()).Inc()
			}
			if m.recorded && fresh > 0 {
				m.recordOK.Inc()
			}
		}
		for i := range rep.Forwards {
			m.forward(rep.Forwards[i].Result)
		}
	default:
		return
	}
	if !rep.Received.IsZero() {
		m.latency.Observe(time.Since(rep.Received).Seconds())
	}
}

func (m *Listen) forward(r client.Result) {
	switch {
	case r.ACK:
		m.fwdACK.Inc()
	case r.Delivered:
		m.fwdNACK.Inc()
	default:
		m.fwdLost.Inc()
	}
}
