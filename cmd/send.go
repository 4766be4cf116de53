package cmd

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"runtime"
	"strings"
	"time"

	"github.com/cectl/cectl/internal/binding"
	"github.com/cectl/cectl/internal/ce"
	"github.com/cectl/cectl/internal/client"
	"github.com/cectl/cectl/internal/format"
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

	flags *pflag.FlagSet
}

func (df *deliveryFlags) register(cmd *cobra.Command) {
	fs := cmd.Flags()
	df.flags = fs
	fs.StringVar(&df.To, "to", "", "target `URL`: http(s)://, nats://, jetstream://, kafka://, mqtt(s)://, amqp(s):// (default $K_SINK)")
	fs.StringVar(&df.Mode, "mode", "binary", "content mode: binary, structured or batch (batch: HTTP only; NATS carries structured only)")
	fs.StringArrayVarP(&df.Headers, "header", "H", nil, "extra HTTP header `'Name: value'` (repeatable)")
	fs.DurationVar(&df.Timeout, "timeout", 30*time.Second, "time limit for each attempt")
	fs.IntVar(&df.Retries, "retries", 0, "retry `N` times on network errors, 408, 429 and 5xx (exponential backoff with jitter, honours Retry-After)")
	fs.BoolVar(&df.Insecure, "insecure", false, "do not verify the server's TLS certificate")
	fs.StringVar(&df.KafkaKey, "kafka-key", "", "Kafka record key (default the partitionkey extension)")
}

// resolve checks the delivery flags and returns the target, mode and headers.
func (df *deliveryFlags) resolve(getenv func(string) string) (string, binding.Mode, http.Header, error) {
	mode, err := binding.ParseMode(df.Mode)
	if err != nil {
		return "", mode, nil, &FlagError{Err: fmt.Errorf("--mode: %w", err)}
	}
	to := df.To
	if to == "" {
		to = getenv("K_SINK")
	}
	if to == "" {
		return "", mode, nil, flagErrorf("--to is required (or set K_SINK)")
	}
	h := http.Header{}
	for _, arg := range df.Headers {
		name, value, err := parseHeader(arg)
		if err != nil {
			return "", mode, nil, &FlagError{Err: err}
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
	})
	var ue *client.UsageError
	if errors.As(err, &ue) {
		return nil, mode, &FlagError{Err: fmt.Errorf("--to %w", ue.Err)}
	}
	if err != nil {
		return nil, mode, err
	}
	effective, err := client.EffectiveMode(t, mode)
	if err != nil {
		t.Close()
		return nil, mode, &FlagError{Err: fmt.Errorf("--mode: %w", err)}
	}
	if effective != mode && df.flags != nil && df.flags.Changed("mode") {
		fmt.Fprintf(f.IO.ErrOut, "%s %s carries %s events only; sending %s\n", f.ErrStyles().Warn.Sprint("warning:"), format.Sanitize(shownURL(to)), effective, effective)
	}
	return t, effective, nil
}

// shownURL is a URL as cectl prints it: a password in it is masked (RFC 3986 §3.2.1 calls
// user:password in a URI deprecated for this reason), so output can be shared.
func shownURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.User == nil {
		return raw
	}
	if _, ok := u.User.Password(); !ok {
		return raw
	}
	return u.Redacted()
}

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
	value = strings.TrimSpace(value)
	if strings.ContainsAny(value, "\r\n\x00") {
		return "", "", fmt.Errorf("--header %q: the value holds a line break or NUL", name)
	}
	return name, value, nil
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
	Flags     *pflag.FlagSet
}

