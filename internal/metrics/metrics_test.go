package metrics

import (
	"context"
	"errors"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/cectl/cectl/internal/client"
	"github.com/cectl/cectl/internal/listen"
	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// scrape gets h's metrics the way Prometheus does and parses them with its text parser.
func scrape(t *testing.T, h http.Handler) map[string]*dto.MetricFamily {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, Path, nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("scrape: %d %s", rec.Code, rec.Body)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(rec.Body)
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	return fams
}

// value returns the value of the series of family name whose labels include want.
func value(t *testing.T, fams map[string]*dto.MetricFamily, name string, want ...string) float64 {
	t.Helper()
	f, ok := fams[name]
	if !ok {
		t.Fatalf("no family %s", name)
	}
next:
	for _, m := range f.Metric {
		for i := 0; i+1 < len(want); i += 2 {
			found := false
			for _, l := range m.Label {
				if l.GetName() == want[i] && l.GetValue() == want[i+1] {
					found = true
				}
			}
			if !found {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue()
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount())
		}
	}
	t.Fatalf("no series %s%v", name, want)
	return 0
}

func ev(typ string) *event.Event {
	e := event.New()
	e.SetType(typ)
	return &e
}

func TestListenMetrics(t *testing.T) {
	m := NewListen(2)
	now := time.Now().Add(-3 * time.Millisecond)
	// Each accepted request is recorded, one line per new event.
	accepted := func(types ...string) *listen.Report {
		r := &listen.Report{Kind: listen.KindEvents, Received: now, Status: 202, Bytes: 100, Recorded: len(types)}
		for _, ty := range types {
			r.Events = append(r.Events, listen.Arrival{Event: ev(ty)})
		}
		return r
	}
	m.Observe(accepted("com.example.a", "com.example.a"))
	m.Observe(accepted("com.example.b"))
	// A third and a fourth type are beyond the bound of 2: "other".
	m.Observe(accepted("com.example.c"))
	m.Observe(accepted("com.example.d"))
	dup := accepted("com.example.a")
	dup.Events[0].Duplicate = true
	dup.Recorded = 0
	m.Observe(dup)
	fwd := accepted("com.example.b")
	fwd.Forwards = []listen.Forwarded{
		{To: "x", Result: client.Result{Delivered: true, ACK: true, Status: 202}},
		{To: "y", Result: client.Result{Delivered: true, Status: 500}},
		{To: "z", Result: client.Result{Err: errors.New("refused")}},
	}
	fwd.Status = 502 // a relay did not acknowledge: neither are the events
	m.Observe(fwd)
	m.Observe(&listen.Report{Kind: listen.KindEvents, Received: now, Status: 503, Reason: "--fail-rate", Events: []listen.Arrival{{Event: ev("com.example.a")}}})
	m.Observe(&listen.Report{Kind: listen.KindRejected, Received: now, Status: 400, Bytes: 7})
	m.Observe(&listen.Report{Kind: listen.KindRejected, Received: now, Status: 413})
	m.Observe(&listen.Report{Kind: listen.KindRejected, Received: now, Status: 500, Bytes: 10, RecordFailed: 3})
	m.Observe(&listen.Report{Kind: listen.KindHandshake, Received: now, Status: 200})

	f := scrape(t, m.Handler())
	for _, c := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"cectl_listen_events_accepted_total", []string{"type", "com.example.a"}, 2},
		{"cectl_listen_events_accepted_total", []string{"type", "com.example.b"}, 1},
		{"cectl_listen_events_accepted_total", []string{"type", OtherType}, 2},
		{"cectl_listen_events_duplicate_total", nil, 1},
		{"cectl_listen_requests_total", nil, 7},
		{"cectl_listen_requests_rejected_total", []string{"reason", ReasonInvalid}, 1},
		{"cectl_listen_requests_rejected_total", []string{"reason", ReasonTooLarge}, 1},
		{"cectl_listen_requests_rejected_total", []string{"reason", ReasonRecordFailed}, 1},
		{"cectl_listen_requests_rejected_total", []string{"reason", ReasonRefused}, 1},
		{"cectl_listen_requests_rejected_total", []string{"reason", ReasonForwardFailed}, 1},
		{"cectl_listen_requests_rejected_total", []string{"reason", ReasonBusy}, 0},
		{"cectl_listen_requests_rejected_total", []string{"reason", ReasonOther}, 0},
		{"cectl_listen_received_bytes_total", nil, 100*6 + 7 + 10},
		{"cectl_listen_handling_seconds", nil, 10},
		// Per event, from the write itself: the relayed request's event is in the record
		// although the request was not acknowledged.
		{"cectl_listen_record_writes_total", []string{"outcome", "ok"}, 6},
		{"cectl_listen_record_writes_total", []string{"outcome", "error"}, 3},
		{"cectl_listen_forwards_total", []string{"outcome", "ack"}, 1},
		{"cectl_listen_forwards_total", []string{"outcome", "nack"}, 1},
		{"cectl_listen_forwards_total", []string{"outcome", "not_delivered"}, 1},
	} {
		if got := value(t, f, c.name, c.labels...); got != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
	if n := len(f["cectl_listen_events_accepted_total"].Metric); n != 3 {
		t.Errorf("%d type series, want 2 types and other", n)
	}
	// Every observation took at least the 3ms since Received: none in the first buckets.
	h := f["cectl_listen_handling_seconds"].Metric[0].Histogram
	if b := h.Bucket[2]; b.GetUpperBound() != .0005 || b.GetCumulativeCount() != 0 {
		t.Errorf("bucket %v: %d", b.GetUpperBound(), b.GetCumulativeCount())
	}
}

