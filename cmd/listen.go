package cmd

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"math"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/cectl/cectl/internal/binding"
	"github.com/cectl/cectl/internal/ce"
	"github.com/cectl/cectl/internal/client"
	"github.com/cectl/cectl/internal/evtemplate"
	"github.com/cectl/cectl/internal/format"
	"github.com/cectl/cectl/internal/listen"
	"github.com/cectl/cectl/internal/ui"
	"github.com/spf13/cobra"
)

// ListenOptions are the options of cectl listen. Flag values are checked as they are parsed.
type ListenOptions struct {
	F *Factory

	Port    int
	Addr    string
	Path    string
	MaxBody int64
	Token   string
	// TokenFile names a file holding the token (--token-file), so it need not show in ps.
	TokenFile string
	TLSCert   string
	TLSKey    string

	Quiet    bool
	Template string // --template: each event through a Go template
	Record   string
	Fsync    listen.Sync
	Filter   string
	Types    []string
	Count    int
	Duration time.Duration // --duration: how long the whole run may take
	Dedupe   bool

	Reply     string
	ReplyMode binding.Mode
	ForwardTo []string

	// Status, FailRate, Delay and RetryAfter make the answers wrong on purpose; Status 0
	// means the normal answer.
	Status     int
	FailRate   float64
	Delay      time.Duration
	RetryAfter string

	// From, when set, is a broker URL to receive from instead of listening on HTTP.
	From    string
	Group   string
	Durable string
	Start   string
	// UntilEnd reads what a JetStream stream or Kafka topic holds at the start, then ends.
	UntilEnd bool

	// UI serves the web view (--ui), on UIAddr when set; History and HistoryBytes bound
	// its history.
	UI           bool
	UIAddr       string
	History      int
	HistoryBytes int64

	// Metrics serves Prometheus metrics at /metrics, on MetricsAddr when set.
	Metrics     bool
	MetricsAddr string

	// ShutdownGrace bounds how long in-flight requests may take to finish at the end.
	ShutdownGrace time.Duration
	// Ready, when set, is called with the listener's URL once it accepts connections.
	Ready func(url string)
}