// NewCmdSend builds `cectl send`. runF, when not nil, replaces the run for tests of flag
// parsing.
func NewCmdSend(f *Factory, runF func(context.Context, *SendOptions) error) *cobra.Command {
	opts := &SendOptions{F: f}
	cmd := &cobra.Command{
		Use:   "send --to <url> --type <type> [flags]",
		Short: "Send CloudEvents over HTTP or to a broker",
		Long: `Send one event built from flags, or every event of a file, to an HTTP endpoint or a
broker (nats://, jetstream://, kafka://, mqtt://, amqp://; the URL scheme picks the transport).

The event is validated before it is sent. It goes in binary mode by default (attributes in
ce- headers, percent-encoded as the HTTP binding requires), or in structured or batch mode.
Each event gets one result line: ACK (2xx, or the broker's acknowledgement), NACK (any other
status) or NOT DELIVERED (no response at all), with the status, id, type, target and latency,
and the response body.

--count, --duration, --concurrency, --rate or --warmup turn send into a load generator that
prints one report (throughput, status codes, latency percentiles and histogram); templates
such as {{seq}}, {{uuid}}, {{now}}, {{rand 1 9}}, {{randstr 8}} and {{pick "a" "b"}} make the
events of a load run differ.

--from reads one JSON event, a JSON array of events or JSON lines (what -o json prints);
attribute flags given on the command line override the file's values; invalid events are
reported with their line and not sent.

` + exitCodesHelp,
		Example: `  $ cectl send --to http://localhost:8080 --type com.example.user.created --data '{"id":42}'
  $ cectl send --to http://localhost:8080 --type com.example.upload --data @photo.png
  $ echo hello | cectl send --to http://localhost:8080 --type com.example.note --data -
  $ cectl send --to http://localhost:8080 --type com.example.order -e region=eu -e priority:=5 --mode structured
  $ cectl send --to http://localhost:8080 --from events.jsonl
  $ cectl send --to http://localhost:8080 --type com.example.test --dry-run
  $ cectl send --to http://localhost:8080 --type com.example.load --id 'ev-{{seq}}' --count 20000 --concurrency 16
  $ cectl send --to nats://localhost:4222/orders.created --type com.example.order.created --data '{"id":42}'`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return sendRun(cmd.Context(), opts)
		},
	}
	opts.Event.register(cmd.Flags())
	opts.Delivery.register(cmd)
	cmd.Flags().StringVar(&opts.From, "from", "", "send every event in `FILE` (- for stdin): a JSON event, a JSON array or JSON lines")
	cmd.Flags().BoolVar(&opts.DryRun, "dry-run", false, "print the HTTP requests that would be sent; send nothing")
	cmd.Flags().IntVar(&opts.BatchSize, "batch-size", 0, "events per batch request with --mode batch (0: all of a --from file in one; 1 in a load run)")
	opts.Load.register(cmd.Flags())
	opts.Flags = cmd.Flags()
	return cmd
}

func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return flagErrorf("%s takes no arguments, got %q", cmd.CommandPath(), args[0])
	}
	return nil
}

// sender delivers events and reports each result.
type sender struct {
	f        *Factory
	t        client.Target
	to       string
	mode     binding.Mode
	dryRun   bool
	st, est  *format.Styles
	summary  format.Summary
	writeErr error
	// out buffers results when stdout is not a terminal and the events come from a file; it
	// is flushed at least every flushEvery, so a pipe still sees results while a long file is
	// sent. Events from stdin may trickle in, so their results are never held back.
	out       *bufio.Writer
	lastFlush time.Time
	flushEach bool
	// diag, when set, takes the reports of readFile instead of stderr.
	diag io.Writer
}

const flushEvery = 100 * time.Millisecond

