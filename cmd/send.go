package cmd

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/cectl/cectl/internal/binding"
	"github.com/cectl/cectl/internal/client"
	"github.com/cectl/cectl/internal/eventspec"
	"github.com/cectl/cectl/internal/format"
	"github.com/cectl/cectl/internal/send"
	"github.com/cectl/cectl/internal/trace"
	"github.com/cectl/cectl/internal/validate"
	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// deliveryFlags are the flags of how events travel, shared by send and request.
type deliveryFlags struct {
	To       string
	Mode     string
	Headers  []string
	Timeout  time.Duration
	Retries  int
	Insecure bool
	KafkaKey string
	Gzip     bool
	Trace    bool

	flags *pflag.FlagSet
	cmd   *cobra.Command
	// toName is where the target came from, for messages: --to, or K_SINK when --to was
	// not given.
	toName string
}

func (df *deliveryFlags) register(cmd *cobra.Command) {
	fs := cmd.Flags()
	df.flags = fs
	df.cmd = cmd
	fs.StringVar(&df.To, "to", "", "target `URL`: "+client.SchemeList(nil)+", or @name of a target in the config file (default $K_SINK)")
	fs.StringVar(&df.Mode, "mode", "binary", modeHelp())
	enumValues(fs, "mode", "binary", "structured", "batch")
	fs.StringArrayVarP(&df.Headers, "header", "H", nil, "extra HTTP header `'Name: value'` (repeatable; not ce- or Content-Type: attributes, datacontenttype and --mode set those)")
	df.Timeout = 30 * time.Second
	durationVar(fs, &df.Timeout, "timeout", "time limit for each attempt")
	wholeVar(fs, &df.Retries, "retries", 0, 0, math.MaxInt32, "want a whole number of retries, 0 or more", "retry `N` times on network errors, 408, 429 and 5xx (exponential backoff with jitter, honours Retry-After)")
	fs.BoolVar(&df.Insecure, "insecure", false, "do not verify the server's TLS certificate")
	fs.StringVar(&df.KafkaKey, "kafka-key", "", "Kafka record key (default the partitionkey extension)")
	fs.BoolVar(&df.Gzip, "gzip", false, "compress HTTP request bodies (Content-Encoding: gzip)")
	registerTraceFlag(fs, df)
}

// targetsHelp lists the URL forms of the transports keep says (nil: all), with the content
// modes each carries.
func targetsHelp(keep func(*client.Transport) bool) string {
	var b strings.Builder
	b.WriteString("Targets (the URL scheme picks the transport):")
	for _, tr := range client.Transports() {
		if keep != nil && !keep(tr) {
			continue
		}
		modes := make([]string, len(tr.Modes))
		for i, m := range tr.Modes {
			modes[i] = m.String()
		}
		fmt.Fprintf(&b, "\n  %-9s  %s\n             modes: %s", tr.Name, tr.Form, strings.Join(modes, ", "))
	}
	return b.String()
}

// modeHelp says which modes there are and which transports restrict them.
func modeHelp() string {
	batch := client.SchemeList(func(tr *client.Transport) bool { return slices.Contains(tr.Modes, binding.Batch) })
	one := client.SchemeList(func(tr *client.Transport) bool { return len(tr.Modes) == 1 })
	return fmt.Sprintf("content mode: binary, structured or batch (batch: %s only; %s carry structured only)", batch, one)
}

// resolve checks the delivery flags and returns the target, mode and headers.
func (df *deliveryFlags) resolve(getenv func(string) string) (string, binding.Mode, http.Header, error) {
	mode, err := binding.ParseMode(df.Mode)
	if err != nil {
		return "", mode, nil, &FlagError{Err: fmt.Errorf("--mode: %w", err)}
	}
	to := df.To
	df.toName = "--to"
	if to == "" {
		to, df.toName = getenv("K_SINK"), "K_SINK"
	}
	if to == "" {
		return "", mode, nil, flagErrorf("--to is required (or set K_SINK)")
	}
	h := http.Header{}
	named := to
	if strings.HasPrefix(to, "@") {
		if to, h, err = df.named(to, getenv); err != nil {
			return "", mode, nil, err
		}
	}
	fromTarget := map[string]bool{}
	for k := range h {
		if err := contentTypeHeader(df.toName+" "+named+": header", k); err != nil {
			return "", mode, nil, &FlagError{Err: err}
		}
		fromTarget[k] = true
	}
	for _, arg := range df.Headers {
		name, value, err := parseHeader(arg)
		if err != nil {
			return "", mode, nil, &FlagError{Err: err}
		}
		if fromTarget[http.CanonicalHeaderKey(name)] {
			h.Del(name) // -H replaces what the named target says
			delete(fromTarget, http.CanonicalHeaderKey(name))
		}
		h.Add(name, value)
	}
	if df.Timeout < 0 {
		return "", mode, nil, flagErrorf("--timeout must not be negative")
	}
	if df.Retries < 0 {
		return "", mode, nil, flagErrorf("--retries must not be negative")
	}
	return to, mode, h, nil
}