// NewCmdListen builds `cectl listen`.
func NewCmdListen(f *Factory, runF func(context.Context, *ListenOptions) error) *cobra.Command {
	opts := &ListenOptions{F: f, ShutdownGrace: 10 * time.Second}
	cmd := &cobra.Command{
		Use:   "listen [-p <port>] [flags]",
		Short: "Receive CloudEvents over HTTP or from a broker and show them",
		Long: `Receive CloudEvents over HTTP and show each one as it arrives: binary, structured and
batch mode, spec 1.0 and 0.3. Every request is checked strictly; a malformed one is answered
400 with the reason in plain text (413 above --max-body, 415 for a content type that is not a
CloudEvents format, 405 for methods other than POST and PUT) and shown on stderr, so the
sender's bug is visible. OPTIONS gets the webhook validation handshake.

Output: as text, each event with its attributes and data (-q: one line per event, -v: also
the request line, sender and headers). With -o json, stdout has exactly one line per accepted
event in the CloudEvents JSON format, ready for 'cectl send --from -' or 'cectl validate -';
everything else (rejections, duplicates, relays, the summary) goes to stderr.

--record appends every accepted event to a file as JSON lines before the answer is sent, so an
acknowledged event is never lost when listen ends; --fsync always also flushes it to disk
first, so it survives a power cut (interval: every second; never, the default: the system
does). An incomplete last line left by a crash is cut off at start and kept in FILE.torn.
stdout is kept the same way: an event is answered only after its line was written. When stdout
is closed (its reader has gone) the event is answered 503 with Retry-After and listen ends
(exit 1); when it takes nothing for 2s (a full pipe, a paused terminal) the event is answered
503 with Retry-After.

--filter (a CESQL expression) and --type select the events that are shown, recorded, counted,
relayed and replied to; the others are acknowledged only.

listen stops after --count events (exit 0), after --duration (exit 1 if --count events have
not arrived), or on Ctrl-C: requests in flight are finished, the record is flushed and a summary
is printed on stderr.

With --from URL it receives from a broker instead (NATS, JetStream, Kafka, MQTT 5, AMQP 1.0)
with the same checks, display, --record, --filter, --type, --count, --duration and --dedupe; a
message is acknowledged to the broker only after it was shown and recorded. -v shows the
transport's metadata (subject, topic, partition, offset) and headers. --reply answers the
requests of 'cectl request' over NATS, MQTT 5 and AMQP too; --until-end reads what a
JetStream stream or Kafka topic holds at the start and exits.

To test senders, it can answer on purpose with another status (--status, --fail-rate,
--retry-after, --delay), reply with events from a file (--reply, for 'cectl request'),
relay each request unchanged to other receivers (--forward-to: the sender gets a 2xx only when
every one acknowledged, else its status, 502 or 504), and require a bearer token.

--ui serves a live web view of every request in a browser: a GET of the listen path shows it
(POST stays the event path); with --from, or with --ui-addr, it has an address of its own.

--metrics serves Prometheus metrics at /metrics on the listen address (--metrics-addr: on an
address of their own, also for --from): events accepted by type (the first 50 types, then
"other"), requests rejected by reason, bytes, a handling latency histogram, record writes and
relays by outcome.

Events that carry the distributed tracing extension (traceparent) keep their trace: relays
carry the traceparent header, replies continue the trace. With OTEL_EXPORTER_OTLP_ENDPOINT
set, each accepted traced event gets a span, exported over OTLP/HTTP.

Exit codes:
  0    stopped by Ctrl-C or SIGTERM, --count reached, --duration without --count, or the
       end reached with --until-end
  1    --count events did not arrive within --duration; the address is taken, or the
       JetStream durable is in use by another listener; the record cannot be written;
       stdout was closed or cannot be written; --until-end met messages that are not
       valid CloudEvents
  2    usage error: unknown, missing or malformed flag or argument
  3    --from names a broker that cannot be reached or does not take the subscription`,
		Example: `  $ cectl listen
  $ cectl listen -p 9000 --path /events -q
  $ cectl listen -o json | jq .data
  $ cectl listen --template '{{.time}} {{.type}} {{.data.orderId}}'
  $ cectl listen --record events.jsonl
  $ cectl listen --record events.jsonl --fsync always -q
  $ cectl send --to http://localhost:8080 --from events.jsonl
  $ cectl listen --type 'com.example.order.*' --count 1 --duration 30s -o json
  $ cectl listen --filter "source LIKE '/orders/%' AND EXISTS region"
  $ cectl listen --reply pong.json --reply-mode structured
  $ cectl listen --fail-rate 0.3 --retry-after 2
  $ cectl listen --forward-to http://localhost:9090/ --dedupe
  $ cectl listen --ui --history 5000
  $ cectl listen --token-file ./token.txt --tls-cert cert.pem --tls-key key.pem
  $ cectl listen --from nats://localhost:4222/orders.created
  $ cectl listen --from mqtt://localhost:1883/quotes --reply quote.json   # answers cectl request --to mqtt://…
  $ cectl listen --metrics -o json
  $ cectl listen --from 'kafka://localhost:9092/orders?group=audit&start=oldest' --count 10 -o json
  $ cectl listen --from jetstream://localhost:4222/ORDERS/orders.created --until-end -o json | jq -s length`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return listenRun(cmd.Context(), opts)
		},
	}
	fs := cmd.Flags()
	// What is taken and what is done with it, over HTTP and from brokers alike.
	fs.BoolVarP(&opts.Quiet, "quiet", "q", false, "one line per event")
	fs.StringVar(&opts.Template, "template", "", "print each event through this Go `template` over its JSON form, e.g. '{{.type}} {{.data.orderId}}'")
	fs.StringVar(&opts.Record, "record", "", "append accepted events to `FILE` as JSON lines (replay with send --from)")
	enumVar(fs, &opts.Fsync, "fsync", listen.SyncNever, []string{"never", "interval", "always"}, []listen.Sync{listen.SyncNever, listen.SyncInterval, listen.SyncAlways},
		"with --record, flush it to disk: `when` never (the system does), interval (every second), always (before each answer)")
	fs.StringVar(&opts.Filter, "filter", "", "handle only events matching this CESQL `expression`")
	stringsCheckVar(fs, &opts.Types, "type", nonEmpty, "handle only events whose type matches this `glob` (* and ?; repeatable)")
	intRangeVar(fs, &opts.Count, "count", "", 0, 0, math.MaxInt, "must not be negative", "stop after `N` handled events (duplicates do not count)")
	durationVar(fs, &opts.Duration, "duration", "stop after this long; with --count, exit 1 if N events have not arrived")
	// The old name, which read like send's --timeout (each attempt) but bounds the whole run.
	durationVar(fs, &opts.Duration, "timeout", "old name of --duration")
	_ = fs.MarkHidden("timeout")
	fs.BoolVar(&opts.Dedupe, "dedupe", false, "mark repeated events (same source and id); do not record, relay or count them again")
	registerListenMetricsFlags(fs, opts)
	// The HTTP server.
	portVar(fs, &opts.Port, "port", "p", 8080, "`port` on 127.0.0.1 (0: any free port)")
	stringCheckVar(fs, &opts.Addr, "addr", "", checkHostPort, "listen on `host:port` instead (':8080' for all interfaces)")
	stringCheckVar(fs, &opts.Path, "path", "/", checkPath, "URL `path` events are taken at (with or without a trailing slash)")
	sizeVar(fs, &opts.MaxBody, "max-body", listen.DefaultMaxBody, "largest request body or broker message payload `size` (e.g. 64KiB, 16MiB); larger ones get 413 (rejected by a broker)")
	stringCheckVar(fs, &opts.Token, "token", "", nonEmpty, "require 'Authorization: Bearer `TOKEN`' (or ?access_token=); others get 401 (or $CECTL_TOKEN)")
	fs.StringVar(&opts.TokenFile, "token-file", "", "like --token, the token read from `FILE` (first line), so it does not show in ps")
	fs.StringVar(&opts.TLSCert, "tls-cert", "", "serve HTTPS with this certificate `file` (PEM; needs --tls-key)")
	fs.StringVar(&opts.TLSKey, "tls-key", "", "private key `file` for --tls-cert (PEM)")
	fs.StringVar(&opts.Reply, "reply", "", "answer with the events of `FILE` in turn (JSON event, array or lines; id and time filled in if missing)")
	enumVar(fs, &opts.ReplyMode, "reply-mode", binding.Binary, []string{"binary", "structured"}, []binding.Mode{binding.Binary, binding.Structured},
		"content `mode` of replies: binary or structured")
	stringsCheckVar(fs, &opts.ForwardTo, "forward-to", checkHTTPURL, "relay each accepted request unchanged to this `URL` (repeatable); 2xx only once it acknowledged")
	// Answers made wrong on purpose.
	intRangeVar(fs, &opts.Status, "status", "", 0, 200, 599, "want an HTTP status from 200 to 599", "answer accepted events with this `code` (default 202, 200 with --reply); non-2xx refuses them")
	shareVar(fs, &opts.FailRate, "fail-rate", "answer this share `P` (0 to 1) of event requests with 503")
	durationVar(fs, &opts.Delay, "delay", "wait this long before answering each event request")
	stringCheckVar(fs, &opts.RetryAfter, "retry-after", "", checkRetryAfter, "send 'Retry-After: `S`' (seconds or an HTTP date) with non-2xx answers")
	// The web view.
	fs.BoolVar(&opts.UI, "ui", false, "serve a live web view of every request: open the listen URL in a browser")
	stringCheckVar(fs, &opts.UIAddr, "ui-addr", "", checkHostPort, "serve the web view on `host:port` of its own (with --from: default any free port on 127.0.0.1)")
	intRangeVar(fs, &opts.History, "history", "", ui.DefaultHistory, 1, 1_000_000, "want 1 to 1000000", "the web view keeps the last `N` requests")
	sizeVar(fs, &opts.HistoryBytes, "history-bytes", ui.DefaultHistoryBytes, "the web view keeps at most this `size` of requests (bodies, headers, data)")
	// Brokers.
	fs.StringVar(&opts.From, "from", "", "receive from a broker instead of HTTP: "+client.SchemeList((*client.Transport).CanSubscribe)+" `URL`")
	fs.StringVar(&opts.Group, "group", "", "with --from kafka://: consumer group (offsets committed in order); nats://: queue group")
	fs.StringVar(&opts.Durable, "durable", "", "with --from jetstream://: durable consumer name")
	fs.StringVar(&opts.Start, "start", "", "with --from: where to start: jetstream new|all|last|seq:N|time:RFC3339, kafka newest|oldest")
	fs.BoolVar(&opts.UntilEnd, "until-end", false, "with --from jetstream:// or kafka://: read what is there at the start (from the beginning unless --start), then exit")

	rules := newFlagRules(cmd)
	rules.exclusive("--addr and --port both give the port; use one", "addr", "port")
	rules.together("--tls-cert and --tls-key go together", "tls-cert", "tls-key")
	rules.exclusive("--token and --token-file both give the token; use one", "token", "token-file")
	rules.exclusive("--timeout is the old name of --duration; use one", "duration", "timeout")
	rules.exclusive("--template says how each event is printed; -q does too; use one", "quiet", "template")
	for _, g := range listenFlagGroups {
		if !g.httpOnly {
			continue
		}
		for _, name := range g.names {
			rules.exclusive(fmt.Sprintf("--%s is for listening on HTTP; it does not go with --from", name), "from", name)
		}
	}
	cmd.PreRunE = func(cmd *cobra.Command, _ []string) error {
		if err := rules.check(); err != nil {
			return err
		}
		if cmd.Flags().Changed("timeout") {
			// Said here rather than with pflag's MarkDeprecated, which prints to stdout.
			fmt.Fprintf(f.IO.ErrOut, "%s --timeout is deprecated: use --duration (listen's limit is the whole run; send's --timeout is each attempt's)\n",
				f.ErrStyles().Warn.Sprint("warning:"))
		}
		if err := opts.checkMetrics(); err != nil {
			return err
		}
		return opts.checkRelations(cmd.Flags().Changed)
	}
	groups := make([]flagGroup, len(listenFlagGroups))
	for i, g := range listenFlagGroups {
		groups[i] = g.flagGroup
	}
	cmd.SetUsageFunc(groupedUsage(groups))
	return cmd
}