// flushed flushes the buffered results when they are due.
func (s *sender) flushed(force bool) error {
	if s.out == nil {
		return nil
	}
	if now := time.Now(); force || s.flushEach || now.Sub(s.lastFlush) >= flushEvery {
		s.lastFlush = now
		return s.out.Flush()
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
	if opts.BatchSize < 0 {
		return flagErrorf("--batch-size must not be negative")
	}
	loadRun := opts.Flags != nil && opts.Load.active(opts.Flags)
	if loadRun {
		if err := opts.Load.check(); err != nil {
			return err
		}
	}
	t, mode, err := opts.Delivery.open(f, to, mode, headers, max(4, opts.Load.Concurrency))
	if err != nil {
		return err
	}
	defer t.Close()
	if loadRun {
		return sendLoad(ctx, opts, t, mode)
	}
	s := &sender{
		f: f, t: t, to: shownURL(to), mode: mode, dryRun: opts.DryRun,
		st: f.Styles(), est: f.ErrStyles(),
	}
	if _, ok := t.(client.Dumper); opts.DryRun && !ok {
		return flagErrorf("--dry-run is not available for %s", to)
	}

	if opts.From == "" {
		e, err := opts.Event.build(f.IO.In, time.Now())
		if err != nil {
			return err
		}
		if err := s.checkFlagEvent(e); err != nil {
			return err
		}
		res, err := s.deliver(ctx, []*event.Event{e}, nil)
		if err != nil {
			return err
		}
		switch {
		case res == nil || res.ACK:
			return nil
		case res.Delivered:
			return &SilentError{Code: ExitFailure}
		case ctx.Err() != nil:
			return context.Cause(ctx)
		}
		return &SilentError{Code: ExitUndelivered}
	}
	return s.sendFile(ctx, opts)
}

// checkFlagEvent validates an event built from flags: an error is a usage error naming the
// flag, a warning is shown and the event still goes.
func (s *sender) checkFlagEvent(e *event.Event) error {
	errs, warnings := checkEvent(e)
	for _, w := range warnings {
		fmt.Fprintf(s.f.IO.ErrOut, "%s %s: %s [%s]\n", s.est.Warn.Sprint("warning:"), flagFor(w.Pointer), w.Message, w.Rule)
	}
	if len(errs) == 0 {
		return nil
	}
	msgs := make([]string, len(errs))
	for i, e := range errs {
		msgs[i] = fmt.Sprintf("%s: %s [%s]", flagFor(e.Pointer), e.Message, e.Rule)
	}
	return flagErrorf("invalid event: %s", strings.Join(msgs, "; "))
}

// sendFile sends every event of a file in order, or in batches in batch mode.
func (s *sender) sendFile(ctx context.Context, opts *SendOptions) error {
	name := opts.From
	var in io.Reader = s.f.IO.In
	if name == "-" {
		name = "<stdin>"
	} else {
		file, err := os.Open(opts.From)
		if err != nil {
			return &FlagError{Err: fmt.Errorf("--from: %w", err)}
		}
		defer file.Close()
		in = file
	}
	// One message is in flight at a time, and on every event the goroutines of one exchange
	// (this one, the connection's reader and writer, the read-ahead) hand over to each other.
	// On one P they do so without waking another thread, which cost more than the second
	// core gave; the read-ahead still overlaps the wait for each response.
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	s.out = bufio.NewWriterSize(s.f.IO.Out, 32<<10)
	s.lastFlush = time.Now()
	s.flushEach = s.f.IO.OutTTY || opts.From == "-"
	defer s.flushed(true)
	var batch []*event.Event
	var lines []int
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		_, err := s.deliver(ctx, batch, lines)
		batch, lines = batch[:0], lines[:0]
		return err
	}
	read := s.readAhead
	if opts.From == "-" {
		// Events from stdin may trickle in: each is sent as soon as it is read.
		read = s.readFile
	}
	var emitErr error
	invalid, readErr := read(ctx, name, in, &opts.Event, func(it fileItem) error {
		if s.mode != binding.Batch {
			_, emitErr = s.deliverEncoded(ctx, it.e, it.line, it.msg)
			return emitErr
		}
		batch = append(batch, it.e)
		lines = append(lines, it.line)
		if opts.BatchSize > 0 && len(batch) >= opts.BatchSize {
			emitErr = flush()
		}
		return emitErr
	})
	if emitErr != nil {
		return emitErr
	}
	s.summary.Invalid += invalid
	if ctx.Err() == nil {
		if err := flush(); err != nil {
			return err
		}
	}
	if s.writeErr != nil {
		return s.writeErr
	}
	if !s.dryRun {
		if err := s.flushed(true); err != nil {
			return err
		}
		if err := format.SummaryText(s.f.IO.ErrOut, s.est, s.summary); err != nil {
			return err
		}
	}
	if ctx.Err() != nil {
		return context.Cause(ctx)
	}
	sum := s.summary
	switch {
	case s.dryRun:
		if sum.Invalid > 0 {
			return &SilentError{Code: ExitFailure}
		}
		return nil
	case sum.Sent > 0 && sum.Undelivered == sum.Sent:
		return &SilentError{Code: ExitUndelivered}
	case sum.NACK > 0 || sum.Undelivered > 0 || sum.Invalid > 0:
		return &SilentError{Code: ExitFailure}
	case sum.Sent == 0 && readErr == nil:
		fmt.Fprintf(s.f.IO.ErrOut, "%s no events in %s\n", s.est.Warn.Sprint("warning:"), name)
	}
	return nil
}

