package trace

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	oteltrace "go.opentelemetry.io/otel/trace"
)

// Spans are made and batched by the OpenTelemetry Go SDK (a TracerProvider with a batch span
// processor) and turned into OTLP by the SDK's OTLP trace exporter (otlptrace); client.go
// posts them as OTLP/HTTP protobuf.

// SpanKind is the kind of a span.
type SpanKind = oteltrace.SpanKind

// The span kinds cectl makes.
const (
	KindServer   = oteltrace.SpanKindServer
	KindClient   = oteltrace.SpanKindClient
	KindProducer = oteltrace.SpanKindProducer
	KindConsumer = oteltrace.SpanKindConsumer
)

// Span is one finished operation. Its ids are those already on the wire: the send's
// traceparent, the reply's; the SDK records the span under them (idGenerator).
type Span struct {
	Context    Context // trace id, span id, flags and tracestate
	Parent     [8]byte // zero for a root span
	Name       string
	Kind       SpanKind
	Start, End time.Time
	Attrs      []Attr
	Err        string // set when the operation failed: status ERROR with this message
}

// Attr is a span attribute; a string, int, int64, float64 or bool value.
type Attr struct {
	Key   string
	Value any
}

// Config is what an exporter is made from.
type Config struct {
	// Getenv reads the OTEL_* variables of the exporter. The resource (OTEL_SERVICE_NAME,
	// OTEL_RESOURCE_ATTRIBUTES) and the sampler (OTEL_TRACES_SAMPLER) are read from the
	// process environment by the SDK's own detectors.
	Getenv func(string) string
	// Version is cectl's: service.version and the instrumentation scope's version.
	Version string
	// Warn is told why spans are not exported when a variable asks for what cectl does not
	// do (a gRPC protocol, another exporter) or the resource is partly malformed.
	Warn func(string)
}

// Exporter makes spans with the OpenTelemetry SDK and exports them in batches over
// OTLP/HTTP. It is safe for concurrent use; a nil *Exporter exports nothing.
type Exporter struct {
	tp      *sdktrace.TracerProvider
	tracer  oteltrace.Tracer
	client  *httpClient
	timeout time.Duration
}

// ExporterFromEnv returns an exporter configured by the OpenTelemetry environment variables
// (OTLP exporter and SDK configuration), or nil when no endpoint is set
// (OTEL_EXPORTER_OTLP_ENDPOINT, OTEL_EXPORTER_OTLP_TRACES_ENDPOINT), when OTEL_SDK_DISABLED
// is true or OTEL_TRACES_EXPORTER is none: then nothing is made and nothing is exported. A
// protocol other than http/protobuf or an exporter other than otlp is a warning and exports
// nothing; a malformed setting is an error naming the variable.
func ExporterFromEnv(cfg Config) (*Exporter, error) {
	getenv := cfg.Getenv
	warn := cfg.Warn
	if warn == nil {
		warn = func(string) {}
	}
	endpoint, err := endpointFromEnv(getenv)
	if err != nil || endpoint == "" {
		return nil, err
	}
	if strings.EqualFold(strings.TrimSpace(getenv("OTEL_SDK_DISABLED")), "true") {
		return nil, nil
	}
	if v := strings.TrimSpace(getenv("OTEL_TRACES_EXPORTER")); v != "" {
		otlp, none := false, false
		for _, name := range strings.Split(v, ",") {
			switch strings.ToLower(strings.TrimSpace(name)) {
			case "otlp":
				otlp = true
			case "none":
				none = true
			}
		}
		switch {
		case otlp:
		case none:
			return nil, nil
		default:
			warn(fmt.Sprintf("OTEL_TRACES_EXPORTER=%s: cectl exports spans only with otlp; no spans are exported", v))
			return nil, nil
		}
	}
	if name, v := signalEnv(getenv, "PROTOCOL"); v != "" && v != "http/protobuf" {
		warn(fmt.Sprintf("%s=%s: cectl exports spans only over OTLP/HTTP with protobuf (http/protobuf); no spans are exported", name, v))
		return nil, nil
	}
	c, err := clientFromEnv(getenv, endpoint, cfg.Version)
	if err != nil {
		return nil, err
	}
	ctx := context.Background()
	exp, err := otlptrace.New(ctx, c)
	if err != nil {
		return nil, err
	}
	res, err := resource.New(ctx,
		resource.WithAttributes(attribute.String("service.name", "cectl"), attribute.String("service.version", cfg.Version)),
		resource.WithTelemetrySDK(),
		resource.WithFromEnv(), // OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES; last, so they win
	)
	if err != nil {
		// A malformed OTEL_RESOURCE_ATTRIBUTES: the resource keeps what could be read.
		warn(fmt.Sprintf("OpenTelemetry resource: %v", err))
	}
	tp := sdktrace.NewTracerProvider(
		sdktrace.WithBatcher(exp),
		sdktrace.WithResource(res),
		sdktrace.WithIDGenerator(idGenerator{}),
	)
	return &Exporter{
		tp:      tp,
		tracer:  tp.Tracer("github.com/cectl/cectl", oteltrace.WithInstrumentationVersion(cfg.Version)),
		client:  c,
		timeout: c.timeout,
	}, nil
}