// open returns the target for the resolved URL and the content mode it will carry, which
// may differ from the one asked for where a protocol binding allows only one (NATS carries
// structured events only). conns is how many connections to keep.
func (df *deliveryFlags) open(f *Factory, to string, mode binding.Mode, h http.Header, conns int) (client.Target, binding.Mode, error) {
	var onRetry func(int, time.Duration, client.Result)
	if f.Verbose {
		log := f.Logger()
		onRetry = func(attempt int, wait time.Duration, last client.Result) {
			why := fmt.Sprint(last.Err)
			if last.Delivered && last.Response != nil {
				why = last.Response.Status
			}
			log.Debug("retrying", "attempt", attempt+1, "of", df.Retries+1, "wait", wait.Round(time.Millisecond), "after", why)
		}
	}
	t, err := client.Open(to, client.Options{
		OnRetry:   onRetry,
		Timeout:   df.Timeout,
		Retries:   df.Retries,
		Header:    h,
		UserAgent: f.UserAgent(),
		Conns:     conns,
		Insecure:  df.Insecure,
		Key:       df.KafkaKey,
		Gzip:      df.Gzip,
	})
	var ue *client.UsageError
	if errors.As(err, &ue) {
		return nil, mode, &FlagError{Err: fmt.Errorf("%s %w%s", df.target(), ue.Err, schemeHint(to))}
	}
	if err != nil {
		return nil, mode, err
	}
	if df.Gzip && t.Transport().Name != "HTTP" {
		t.Close()
		return nil, mode, flagErrorf("--gzip compresses HTTP bodies; %s has no Content-Encoding", t.Transport().Name)
	}
	effective, err := t.Transport().Mode(mode)
	if err != nil {
		t.Close()
		return nil, mode, &FlagError{Err: fmt.Errorf("--mode: %w", err)}
	}
	if effective != mode && df.flags != nil && df.flags.Changed("mode") {
		warn(f, fmt.Sprintf("%s carries %s events only; sending %s", format.Sanitize(shownURL(to)), effective, effective))
	}
	return t, effective, nil
}

// target names where the target came from in messages: --to, or K_SINK.
func (df *deliveryFlags) target() string {
	if df.toName == "" {
		return "--to"
	}
	return df.toName
}

// shownURL is a URL as cectl prints it, credentials masked (format.ShownURL).
func shownURL(raw string) string { return format.ShownURL(raw) }

// parseHeader parses 'Name: value'. The name must be an RFC 9110 token; the value must not
// hold CR, LF or NUL, which would end or corrupt the header.
func parseHeader(arg string) (string, string, error) {
	name, value, ok := strings.Cut(arg, ":")
	if !ok {
		return "", "", fmt.Errorf("--header %q: want 'Name: value'", arg)
	}
	name = strings.TrimSpace(name)
	if name == "" {
		return "", "", fmt.Errorf("--header %q: empty header name", arg)
	}
	for i := 0; i < len(name); i++ {
		if !isTokenChar(name[i]) {
			return "", "", fmt.Errorf("--header %q: %q is not allowed in a header name", arg, name[i])
		}
	}
	if len(name) > 3 && strings.EqualFold(name[:3], "ce-") {
		// A ce- header is an attribute in binary mode (http binding §3.1.3): set that way it
		// would replace the checked attribute behind the pre-send check's back. Attribute
		// names are lower case (spec v1.0.2 §3.1.1), header names are not.
		attr := strings.ToLower(name[3:])
		return "", "", fmt.Errorf("--header %q: ce- headers carry the event's attributes, which are checked before sending: for %s use %s", name, attr, eventspec.SettingFlag(attr))
	}
	if err := contentTypeHeader("--header", name); err != nil {
		return "", "", err
	}
	value = strings.TrimSpace(value)
	if strings.ContainsAny(value, "\r\n\x00") {
		return "", "", fmt.Errorf("--header %q: the value holds a line break or NUL", name)
	}
	return name, value, nil
}