type fileItem struct {
	e    *event.Event
	line int
	// notes are the reports (invalid events, warnings) that stood in the file before e,
	// held back by readAhead to be shown in order; e is nil for notes after the last event.
	notes []byte
	// msg is e already encoded by readAhead, when the target takes encoded messages.
	msg *binding.Message
}

// readAheadBatch is how many read events readAhead hands over at a time.
const readAheadBatch = 64

// readAhead is readFile with the reading, validating and decoding done in a goroutine of its
// own, so that it overlaps the wait for each response. Events are handed over in batches:
// handing over every event alone cost more in wake-ups than the overlap saved. emit is
// called in this goroutine, in file order, with the reports printed in order between events.
func (s *sender) readAhead(ctx context.Context, name string, in io.Reader, ef *eventFlags, emit func(fileItem) error) (int, error) {
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	batches := make(chan []fileItem, 2)
	var invalid int
	var readErr error
	go func() {
		defer close(batches)
		var notes bytes.Buffer
		rs := *s
		rs.diag = &notes
		// Encoding one event per message is also done ahead; batches are put together
		// by the sender.
		_, encode := s.t.(client.MessageSender)
		encode = encode && !s.dryRun && s.mode != binding.Batch
		batch := make([]fileItem, 0, readAheadBatch)
		handOver := func() bool {
			select {
			case batches <- batch:
				batch = make([]fileItem, 0, readAheadBatch)
				return true
			case <-rctx.Done():
				return false
			}
		}
		invalid, readErr = rs.readFile(rctx, name, in, ef, func(it fileItem) error {
			if notes.Len() > 0 {
				it.notes = bytes.Clone(notes.Bytes())
				notes.Reset()
			}
			if encode {
				if msg, err := binding.Encode(s.mode, it.e); err == nil {
					it.msg = &msg
				}
			}
			batch = append(batch, it)
			if len(batch) == readAheadBatch && !handOver() {
				return context.Cause(rctx)
			}
			return nil
		})
		if notes.Len() > 0 {
			batch = append(batch, fileItem{notes: notes.Bytes()})
		}
		if len(batch) > 0 {
			handOver()
		}
	}()
	var emitErr error
	for batch := range batches {
		for _, it := range batch {
			if emitErr != nil || ctx.Err() != nil {
				break
			}
			if len(it.notes) > 0 {
				s.f.IO.ErrOut.Write(it.notes)
			}
			if it.e != nil {
				emitErr = emit(it)
			}
		}
		if emitErr != nil || ctx.Err() != nil {
			cancel() // the reader stops at its next event; the loop drains what it handed over
		}
	}
	// The reader has ended (it closed batches), so its results are safe to read.
	if emitErr != nil {
		return invalid, emitErr
	}
	return invalid, readErr
}

// readFile reads, validates and decodes the events of a --from file in order, hands each valid
// one to emit and reports the invalid ones with their position, until the file ends, ctx is
// done or emit fails. The validator's
// scanner streams the file and checks every event by the rules of cectl validate. It returns
// how many events were invalid and the error that stopped reading, if any.
func (s *sender) readFile(ctx context.Context, name string, in io.Reader, ef *eventFlags, emit func(fileItem) error) (int, error) {
	overrides := ef.anyChanged()
	sc := validate.NewScanner(in, validate.Options{})
	var dec ce.Decoder // keeps what the events of the file share (their source)
	invalid := 0
	for ctx.Err() == nil && sc.Scan() {
		res := sc.Result()
		for _, fd := range res.Findings {
			if fd.Level == validate.Error {
				s.reportInvalid(name, fd.Line, fd.Column, fd.Message, fd.Rule)
			} else {
				fmt.Fprintf(s.diagOut(), "%s:%d:%d: %s %s [%s]\n", name, fd.Line, fd.Column, s.est.Warn.Sprint("warning:"), fd.Message, fd.Rule)
			}
		}
		if !res.Valid() {
			invalid++
			continue
		}
		if res.Index < 0 {
			continue
		}
		e, err := dec.DecodeValidated(res.Raw())
		if err == nil && overrides {
			err = ef.apply(&e, s.f.IO.In)
			if err == nil {
				if errs, _ := checkEvent(&e); len(errs) > 0 {
					err = fmt.Errorf("after applying the command-line flags: %s: %s", flagFor(errs[0].Pointer), errs[0].Message)
				}
			}
		}
		if err != nil {
			invalid++
			s.reportInvalid(name, res.Line, res.Column, err.Error(), "event")
			continue
		}
		if err := emit(fileItem{e: &e, line: res.Line}); err != nil {
			return invalid, err
		}
	}
	if err := sc.Err(); err != nil {
		s.reportInvalid(name, 0, 0, fmt.Sprintf("cannot read further: %v", err), "read")
		return invalid + 1, err
	}
	return invalid, nil
}