// listenFlagGroups are listen's flags as its help shows them. The flags of HTTP-only groups do
// not go with --from.
var listenFlagGroups = []struct {
	flagGroup
	httpOnly bool
}{
	{flagGroup{"Receive flags", []string{"quiet", "template", "record", "fsync", "filter", "type", "count", "duration", "dedupe", "max-body", "metrics", "metrics-addr"}}, false},
	{flagGroup{"HTTP server flags (not with --from)", []string{"port", "addr", "path", "token", "token-file", "tls-cert", "tls-key", "forward-to"}}, true},
	{flagGroup{"Reply flags (HTTP, and --from " + client.SchemeList(answersRequests) + ")", []string{"reply", "reply-mode"}}, false},
	{flagGroup{"Fake answer flags, to test senders (not with --from)", []string{"status", "fail-rate", "delay", "retry-after"}}, true},
	{flagGroup{"Broker flags", []string{"from", "group", "durable", "start", "until-end"}}, false},
	{flagGroup{"Web view flags", []string{"ui", "ui-addr", "history", "history-bytes"}}, false},
}

func nonEmpty(s string) error {
	if s == "" {
		return errors.New("must not be empty")
	}
	return nil
}

func checkHostPort(s string) error {
	if _, _, err := net.SplitHostPort(s); err != nil {
		return errors.New("want host:port (e.g. 127.0.0.1:8080 or :8080)")
	}
	return nil
}

