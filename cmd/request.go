package cmd

import (
	"context"
	"errors"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/cectl/cectl/internal/binding"
	"github.com/cectl/cectl/internal/client"
	"github.com/cectl/cectl/internal/format"
	"github.com/cectl/cectl/internal/trace"
	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/spf13/cobra"
)

// RequestOptions are the options of cectl request.
type RequestOptions struct {
	F        *Factory
	Event    eventFlags
	Delivery deliveryFlags
	Quiet    bool
	Template string
}

// NewCmdRequest builds `cectl request`.
func NewCmdRequest(f *Factory, runF func(context.Context, *RequestOptions) error) *cobra.Command {
	opts := &RequestOptions{F: f}
	cmd := &cobra.Command{
		Use:   "request --to <url> --type <type> [key=value | key:=json ...] [flags]",
		Short: "Send a CloudEvent and show the event that comes back",
		Long: `Send one event built from flags and wait for the reply: the event in the HTTP response,
in binary, structured or batch mode. The reply is shown the way listen shows events (with -o
json: the reply in the CloudEvents JSON format, one line per event); the status and the
round-trip time go to stderr. Data items (key=value, key:=json, user[name]=Ada) build JSON
data as for send. --trace sends the event in a new W3C trace
(traceparent extension and header) and shows the reply's trace; with
OTEL_EXPORTER_OTLP_ENDPOINT set the exchange is traced and exported as an OTLP span.

A 2xx response without an event, or any non-2xx response, is a failure (exit 1).

Over NATS, MQTT 5 and AMQP 1.0 the request names where to answer (a reply subject, a response
topic with correlation data, a reply-to address) and waits up to --timeout for the event that
answers it, from 'cectl listen --from URL --reply FILE' or any service; no answer is "not
delivered" (exit 3).

` + targetsHelp(func(tr *client.Transport) bool { return tr.NoRequest == "" }) + `

` + exitCodesHelp,
		Example: `  $ cectl request --to http://localhost:8080 --type com.example.ping
  $ cectl request --to http://localhost:8080 --type com.example.order.get --data '{"order":7}' -o json | jq .data
  $ cectl request --to http://localhost:8080 --type com.example.order.get order:=7
  $ cectl request --to @staging --type com.example.ping
  $ cectl request --to http://localhost:8080 --type com.example.quote --template '{{.data.price}}'
  $ cectl request --to mqtt://localhost:1883/shop/quotes --type com.example.quote --timeout 5s
  $ cectl request --to http://localhost:8080 --type com.example.ping --trace`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := useItems(&opts.Event, args, ""); err != nil {
				return err
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return requestRun(cmd.Context(), opts)
		},
	}
	opts.Event.register(cmd.Flags())
	opts.Delivery.register(cmd)
	cmd.Flags().BoolVarP(&opts.Quiet, "quiet", "q", false, "show only the header line of the reply")
	cmd.Flags().StringVar(&opts.Template, "template", "", "print the reply through this Go `template` over its JSON form, e.g. '{{.type}} {{.data.price}}'")
	cmd.MarkFlagsMutuallyExclusive("quiet", "template")
	return cmd
}