func (s *sender) reportInvalid(name string, line, col int, msg, rule string) {
	pos := name
	if line > 0 {
		pos = fmt.Sprintf("%s:%d:%d", name, line, col)
	}
	fmt.Fprintf(s.diagOut(), "%s: %s invalid event, not sent: %s [%s]\n", pos, s.est.Fail.Sprint("error:"), msg, rule)
}

// diagOut is where readFile reports invalid events and warnings: stderr, or the notes that
// readAhead shows in order.
func (s *sender) diagOut() io.Writer {
	if s.diag != nil {
		return s.diag
	}
	return s.f.IO.ErrOut
}

// deliverEncoded delivers one event read from a file, sending msg when readAhead encoded it
// already (never in a dry run; an event that failed to encode goes through Send, which
// reports why).
func (s *sender) deliverEncoded(ctx context.Context, e *event.Event, line int, msg *binding.Message) (*client.Result, error) {
	if msg == nil {
		return s.deliver(ctx, []*event.Event{e}, []int{line})
	}
	res := s.t.(client.MessageSender).SendMessage(ctx, *msg)
	return s.report(&res, []*event.Event{e}, []int{line})
}

// deliver sends events in one request (several only in batch mode) and reports the result
// for each. It returns the result, nil in a dry run, and an error only when output fails.
func (s *sender) deliver(ctx context.Context, events []*event.Event, lines []int) (*client.Result, error) {
	if s.dryRun {
		return nil, s.dump(ctx, events)
	}
	res := s.t.Send(ctx, s.mode, events...)
	return s.report(&res, events, lines)
}

// report shows the result of one message for each of its events and counts it.
func (s *sender) report(res *client.Result, events []*event.Event, lines []int) (*client.Result, error) {
	if s.f.Verbose {
		if err := format.Exchange(s.f.IO.ErrOut, s.est, res); err != nil {
			return nil, err
		}
	}
	for i, e := range events {
		s.summary.Add(res)
		d := format.Delivery{Event: e, To: s.to, Mode: s.mode.String(), Result: res}
		if i < len(lines) {
			d.Line = lines[i]
		}
		if i > 0 && d.Result.Response != nil {
			// The response belongs to the whole batch: show it once.
			r := *d.Result
			r.Response = nil
			d.Result = &r
		}
		var err error
		var w io.Writer = s.f.IO.Out
		if s.out != nil {
			w = s.out
		}
		if s.f.JSON() {
			err = format.DeliveryJSON(w, d)
		} else {
			err = format.DeliveryText(w, s.st, d)
		}
		if err == nil {
			err = s.flushed(false)
		}
		if err != nil {
			s.writeErr = err
			return res, err
		}
	}
	return res, nil
}

// dump prints the exact message the events would make.
func (s *sender) dump(ctx context.Context, events []*event.Event) error {
	b, err := s.t.(client.Dumper).Dump(ctx, s.mode, events...)
	if err != nil {
		return err
	}
	if _, err := s.f.IO.Out.Write(b); err != nil {
		return err
	}
	_, err = io.WriteString(s.f.IO.Out, "\n\n")
	return err
}

// anyChanged reports whether any attribute flag was given on the command line.
func (ef *eventFlags) anyChanged() bool {
	for _, name := range []string{"type", "source", "id", "time", "subject", "dataschema", "datacontenttype", "specversion", "ext", "data"} {
		if ef.changed(name) {
			return true
		}
	}
	return false
}
