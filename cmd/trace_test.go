package cmd

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cectl/cectl/internal/testutil"
	coltrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"
)

// otlpReceiver is an OTLP/HTTP trace receiver that decodes the protobuf that arrives.
type otlpReceiver struct {
	*httptest.Server
	mu       sync.Mutex
	spans    []*tracepb.Span
	resource []*commonpb.KeyValue
	headers  []http.Header
}

func newOTLPReceiver(t *testing.T) *otlpReceiver {
	r := &otlpReceiver{}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		var body io.Reader = req.Body
		if req.Header.Get("Content-Encoding") == "gzip" {
			zr, err := gzip.NewReader(req.Body)
			if err != nil {
				t.Errorf("OTLP receiver: %v", err)
				w.WriteHeader(http.StatusBadRequest)
				return
			}
			body = zr
		}
		b, _ := io.ReadAll(body)
		var m coltrace.ExportTraceServiceRequest
		if req.URL.Path != "/v1/traces" || proto.Unmarshal(b, &m) != nil {
			t.Errorf("OTLP receiver: %s, %d bytes that do not decode", req.URL.Path, len(b))
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		r.mu.Lock()
		defer r.mu.Unlock()
		r.headers = append(r.headers, req.Header.Clone())
		for _, rs := range m.ResourceSpans {
			r.resource = rs.Resource.GetAttributes()
			for _, ss := range rs.ScopeSpans {
				r.spans = append(r.spans, ss.Spans...)
			}
		}
	}))
	t.Cleanup(r.Close)
	return r
}

func (r *otlpReceiver) byKind(k tracepb.Span_SpanKind) []*tracepb.Span {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []*tracepb.Span
	for _, s := range r.spans {
		if s.Kind == k {
			out = append(out, s)
		}
	}
	return out
}

func (r *otlpReceiver) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.spans)
}