// signalEnv reads OTEL_EXPORTER_OTLP_TRACES_<name>, or else OTEL_EXPORTER_OTLP_<name>: the
// signal's variable takes precedence (OTLP exporter configuration). It returns the name of
// the variable read, for messages.
func signalEnv(getenv func(string) string, name string) (string, string) {
	traces := "OTEL_EXPORTER_OTLP_TRACES_" + name
	if v := strings.TrimSpace(getenv(traces)); v != "" {
		return traces, v
	}
	generic := "OTEL_EXPORTER_OTLP_" + name
	return generic, strings.TrimSpace(getenv(generic))
}

// endpointFromEnv is the URL spans are posted to (OTLP exporter configuration, "Endpoint
// URLs for OTLP/HTTP"): OTEL_EXPORTER_OTLP_TRACES_ENDPOINT as it is (the root path when it
// has none), or OTEL_EXPORTER_OTLP_ENDPOINT with v1/traces appended to its path; "" when
// neither is set.
func endpointFromEnv(getenv func(string) string) (string, error) {
	name, v := "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", strings.TrimSpace(getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"))
	perSignal := v != ""
	if !perSignal {
		name, v = "OTEL_EXPORTER_OTLP_ENDPOINT", strings.TrimSpace(getenv("OTEL_EXPORTER_OTLP_ENDPOINT"))
	}
	if v == "" {
		return "", nil
	}
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("%s %q: want an http or https URL (OTLP over HTTP)", name, v)
	}
	switch {
	case perSignal && u.Path == "":
		u.Path = "/"
	case !perSignal:
		u.Path = strings.TrimSuffix(u.Path, "/") + "/v1/traces"
		u.RawPath = ""
	}
	return u.String(), nil
}

// clientFromEnv reads the rest of the exporter's variables: headers, timeout, compression
// and TLS files.
func clientFromEnv(getenv func(string) string, endpoint, version string) (*httpClient, error) {
	c := &httpClient{url: endpoint, header: http.Header{}, timeout: 10 * time.Second}
	if name, v := signalEnv(getenv, "HEADERS"); v != "" {
		if err := parseHeaders(c.header, v); err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
	}
	c.header.Set("Content-Type", "application/x-protobuf")
	if c.header.Get("User-Agent") == "" {
		c.header.Set("User-Agent", "cectl/"+version)
	}
	if name, v := signalEnv(getenv, "TIMEOUT"); v != "" {
		ms, err := strconv.ParseInt(v, 10, 64)
		if err != nil || ms <= 0 {
			return nil, fmt.Errorf("%s %q: want a positive number of milliseconds", name, v)
		}
		c.timeout = time.Duration(ms) * time.Millisecond
	}
	switch name, v := signalEnv(getenv, "COMPRESSION"); strings.ToLower(v) {
	case "", "none":
	case "gzip":
		c.gzip = true
	default:
		return nil, fmt.Errorf("%s %q: want gzip or none", name, v)
	}
	tc, err := tlsFromEnv(getenv)
	if err != nil {
		return nil, err
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	if tc != nil {
		tr.TLSClientConfig = tc
	}
	c.http = &http.Client{Transport: tr}
	return c, nil
}

// parseHeaders reads key=value pairs separated by commas, values percent-encoded (OTLP
// exporter configuration: the W3C Baggage format without properties).
func parseHeaders(h http.Header, s string) error {
	for _, kv := range strings.Split(s, ",") {
		if strings.TrimSpace(kv) == "" {
			continue
		}
		k, v, ok := strings.Cut(kv, "=")
		k = strings.TrimSpace(k)
		if !ok || k == "" {
			return fmt.Errorf("%q is not key=value", kv)
		}
		dv, err := url.PathUnescape(strings.TrimSpace(v))
		if err != nil {
			return fmt.Errorf("%q: the value is not percent-encoded: %w", kv, err)
		}
		h.Set(k, dv)
	}
	return nil
}

// tlsFromEnv is the TLS configuration of OTEL_EXPORTER_OTLP(_TRACES)_CERTIFICATE (the
// collector's CA, PEM), _CLIENT_CERTIFICATE and _CLIENT_KEY (a client certificate); nil when
// none is set.
func tlsFromEnv(getenv func(string) string) (*tls.Config, error) {
	caName, ca := signalEnv(getenv, "CERTIFICATE")
	certName, cert := signalEnv(getenv, "CLIENT_CERTIFICATE")
	keyName, key := signalEnv(getenv, "CLIENT_KEY")
	if ca == "" && cert == "" && key == "" {
		return nil, nil
	}
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	if ca != "" {
		pem, err := os.ReadFile(ca)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", caName, err)
		}
		tc.RootCAs = x509.NewCertPool()
		if !tc.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("%s %s: no PEM certificate in the file", caName, ca)
		}
	}
	if cert != "" || key != "" {
		if cert == "" || key == "" {
			return nil, fmt.Errorf("%s and %s go together", certName, keyName)
		}
		pair, err := tls.LoadX509KeyPair(cert, key)
		if err != nil {
			return nil, fmt.Errorf("%s, %s: %w", certName, keyName, err)
		}
		tc.Certificates = []tls.Certificate{pair}
	}
	return tc, nil
}