func TestListenMetricsOwnRegistry(t *testing.T) {
	// Two listeners in one process (tests) do not collide, and nothing lands in the
	// process-wide default registry.
	a, b := NewListen(0), NewListen(0)
	a.Observe(&listen.Report{Kind: listen.KindRejected, Status: 400})
	if got := value(t, scrape(t, b.Handler()), "cectl_listen_requests_rejected_total", "reason", ReasonInvalid); got != 0 {
		t.Fatalf("b counts a's rejection: %v", got)
	}
	fams, err := prometheus.DefaultGatherer.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fams {
		if strings.HasPrefix(f.GetName(), "cectl_") {
			t.Errorf("%s is in the default registry", f.GetName())
		}
	}
}

func TestRuntimeMetrics(t *testing.T) {
	// The Go runtime's and the process's metrics come with cectl's.
	for _, h := range []http.Handler{NewListen(0).Handler(), Handler(NewSend().Registry())} {
		f := scrape(t, h)
		for _, name := range []string{"go_goroutines", "go_memstats_heap_alloc_bytes", "process_cpu_seconds_total", "process_resident_memory_bytes"} {
			if _, ok := f[name]; !ok {
				t.Errorf("no %s", name)
			}
		}
	}
}

func TestMetricsAreReadWithGet(t *testing.T) {
	rec := httptest.NewRecorder()
	NewListen(0).Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodPost, Path, strings.NewReader("{}")))
	if rec.Code != http.StatusMethodNotAllowed || rec.Header().Get("Allow") != "GET, HEAD" {
		t.Errorf("POST: %d %v", rec.Code, rec.Header())
	}
}