// TestSpansAcrossSendListenRequest: send and request export their spans, listen exports a
// child span for each traced event, all in the sender's trace.
func TestSpansAcrossSendListenRequest(t *testing.T) {
	rcv := newOTLPReceiver(t)
	env := map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": rcv.URL}
	getenv := func(k string) string { return env[k] }

	reply := filepath.Join(t.TempDir(), "pong.json")
	if err := os.WriteFile(reply, []byte(`{"specversion":"1.0","source":"/svc","type":"com.example.pong"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	var out, errOut testutil.Buffer
	opts, err := parseListen(t, &out, &errOut, "-p", "0", "--reply", reply, "--count", "2", "-q")
	if err != nil {
		t.Fatal(err)
	}
	opts.F.Getenv, opts.F.Output = getenv, "text"
	ready := make(chan string, 1)
	opts.Ready = func(url string) { ready <- url }
	done := make(chan error, 1)
	go func() { done <- listenRun(context.Background(), opts) }()
	var url string
	select {
	case url = <-ready:
	case err := <-done:
		t.Fatalf("listen: %v", err)
	}

	// send, with OTEL set: traced without --trace.
	f, sendOut, sendErr := testFactory("", env)
	if code := Run(context.Background(), f.IO, f.Build, []string{"send", "--to", url, "--type", "com.example.order"}, getenv); code != 0 {
		t.Fatalf("send: %d %s %s", code, sendOut, sendErr)
	}
	sent := regexp.MustCompile(`trace ([0-9a-f]{32}) span ([0-9a-f]{16})`).FindStringSubmatch(sendErr.String())
	if sent == nil {
		t.Fatalf("send did not say its trace: %s", sendErr)
	}
	// request --trace: the reply comes back in the same trace.
	f, reqOut, reqErr := testFactory("", env)
	if code := Run(context.Background(), f.IO, f.Build, []string{"request", "--to", url, "--type", "com.example.ping", "--trace"}, getenv); code != 0 {
		t.Fatalf("request: %d %s %s", code, reqOut, reqErr)
	}
	replied := regexp.MustCompile(`reply in trace ([0-9a-f]{32}) span ([0-9a-f]{16})`).FindStringSubmatch(reqErr.String())
	if replied == nil {
		t.Fatalf("request did not show the reply's trace: %s", reqErr)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("listen did not stop")
	}

	producers := rcv.byKind(tracepb.Span_SPAN_KIND_PRODUCER)
	clients := rcv.byKind(tracepb.Span_SPAN_KIND_CLIENT)
	consumers := rcv.byKind(tracepb.Span_SPAN_KIND_CONSUMER)
	if len(producers) != 1 || len(clients) != 1 || len(consumers) != 2 {
		t.Fatalf("%d producer, %d client, %d consumer spans", len(producers), len(clients), len(consumers))
	}
	p := producers[0]
	if hex.EncodeToString(p.TraceId) != sent[1] || hex.EncodeToString(p.SpanId) != sent[2] || p.Name != "send com.example.order" {
		t.Errorf("send span %v, said %v", p, sent)
	}
	c := clients[0]
	if hex.EncodeToString(c.TraceId) != replied[1] || c.Name != "request com.example.ping" {
		t.Errorf("request span %v, reply %v", c, replied)
	}
	// listen's spans are children of the senders' spans; the one that replied is the span the
	// reply names as its parent.
	for _, parent := range []*tracepb.Span{p, c} {
		found := false
		for _, s := range consumers {
			if bytes.Equal(s.TraceId, parent.TraceId) && bytes.Equal(s.ParentSpanId, parent.SpanId) {
				found = true
				if parent == c && hex.EncodeToString(s.SpanId) != replied[2] {
					t.Errorf("listen's span %x is not the reply's %s", s.SpanId, replied[2])
				}
			}
		}
		if !found {
			t.Errorf("no listen span under %q", parent.Name)
		}
	}
}

// ackServer is an event receiver that acknowledges every request.
func ackServer(t *testing.T) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusAccepted) }))
	t.Cleanup(srv.Close)
	return srv.URL
}

// TestSendOTELEnvironment: send follows the OpenTelemetry environment variables: the
// resource (OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES), headers and gzip compression of the
// export; no export with OTEL_SDK_DISABLED or OTEL_TRACES_EXPORTER=none; a warning, and no
// export, for the gRPC protocol; a collector that is down is a warning, not a failure.
func TestSendOTELEnvironment(t *testing.T) {
	to := ackServer(t)
	send := func(env map[string]string) (int, string) {
		t.Helper()
		f, out, errOut := testFactory("", env)
		code := Run(context.Background(), f.IO, f.Build, []string{"send", "--to", to, "--type", "com.example.order"}, f.Getenv)
		if code == 0 && !strings.Contains(out.String(), "ACK") {
			t.Errorf("send: %s", out)
		}
		return code, errOut.String()
	}

	rcv := newOTLPReceiver(t)
	t.Setenv("OTEL_SERVICE_NAME", "orders")
	t.Setenv("OTEL_RESOURCE_ATTRIBUTES", "deployment.environment=ci")
	code, stderr := send(map[string]string{
		"OTEL_EXPORTER_OTLP_ENDPOINT":       rcv.URL,
		"OTEL_EXPORTER_OTLP_TRACES_HEADERS": "authorization=Bearer%20abc",
		"OTEL_EXPORTER_OTLP_COMPRESSION":    "gzip",
	})
	if code != 0 || strings.Contains(stderr, "warning") || rcv.count() != 1 {
		t.Fatalf("exit %d, %d spans, stderr %s", code, rcv.count(), stderr)
	}
	rcv.mu.Lock()
	res, h := map[string]string{}, rcv.headers[0]
	for _, kv := range rcv.resource {
		res[kv.Key] = kv.Value.GetStringValue()
	}
	rcv.mu.Unlock()
	if res["service.name"] != "orders" || res["deployment.environment"] != "ci" || res["service.version"] != "v1.2.3" {
		t.Errorf("resource %v", res)
	}
	if h.Get("Authorization") != "Bearer abc" || h.Get("Content-Encoding") != "gzip" {
		t.Errorf("export headers %v", h)
	}

	for _, off := range []map[string]string{
		{"OTEL_SDK_DISABLED": "true"},
		{"OTEL_TRACES_EXPORTER": "none"},
		{"OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"},
	} {
		rcv := newOTLPReceiver(t)
		off["OTEL_EXPORTER_OTLP_ENDPOINT"] = rcv.URL
		code, stderr := send(off)
		if code != 0 || rcv.count() != 0 || strings.Contains(stderr, "sending in trace") {
			t.Errorf("%v: exit %d, %d spans, stderr %s", off, code, rcv.count(), stderr)
		}
		want := "" // nothing to say: export is off as asked
		if off["OTEL_EXPORTER_OTLP_PROTOCOL"] != "" {
			want = "warning: OTEL_EXPORTER_OTLP_PROTOCOL=grpc: cectl exports spans only over OTLP/HTTP with protobuf (http/protobuf); no spans are exported\n"
		}
		if stderr != want {
			t.Errorf("%v: stderr %q, want %q", off, stderr, want)
		}
	}

	down := httptest.NewServer(http.NotFoundHandler())
	down.Close()
	code, stderr = send(map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": down.URL, "OTEL_EXPORTER_OTLP_TIMEOUT": "2000"})
	if code != 0 || !strings.Contains(stderr, "warning: exporting spans to "+down.URL+"/v1/traces: ") || strings.Count(stderr, down.URL) != 1 {
		t.Errorf("collector down: exit %d, stderr %s", code, stderr)
	}
}

// TestListenSpanFromTraceparentHeader: an event that carries its trace only in the
// traceparent HTTP header, not as the extension, gets a consumer span under the header's
// span.
func TestListenSpanFromTraceparentHeader(t *testing.T) {
	rcv := newOTLPReceiver(t)
	env := map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": rcv.URL}
	var out, errOut testutil.Buffer
	opts, err := parseListen(t, &out, &errOut, "-p", "0", "--count", "1", "-q")
	if err != nil {
		t.Fatal(err)
	}
	opts.F.Getenv = func(k string) string { return env[k] }
	ready := make(chan string, 1)
	opts.Ready = func(url string) { ready <- url }
	done := make(chan error, 1)
	go func() { done <- listenRun(context.Background(), opts) }()
	var url string
	select {
	case url = <-ready:
	case err := <-done:
		t.Fatalf("listen: %v", err)
	}
	const parent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(`{"a":1}`))
	for k, v := range map[string]string{"ce-specversion": "1.0", "ce-id": "1", "ce-source": "/s", "ce-type": "com.example.x",
		"Content-Type": "application/json", "traceparent": parent, "tracestate": "vendor=1"} {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("listen did not stop")
	}
	consumers := rcv.byKind(tracepb.Span_SPAN_KIND_CONSUMER)
	if len(consumers) != 1 {
		t.Fatalf("%d consumer spans", len(consumers))
	}
	s := consumers[0]
	if hex.EncodeToString(s.TraceId) != "4bf92f3577b34da6a3ce929d0e0e4736" || hex.EncodeToString(s.ParentSpanId) != "00f067aa0ba902b7" ||
		s.TraceState != "vendor=1" || s.Name != "receive com.example.x" {
		t.Errorf("span %v", s)
	}
}
