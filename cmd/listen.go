package cmd

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/cectl/cectl/internal/binding"
	"github.com/cectl/cectl/internal/ce"
	"github.com/cectl/cectl/internal/client"
	"github.com/cectl/cectl/internal/format"
	"github.com/cectl/cectl/internal/listen"
	"github.com/spf13/cobra"
)

// ListenOptions are the options of cectl listen.
type ListenOptions struct {
	F *Factory

	Port    int
	Addr    string
	Path    string
	MaxBody string
	Token   string
	TLSCert string
	TLSKey  string

	Quiet   bool
	Record  string
	Filter  string
	Types   []string
	Count   int
	Timeout time.Duration
	Dedupe  bool

	Reply      string
	ReplyMode  string
	Status     int
	FailRate   float64
	Delay      time.Duration
	RetryAfter string
	ForwardTo  []string

	// From, when set, is a broker URL to receive from instead of listening on HTTP.
	From    string
	Group   string
	Durable string
	Start   string

	// ShutdownGrace bounds how long in-flight requests may take to finish at the end.
	ShutdownGrace time.Duration
	// Ready, when set, is called with the listener's URL once it accepts connections.
	Ready func(url string)

	changed func(string) bool
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
acknowledged event is never lost. --filter (a CESQL expression) and --type select the events
that are shown, recorded, counted, relayed and replied to; the others are acknowledged only.

listen stops after --count events (exit 0), at --timeout (exit 1 if --count events have not
arrived), or on Ctrl-C: requests in flight are finished, the record is flushed and a summary
is printed on stderr.

With --from URL it receives from a broker instead (NATS, JetStream, Kafka, MQTT 5, AMQP 1.0)
with the same checks, display, --record, --filter, --type, --count, --timeout and --dedupe; a
message is acknowledged to the broker only after it was shown and recorded. -v shows the
transport's metadata (subject, topic, partition, offset) and headers.

To test senders, it can answer on purpose with another status (--status, --fail-rate,
--retry-after, --delay), reply with events from a file (--reply, for 'cectl request'),
relay each request unchanged to other receivers (--forward-to), and require a bearer token.

Exit codes:
  0    stopped by Ctrl-C or SIGTERM, --count reached, or --timeout without --count
  1    --count events did not arrive within --timeout; the address is taken; the record
       cannot be written
  2    usage error: unknown, missing or malformed flag or argument
  3    --from names a broker that cannot be reached`,
		Example: `  $ cectl listen
  $ cectl listen -p 9000 --path /events -q
  $ cectl listen -o json | jq .data
  $ cectl listen --record events.jsonl
  $ cectl send --to http://localhost:8080 --from events.jsonl
  $ cectl listen --type 'com.example.order.*' --count 1 --timeout 30s -o json
  $ cectl listen --filter "source LIKE '/orders/%' AND EXISTS region"
  $ cectl listen --reply pong.json --reply-mode structured
  $ cectl listen --fail-rate 0.3 --retry-after 2
  $ cectl listen --forward-to http://localhost:9090/ --dedupe
  $ cectl listen --from nats://localhost:4222/orders.created
  $ cectl listen --from 'kafka://localhost:9092/orders?group=audit&start=oldest' --count 10 -o json`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.changed = cmd.Flags().Changed
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return listenRun(cmd.Context(), opts)
		},
	}
	fs := cmd.Flags()
	fs.IntVarP(&opts.Port, "port", "p", 8080, "`port` on 127.0.0.1 (0: any free port)")
	fs.StringVar(&opts.Addr, "addr", "", "listen on `host:port` instead (':8080' for all interfaces)")
	fs.StringVar(&opts.Path, "path", "/", "URL `path` events are taken at")
	fs.StringVar(&opts.MaxBody, "max-body", "4MiB", "largest request body `size` (e.g. 64KiB, 16MiB); larger ones get 413")
	fs.StringVar(&opts.Token, "token", "", "require 'Authorization: Bearer `TOKEN`' (or ?access_token=); others get 401")
	fs.StringVar(&opts.TLSCert, "tls-cert", "", "serve HTTPS with this certificate `file` (PEM; needs --tls-key)")
	fs.StringVar(&opts.TLSKey, "tls-key", "", "private key `file` for --tls-cert (PEM)")
	fs.BoolVarP(&opts.Quiet, "quiet", "q", false, "one line per event")
	fs.StringVar(&opts.Record, "record", "", "append accepted events to `FILE` as JSON lines (replay with send --from)")
	fs.StringVar(&opts.Filter, "filter", "", "handle only events matching this CESQL `expression`")
	fs.StringArrayVar(&opts.Types, "type", nil, "handle only events whose type matches this `glob` (* and ?; repeatable)")
	fs.IntVar(&opts.Count, "count", 0, "stop after `N` handled events (duplicates do not count)")
	fs.DurationVar(&opts.Timeout, "timeout", 0, "stop after this long; with --count, exit 1 if N events have not arrived")
	fs.BoolVar(&opts.Dedupe, "dedupe", false, "mark repeated events (same source and id); do not record, relay or count them again")
	fs.StringVar(&opts.Reply, "reply", "", "answer with the events of `FILE` in turn (JSON event, array or lines; id and time filled in if missing)")
	fs.StringVar(&opts.ReplyMode, "reply-mode", "binary", "content `mode` of replies: binary or structured")
	fs.IntVar(&opts.Status, "status", 0, "answer accepted events with this `code` (default 202, 200 with --reply); non-2xx refuses them")
	fs.Float64Var(&opts.FailRate, "fail-rate", 0, "answer this share `P` (0 to 1) of event requests with 503")
	fs.DurationVar(&opts.Delay, "delay", 0, "wait this long before answering each event request")
	fs.StringVar(&opts.RetryAfter, "retry-after", "", "send 'Retry-After: `S`' (seconds or an HTTP date) with non-2xx answers")
	fs.StringArrayVar(&opts.ForwardTo, "forward-to", nil, "relay each accepted request unchanged to this `URL` (repeatable)")
	fs.StringVar(&opts.From, "from", "", "receive from a broker instead of HTTP: nats://, jetstream://, kafka://, mqtt(s)://, amqp(s):// `URL`")
	fs.StringVar(&opts.Group, "group", "", "with --from kafka://: consumer group (offsets committed in order); nats://: queue group")
	fs.StringVar(&opts.Durable, "durable", "", "with --from jetstream://: durable consumer name")
	fs.StringVar(&opts.Start, "start", "", "with --from: where to start: jetstream new|all|last|seq:N|time:RFC3339, kafka newest|oldest")
	return cmd
}

// listenSetup is what the flags resolve to.
type listenSetup struct {
	addr     string
	cfg      listen.Config
	tls      *tls.Config
	settings []string // for the banner
}

// resolve checks the flags and builds the handler's configuration. Files named by flags are
// read here, so that a bad one is a usage error before anything listens.
func (opts *ListenOptions) resolve() (*listenSetup, error) {
	changed := opts.changed
	if changed == nil {
		changed = func(string) bool { return false }
	}
	s := &listenSetup{}
	if err := opts.checkFrom(changed); err != nil {
		return nil, err
	}
	switch {
	case opts.Addr != "" && changed("port"):
		return nil, flagErrorf("--addr and --port both give the port; use one")
	case opts.Addr != "":
		if _, _, err := net.SplitHostPort(opts.Addr); err != nil {
			return nil, flagErrorf("--addr %q: want host:port (e.g. 127.0.0.1:8080 or :8080)", opts.Addr)
		}
		s.addr = opts.Addr
	default:
		if opts.Port < 0 || opts.Port > 65535 {
			return nil, flagErrorf("--port %d: want 0 to 65535", opts.Port)
		}
		s.addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(opts.Port))
	}
	if !strings.HasPrefix(opts.Path, "/") {
		return nil, flagErrorf("--path %q must start with /", opts.Path)
	}
	maxBody, err := parseSize(opts.MaxBody)
	if err != nil {
		return nil, flagErrorf("--max-body %q: %v", opts.MaxBody, err)
	}
	if opts.Count < 0 {
		return nil, flagErrorf("--count must not be negative")
	}
	if opts.Timeout < 0 {
		return nil, flagErrorf("--timeout must not be negative")
	}
	if opts.Delay < 0 {
		return nil, flagErrorf("--delay must not be negative")
	}
	if opts.FailRate < 0 || opts.FailRate > 1 {
		return nil, flagErrorf("--fail-rate %g: want a share from 0 to 1 (0.25 is a quarter)", opts.FailRate)
	}
	if changed("token") && opts.Token == "" {
		return nil, flagErrorf("--token must not be empty")
	}
	if opts.RetryAfter != "" {
		if _, ok := client.RetryAfter(opts.RetryAfter, time.Now()); !ok {
			return nil, flagErrorf("--retry-after %q: want seconds or an HTTP date (RFC 9110 §10.2.3)", opts.RetryAfter)
		}
	}
	replyMode, err := binding.ParseMode(opts.ReplyMode)
	if err != nil || replyMode == binding.Batch {
		return nil, flagErrorf("--reply-mode %q: want binary or structured", opts.ReplyMode)
	}
	status := http.StatusAccepted
	if opts.Reply != "" {
		// A response that carries a payload is 200 or 201 (webhook §2.2).
		status = http.StatusOK
	}
	if changed("status") {
		if opts.Status < 200 || opts.Status > 599 {
			return nil, flagErrorf("--status %d: want an HTTP status from 200 to 599", opts.Status)
		}
		status = opts.Status
	}
	if opts.Reply != "" && status == http.StatusNoContent {
		return nil, flagErrorf("--status 204 has no body, so there is no room for --reply (use 200 or 201)")
	}
	filter, err := listen.NewFilter(opts.Filter, opts.Types)
	if err != nil {
		if opts.Filter != "" {
			return nil, flagErrorf("--filter %q: %v", opts.Filter, err)
		}
		return nil, flagErrorf("--type: %v", err)
	}
	s.cfg = listen.Config{
		Path:      opts.Path,
		MaxBody:   maxBody,
		Token:     opts.Token,
		Filter:    filter,
		Dedupe:    opts.Dedupe,
		ReplyMode: replyMode,
		Faults: listen.Faults{
			Status:     status,
			FailRate:   opts.FailRate,
			Delay:      opts.Delay,
			RetryAfter: opts.RetryAfter,
		},
		Count: opts.Count,
	}
	if opts.Reply != "" {
		replies, err := loadReplies(opts.Reply)
		if err != nil {
			return nil, err
		}
		s.cfg.Replies = replies
	}
	for _, to := range opts.ForwardTo {
		u, err := url.Parse(to)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, flagErrorf("--forward-to %q: want an http or https URL", to)
		}
	}
	switch {
	case opts.TLSCert != "" && opts.TLSKey != "":
		cert, err := tls.LoadX509KeyPair(opts.TLSCert, opts.TLSKey)
		if err != nil {
			return nil, &FlagError{Err: fmt.Errorf("--tls-cert/--tls-key: %w", err)}
		}
		s.tls = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	case opts.TLSCert != "" || opts.TLSKey != "":
		return nil, flagErrorf("--tls-cert and --tls-key go together")
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
		add("replying with %s from %s (%s mode)", countNoun(s.cfg.Replies.Len(), "event"), opts.Reply, s.cfg.ReplyMode)
	}
	for _, to := range opts.ForwardTo {
		add("forwarding to %s", to)
	}
	if s.cfg.Faults.Status != http.StatusAccepted && (opts.Reply == "" || s.cfg.Faults.Status != http.StatusOK) {
		add("answering %d %s", s.cfg.Faults.Status, http.StatusText(s.cfg.Faults.Status))
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
	case opts.Count > 0 && opts.Timeout > 0:
		add("stopping after %s, or failing after %s", countNoun(opts.Count, "event"), opts.Timeout)
	case opts.Count > 0:
		add("stopping after %s", countNoun(opts.Count, "event"))
	case opts.Timeout > 0:
		add("stopping after %s", opts.Timeout)
	}
	return out
}

func countNoun(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return strconv.Itoa(n) + " " + word + "s"
}

// parseSize reads a byte size: a number of bytes, or one with a unit (KiB, MiB, GiB are
// powers of 1024; KB, MB, GB powers of 1000).
func parseSize(s string) (int64, error) {
	t := strings.TrimSpace(s)
	i := 0
	for i < len(t) && t[i] >= '0' && t[i] <= '9' {
		i++
	}
	if i == 0 {
		return 0, errors.New("want a size such as 4MiB, 512KiB or 65536")
	}
	n, err := strconv.ParseInt(t[:i], 10, 64)
	if err != nil {
		return 0, errors.New("the number is too large")
	}
	units := map[string]int64{"": 1, "b": 1, "kib": 1 << 10, "mib": 1 << 20, "gib": 1 << 30, "kb": 1e3, "mb": 1e6, "gb": 1e9}
	mult, ok := units[strings.ToLower(strings.TrimSpace(t[i:]))]
	if !ok {
		return 0, fmt.Errorf("unknown unit %q (want B, KiB, MiB, GiB, KB, MB or GB)", strings.TrimSpace(t[i:]))
	}
	if n == 0 {
		return 0, errors.New("the size must be positive")
	}
	if n > (1<<40)/mult {
		return 0, errors.New("the size is too large")
	}
	return n * mult, nil
}

func listenRun(ctx context.Context, opts *ListenOptions) error {
	f := opts.F
	setup, err := opts.resolve()
	if err != nil {
		return err
	}
	cfg := setup.cfg
	collectForThroughput(f.Getenv, listen.MemoryBudget(cfg))

	if opts.Record != "" {
		rec, err := listen.OpenRecorder(opts.Record)
		if err != nil {
			return &FlagError{Err: fmt.Errorf("--record: %w", err)}
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

	sh := newShower(f, opts)
	cfg.Report = sh.report
	cfg.ShowHeaders = f.Verbose
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
		return err
	}
	var timeout <-chan time.Time
	if opts.Timeout > 0 {
		t := time.NewTimer(opts.Timeout)
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
			result = fmt.Errorf("--timeout %s: %d of %s arrived", opts.Timeout, s.Selected-s.Duplicates, countNoun(opts.Count, "event"))
		}
	case err := <-served:
		serveDone = true
		result = err
	case err := <-h.Failed():
		result = err
	case err := <-sh.failed:
		if !errors.Is(err, syscall.EPIPE) {
			result = fmt.Errorf("writing the output: %w", err)
		}
	}

	grace, cancel := context.WithTimeout(context.WithoutCancel(ctx), opts.ShutdownGrace)
	defer cancel()
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
	opts    format.ListenOptions
	st, est *format.Styles
	out     *listen.Output
	errOut  *listen.Output
	bufs    sync.Pool
	once    sync.Once
	failed  chan error
}

func newShower(f *Factory, opts *ListenOptions) *shower {
	s := &shower{
		json:   f.JSON(),
		opts:   format.ListenOptions{Quiet: opts.Quiet, Verbose: f.Verbose},
		st:     f.Styles(),
		est:    f.ErrStyles(),
		failed: make(chan error, 1),
	}
	s.out = listen.NewOutput(f.IO.Out, listen.FlushDelay, s.fail)
	s.errOut = listen.NewOutput(f.IO.ErrOut, 0, nil)
	s.bufs.New = func() any { return new(bytes.Buffer) }
	return s
}

func (s *shower) report(rep *listen.Report) {
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
		err = s.write(s.errOut, b, format.ListenEventNotes(b, s.est, rep, s.opts))
	}
	if err != nil {
		s.fail(err)
	}
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
	_, err := o.Write(b.Bytes())
	return err
}