// contentTypeHeader refuses a Content-Type header: in binary mode it is the event's
// datacontenttype (http binding §3.1.1), in structured and batch mode the media type of the
// format (§3.2.1, §3.3.1), and either one is set by cectl, checked before sending. Given as a
// header it would replace what the check saw.
func contentTypeHeader(where, name string) error {
	if !strings.EqualFold(name, "Content-Type") {
		return nil
	}
	return fmt.Errorf("%s %s: the Content-Type is the event's datacontenttype in binary mode and the event format's media type in structured and batch mode: set the first with --datacontenttype, the second with --mode", where, name)
}

func isTokenChar(c byte) bool {
	if c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' {
		return true
	}
	return strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}

// SendOptions are the options of cectl send.
type SendOptions struct {
	F        *Factory
	Event    eventFlags
	Delivery deliveryFlags
	From     string
	DryRun   bool
	// BatchSize is how many events of a --from file go in one batch request; 0 is all.
	BatchSize int
	Load      loadFlags
	Stop      stopFlags
	Flags     *pflag.FlagSet
	// Items are the data items: key=value and key:=json arguments.
	Items    []string
	Replay   replayFlags
	pacer    *send.Pacer
	follower *send.Follower
}

// NewCmdSend builds `cectl send`. runF, when not nil, replaces the run for tests of flag
// parsing.
func NewCmdSend(f *Factory, runF func(context.Context, *SendOptions) error) *cobra.Command {
	opts := &SendOptions{F: f}
	cmd := &cobra.Command{
		Use:   "send --to <url> --type <type> [key=value | key:=json ...] [flags]",
		Short: "Send CloudEvents over HTTP or to a broker",
		Long: `Send one event built from flags, or every event of a file, to an HTTP endpoint or a
broker (` + client.SchemeList((*client.Transport).CanSubscribe) + `; the URL scheme picks the
transport).

The event is validated before it is sent. Without --datacontenttype, data that parses as
JSON goes as application/json and other text as text/plain; data that starts like JSON but
does not parse gets a warning naming the line and column where it breaks. It goes in binary
mode by default (attributes in ce- headers, percent-encoded as the HTTP binding requires), or
in structured or batch mode. --data @FILE is streamed, however large the file.
Each event gets one result line: ACK (2xx, or the broker's acknowledgement), NACK (any other
status), NOT DELIVERED (nothing reached the receiver: DNS, refused, TLS) or NO RESPONSE
(maybe delivered: the request went out, no answer came), with the status, id, type, target
and latency, and the response body. Core NATS has no acknowledgement: there it says
PUBLISHED.

--count, --duration, --concurrency, --rate or --warmup turn send into a load generator that
prints one report (throughput, status codes, latency percentiles and histogram); templates
such as {{seq}}, {{uuid}}, {{now}}, {{rand 1 9}}, {{randstr 8}} and {{pick "a" "b"}} make the
events of a load run differ. --metrics-addr serves a load run's metrics for Prometheus at
/metrics: requests and events by outcome (ack, published, nack, no_response, not_delivered)
and a latency histogram.

--trace starts a W3C trace: the traceparent extension on the event and the traceparent HTTP
header. With OTEL_EXPORTER_OTLP_ENDPOINT set, the event is traced as with --trace and a
span is exported over OTLP/HTTP.

--from reads one JSON event, a JSON array of events or JSON lines (what -o json prints);
attribute flags given on the command line override the file's values; invalid events are
reported with their line and not sent. Interrupted (Ctrl-C), its summary says how many
events were read but not sent and whether the file was read to its end. --dead-letter FILE
keeps every event not acknowledged or not sent as JSON lines that --from FILE sends again;
--max-failures and --deadline stop a run early. With -o json, stdout carries JSON objects
only (results, findings, the summary).

--follow sends what is appended to the file too, like tail -f, until Ctrl-C. --pace original
keeps the gaps between the events, from the receive time listen --record keeps (the
cectlreceivedtime extension, not sent on) or else their time; --pace 10x is ten times faster.

Data items, as httpie writes them, build a JSON object as the data (application/json):
key=value sets a string, key:=json any JSON value, user[name]=Ada a nested member, tags[]=a
appends to an array. They replace --data.

--to @name takes the URL, headers and token (sent as Authorization: Bearer, shown hidden) of
a target named in the config file: $XDG_CONFIG_HOME/cectl/config.yaml, else
~/.config/cectl/config.yaml, or --config FILE.

` + targetsHelp(nil) + `

` + exitCodesHelp,
		Example: `  $ cectl send --to http://localhost:8080 --type com.example.user.created --data '{"id":42}'
  $ cectl send --to http://localhost:8080 --type com.example.upload --data @photo.png
  $ cectl send --to http://localhost:8080 --type com.example.user.created name=Ada age:=42 'tags:=["a","b"]' 'address[city]=London'
  $ echo hello | cectl send --to http://localhost:8080 --type com.example.note --data -
  $ cectl send --to http://localhost:8080 --type com.example.order -e region=eu -e priority:=5 --mode structured
  $ cectl send --to http://localhost:8080 --from events.jsonl
  $ cectl send --to http://localhost:8080 --from recorded.jsonl --pace original
  $ cectl send --to http://localhost:8080 --from recorded.jsonl --pace 10x
  $ cectl send --to http://downstream:8080 --from spool.jsonl --follow --retries 8640
  $ cectl send --to http://localhost:8080 --type com.example.test --dry-run
  $ cectl send --to http://localhost:8080 --type com.example.load --id 'ev-{{seq}}' --count 20000 --concurrency 16
  $ cectl send --to nats://localhost:4222/orders.created --type com.example.order.created --data '{"id":42}'
  $ cectl send --to @staging --type com.example.user.created name=Ada
  $ cectl send --config ./cectl.yaml --to @local --type com.example.ping
  $ cectl send --to http://localhost:8080 --from events.jsonl --dead-letter failed.jsonl --max-failures 10 --deadline 5m
  $ cectl send --to http://localhost:8080 --type com.example.upload --data @big.json --gzip
  $ cectl send --to http://localhost:8080 --type com.example.order.created --trace
  $ cectl send --to http://localhost:8080 --type com.example.load --duration 10m --rate 100 --metrics-addr :9465`,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Items = args
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return sendRun(cmd.Context(), opts)
		},
	}
	opts.Event.register(cmd.Flags())
	opts.Delivery.register(cmd)
	cmd.Flags().StringVar(&opts.From, "from", "", "send every event in `FILE` (- for stdin): a JSON event, a JSON array or JSON lines")
	cmd.Flags().BoolVar(&opts.DryRun, "dry-run", false, "print the HTTP requests that would be sent, credentials hidden (a gzipped or binary body as its size; -o json has it in base64); send nothing")
	wholeVar(cmd.Flags(), &opts.BatchSize, "batch-size", 0, 0, math.MaxInt32, "want a whole number of events per batch request, 0 or more (0: all in one)", "events per batch request; only with --mode batch (0: all of a --from file in one; 1 in a load run)")
	opts.Load.register(cmd.Flags())
	opts.Replay.register(cmd.Flags())
	opts.Stop.register(cmd.Flags())
	opts.Flags = cmd.Flags()
	return cmd
}

