package cmd

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/cectl/cectl/internal/format"
	"github.com/cectl/cectl/internal/listen"
	"github.com/cectl/cectl/internal/trace"
	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/spf13/pflag"
)

func registerTraceFlag(fs *pflag.FlagSet, df *deliveryFlags) {
	fs.BoolVar(&df.Trace, "trace", false, "start a W3C trace: set the traceparent extension and the traceparent header (HTTP, NATS)")
}

// startTrace, with --trace or when spans are exported, starts a trace for one event: the traceparent HTTP header (W3C
// Trace Context §3.2) joins the request's headers, before the target is opened with them.
// The event gets the same context as the distributed tracing extension once it is built.
func (df *deliveryFlags) startTrace(h http.Header, exporting bool) (trace.Context, bool) {
	if !df.Trace && !exporting {
		return trace.Context{}, false
	}
	tc := trace.New()
	h.Set(trace.AttrParent, tc.Traceparent())
	return tc, true
}

// showTrace says on stderr which trace an event is in, when it is in one.
func showTrace(f *Factory, what string, e *event.Event) {
	if tc, ok := trace.FromEvent(e); ok {
		fmt.Fprintf(f.IO.ErrOut, "%s trace %s span %s\n", format.Sanitize(what), tc.TraceIDString(), tc.SpanIDString())
	}
}

// otelExporter is the span exporter the OpenTelemetry environment variables ask for, or nil
// when OTEL_EXPORTER_OTLP_ENDPOINT (or _TRACES_ENDPOINT) is not set, OTEL_SDK_DISABLED is
// true or OTEL_TRACES_EXPORTER is none; only then is anything made. A malformed setting is a
// usage error naming the variable; one cectl does not support (a gRPC protocol) is a warning.
func otelExporter(f *Factory) (*trace.Exporter, error) {
	e, err := trace.ExporterFromEnv(trace.Config{
		Getenv:  f.Getenv,
		Version: f.Build.version(),
		Warn: func(msg string) {
			fmt.Fprintf(f.IO.ErrOut, "%s %s\n", f.ErrStyles().Warn.Sprint("warning:"), format.Sanitize(msg))
		},
	})
	if err != nil {
		return nil, &FlagError{Err: err}
	}
	return e, nil
}

// finishExport sends the spans still queued, giving up after the export timeout
// (OTEL_EXPORTER_OTLP_TIMEOUT) and a second, or at once on Ctrl-C or SIGTERM: a collector
// that takes the connection and never answers would otherwise hold the command that long
// after its work is done, deaf to Ctrl-C. A failure is a warning: the events themselves went
// where they were sent.
func finishExport(f *Factory, e *trace.Exporter) {
	if e == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), e.Timeout()+time.Second)
	defer cancel()
	// The command's own signal handler has stopped listening after a first signal (listen
	// gets here through one), so this wait listens for its own.
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sig)
	interrupted := make(chan struct{})
	go func() {
		select {
		case <-sig:
			close(interrupted)
			cancel()
		case <-ctx.Done():
		}
	}()
	err := e.Shutdown(ctx)
	select {
	case <-interrupted:
		fmt.Fprintf(f.IO.ErrOut, "%s %s\n", f.ErrStyles().Warn.Sprint("warning:"), "interrupted: the last spans were not exported")
		return
	default:
	}
	if err != nil {
		fmt.Fprintf(f.IO.ErrOut, "%s %s\n", f.ErrStyles().Warn.Sprint("warning:"), format.Sanitize(err.Error()))
	}
}

// eventAttrs are the attributes of a span about an event (OpenTelemetry semantic
// conventions for CloudEvents).
func eventAttrs(e *event.Event) []trace.Attr {
	return []trace.Attr{
		{Key: "cloudevents.event_id", Value: e.ID()},
		{Key: "cloudevents.event_source", Value: e.Source()},
		{Key: "cloudevents.event_spec_version", Value: e.SpecVersion()},
		{Key: "cloudevents.event_type", Value: e.Type()},
	}
}

// deliverySpan is the span of sending e in context tc, from start to now.
func deliverySpan(tc trace.Context, kind trace.SpanKind, name string, e *event.Event, to string, start time.Time, status int, failure string) trace.Span {
	attrs := append(eventAttrs(e), trace.Attr{Key: "url.full", Value: to})
	if status > 0 {
		attrs = append(attrs, trace.Attr{Key: "http.response.status_code", Value: status})
	}
	return trace.Span{Context: tc, Name: name + " " + e.Type(), Kind: kind, Start: start, End: time.Now(), Attrs: attrs, Err: failure}
}

// traceReports wraps a listener's show so that every shown event in a trace gets a
// consumer span, a child of the sender's span: in the reply's context when listen replied
// in the trace. An event that could not be shown is not acknowledged, and gets no span.
//
// The sender's span is the event's traceparent extension or, for an event without it, the
// request's traceparent header: the distributed tracing extension ("Using the Distributed
// Tracing Extension") has the transport's header carry the hop's trace and the extension the
// trace the event started in, the same on a single hop, and lets either be missing.
func traceReports(exp *trace.Exporter, show func(*listen.Report) error) func(*listen.Report) error {
	return func(rep *listen.Report) error {
		if err := show(rep); err != nil || rep.Kind != listen.KindEvents {
			return err
		}
		var replyTC trace.Context
		replied := false
		if rep.Reply != nil {
			replyTC, replied = trace.FromEvent(rep.Reply)
		}
		header, inHeader := trace.FromHeader(rep.Header)
		for i := range rep.Events {
			e := rep.Events[i].Event
			parent, ok := trace.FromEvent(e)
			if !ok {
				parent, ok = header, inHeader
			}
			if !ok {
				continue
			}
			tc := parent.Child()
			if replied && i == 0 && replyTC.TraceID == parent.TraceID {
				tc = replyTC
			}
			attrs := append(eventAttrs(e), trace.Attr{Key: "http.response.status_code", Value: rep.Status})
			failure := ""
			if rep.Status >= 300 {
				failure = rep.Reason
				if failure == "" {
					failure = strconv.Itoa(rep.Status)
				}
			}
			exp.Export(trace.Span{Context: tc, Parent: parent.SpanID, Name: "receive " + e.Type(), Kind: trace.KindConsumer,
				Start: rep.Received, End: time.Now(), Attrs: attrs, Err: failure})
		}
		return nil
	}
}