func TestSendMetrics(t *testing.T) {
	m := NewSend()
	results := []client.Result{
		{Delivered: true, ACK: true, Status: 202, Duration: 5 * time.Second}, // warm-up: not counted
		{Delivered: true, ACK: true, Status: 202, Duration: time.Millisecond},
		{Delivered: true, ACK: true, Status: 200, Duration: 2 * time.Millisecond},
		{ACK: true, Unacknowledged: true, Duration: time.Millisecond},
		{Delivered: true, Status: 400, Duration: time.Millisecond},
		{Written: 1, Err: errors.New("timeout"), Duration: time.Second},
		{Err: errors.New("connection refused"), Duration: 20 * time.Second},
	}
	send := m.Wrap(func(_ context.Context, seq int64, _ *rand.Rand) (int, client.Result) {
		return 3, results[seq]
	})
	for i := range results {
		if n, r := send(context.Background(), int64(i), nil); n != 3 || r.Status != results[i].Status {
			t.Fatalf("the wrapped send changed the result: %d %+v", n, r)
		}
	}
	f := scrape(t, Handler(m.Registry()))
	if _, ok := f["cectl_send_events_sent_total"]; ok {
		t.Error("events not delivered are counted as sent")
	}
	for _, c := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"cectl_send_requests_total", []string{"outcome", "ack"}, 2},
		{"cectl_send_requests_total", []string{"outcome", "published"}, 1},
		{"cectl_send_requests_total", []string{"outcome", "nack"}, 1},
		{"cectl_send_requests_total", []string{"outcome", "no_response"}, 1},
		{"cectl_send_requests_total", []string{"outcome", "not_delivered"}, 1},
		{"cectl_send_events_total", []string{"outcome", "ack"}, 6},
		{"cectl_send_events_total", []string{"outcome", "published"}, 3},
		{"cectl_send_events_total", []string{"outcome", "nack"}, 3},
		{"cectl_send_events_total", []string{"outcome", "no_response"}, 3},
		{"cectl_send_events_total", []string{"outcome", "not_delivered"}, 3},
		{"cectl_send_latency_seconds", nil, 6},
	} {
		if got := value(t, f, c.name, c.labels...); got != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
	// Every outcome has its series, so that they add up to what was sent.
	for _, name := range []string{"cectl_send_requests_total", "cectl_send_events_total"} {
		if n := len(f[name].Metric); n != len(SendOutcomes) {
			t.Errorf("%s: %d series", name, n)
		}
	}
	if s := f["cectl_send_latency_seconds"].Metric[0].Histogram.GetSampleSum(); s < 21.005 || s > 21.0051 {
		t.Errorf("latency sum %v", s)
	}
}

func TestOutcomesAreClientOutcomes(t *testing.T) {
	// Each result lands under the name client.Result.Outcome gives it.
	for _, r := range []client.Result{
		{Delivered: true, ACK: true}, {ACK: true, Unacknowledged: true}, {Delivered: true, Status: 500}, {Written: 2}, {},
	} {
		if got, want := SendOutcomes[outcomeIndex(&r)], r.Outcome(); got != want {
			t.Errorf("%+v: %s, want %s", r, got, want)
		}
	}
}

func TestTypeLabelIsEscaped(t *testing.T) {
	// Types come from the network: a quote, a backslash or a line break in one must not
	// break the exposition or forge another series.
	m := NewListen(0)
	odd := "com.example.\"x\"\\y\nz} 1\ncectl_fake 2"
	m.Observe(&listen.Report{Kind: listen.KindEvents, Status: 202, Events: []listen.Arrival{{Event: ev(odd)}}})
	f := scrape(t, m.Handler())
	if got := value(t, f, "cectl_listen_events_accepted_total", "type", odd); got != 1 {
		t.Fatalf("got %v", got)
	}
	if _, forged := f["cectl_fake"]; forged {
		t.Fatal("a type forged a series")
	}
}

func TestLongTypesAreOther(t *testing.T) {
	// A type may be as long as a body: it does not get a series of its own, which would make
	// every scrape as large.
	m := NewListen(0)
	long := "com.example." + strings.Repeat("x", MaxTypeLen)
	m.Observe(&listen.Report{Kind: listen.KindEvents, Status: 202, Events: []listen.Arrival{{Event: ev(long)}, {Event: ev("com.example.a")}}})
	f := scrape(t, m.Handler())
	if got := value(t, f, "cectl_listen_events_accepted_total", "type", OtherType); got != 1 {
		t.Errorf("other: %v", got)
	}
	if n := len(f["cectl_listen_events_accepted_total"].Metric); n != 2 {
		t.Errorf("%d type series, want com.example.a and other", n)
	}
}
