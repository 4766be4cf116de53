package trace

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Spans go out as OTLP/HTTP with the binary protobuf encoding (OTLP specification,
// "OTLP/HTTP"), encoded here field by field. The OpenTelemetry Go SDK and its OTLP exporter
// would do the same, but linking them in costs every cectl command — send included, whose
// start-up is measured against curl — a few milliseconds of package initialisation
// (protobuf descriptors, gRPC status types) whether it exports or not.

// SpanKind is the kind of a span (OTLP Span.SpanKind).
type SpanKind int

// The span kinds cectl makes.
const (
	KindServer   SpanKind = 2
	KindClient   SpanKind = 3
	KindProducer SpanKind = 4
	KindConsumer SpanKind = 5
)

// Span is one finished operation.
type Span struct {
	Context    Context // trace id, span id, flags and tracestate
	Parent     [8]byte // zero for a root span
	Name       string
	Kind       SpanKind
	Start, End time.Time
	Attrs      []Attr
	Err        string // set when the operation failed: status ERROR with this message
}

// Attr is a span attribute; a string, int64 or bool value.
type Attr struct {
	Key   string
	Value any
}

// Exporter sends spans to an OTLP/HTTP endpoint, in batches. It is safe for concurrent use.
type Exporter struct {
	url     string
	header  http.Header
	service string
	client  *http.Client

	mu      sync.Mutex
	pending []Span
	kick    chan struct{}
	done    chan struct{}
	stopped bool
	errs    []error
	wg      sync.WaitGroup
}

// ExporterFromEnv returns an exporter configured by the OpenTelemetry environment variables
// (OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, or OTEL_EXPORTER_OTLP_ENDPOINT + "/v1/traces";
// OTEL_EXPORTER_OTLP_HEADERS / _TRACES_HEADERS; OTEL_SERVICE_NAME), or nil when no
// endpoint is set: then nothing is made and nothing is exported.
func ExporterFromEnv(getenv func(string) string) (*Exporter, error) {
	url := getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
	if url == "" {
		base := getenv("OTEL_EXPORTER_OTLP_ENDPOINT")
		if base == "" {
			return nil, nil
		}
		url = strings.TrimSuffix(base, "/") + "/v1/traces"
	}
	if !strings.HasPrefix(url, "http://") && !strings.HasPrefix(url, "https://") {
		return nil, fmt.Errorf("OTEL_EXPORTER_OTLP_ENDPOINT %q: want an http or https URL (OTLP over HTTP)", url)
	}
	h := http.Header{}
	for _, name := range []string{"OTEL_EXPORTER_OTLP_HEADERS", "OTEL_EXPORTER_OTLP_TRACES_HEADERS"} {
		for _, kv := range strings.Split(getenv(name), ",") {
			if strings.TrimSpace(kv) == "" {
				continue
			}
			k, v, ok := strings.Cut(kv, "=")
			if !ok {
				return nil, fmt.Errorf("%s: %q is not key=value", name, kv)
			}
			h.Set(strings.TrimSpace(k), strings.TrimSpace(v))
		}
	}
	service := getenv("OTEL_SERVICE_NAME")
	if service == "" {
		service = "cectl"
	}
	e := &Exporter{url: url, header: h, service: service, client: &http.Client{Timeout: 10 * time.Second},
		kick: make(chan struct{}, 1), done: make(chan struct{})}
	e.wg.Add(1)
	go e.loop()
	return e, nil
}

// batchSize is how many spans make a request; batchDelay how long a span may wait for more.
const (
	batchSize  = 512
	batchDelay = time.Second
)

// Export queues a span; it goes out within batchDelay, or at Shutdown.
func (e *Exporter) Export(s Span) {
	if e == nil {
		return
	}
	e.mu.Lock()
	if e.stopped {
		e.mu.Unlock()
		return
	}
	e.pending = append(e.pending, s)
	full := len(e.pending) >= batchSize
	e.mu.Unlock()
	if full {
		select {
		case e.kick <- struct{}{}:
		default:
		}
	}
}

func (e *Exporter) loop() {
	defer e.wg.Done()
	t := time.NewTicker(batchDelay)
	defer t.Stop()
	for {
		select {
		case <-t.C:
		case <-e.kick:
		case <-e.done:
			e.flush()
			return
		}
		e.flush()
	}
}

func (e *Exporter) flush() {
	e.mu.Lock()
	spans := e.pending
	e.pending = nil
	e.mu.Unlock()
	for len(spans) > 0 {
		n := min(len(spans), batchSize)
		if err := e.post(spans[:n]); err != nil {
			e.mu.Lock()
			e.errs = append(e.errs, err)
			e.mu.Unlock()
		}
		spans = spans[n:]
	}
}

// Shutdown sends what is queued and stops; it returns the first export error, if any.
func (e *Exporter) Shutdown(ctx context.Context) error {
	if e == nil {
		return nil
	}
	e.mu.Lock()
	if !e.stopped {
		e.stopped = true
		close(e.done)
	}
	e.mu.Unlock()
	finished := make(chan struct{})
	go func() { e.wg.Wait(); close(finished) }()
	select {
	case <-finished:
	case <-ctx.Done():
		return fmt.Errorf("exporting spans to %s: %w", e.url, ctx.Err())
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if len(e.errs) > 0 {
		return e.errs[0]
	}
	return nil
}

func (e *Exporter) post(spans []Span) error {
	body := e.encode(spans)
	req, err := http.NewRequest(http.MethodPost, e.url, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("exporting spans to %s: %w", e.url, err)
	}
	for k, v := range e.header {
		req.Header[k] = v
	}
	req.Header.Set("Content-Type", "application/x-protobuf")
	resp, err := e.client.Do(req)
	if err != nil {
		return fmt.Errorf("exporting spans to %s: %w", e.url, err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("exporting spans to %s: %s", e.url, resp.Status)
	}
	return nil
}

// --- protobuf encoding (protobuf wire format: tag = field<<3 | wire type) ---

const (
	wireVarint  = 0
	wireFixed64 = 1
	wireBytes   = 2
	wireFixed32 = 5
)

type pb []byte

func (b pb) tag(field, wire int) pb { return binary.AppendUvarint(b, uint64(field<<3|wire)) }

func (b pb) bytes(field int, v []byte) pb {
	b = b.tag(field, wireBytes)
	b = binary.AppendUvarint(b, uint64(len(v)))
	return append(b, v...)
}

func (b pb) str(field int, v string) pb {
	if v == "" {
		return b
	}
	return b.bytes(field, []byte(v))
}

func (b pb) varint(field int, v uint64) pb {
	if v == 0 {
		return b
	}
	return binary.AppendUvarint(b.tag(field, wireVarint), v)
}

func (b pb) fixed64(field int, v uint64) pb {
	return binary.LittleEndian.AppendUint64(b.tag(field, wireFixed64), v)
}

func (b pb) fixed32(field int, v uint32) pb {
	return binary.LittleEndian.AppendUint32(b.tag(field, wireFixed32), v)
}

// keyValue encodes an opentelemetry.proto.common.v1.KeyValue.
func keyValue(key string, v any) []byte {
	var av pb
	switch x := v.(type) {
	case string:
		av = av.bytes(1, []byte(x)) // string_value, even when empty
	case bool:
		b := uint64(0)
		if x {
			b = 1
		}
		av = binary.AppendUvarint(av.tag(2, wireVarint), b)
	case int:
		av = binary.AppendUvarint(av.tag(3, wireVarint), uint64(int64(x)))
	case int64:
		av = binary.AppendUvarint(av.tag(3, wireVarint), uint64(x))
	case float64:
		av = av.fixed64(4, math.Float64bits(x))
	default:
		av = av.bytes(1, []byte(fmt.Sprint(x)))
	}
	var kv pb
	kv = kv.str(1, key)
	return kv.bytes(2, av)
}

func unixNano(t time.Time) uint64 {
	if t.IsZero() {
		return 0
	}
	return uint64(t.UnixNano())
}

// encode makes an opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest.
func (e *Exporter) encode(spans []Span) []byte {
	var resource pb
	resource = resource.bytes(1, keyValue("service.name", e.service))
	var scope pb
	scope = scope.str(1, "github.com/cectl/cectl")
	var ss pb
	ss = ss.bytes(1, scope)
	for i := range spans {
		ss = ss.bytes(2, encodeSpan(&spans[i]))
	}
	var rs pb
	rs = rs.bytes(1, resource)
	rs = rs.bytes(2, ss)
	var req pb
	return req.bytes(1, rs)
}

// encodeSpan makes an opentelemetry.proto.trace.v1.Span.
func encodeSpan(s *Span) []byte {
	var b pb
	b = b.bytes(1, s.Context.TraceID[:])
	b = b.bytes(2, s.Context.SpanID[:])
	b = b.str(3, s.Context.State)
	if !isZero(s.Parent[:]) {
		b = b.bytes(4, s.Parent[:])
	}
	b = b.str(5, s.Name)
	b = b.varint(6, uint64(s.Kind))
	b = b.fixed64(7, unixNano(s.Start))
	b = b.fixed64(8, unixNano(s.End))
	for _, a := range s.Attrs {
		b = b.bytes(9, keyValue(a.Key, a.Value))
	}
	if s.Err != "" {
		var st pb
		st = st.str(2, s.Err)
		st = st.varint(3, 2) // STATUS_CODE_ERROR
		b = b.bytes(15, st)
	}
	b = b.fixed32(16, uint32(s.Context.Flags))
	return b
}