func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return flagErrorf("%s takes no arguments, got %q", cmd.CommandPath(), args[0])
	}
	return nil
}

func sendRun(ctx context.Context, opts *SendOptions) error {
	f := opts.F
	to, mode, headers, err := opts.Delivery.resolve(f.Getenv)
	if err != nil {
		return err
	}
	if opts.From == "" && opts.Event.Type == "" {
		return flagErrorf("--type is required (or give events with --from)")
	}
	if opts.From == "-" && (opts.Event.Data == "-" || opts.Event.Data == "@-") {
		return flagErrorf("--from - and --data - both want stdin")
	}
	opts.Event.Open = f.dataOpener(ctx)
	if opts.BatchSize < 0 {
		return flagErrorf("--batch-size must not be negative")
	}
	if err := useItems(&opts.Event, opts.Items, opts.From); err != nil {
		return err
	}
	if err := opts.Stop.check(opts.DryRun); err != nil {
		return err
	}
	if err := opts.Stop.notTheInput(opts.From, f.IO.StdinFile); err != nil {
		return err
	}
	if err := batchSizeNeedsBatch(opts.Flags, mode); err != nil {
		return err
	}
	opts.Event.Warn = warnOnce(f)
	loadRun := opts.Flags != nil && opts.Load.active(opts.Flags)
	if loadRun {
		if err := opts.Load.check(); err != nil {
			return err
		}
	}
	if opts.pacer, err = opts.Replay.check(opts, mode, loadRun); err != nil {
		return err
	}
	if opts.Delivery.Trace && (loadRun || opts.From != "") {
		return flagErrorf("--trace starts a trace for one event; it does not go with --from or a load run")
	}
	exp, err := otelExporter(f)
	if err != nil {
		return err
	}
	if exp != nil && (loadRun || opts.From != "") {
		exp = nil // spans are for one event; a load run or a file is not traced
	}
	defer finishExport(f, exp)
	tc, traced := opts.Delivery.startTrace(headers, exp != nil)
	t, mode, err := opts.Delivery.open(f, to, mode, headers, max(4, opts.Load.Concurrency))
	if err != nil {
		return err
	}
	defer t.Close()
	if loadRun {
		return sendLoad(ctx, opts, t, mode)
	}
	if err := t.Transport().CheckDryRun(); opts.DryRun && err != nil {
		return flagErrorf("--dry-run: %w", err)
	}
	s := &send.Session{
		Target: t, To: shownURL(to), Mode: mode, DryRun: opts.DryRun, JSON: f.JSON(), Verbose: f.Verbose,
		Out: f.IO.Out, ErrOut: f.IO.ErrOut, Styles: f.Styles(), ErrStyles: f.ErrStyles(),
	}
	if opts.From != "" {
		return sendFile(ctx, opts, s)
	}
	if ds, err := streamedData(ctx, f, opts, t, mode, tc, traced); err != nil {
		return err
	} else if ds != nil {
		return ds.send(ctx, opts, s, exp, tc)
	}
	e, err := opts.Event.build(f.IO.In, time.Now())
	if err != nil {
		return err
	}
	if traced {
		trace.SetOnEvent(e, tc)
	}
	if err := checkFlagEvent(f, e); err != nil {
		return err
	}
	if traced && !f.JSON() {
		showTrace(f, "sending in", e)
	}
	if s.DeadLetter, err = opts.Stop.open(); err != nil {
		return err
	}
	runCtx, cancel := opts.Stop.withDeadline(ctx)
	defer cancel()
	start := time.Now()
	_, err = s.Deliver(runCtx, []*event.Event{e}, nil)
	if cerr := s.DeadLetter.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	if exp != nil {
		failure := ""
		if s.Summary.Failed() > 0 {
			failure = "not acknowledged"
		}
		exp.Export(deliverySpan(tc, trace.KindProducer, "send", e, shownURL(to), start, 0, failure))
	}
	if ctx.Err() != nil && s.Summary.Failed() > 0 {
		return context.Cause(ctx)
	}
	return summaryError(s.Summary)
}