func checkPath(s string) error {
	if !strings.HasPrefix(s, "/") {
		return errors.New("must start with /")
	}
	return nil
}

func checkHTTPURL(s string) error {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return errors.New("want an http or https URL" + schemeHint(s))
	}
	return nil
}

func checkRetryAfter(s string) error {
	if _, ok := client.RetryAfter(s, time.Now()); !ok {
		return errors.New("want seconds or an HTTP date (RFC 9110 §10.2.3)")
	}
	return nil
}

// checkRelations checks what Cobra's flag groups cannot say: that a flag needs another one,
// or a value of another.
func (opts *ListenOptions) checkRelations(changed func(string) bool) error {
	if opts.From == "" {
		for _, name := range []string{"group", "durable", "start", "until-end"} {
			if changed(name) {
				return flagErrorf("--%s goes with --from", name)
			}
		}
	}
	if err := checkUntilEnd(opts); err != nil {
		return err
	}
	if err := checkBrokerReply(opts); err != nil {
		return err
	}
	if opts.Record == "" && changed("fsync") {
		return flagErrorf("--fsync goes with --record")
	}
	if !opts.UI {
		for _, name := range []string{"ui-addr", "history", "history-bytes"} {
			if changed(name) {
				return flagErrorf("--%s goes with --ui", name)
			}
		}
	}
	if opts.Reply != "" && opts.Status == http.StatusNoContent {
		return flagErrorf("--status 204 has no body, so there is no room for --reply (use 200 or 201)")
	}
	return nil
}