// Export records a finished span; it goes out with the next batch, or at Shutdown.
func (e *Exporter) Export(s Span) {
	if e == nil {
		return
	}
	ctx := withIDs(context.Background(), s.Context)
	if s.Parent != ([8]byte{}) {
		ts, err := oteltrace.ParseTraceState(s.Context.State)
		if err != nil {
			ts = oteltrace.TraceState{}
		}
		ctx = oteltrace.ContextWithRemoteSpanContext(ctx, oteltrace.NewSpanContext(oteltrace.SpanContextConfig{
			TraceID: s.Context.TraceID, SpanID: s.Parent, TraceFlags: oteltrace.TraceFlags(s.Context.Flags),
			TraceState: ts, Remote: true,
		}))
	}
	attrs := make([]attribute.KeyValue, 0, len(s.Attrs))
	for _, a := range s.Attrs {
		attrs = append(attrs, attr(a))
	}
	_, span := e.tracer.Start(ctx, s.Name, oteltrace.WithSpanKind(s.Kind), oteltrace.WithTimestamp(s.Start),
		oteltrace.WithAttributes(attrs...))
	if s.Err != "" {
		span.SetStatus(codes.Error, s.Err)
	}
	end := s.End
	if end.IsZero() {
		end = time.Now()
	}
	span.End(oteltrace.WithTimestamp(end))
}

func attr(a Attr) attribute.KeyValue {
	switch v := a.Value.(type) {
	case string:
		return attribute.String(a.Key, v)
	case bool:
		return attribute.Bool(a.Key, v)
	case int:
		return attribute.Int(a.Key, v)
	case int64:
		return attribute.Int64(a.Key, v)
	case float64:
		return attribute.Float64(a.Key, v)
	default:
		return attribute.String(a.Key, fmt.Sprint(v))
	}
}

// Timeout is how long one export may take (OTEL_EXPORTER_OTLP_TIMEOUT).
func (e *Exporter) Timeout() time.Duration {
	if e == nil {
		return 0
	}
	return e.timeout
}

// Shutdown sends what is queued and stops; it returns the first export error, if any.
func (e *Exporter) Shutdown(ctx context.Context) error {
	if e == nil {
		return nil
	}
	if err := e.tp.Shutdown(ctx); err != nil {
		if cerr := e.client.err(); cerr != nil {
			return cerr
		}
		return fmt.Errorf("exporting spans to %s: %w", e.client.url, err)
	}
	return e.client.err()
}

// idGenerator gives a span the ids put in the context by withIDs, and random ones to any
// other: cectl writes a span's traceparent on the wire (the event's extension, the HTTP
// header, a reply) before the span is recorded, and the recorded span must be that one.
type idGenerator struct{}

type idsKey struct{}

func withIDs(ctx context.Context, c Context) context.Context {
	return context.WithValue(ctx, idsKey{}, c)
}

func (idGenerator) NewIDs(ctx context.Context) (oteltrace.TraceID, oteltrace.SpanID) {
	if c, ok := ctx.Value(idsKey{}).(Context); ok && c.Valid() {
		return c.TraceID, c.SpanID
	}
	c := New()
	return c.TraceID, c.SpanID
}

func (idGenerator) NewSpanID(ctx context.Context, traceID oteltrace.TraceID) oteltrace.SpanID {
	if c, ok := ctx.Value(idsKey{}).(Context); ok && c.Valid() && c.TraceID == [16]byte(traceID) {
		return c.SpanID
	}
	return NewSpanID()
}

// errOnce keeps the first export error.
type errOnce struct {
	mu    sync.Mutex
	first error
}

func (o *errOnce) set(err error) {
	o.mu.Lock()
	if o.first == nil {
		o.first = err
	}
	o.mu.Unlock()
}

func (o *errOnce) get() error {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.first
}