// warnOnce shows a warning about the event flags once, however many events they build.
func warnOnce(f *Factory) func(string) {
	var once sync.Once
	return func(msg string) {
		once.Do(func() {
			warn(f, format.Sanitize(msg))
		})
	}
}

// checkFlagEvent validates an event built from flags: an error is a usage error naming the
// flag, a warning is shown and the event still goes.
func checkFlagEvent(f *Factory, e *event.Event) error {
	errs, warnings := checkEvent(e)
	return reportFindings(f, errs, warnings)
}

// reportFindings shows the warnings of the check of an event built from flags and turns its
// errors into a usage error.
func reportFindings(f *Factory, errs, warnings []validate.Finding) error {
	for _, w := range warnings {
		warn(f, fmt.Sprintf("%s: %s [%s]", eventspec.FlagFor(w.Pointer), w.Message, w.Rule))
	}
	if len(errs) == 0 {
		return nil
	}
	msgs := make([]string, len(errs))
	for i, e := range errs {
		msgs[i] = fmt.Sprintf("%s: %s [%s]", eventspec.FlagFor(e.Pointer), e.Message, e.Rule)
	}
	return flagErrorf("invalid event: %s", strings.Join(msgs, "; "))
}

// fileReader reads the events of --from, with the attribute flags given applied to each.
func fileReader(ctx context.Context, f *Factory, opts *SendOptions) (*send.FileReader, func(), error) {
	r := &send.FileReader{Name: opts.From, In: f.IO.In, Styles: f.ErrStyles(), Diag: f.IO.ErrOut}
	if f.JSON() {
		// Findings about the file are JSON objects among the results on stdout.
		r.JSON, r.Diag = true, f.IO.Out
	}
	closeFile := func() {}
	if opts.From == "-" {
		r.Name = "<stdin>"
	} else if opts.follower != nil {
		r.In = opts.follower
	} else if f.readsStdin(opts.From) {
		// /dev/stdin and the like are read as - is: r.In is stdin already.
	} else {
		file, err := openFile(ctx, opts.From)
		if err != nil {
			if ctx.Err() != nil {
				return nil, nil, err // interrupted while a FIFO waited for its writer
			}
			return nil, nil, &FlagError{Err: fmt.Errorf("--from: %w", err)}
		}
		if err := notADirectory(file); err != nil {
			file.Close()
			return nil, nil, &FlagError{Err: fmt.Errorf("--from: %w", err)}
		}
		r.In, closeFile = f.blockingInput(ctx, file), func() { file.Close() }
	}
	if opts.Event.AnyGiven() {
		r.Override = func(e *event.Event) error {
			if err := opts.Event.apply(e, f.IO.In); err != nil {
				return err
			}
			if errs, _ := checkEvent(e); len(errs) > 0 {
				return fmt.Errorf("after applying the command-line flags: %s: %s", eventspec.FlagFor(errs[0].Pointer), errs[0].Message)
			}
			return nil
		}
	}
	return r, closeFile, nil
}