// listenSetup is what the flags resolve to.
type listenSetup struct {
	addr     string
	cfg      listen.Config
	tls      *tls.Config
	tmpl     *evtemplate.Template // --template
	settings []string             // for the banner
	// wrap put routes of their own in front of the event handler; bannerLines add lines to
	// the banner once the listener's URL and address are known.
	wrap        []func(http.Handler) http.Handler
	bannerLines []func(url string, addr net.Addr) string
	routes      map[string]http.Handler // exact paths served next to the events (/metrics)
}

// resolve builds the handler's configuration from checked flags. Files named by flags are
// read here, so that a bad one is a usage error before anything listens.
func (opts *ListenOptions) resolve() (*listenSetup, error) {
	s := &listenSetup{addr: opts.Addr}
	if s.addr == "" {
		s.addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(opts.Port))
	}
	if err := opts.resolveToken(); err != nil {
		return nil, err
	}
	filter, err := listen.NewFilter(opts.Filter, opts.Types)
	if err != nil {
		return nil, flagErrorf("--filter %q: %v", opts.Filter, err)
	}
	s.cfg = listen.Config{
		Path:      opts.Path,
		MaxBody:   opts.MaxBody,
		Token:     opts.Token,
		Filter:    filter,
		Dedupe:    opts.Dedupe,
		ReplyMode: opts.ReplyMode,
		Faults: listen.Faults{
			Status:     opts.Status, // 0: 202, or 200 with a reply
			FailRate:   opts.FailRate,
			Delay:      opts.Delay,
			RetryAfter: opts.RetryAfter,
		},
		Count: opts.Count,
	}
	s.cfg.ReplyMode = brokerReplyMode(opts.From, s.cfg.ReplyMode)
	if s.tmpl, err = parseTemplate(opts.F, opts.Template); err != nil {
		return nil, err
	}
	if opts.Reply != "" {
		replies, err := loadReplies(opts.Reply)
		if err != nil {
			return nil, err
		}
		s.cfg.Replies = replies
	}
	if opts.TLSCert != "" {
		cert, err := tls.LoadX509KeyPair(opts.TLSCert, opts.TLSKey)
		if err != nil {
			return nil, &FlagError{Err: fmt.Errorf("--tls-cert/--tls-key: %w", err)}
		}
		s.tls = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}
	s.settings = opts.describe(s)
	return s, nil
}

func loadReplies(name string) (*listen.Replies, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, &FlagError{Err: fmt.Errorf("--reply: %w", err)}
	}
	defer f.Close()
	replies, err := listen.LoadReplies(f)
	if err != nil {
		var re *listen.ReplyError
		if errors.As(err, &re) && re.Line > 0 {
			return nil, flagErrorf("--reply %s:%d:%d: %s", name, re.Line, re.Col, re.Msg)
		}
		return nil, flagErrorf("--reply %s: %v", name, err)
	}
	return replies, nil
}

// describe lists, for the banner, what listen does besides showing events.
func (opts *ListenOptions) describe(s *listenSetup) []string {
	var out []string
	add := func(format string, args ...any) { out = append(out, fmt.Sprintf(format, args...)) }
	if opts.Record != "" {
		add("recording to %s", opts.Record)
	}
	if opts.Filter != "" {
		add("only events where %s", opts.Filter)
	}
	if len(opts.Types) > 0 {
		add("only events of type %s", strings.Join(opts.Types, " or "))
	}
	if opts.Dedupe {
		add("marking duplicates (same source and id)")
	}
	if opts.Reply != "" {
		add("replying with %s from %s (%s mode)", format.Plural(s.cfg.Replies.Len(), "event"), opts.Reply, s.cfg.ReplyMode)
	}
	for _, to := range opts.ForwardTo {
		add("forwarding to %s", shownURL(to))
	}
	if st := opts.Status; st != 0 && !(st == http.StatusAccepted && opts.Reply == "") && !(st == http.StatusOK && opts.Reply != "") {
		add("answering %d %s", st, http.StatusText(st))
	}
	if opts.FailRate > 0 {
		add("answering 503 to %s of event requests", strconv.FormatFloat(opts.FailRate*100, 'f', -1, 64)+"%")
	}
	if opts.RetryAfter != "" {
		add("Retry-After: %s with non-2xx answers", opts.RetryAfter)
	}
	if opts.Delay > 0 {
		add("waiting %s before answering", opts.Delay)
	}
	if opts.Token != "" {
		add("requiring a bearer token")
	}
	switch {
	case opts.Count > 0 && opts.Duration > 0:
		add("stopping after %s, or failing after %s", format.Plural(opts.Count, "event"), opts.Duration)
	case opts.Count > 0:
		add("stopping after %s", format.Plural(opts.Count, "event"))
	case opts.Duration > 0:
		add("stopping after %s", opts.Duration)
	}
	if opts.UntilEnd {
		add("stopping at the end of what is there now")
	}
	return out
}