func requestRun(ctx context.Context, opts *RequestOptions) error {
	f := opts.F
	to, mode, headers, err := opts.Delivery.resolve(f.Getenv)
	if err != nil {
		return err
	}
	tmpl, err := parseTemplate(f, opts.Template)
	if err != nil {
		return err
	}
	opts.Event.Warn = warnOnce(f)
	opts.Event.Open = f.dataOpener(ctx)
	e, err := opts.Event.build(f.IO.In, time.Now())
	if err != nil {
		return err
	}
	exp, err := otelExporter(f)
	if err != nil {
		return err
	}
	defer finishExport(f, exp)
	tc, traced := opts.Delivery.startTrace(headers, exp != nil)
	if traced {
		trace.SetOnEvent(e, tc)
	}
	if err := checkFlagEvent(f, e); err != nil {
		return err
	}
	t, mode, err := opts.Delivery.open(f, to, mode, headers, 1)
	if err != nil {
		return err
	}
	defer t.Close()
	to = shownURL(to) // from here on only for messages
	var ue *client.UsageError
	if err := t.Transport().CheckRequest(); errors.As(err, &ue) {
		return &FlagError{Err: fmt.Errorf("%s %s: %w", opts.Delivery.target(), to, ue.Err)}
	} else if err != nil {
		return err
	}
	start := time.Now()
	res, replies, replyMode, decodeErr := t.Request(ctx, mode, e)
	if exp != nil {
		failure := ""
		switch {
		case !res.Delivered && res.Written > 0:
			failure = "no response"
		case !res.Delivered:
			failure = "not delivered"
		case !res.ACK:
			failure = "not acknowledged"
		}
		exp.Export(deliverySpan(tc, trace.KindClient, "request", e, to, start, res.Status, failure))
	}
	est := f.ErrStyles()
	if f.Verbose {
		if err := format.Exchange(f.IO.ErrOut, est, &res); err != nil {
			return err
		}
	}
	if !res.Delivered {
		if ctx.Err() != nil {
			return context.Cause(ctx)
		}
		why := res.Err
		if res.Written > 0 {
			why = format.ExplainNoResponse(why)
		}
		return &UndeliveredError{Err: fmt.Errorf("%s: %w", to, why), MaybeDelivered: res.Written > 0}
	}
	status := res.Response.Status
	if f.JSON() {
		// The status goes to stderr as the text one does, as a JSON object; a reply goes
		// to stdout below.
		rec := format.StatusRecord{To: to, ACK: res.ACK, Status: res.Status, StatusText: status, DurationMS: float64(res.Duration.Microseconds()) / 1000}
		if res.ACK && decodeErr == nil && len(replies) > 0 {
			rec.ReplyMode = replyMode.String()
		}
		if !res.ACK && utf8.Valid(res.Response.Body) {
			rec.Response = string(res.Response.Body)
		}
		if res.Status >= 300 && res.Status <= 399 {
			rec.Location = res.Response.Header.Get("Location")
		}
		if err := format.StatusJSON(f.IO.ErrOut, rec); err != nil {
			return err
		}
		if !res.ACK {
			return &SilentError{Code: ExitFailure}
		}
	}
	if !res.ACK {
		fmt.Fprintf(f.IO.ErrOut, "%s %s from %s in %s\n", est.Fail.Sprint("NACK"), format.Sanitize(status), format.Sanitize(to), format.Duration(res.Duration))
		fmt.Fprint(f.IO.ErrOut, format.ResponseText(est, res.Status, res.Response))
		return &SilentError{Code: ExitFailure}
	}
	err = decodeErr
	if errors.Is(err, binding.ErrNoEvent) {
		what := "an empty body"
		if len(res.Response.Body) > 0 {
			// Show what came instead, so that a wrong endpoint (an HTML page, a plain
			// "OK") is plain to see.
			what = fmt.Sprintf("a %d-byte body that is not a CloudEvent (%s)", len(res.Response.Body),
				format.BodyPreview(res.Response.Body, res.Response.Header.Get("Content-Type"), 200))
		}
		return fmt.Errorf("%s answered %s with %s: no reply event", to, status, what)
	}
	if err != nil {
		return fmt.Errorf("%s answered %s, but the reply is not a valid CloudEvent: %w", to, status, err)
	}
	if len(replies) == 0 {
		return fmt.Errorf("%s answered %s with an empty batch: no reply event", to, status)
	}
	if !f.JSON() {
		fmt.Fprintf(f.IO.ErrOut, "%s %s from %s in %s, %s reply\n", est.OK.Sprint("ACK"), format.Sanitize(status), format.Sanitize(to), format.Duration(res.Duration), replyMode)
	}
	if !f.JSON() {
		for i := range replies {
			showTrace(f, "reply in", &replies[i])
		}
	}
	st := f.Styles()
	for i := range replies {
		if tmpl != nil {
			if err := executeTemplate(f, tmpl, &replies[i]); err != nil {
				return err
			}
			continue
		}
		if err := showEvent(f, st, &replies[i], format.EventInfo{Mode: replyMode.String()}, opts.Quiet); err != nil {
			return err
		}
	}
	return nil
}

// showEvent prints an event as text for a person or as one line of CloudEvents JSON.
func showEvent(f *Factory, st *format.Styles, e *event.Event, info format.EventInfo, quiet bool) error {
	if f.JSON() {
		return format.EventJSON(f.IO.Out, e)
	}
	return format.Event(f.IO.Out, st, e, info, quiet)
}
