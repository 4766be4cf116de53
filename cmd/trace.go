package cmd

import (
	"fmt"
	"net/http"

	"github.com/cectl/cectl/internal/format"
	"github.com/cectl/cectl/internal/trace"
	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/spf13/pflag"
)

func registerTraceFlag(fs *pflag.FlagSet, df *deliveryFlags) {
	fs.BoolVar(&df.Trace, "trace", false, "start a W3C trace: set the traceparent extension and the traceparent HTTP header")
}

// startTrace, with --trace, starts a trace for one event: the traceparent HTTP header (W3C
// Trace Context §3.2) joins the request's headers, before the target is opened with them.
// The event gets the same context as the distributed tracing extension once it is built.
func (df *deliveryFlags) startTrace(h http.Header) (trace.Context, bool) {
	if !df.Trace {
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
