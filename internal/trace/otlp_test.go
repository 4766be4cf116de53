package trace

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/pem"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	coltrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
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
	paths   []string
	// answer, when set, writes the response instead of an empty 200.
	answer func(w http.ResponseWriter)
}

func NewReceiver(t *testing.T) *Receiver {
	r := &Receiver{}
	r.Server = httptest.NewUnstartedServer(r.handler(t))
	r.Start()
	t.Cleanup(r.Close)
	return r
}

func (r *Receiver) handler(t *testing.T) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.Method != http.MethodPost || req.Header.Get("Content-Type") != "application/x-protobuf" {
			t.Errorf("OTLP request %s %s", req.Method, req.Header.Get("Content-Type"))
		}
		var body io.Reader = req.Body
		if req.Header.Get("Content-Encoding") == "gzip" {
			zr, err := gzip.NewReader(req.Body)
			if err != nil {
				t.Errorf("gzip: %v", err)
				w.WriteHeader(http.StatusBadRequest)
				return
			}
			body = zr
		}
		b, _ := io.ReadAll(body)
		var m coltrace.ExportTraceServiceRequest
		if err := proto.Unmarshal(b, &m); err != nil {
			t.Errorf("decoding the export request: %v", err)
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		r.mu.Lock()
		r.reqs = append(r.reqs, &m)
		r.headers = append(r.headers, req.Header.Clone())
		r.paths = append(r.paths, req.URL.Path)
		answer := r.answer
		r.mu.Unlock()
		w.Header().Set("Content-Type", "application/x-protobuf")
		if answer != nil {
			answer(w)
		}
	})
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

func envOf(m map[string]string) Config {
	return Config{Getenv: func(k string) string { return m[k] }, Version: "1.2.3"}
}

func attrOf(kvs []*commonpb.KeyValue, key string) *commonpb.AnyValue {
	for _, kv := range kvs {
		if kv.Key == key {
			return kv.Value
		}
	}
	return nil
}

func TestExporterSendsOTLPProtobuf(t *testing.T) {
	rcv := NewReceiver(t)
	t.Setenv("OTEL_SERVICE_NAME", "checkout")
	t.Setenv("OTEL_RESOURCE_ATTRIBUTES", "deployment.environment=staging,team=o%20b%20s")
	e, err := ExporterFromEnv(envOf(map[string]string{
		"OTEL_EXPORTER_OTLP_ENDPOINT": rcv.URL + "/",
		"OTEL_EXPORTER_OTLP_HEADERS":  "x-api-key=secret, x-team = o%20b%20s",
	}))
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
		s.StartTimeUnixNano != uint64(start.UnixNano()) || s.EndTimeUnixNano != uint64(start.Add(time.Millisecond).UnixNano()) || s.Flags&0xff != 1 {
		t.Errorf("span 0: %v", s)
	}
	if len(s.Attributes) != 3 || attrOf(s.Attributes, "cloudevents.event_type").GetStringValue() != "com.example.x" ||
		attrOf(s.Attributes, "http.response.status_code").GetIntValue() != 202 || !attrOf(s.Attributes, "ok").GetBoolValue() {
		t.Errorf("attributes %v", s.Attributes)
	}
	c := spans[1]
	if string(c.TraceId) != string(parent.TraceID[:]) || string(c.SpanId) != string(child.SpanID[:]) ||
		string(c.ParentSpanId) != string(parent.SpanID[:]) || c.TraceState != "vendor=1" ||
		c.Kind != tracepb.Span_SPAN_KIND_CONSUMER || c.Status.GetCode() != tracepb.Status_STATUS_CODE_ERROR || c.Status.GetMessage() != "refused" {
		t.Errorf("span 1: %v", c)
	}
	rcv.mu.Lock()
	defer rcv.mu.Unlock()
	rs := rcv.reqs[0].ResourceSpans[0]
	res := rs.Resource.Attributes
	for k, want := range map[string]string{"service.name": "checkout", "service.version": "1.2.3", "deployment.environment": "staging",
		"team": "o b s", "telemetry.sdk.name": "opentelemetry", "telemetry.sdk.language": "go"} {
		if got := attrOf(res, k).GetStringValue(); got != want {
			t.Errorf("resource %s = %q, want %q", k, got, want)
		}
	}
	if sc := rs.ScopeSpans[0].Scope; sc.Name != "github.com/cectl/cectl" || sc.Version != "1.2.3" {
		t.Errorf("scope %v", sc)
	}
	if h := rcv.headers[0]; h.Get("X-Api-Key") != "secret" || h.Get("X-Team") != "o b s" || h.Get("User-Agent") != "cectl/1.2.3" {
		t.Errorf("headers %v", h)
	}
	if rcv.paths[0] != "/v1/traces" {
		t.Errorf("path %s", rcv.paths[0])
	}
}

