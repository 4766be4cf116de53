package trace

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
)

// httpClient is the otlptrace.Client that posts spans as OTLP/HTTP with the binary protobuf
// encoding (OTLP specification, "OTLP/HTTP"). The request message,
// ExportTraceServiceRequest, is a repeated ResourceSpans in field 1; it is written here
// with protowire around the SDK's ResourceSpans, because the Go package that defines it
// (and the SDK's own HTTP client, which uses it) links in gRPC, whose initialisation every
// cectl command would pay at start-up.
type httpClient struct {
	url     string
	header  http.Header
	timeout time.Duration
	gzip    bool
	http    *http.Client
	errs    errOnce
}

// Field numbers of opentelemetry.proto.collector.trace.v1: ExportTraceServiceRequest
// .resource_spans, ExportTraceServiceResponse.partial_success,
// ExportTracePartialSuccess.rejected_spans and .error_message; google.rpc.Status.message.
const (
	fieldResourceSpans = 1
	fieldPartial       = 1
	fieldRejected      = 1
	fieldErrorMessage  = 2
	fieldStatusMessage = 2
)

func (c *httpClient) Start(context.Context) error { return nil }

func (c *httpClient) Stop(context.Context) error {
	c.http.CloseIdleConnections()
	return nil
}

// UploadTraces posts one export request. A failure is kept for Shutdown to report, and not
// returned: the SDK would hand it to the process-wide OpenTelemetry error handler, which
// logs it on stderr in a format of its own.
func (c *httpClient) UploadTraces(ctx context.Context, rss []*tracepb.ResourceSpans) error {
	if len(rss) == 0 {
		return nil
	}
	body, err := encodeRequest(rss)
	if err == nil {
		err = c.post(ctx, body)
	}
	if err != nil {
		c.errs.set(fmt.Errorf("exporting spans to %s: %w", c.url, err))
	}
	return nil
}

func (c *httpClient) err() error { return c.errs.get() }

// encodeRequest makes an ExportTraceServiceRequest of rss.
func encodeRequest(rss []*tracepb.ResourceSpans) ([]byte, error) {
	var b []byte
	opts := proto.MarshalOptions{UseCachedSize: true}
	for _, rs := range rss {
		n := proto.Size(rs)
		b = protowire.AppendTag(b, fieldResourceSpans, protowire.BytesType)
		b = protowire.AppendVarint(b, uint64(n))
		var err error
		if b, err = opts.MarshalAppend(b, rs); err != nil {
			return nil, err
		}
	}
	return b, nil
}

func (c *httpClient) post(ctx context.Context, body []byte) error {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	if c.gzip {
		var z bytes.Buffer
		zw := gzip.NewWriter(&z)
		_, _ = zw.Write(body)
		if err := zw.Close(); err != nil {
			return err
		}
		body = z.Bytes()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	for k, v := range c.header {
		req.Header[k] = v
	}
	if c.gzip {
		req.Header.Set("Content-Encoding", "gzip")
	}
	resp, err := c.http.Do(req)
	if ue := (*url.Error)(nil); errors.As(err, &ue) {
		return ue.Err // the message names the URL already
	} else if err != nil {
		return err
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode/100 != 2 {
		if msg := protoString(answer, fieldStatusMessage); msg != "" && resp.Header.Get("Content-Type") == "application/x-protobuf" {
			return fmt.Errorf("%s: %s", resp.Status, msg)
		}
		return fmt.Errorf("%s", resp.Status)
	}
	// A partial success names the spans the collector did not take (OTLP specification,
	// "Partial Success").
	if partial, ok := protoBytes(answer, fieldPartial); ok {
		rejected, _ := protoVarint(partial, fieldRejected)
		if rejected > 0 {
			msg := protoString(partial, fieldErrorMessage)
			return fmt.Errorf("the collector rejected %d spans: %s", rejected, msg)
		}
	}
	return nil
}

// protoBytes finds the last length-delimited field num of a protobuf message.
func protoBytes(b []byte, num protowire.Number) ([]byte, bool) {
	var out []byte
	found := false
	for len(b) > 0 {
		n, typ, l := protowire.ConsumeTag(b)
		if l < 0 {
			return nil, false
		}
		b = b[l:]
		if n == num && typ == protowire.BytesType {
			v, l := protowire.ConsumeBytes(b)
			if l < 0 {
				return nil, false
			}
			out, found = v, true
			b = b[l:]
			continue
		}
		l = protowire.ConsumeFieldValue(n, typ, b)
		if l < 0 {
			return nil, false
		}
		b = b[l:]
	}
	return out, found
}

func protoString(b []byte, num protowire.Number) string {
	v, _ := protoBytes(b, num)
	return string(v)
}

// protoVarint finds the last varint field num of a protobuf message.
func protoVarint(b []byte, num protowire.Number) (uint64, bool) {
	var out uint64
	found := false
	for len(b) > 0 {
		n, typ, l := protowire.ConsumeTag(b)
		if l < 0 {
			return 0, false
		}
		b = b[l:]
		if n == num && typ == protowire.VarintType {
			v, l := protowire.ConsumeVarint(b)
			if l < 0 {
				return 0, false
			}
			out, found = v, true
			b = b[l:]
			continue
		}
		l = protowire.ConsumeFieldValue(n, typ, b)
		if l < 0 {
			return 0, false
		}
		b = b[l:]
	}
	return out, found
}
