package cmd

import (
	"bytes"
	"context"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"sync"
	"testing"
	"time"

	"github.com/cectl/cectl/internal/testutil"
	coltrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"
)

// otlpReceiver is an OTLP/HTTP trace receiver that decodes the protobuf that arrives.
type otlpReceiver struct {
	*httptest.Server
	mu    sync.Mutex
	spans []*tracepb.Span
}

func newOTLPReceiver(t *testing.T) *otlpReceiver {
	r := &otlpReceiver{}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		var m coltrace.ExportTraceServiceRequest
		if req.URL.Path != "/v1/traces" || proto.Unmarshal(body, &m) != nil {
			t.Errorf("OTLP receiver: %s, %d bytes that do not decode", req.URL.Path, len(body))
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		r.mu.Lock()
		defer r.mu.Unlock()
		for _, rs := range m.ResourceSpans {
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