// TestServiceNameDefault: without OTEL_SERVICE_NAME the service is cectl.
func TestServiceNameDefault(t *testing.T) {
	rcv := NewReceiver(t)
	t.Setenv("OTEL_SERVICE_NAME", "")
	t.Setenv("OTEL_RESOURCE_ATTRIBUTES", "")
	e, _ := ExporterFromEnv(envOf(map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": rcv.URL}))
	e.Export(Span{Context: New(), Name: "x", Kind: KindClient})
	if err := e.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	rcv.mu.Lock()
	defer rcv.mu.Unlock()
	if got := attrOf(rcv.reqs[0].ResourceSpans[0].Resource.Attributes, "service.name").GetStringValue(); got != "cectl" {
		t.Errorf("service.name %q", got)
	}
}

func TestEndpointFromEnv(t *testing.T) {
	for _, c := range []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{}, ""},
		{map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318"}, "http://c:4318/v1/traces"},
		{map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318/"}, "http://c:4318/v1/traces"},
		{map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "https://c/otlp"}, "https://c/otlp/v1/traces"},
		// The signal's endpoint is used as it is, the root path when it has none, and wins.
		{map[string]string{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://c:4318"}, "http://c:4318/"},
		{map[string]string{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://c:4318/custom/path"}, "http://c:4318/custom/path"},
		{map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://a", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://b/t"}, "http://b/t"},
	} {
		got, err := endpointFromEnv(func(k string) string { return c.env[k] })
		if err != nil || got != c.want {
			t.Errorf("%v: %q %v, want %q", c.env, got, err, c.want)
		}
	}
	for _, bad := range []string{"localhost:4317", "grpc://c:4317", "http://"} {
		if _, err := endpointFromEnv(func(k string) string {
			if k == "OTEL_EXPORTER_OTLP_ENDPOINT" {
				return bad
			}
			return ""
		}); err == nil || !strings.Contains(err.Error(), "OTEL_EXPORTER_OTLP_ENDPOINT") {
			t.Errorf("%q: %v", bad, err)
		}
	}
}

// TestExportOff: OTEL_SDK_DISABLED, OTEL_TRACES_EXPORTER=none and what cectl does not speak
// make no exporter; only the latter say why.
func TestExportOff(t *testing.T) {
	for _, c := range []struct {
		k, v string
		warn string
	}{
		{"OTEL_SDK_DISABLED", "true", ""},
		{"OTEL_SDK_DISABLED", "TRUE", ""},
		{"OTEL_TRACES_EXPORTER", "none", ""},
		{"OTEL_TRACES_EXPORTER", "console", "OTEL_TRACES_EXPORTER=console: cectl exports spans only with otlp"},
		{"OTEL_EXPORTER_OTLP_PROTOCOL", "grpc", "OTEL_EXPORTER_OTLP_PROTOCOL=grpc: cectl exports spans only over OTLP/HTTP with protobuf (http/protobuf)"},
		{"OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "http/json", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL=http/json: cectl exports spans only over"},
	} {
		var warned []string
		env := map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:1", c.k: c.v}
		cfg := envOf(env)
		cfg.Warn = func(s string) { warned = append(warned, s) }
		e, err := ExporterFromEnv(cfg)
		if e != nil || err != nil {
			t.Errorf("%s=%s: %v %v", c.k, c.v, e, err)
		}
		switch {
		case c.warn == "" && len(warned) > 0:
			t.Errorf("%s=%s warned %q", c.k, c.v, warned)
		case c.warn != "" && (len(warned) != 1 || !strings.HasPrefix(warned[0], c.warn)):
			t.Errorf("%s=%s warned %q, want %q", c.k, c.v, warned, c.warn)
		}
	}
	// Explicitly asked for, or among others: exported.
	for _, v := range []string{"otlp", "otlp,console", "http/protobuf"} {
		env := map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:1", "OTEL_TRACES_EXPORTER": v, "OTEL_SDK_DISABLED": "false"}
		if v == "http/protobuf" {
			env = map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:1", "OTEL_EXPORTER_OTLP_PROTOCOL": v}
		}
		e, err := ExporterFromEnv(envOf(env))
		if e == nil || err != nil {
			t.Errorf("%s: %v %v", v, e, err)
		}
		_ = e.Shutdown(context.Background())
	}
}

func TestExporterSettingsRefused(t *testing.T) {
	for k, v := range map[string]string{
		"OTEL_EXPORTER_OTLP_HEADERS":            "novalue",
		"OTEL_EXPORTER_OTLP_TRACES_HEADERS":     "a=%zz",
		"OTEL_EXPORTER_OTLP_TIMEOUT":            "10s",
		"OTEL_EXPORTER_OTLP_TRACES_TIMEOUT":     "-1",
		"OTEL_EXPORTER_OTLP_COMPRESSION":        "zstd",
		"OTEL_EXPORTER_OTLP_CERTIFICATE":        filepath.Join(t.TempDir(), "missing.pem"),
		"OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE": "cert.pem",
	} {
		_, err := ExporterFromEnv(envOf(map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:1", k: v}))
		if err == nil || !strings.Contains(err.Error(), k) {
			t.Errorf("%s=%s: %v", k, v, err)
		}
	}
}

// TestExporterGzipHeadersTimeout: the signal's headers replace the generic ones, the body is
// gzip-compressed when asked, and a collector that does not answer within the timeout is an
// error.
func TestExporterGzipHeadersTimeout(t *testing.T) {
	rcv := NewReceiver(t)
	e, err := ExporterFromEnv(envOf(map[string]string{
		"OTEL_EXPORTER_OTLP_ENDPOINT":       rcv.URL,
		"OTEL_EXPORTER_OTLP_HEADERS":        "a=generic",
		"OTEL_EXPORTER_OTLP_TRACES_HEADERS": "b=traces",
		"OTEL_EXPORTER_OTLP_COMPRESSION":    "gzip",
	}))
	if err != nil {
		t.Fatal(err)
	}
	e.Export(Span{Context: New(), Name: "x", Kind: KindClient})
	if err := e.Shutdown(context.Background()); err != nil || len(rcv.Spans()) != 1 {
		t.Fatalf("%v, %d spans", err, len(rcv.Spans()))
	}
	if h := rcv.headers[0]; h.Get("Content-Encoding") != "gzip" || h.Get("a") != "" || h.Get("b") != "traces" {
		t.Errorf("headers %v", h)
	}

	stall := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-stall:
		case <-r.Context().Done():
		}
	}))
	defer slow.Close()
	defer close(stall)
	e, _ = ExporterFromEnv(envOf(map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": slow.URL, "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT": "100"}))
	if e.Timeout() != 100*time.Millisecond {
		t.Fatalf("timeout %v", e.Timeout())
	}
	e.Export(Span{Context: New(), Name: "x"})
	began := time.Now()
	if err := e.Shutdown(context.Background()); err == nil || !strings.Contains(err.Error(), "deadline") {
		t.Fatalf("a collector that does not answer: %v", err)
	}
	if d := time.Since(began); d > 5*time.Second {
		t.Errorf("the export took %v", d)
	}
}

// TestExporterCertificate: OTEL_EXPORTER_OTLP_CERTIFICATE is the collector's CA.
func TestExporterCertificate(t *testing.T) {
	rcv := &Receiver{}
	rcv.Server = httptest.NewTLSServer(rcv.handler(t))
	defer rcv.Close()
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: rcv.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, trusted := range []bool{false, true} {
		env := map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": rcv.URL}
		if trusted {
			env["OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE"] = ca
		}
		e, err := ExporterFromEnv(envOf(env))
		if err != nil {
			t.Fatal(err)
		}
		e.Export(Span{Context: New(), Name: "x"})
		err = e.Shutdown(context.Background())
		if trusted != (err == nil) {
			t.Errorf("trusted %v: %v", trusted, err)
		}
	}
	if len(rcv.Spans()) != 1 {
		t.Errorf("%d spans", len(rcv.Spans()))
	}
}

func TestExporterReportsFailure(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusServiceUnavailable) }))
	defer srv.Close()
	e, _ := ExporterFromEnv(envOf(map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": srv.URL}))
	e.Export(Span{Context: New(), Name: "x"})
	if err := e.Shutdown(context.Background()); err == nil || !strings.Contains(err.Error(), "503") {
		t.Fatalf("a 503: %v", err)
	}
	// A partial success names the spans the collector rejected.
	rcv := NewReceiver(t)
	rcv.answer = func(w http.ResponseWriter) {
		b, _ := proto.Marshal(&coltrace.ExportTraceServiceResponse{PartialSuccess: &coltrace.ExportTracePartialSuccess{RejectedSpans: 1, ErrorMessage: "too old"}})
		_, _ = w.Write(b)
	}
	e, _ = ExporterFromEnv(envOf(map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": rcv.URL}))
	e.Export(Span{Context: New(), Name: "x"})
	if err := e.Shutdown(context.Background()); err == nil || !strings.Contains(err.Error(), "rejected 1 spans: too old") {
		t.Fatalf("a partial success: %v", err)
	}
}

// TestUnsampledParent: a span whose parent the sender did not sample is not recorded (the
// SDK's parent-based sampler).
func TestUnsampledParent(t *testing.T) {
	rcv := NewReceiver(t)
	e, _ := ExporterFromEnv(envOf(map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": rcv.URL}))
	parent := New()
	parent.Flags = 0
	e.Export(Span{Context: parent.Child(), Parent: parent.SpanID, Name: "receive", Kind: KindConsumer})
	if err := e.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := len(rcv.Spans()); n != 0 {
		t.Fatalf("%d spans of an unsampled trace", n)
	}
}

// TestEncodeRequest: the request written with protowire decodes as the collector's message.
func TestEncodeRequest(t *testing.T) {
	rss := []*tracepb.ResourceSpans{
		{SchemaUrl: "a", ScopeSpans: []*tracepb.ScopeSpans{{Spans: []*tracepb.Span{{Name: "one", TraceId: bytes.Repeat([]byte{1}, 16)}}}}},
		{SchemaUrl: "b"},
	}
	b, err := encodeRequest(rss)
	if err != nil {
		t.Fatal(err)
	}
	var m coltrace.ExportTraceServiceRequest
	if err := proto.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	if !proto.Equal(&m, &coltrace.ExportTraceServiceRequest{ResourceSpans: rss}) {
		t.Fatalf("%v", &m)
	}
}