// trickles says that the events of --from may come slowly, as they are typed or written
// (stdin, a FIFO): each is then sent, and its result shown, as it comes.
func trickles(f *Factory, opts *SendOptions) bool {
	return opts.follower == nil && (f.readsStdin(opts.From) || !isRegularFile(opts.From))
}

// sendFile sends every event of a file in order, or in batches in batch mode, and ends with
// a summary.
func sendFile(ctx context.Context, opts *SendOptions, s *send.Session) error {
	f := opts.F
	if opts.Replay.Follow {
		fl, err := openFollower(ctx, opts)
		if err != nil {
			return err
		}
		defer fl.Close()
		opts.follower = fl
	}
	r, closeFile, err := fileReader(ctx, f, opts)
	if err != nil {
		return err
	}
	defer closeFile()
	// One message is in flight at a time, and on every event the goroutines of one exchange
	// (this one, the connection's reader and writer, the read-ahead) hand over to each other.
	// On one P they do so without waking another thread, which cost more than the second
	// core gave; the read-ahead still overlaps the wait for each response.
	defer tuneProcess(f.Getenv, processTuning{oneProc: true})()
	if s.DeadLetter, err = opts.Stop.open(); err != nil {
		return err
	}
	// What was read but not sent goes to the dead-letter file: a file is read to its end
	// (not one that is followed: what was not read stays in it).
	r.Drain = s.DeadLetter != nil && isRegularFile(opts.From) && opts.follower == nil
	s.MaxFailures = opts.Stop.MaxFailures
	runCtx, cancel := opts.Stop.withDeadline(ctx)
	defer cancel()
	sendAll := s.SendFile
	if opts.follower != nil {
		sendAll = func(ctx context.Context, r *send.FileReader, o send.FileOptions) (error, error) {
			return s.FollowFile(ctx, r, opts.follower, o)
		}
	}
	readErr, err := sendAll(runCtx, r, send.FileOptions{BatchSize: opts.BatchSize, Trickle: trickles(f, opts), Buffer: !f.IO.OutTTY, Pace: opts.pacer})
	if cerr := s.DeadLetter.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	if opts.follower != nil {
		followEnded(f, opts.follower)
	}
	if s.DeadLetter != nil {
		s.Summary.DeadLetters, s.Summary.DeadLetterFile = s.DeadLetter.Count(), s.DeadLetter.Name
	}
	if !s.DryRun {
		if err := showSummary(f, s.Summary, ctx.Err() != nil); err != nil {
			return err
		}
	}
	if ctx.Err() != nil {
		return context.Cause(ctx)
	}
	sum := s.Summary
	if s.DryRun {
		sum = format.Summary{Invalid: sum.Invalid}
	}
	if sum.Sent == 0 && sum.Invalid == 0 && readErr == nil && !s.DryRun {
		warn(f, "no events in "+format.Sanitize(r.Name))
	}
	return summaryError(sum)
}
