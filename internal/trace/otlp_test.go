package trace

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	coltrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"
)

// Receiver is an OTLP/HTTP trace receiver that decodes what arrives with the OpenTelemetry
// protobuf definitions.
type Receiver struct {
	*httptest.Server
	mu      sync.Mutex
	reqs    []*coltrace.ExportTraceServiceRequest
	headers []http.Header
}

func NewReceiver(t *testing.T) *Receiver {
	r := &Receiver{}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.URL.Path != "/v1/traces" || req.Header.Get("Content-Type") != "application/x-protobuf" {
			t.Errorf("OTLP request %s %s", req.URL.Path, req.Header.Get("Content-Type"))
		}
		body, _ := io.ReadAll(req.Body)
		var m coltrace.ExportTraceServiceRequest
		if err := proto.Unmarshal(body, &m); err != nil {
			t.Errorf("decoding the export request: %v", err)
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		r.mu.Lock()
		r.reqs = append(r.reqs, &m)
		r.headers = append(r.headers, req.Header.Clone())
		r.mu.Unlock()
		w.Header().Set("Content-Type", "application/x-protobuf")
	}))
	t.Cleanup(r.Close)
	return r
}

func (r *Receiver) Spans() []*tracepb.Span {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []*tracepb.Span
	for _, m := range r.reqs {
		for _, rs := range m.ResourceSpans {
			for _, ss := range rs.ScopeSpans {
				out = append(out, ss.Spans...)
			}
		}
	}
	return out
}

func TestExporterSendsOTLPProtobuf(t *testing.T) {
	rcv := NewReceiver(t)
	env := map[string]string{
		"OTEL_EXPORTER_OTLP_ENDPOINT": rcv.URL + "/",
		"OTEL_EXPORTER_OTLP_HEADERS":  "x-api-key=secret, x-team = obs",
		"OTEL_SERVICE_NAME":           "checkout",
	}
	e, err := ExporterFromEnv(func(k string) string { return env[k] })
	if err != nil || e == nil {
		t.Fatalf("%v %v", e, err)
	}
	parent := New()
	child := parent.Child()
	child.State = "vendor=1"
	start := time.Unix(1700000000, 123)
	e.Export(Span{Context: parent, Name: "send com.example.x", Kind: KindProducer, Start: start, End: start.Add(time.Millisecond),
		Attrs: []Attr{{"cloudevents.event_type", "com.example.x"}, {"http.response.status_code", 202}, {"ok", true}}})
	e.Export(Span{Context: child, Parent: parent.SpanID, Name: "receive com.example.x", Kind: KindConsumer, Start: start, End: start.Add(2 * time.Millisecond), Err: "refused"})
	if err := e.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	spans := rcv.Spans()
	if len(spans) != 2 {
		t.Fatalf("%d spans", len(spans))
	}
	s := spans[0]
	if string(s.TraceId) != string(parent.TraceID[:]) || string(s.SpanId) != string(parent.SpanID[:]) || len(s.ParentSpanId) != 0 ||
		s.Name != "send com.example.x" || s.Kind != tracepb.Span_SPAN_KIND_PRODUCER ||
		s.StartTimeUnixNano != uint64(start.UnixNano()) || s.EndTimeUnixNano != uint64(start.Add(time.Millisecond).UnixNano()) || s.Flags != 1 {
		t.Errorf("span 0: %v", s)
	}
	if len(s.Attributes) != 3 || s.Attributes[0].Key != "cloudevents.event_type" || s.Attributes[0].Value.GetStringValue() != "com.example.x" ||
		s.Attributes[1].Value.GetIntValue() != 202 || !s.Attributes[2].Value.GetBoolValue() {
		t.Errorf("attributes %v", s.Attributes)
	}
	c := spans[1]
	if string(c.TraceId) != string(parent.TraceID[:]) || string(c.ParentSpanId) != string(parent.SpanID[:]) || c.TraceState != "vendor=1" ||
		c.Kind != tracepb.Span_SPAN_KIND_CONSUMER || c.Status.GetCode() != tracepb.Status_STATUS_CODE_ERROR || c.Status.GetMessage() != "refused" {
		t.Errorf("span 1: %v", c)
	}
	rcv.mu.Lock()
	defer rcv.mu.Unlock()
	res := rcv.reqs[0].ResourceSpans[0].Resource
	if len(res.Attributes) != 1 || res.Attributes[0].Key != "service.name" || res.Attributes[0].Value.GetStringValue() != "checkout" {
		t.Errorf("resource %v", res)
	}
	if h := rcv.headers[0]; h.Get("X-Api-Key") != "secret" || h.Get("X-Team") != "obs" {
		t.Errorf("headers %v", h)
	}
}

func TestExporterFromEnv(t *testing.T) {
	none := func(string) string { return "" }
	if e, err := ExporterFromEnv(none); e != nil || err != nil {
		t.Fatalf("no endpoint: %v %v", e, err)
	}
	bad := func(k string) string {
		if k == "OTEL_EXPORTER_OTLP_ENDPOINT" {
			return "localhost:4317"
		}
		return ""
	}
	if _, err := ExporterFromEnv(bad); err == nil {
		t.Fatal("a gRPC-style endpoint was accepted")
	}
	// The traces endpoint is used as it is.
	rcv := NewReceiver(t)
	e, err := ExporterFromEnv(func(k string) string {
		if k == "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT" {
			return rcv.URL + "/v1/traces"
		}
		return ""
	})
	if err != nil {
		t.Fatal(err)
	}
	e.Export(Span{Context: New(), Name: "x", Kind: KindClient})
	if err := e.Shutdown(context.Background()); err != nil || len(rcv.Spans()) != 1 {
		t.Fatalf("%v, %d spans", err, len(rcv.Spans()))
	}
}

func TestExporterReportsFailure(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusServiceUnavailable) }))
	defer srv.Close()
	e, _ := ExporterFromEnv(func(k string) string {
		if k == "OTEL_EXPORTER_OTLP_ENDPOINT" {
			return srv.URL
		}
		return ""
	})
	e.Export(Span{Context: New(), Name: "x"})
	if err := e.Shutdown(context.Background()); err == nil {
		t.Fatal("a 503 was not reported")
	}
}