func listenRun(ctx context.Context, opts *ListenOptions) error {
	f := opts.F
	setup, err := opts.resolve()
	if err != nil {
		return err
	}
	cfg := setup.cfg
	defer tuneProcess(f.Getenv, processTuning{throughput: true, live: listen.MemoryBudget(cfg)})()

	if opts.Record != "" {
		rec, err := openRecord(f, opts)
		if err != nil {
			return err
		}
		cfg.Recorder = rec
		defer func() {
			if err := rec.Close(); err != nil {
				fmt.Fprintf(f.IO.ErrOut, "%s %v\n", f.ErrStyles().Fail.Sprint("error:"), err)
			}
		}()
	}
	if len(opts.ForwardTo) > 0 {
		c := client.New(client.Options{Timeout: 30 * time.Second, UserAgent: f.UserAgent(), Conns: 64})
		defer c.Close()
		cfg.Forwarder = listen.NewForwarder(opts.ForwardTo, c)
	}

	sh := newShower(f, opts, setup.tmpl)
	defer sh.close()
	defer catchSIGPIPE()()
	cfg.Show = sh.report
	exp, err := otelExporter(f)
	if err != nil {
		return err
	}
	if exp != nil {
		defer finishExport(f, exp)
		cfg.Show = traceReports(exp, cfg.Show)
	}
	routes, stopMetrics, err := opts.setupMetrics(&cfg, setup)
	if err != nil {
		return err
	}
	defer stopMetrics()
	setup.routes = routes
	cfg.ShowHeaders = f.Verbose
	view, err := opts.startUI(setup, &cfg)
	if err != nil {
		return err
	}
	h := listen.NewHandler(cfg)
	start := time.Now()
	// served ends when the receiver stops on its own; stop asks it to stop and waits for what
	// is in flight.
	var served chan error
	var stop func(context.Context) error
	if opts.From != "" {
		served, stop, err = subscribe(ctx, opts, h, sh, setup.settings)
	} else {
		served, stop, err = serveHTTP(opts, setup, h, sh)
	}
	if err != nil {
		view.stop(context.Background())
		return err
	}
	var timeout <-chan time.Time
	if opts.Duration > 0 {
		t := time.NewTimer(opts.Duration)
		defer t.Stop()
		timeout = t.C
	}

	var result error
	serveDone := false
	select {
	case <-ctx.Done():
	case <-h.Reached():
	case <-timeout:
		if opts.Count > 0 {
			s := h.Summary()
			result = fmt.Errorf("--duration %s: %d of %s arrived", opts.Duration, s.Selected-s.Duplicates, format.Plural(opts.Count, "event"))
		}
	case err := <-served:
		serveDone = true
		result = err
	case err := <-h.Failed():
		result = err
	case err := <-sh.failed:
		result = outputError(err)
	}

	grace, cancel := context.WithTimeout(context.WithoutCancel(ctx), opts.ShutdownGrace)
	defer cancel()
	view.stop(grace)
	if err := stop(grace); err != nil && result == nil {
		result = err
	}
	if !serveDone {
		if err := <-served; err != nil && result == nil {
			result = err
		}
	}
	sh.out.Flush()
	sumOpts := format.ListenSummaryOptions{Elapsed: time.Since(start), Record: opts.Record}
	if opts.From != "" {
		sumOpts.Unit = "message"
	}
	format.ListenSummary(sh.errOut, f.ErrStyles(), h.Summary(), sumOpts)
	sh.errOut.Flush()
	if result == nil && opts.UntilEnd {
		result = untilEndResult(h.Summary())
	}
	return result
}

// checkNoLoop refuses a --forward-to that points back at this listener: every event would be
// relayed to itself without end.
func checkNoLoop(targets []string, addr net.Addr) error {
	ta, ok := addr.(*net.TCPAddr)
	if !ok {
		return nil
	}
	for _, to := range targets {
		u, err := url.Parse(to)
		if err != nil || u.Port() != strconv.Itoa(ta.Port) {
			continue
		}
		host := u.Hostname()
		ip := net.ParseIP(host)
		if host == "localhost" || ip != nil && (ip.IsLoopback() || ip.IsUnspecified() || ip.Equal(ta.IP)) {
			return flagErrorf("--forward-to %s points back at this listener", to)
		}
	}
	return nil
}

// shower shows what the handler reports: events on stdout (as text, or as JSON lines when
// -o json), everything else on stderr.
type shower struct {
	json    bool
	tmpl    *evtemplate.Template
	opts    format.ListenOptions
	st, est *format.Styles
	out     *listen.Output
	errOut  *listen.Output
	bufs    sync.Pool
	once    sync.Once
	failed  chan error
}

func newShower(f *Factory, opts *ListenOptions, tmpl *evtemplate.Template) *shower {
	s := &shower{
		tmpl:   tmpl,
		json:   f.JSON(),
		opts:   format.ListenOptions{Quiet: opts.Quiet, Verbose: f.Verbose},
		st:     f.Styles(),
		est:    f.ErrStyles(),
		failed: make(chan error, 1),
	}
	s.out = listen.NewOutput(f.IO.Out, listen.OutputOptions{OnError: s.fail})
	s.errOut = listen.NewOutput(f.IO.ErrOut, listen.OutputOptions{OnError: func(err error) { s.fail(stderrError{err}) }})
	s.bufs.New = func() any { return new(bytes.Buffer) }
	return s
}

// report shows rep and returns once its events are written to stdout (Output.Commit), so
// that they are acknowledged only then.
func (s *shower) report(rep *listen.Report) error {
	b := s.bufs.Get().(*bytes.Buffer)
	defer func() {
		if b.Cap() <= 64<<10 {
			b.Reset()
			s.bufs.Put(b)
		}
	}()
	var err error
	switch rep.Kind {
	case listen.KindRejected:
		err = s.write(s.errOut, b, format.ListenRejected(b, s.est, rep, s.opts))
	case listen.KindHandshake:
		err = s.write(s.errOut, b, format.ListenHandshake(b, s.est, rep, s.opts))
	case listen.KindEvents:
		if s.tmpl != nil {
			err = s.showTemplate(b, rep)
			break
		}
		if !s.json {
			err = s.write(s.out, b, format.ListenEvents(b, s.st, rep, s.opts))
			break
		}
		// stdout gets what the record gets: each accepted event once.
		if rep.Reason == "" {
			buf := b.AvailableBuffer()
			for _, a := range rep.Events {
				if !a.Duplicate {
					buf = ce.AppendJSON(buf, a.Event)
					buf = append(buf, '\n')
				}
			}
			b.Write(buf)
			if err = s.write(s.out, b, nil); err != nil {
				break
			}
		}
		b.Reset()
		// Only stdout holds the answer back; a failing stderr ends listening (fail).
		if nerr := s.write(s.errOut, b, format.ListenEventNotes(b, s.est, rep, s.opts)); nerr != nil {
			s.fail(nerr)
		}
	}
	if err != nil && !errors.Is(err, listen.ErrOutputBlocked) {
		s.fail(err)
	}
	return err
}

// fail reports the first output error to listenRun, which stops listening.
func (s *shower) fail(err error) {
	s.once.Do(func() { s.failed <- err })
}

// write sends what was rendered into b to o, unless rendering failed.
func (s *shower) write(o *listen.Output, b *bytes.Buffer, renderErr error) error {
	if renderErr != nil {
		return renderErr
	}
	if b.Len() == 0 {
		return nil
	}
	if o == s.out {
		return o.Commit(b.Bytes())
	}
	if _, err := o.Write(b.Bytes()); err != nil {
		return stderrError{err}
	}
	return nil
}
