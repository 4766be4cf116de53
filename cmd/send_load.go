package cmd

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"runtime/debug"
	"slices"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/cectl/cectl/internal/binding"
	"github.com/cectl/cectl/internal/ce"
	"github.com/cectl/cectl/internal/client"
	"github.com/cectl/cectl/internal/format"
	"github.com/cectl/cectl/internal/load"
	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/spf13/pflag"
)

// loadFlags turn send into a load generator.
type loadFlags struct {
	Count       int64
	Duration    time.Duration
	Concurrency int
	Rate        float64
	Warmup      int64
}

func (lf *loadFlags) register(fs *pflag.FlagSet) {
	fs.Int64Var(&lf.Count, "count", 0, "send `N` events and report throughput and latency")
	fs.DurationVar(&lf.Duration, "duration", 0, "keep sending for this long, then report")
	fs.IntVar(&lf.Concurrency, "concurrency", 1, "requests in flight at once, over kept-alive connections")
	fs.Float64Var(&lf.Rate, "rate", 0, "requests per second across all workers, evenly paced (0: as fast as possible)")
	fs.Int64Var(&lf.Warmup, "warmup", 0, "send `N` requests first that the report does not count")
}

// active reports whether any load flag was given: then send reports a run instead of
// printing a line per event.
func (lf *loadFlags) active(fs *pflag.FlagSet) bool {
	for _, name := range []string{"count", "duration", "concurrency", "rate", "warmup"} {
		if fs.Changed(name) {
			return true
		}
	}
	return false
}

func (lf *loadFlags) check() error {
	switch {
	case lf.Count < 0:
		return flagErrorf("--count must not be negative")
	case lf.Duration < 0:
		return flagErrorf("--duration must not be negative")
	case lf.Concurrency < 1:
		return flagErrorf("--concurrency must be at least 1")
	case lf.Concurrency > 10000:
		return flagErrorf("--concurrency %d is more than 10000", lf.Concurrency)
	case lf.Rate < 0:
		return flagErrorf("--rate must not be negative")
	case lf.Warmup < 0:
		return flagErrorf("--warmup must not be negative")
	}
	return nil
}

// templates are the attribute and data flags parsed as templates, for events that differ.
type templates struct {
	ef     *eventFlags
	fields []templateField
	exts   []*load.Template // nil for typed extensions, which do not take templates
	data   *load.Template   // nil unless --data is UTF-8 text with placeholders
}

type templateField struct {
	tpl *load.Template
	set func(*eventFlags, string)
}

func parseTemplates(ef *eventFlags, stdin io.Reader) (*templates, error) {
	t := &templates{ef: ef}
	for _, f := range []struct {
		flag  string
		value string
		set   func(*eventFlags, string)
	}{
		{"id", ef.ID, func(e *eventFlags, v string) { e.ID = v }},
		{"source", ef.Source, func(e *eventFlags, v string) { e.Source = v }},
		{"type", ef.Type, func(e *eventFlags, v string) { e.Type = v }},
		{"time", ef.Time, func(e *eventFlags, v string) { e.Time = v }},
		{"subject", ef.Subject, func(e *eventFlags, v string) { e.Subject = v }},
		{"dataschema", ef.DataSchema, func(e *eventFlags, v string) { e.DataSchema = v }},
		{"datacontenttype", ef.DataContentType, func(e *eventFlags, v string) { e.DataContentType = v }},
	} {
		tpl, err := load.Parse(f.value)
		if err != nil {
			return nil, &FlagError{Err: fmt.Errorf("--%s: %w", f.flag, err)}
		}
		if !tpl.Static() {
			t.fields = append(t.fields, templateField{tpl: tpl, set: f.set})
		}
	}
	t.exts = make([]*load.Template, len(ef.Extensions))
	for i, arg := range ef.Extensions {
		name, value, err := parseExtension(arg)
		if err != nil {
			return nil, &FlagError{Err: err}
		}
		if s, ok := value.(string); ok && name+"="+s == arg {
			tpl, err := load.Parse(s)
			if err != nil {
				return nil, &FlagError{Err: fmt.Errorf("--ext %s: %w", name, err)}
			}
			if !tpl.Static() {
				t.exts[i] = tpl
			}
		}
	}
	if ef.changed("data") {
		data, file, err := readData(ef.Data, stdin)
		if err != nil {
			return nil, err
		}
		ef.data = &flagData{bytes: data, file: file}
		if isUTF8Text(data) {
			tpl, err := load.Parse(string(data))
			if err != nil {
				return nil, &FlagError{Err: fmt.Errorf("--data: %w", err)}
			}
			if !tpl.Static() {
				t.data = tpl
			}
		}
	}
	return t, nil
}

// build makes the event for env from the flags with their templates rendered.
func (t *templates) build(env *load.Env) (*event.Event, error) {
	ef := *t.ef // the copy shares the flag set, so changed() still answers for the user's flags
	for _, f := range t.fields {
		f.set(&ef, f.tpl.Render(env))
	}
	if hasAny(t.exts) {
		ef.Extensions = make([]string, len(t.ef.Extensions))
		for i, arg := range t.ef.Extensions {
			if t.exts[i] == nil {
				ef.Extensions[i] = arg
				continue
			}
			name, _, _ := parseExtension(arg)
			ef.Extensions[i] = name + "=" + t.exts[i].Render(env)
		}
	}
	if t.data != nil {
		ef.data = &flagData{bytes: t.data.Append(nil, env), file: t.ef.data.file}
	}
	return ef.build(nil, env.Now)
}

// static reports whether no flag has a placeholder.
func (t *templates) static() bool { return len(t.fields) == 0 && !hasAny(t.exts) && t.data == nil }

// baseMessage is a binary-mode message encoded once; message fills in a fresh id and time.
type baseMessage struct {
	msg        binding.Message
	id, tstamp bool
}

func newBaseMessage(ef *eventFlags, first *event.Event, userAgent string) (*baseMessage, error) {
	msg, err := binding.Encode(binding.Binary, first)
	if err != nil {
		return nil, err
	}
	msg.Header["User-Agent"] = []string{userAgent}
	return &baseMessage{msg: msg, id: !ef.changed("id"), tstamp: !ef.changed("time")}, nil
}

var uuidTemplate, _ = load.Parse("{{uuid}}")

func (b *baseMessage) message(env *load.Env) binding.Message {
	h := make(http.Header, len(b.msg.Header))
	for k, v := range b.msg.Header {
		h[k] = v
	}
	if b.id {
		h["Ce-Id"] = []string{string(uuidTemplate.Append(make([]byte, 0, 36), env))}
	}
	if b.tstamp {
		h["Ce-Time"] = []string{env.Now.UTC().Format(time.RFC3339Nano)}
	}
	return binding.Message{Header: h, Body: b.msg.Body}
}

// protoEvent is the event every send of a run without placeholders carries, built once;
// event copies it with a fresh id and time, as building it from the flags would give. It
// serves the targets that encode each event themselves (the brokers, and HTTP structured
// mode): building from the flags parses and checks every flag again, which cost a tenth of
// the sender's time.
type protoEvent struct {
	first      *event.Event
	id, tstamp bool
}

func newProtoEvent(ef *eventFlags, first *event.Event) *protoEvent {
	return &protoEvent{first: first, id: !ef.changed("id"), tstamp: !ef.changed("time")}
}

func (p *protoEvent) event(env *load.Env) *event.Event {
	// The context is copied; the data is shared, since nothing writes to it while sending.
	e := &event.Event{Context: p.first.Context.Clone(), DataEncoded: p.first.DataEncoded, DataBase64: p.first.DataBase64}
	id, tm := p.fresh(env)
	if id != "" {
		e.SetID(id)
	}
	if !tm.IsZero() {
		e.SetTime(tm)
	}
	return e
}

// fresh returns the id and time a copy gets: empty and zero for those the flags fixed.
func (p *protoEvent) fresh(env *load.Env) (id string, t time.Time) {
	if p.id {
		id = string(uuidTemplate.Append(make([]byte, 0, 36), env))
	}
	if p.tstamp {
		t = env.Now.UTC()
	}
	return id, t
}

// jsonTemplate is the prototype event encoded once in the JSON format, cut where its id and
// time go, for the structured-only brokers (NATS, JetStream: nats binding §3): event writes
// what encoding a copy of the prototype would, without building and encoding an event.
type jsonTemplate struct {
	parts [][]byte // the text around the cuts
	cuts  []byte   // what goes in each cut: 'i' the id, 't' the time
	size  int
}

// newJSONTemplate encodes p's event with marks for the id and time it changes; nil when a
// mark cannot be found exactly once, and the copies are then encoded one by one.
func newJSONTemplate(p *protoEvent) *jsonTemplate {
	const idMark = "cectl-id-mark-3f9a1c"
	timeMark := time.Date(1999, 12, 31, 23, 59, 58, 987654321, time.UTC)
	e := p.first.Clone()
	type cut struct {
		at, n int
		kind  byte
	}
	var cuts []cut
	doc := []byte{}
	if p.id {
		e.SetID(idMark)
	}
	if p.tstamp {
		e.SetTime(timeMark)
	}
	doc = ce.AppendJSON(doc, &e)
	for _, m := range []struct {
		on     bool
		member string
		kind   byte
	}{
		{p.id, `"id":"` + idMark + `"`, 'i'},
		{p.tstamp, `"time":"` + timeMark.Format(time.RFC3339Nano) + `"`, 't'},
	} {
		if !m.on {
			continue
		}
		if bytes.Count(doc, []byte(m.member)) != 1 {
			return nil
		}
		at := bytes.Index(doc, []byte(m.member))
		name, _, _ := strings.Cut(m.member, ":")
		start := at + len(name) + 2 // after `"name":"`
		cuts = append(cuts, cut{start, len(m.member) - len(name) - 3, m.kind})
	}
	slices.SortFunc(cuts, func(a, b cut) int { return a.at - b.at })
	t := &jsonTemplate{size: len(doc) + 64}
	prev := 0
	for _, c := range cuts {
		t.parts = append(t.parts, doc[prev:c.at])
		t.cuts = append(t.cuts, c.kind)
		prev = c.at + c.n
	}
	t.parts = append(t.parts, doc[prev:])
	return t
}

func (t *jsonTemplate) event(env *load.Env) []byte {
	dst := make([]byte, 0, t.size)
	for i, part := range t.parts {
		dst = append(dst, part...)
		if i == len(t.cuts) {
			break
		}
		switch t.cuts[i] {
		case 'i':
			dst = uuidTemplate.Append(dst, env)
		case 't':
			dst = env.Now.UTC().AppendFormat(dst, time.RFC3339Nano)
		}
	}
	return dst
}

func hasAny(ts []*load.Template) bool {
	for _, t := range ts {
		if t != nil {
			return true
		}
	}
	return false
}

func isUTF8Text(b []byte) bool { return utf8.Valid(b) && !bytes.ContainsRune(b, 0) }

// sendLoad sends events at volume and reports the run instead of a line per event.
func sendLoad(ctx context.Context, opts *SendOptions, t client.Target, mode binding.Mode) error {
	f := opts.F
	lf := &opts.Load
	if !opts.Flags.Changed("count") && lf.Duration == 0 {
		if opts.From == "" {
			return flagErrorf("give --count or --duration to say how many events to send")
		}
	}
	if opts.DryRun {
		return flagErrorf("--dry-run does not go with --count, --duration, --concurrency, --rate or --warmup")
	}
	collectForThroughput(f.Getenv, 0)
	perRequest := int64(1)
	if mode == binding.Batch {
		perRequest = int64(max(opts.BatchSize, 1))
	}

	next, err := eventSource(opts)
	if err != nil {
		return err
	}
	if _, ok := t.(client.MessageSender); ok && mode == binding.Binary && next.tpl != nil && next.tpl.static() {
		// Every event is the same but for its id and time: encode it once.
		if next.base, err = newBaseMessage(&opts.Event, next.first, f.UserAgent()); err != nil {
			return err
		}
	} else if next.tpl != nil && next.tpl.static() {
		next.proto = newProtoEvent(&opts.Event, next.first)
		if _, ok := t.(client.StructuredSender); ok && mode == binding.Structured {
			next.json = newJSONTemplate(next.proto)
		} else if ts, ok := t.(client.TemplateSender); ok {
			if next.sendTpl, err = ts.Template(ctx, mode, next.proto.first); err != nil {
				return err
			}
		}
	}

	total := lf.Count
	if total == 0 && lf.Duration == 0 {
		total = int64(next.fileEvents) // --from without a count: each event of the file once
	}
	requests := (total + perRequest - 1) / perRequest
	send := func(sctx context.Context, seq int64, rnd *rand.Rand) (int, client.Result) {
		if next.base != nil {
			env := load.Env{Seq: seq, Now: time.Now(), Rand: rnd}
			return 1, t.(client.MessageSender).SendMessage(sctx, next.base.message(&env))
		}
		if next.json != nil {
			env := load.Env{Seq: seq, Now: time.Now(), Rand: rnd}
			return 1, t.(client.StructuredSender).SendStructured(sctx, next.json.event(&env))
		}
		if next.sendTpl != nil {
			env := load.Env{Seq: seq, Now: time.Now(), Rand: rnd}
			id, tm := next.proto.fresh(&env)
			return 1, next.sendTpl.Send(sctx, id, tm)
		}
		first := (seq-1)*perRequest + 1
		n := perRequest
		if total > 0 && seq > 0 {
			n = min(perRequest, total-first+1)
		}
		events := make([]*event.Event, 0, n)
		env := &load.Env{Rand: rnd}
		for i := int64(0); i < n; i++ {
			env.Seq = first + i
			env.Now = time.Now()
			e, err := next.event(env)
			if err != nil {
				return int(n), client.Result{Err: err}
			}
			events = append(events, e)
		}
		return int(n), t.Send(sctx, mode, events...)
	}

	cfg := load.Config{Count: requests, Duration: lf.Duration, Concurrency: lf.Concurrency, Rate: lf.Rate, Warmup: lf.Warmup}
	var progress func(load.Progress)
	stopBar := func() {}
	if f.IO.ErrTTY {
		progress, stopBar = progressBar(f, total, lf.Duration)
	}
	report := load.Run(ctx, cfg, send, progress)
	stopBar()

	info := format.LoadInfo{To: shownURL(t.URL()), Mode: mode.String(), Concurrency: lf.Concurrency, Rate: lf.Rate}
	if f.JSON() {
		err = format.LoadJSON(f.IO.Out, report, info)
	} else {
		err = format.LoadText(f.IO.Out, f.Styles(), report, info)
	}
	if err != nil {
		return err
	}
	switch {
	case report.Interrupted:
		return context.Cause(ctx)
	case report.Events > 0 && report.Undelivered == report.Events:
		return &SilentError{Code: ExitUndelivered}
	case report.NACK > 0 || report.Undelivered > 0:
		return &SilentError{Code: ExitFailure}
	}
	return nil
}

// collectForThroughput lets the heap grow to five times what is live before the garbage
// collector runs, unless GOGC says otherwise. A load run or a listener allocates a little for
// every event and keeps almost nothing, so at the default of 100 the collector ran every few
// thousand events, for about a tenth of the CPU of send --count and listen --from. live is
// the most the command may keep at once (listen's memory budget for bodies, 0 for send); a
// soft memory limit of three times that, at least 48 MiB, unless GOMEMLIMIT says otherwise,
// makes the collector run early rather than let a flood of large bodies grow the heap
// fivefold.
func collectForThroughput(getenv func(string) string, live int64) {
	if getenv("GOGC") != "" {
		return
	}
	debug.SetGCPercent(400)
	if getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(max(48<<20, 3*live))
	}
}

// source makes the event of each sequence number: from the flags with templates rendered, or
// cycling through the events of a --from file.
type source struct {
	tpl        *templates
	first      *event.Event
	base       *baseMessage
	proto      *protoEvent
	json       *jsonTemplate
	sendTpl    client.Template
	file       []*event.Event
	fileEvents int
}

func (s *source) event(env *load.Env) (*event.Event, error) {
	if s.file != nil {
		return s.file[(env.Seq-1+int64(len(s.file)))%int64(len(s.file))], nil
	}
	if s.proto != nil {
		return s.proto.event(env), nil
	}
	return s.tpl.build(env)
}

func eventSource(opts *SendOptions) (*source, error) {
	f := opts.F
	if opts.From == "" {
		tpl, err := parseTemplates(&opts.Event, f.IO.In)
		if err != nil {
			return nil, err
		}
		// The first event is built and checked before anything is sent, so that a mistake
		// in the flags is a usage error, not a run full of failures.
		first, err := tpl.build(&load.Env{Seq: 1, Now: time.Now(), Rand: rand.New(rand.NewPCG(1, 1))})
		if err != nil {
			return nil, err
		}
		s := &sender{f: f, est: f.ErrStyles()}
		if err := s.checkFlagEvent(first); err != nil {
			return nil, err
		}
		return &source{tpl: tpl, first: first}, nil
	}
	// A file is read whole, since a run may cycle through it; invalid events are reported
	// and left out.
	name := opts.From
	var in io.Reader = f.IO.In
	if name == "-" {
		name = "<stdin>"
	} else {
		file, err := os.Open(opts.From)
		if err != nil {
			return nil, &FlagError{Err: fmt.Errorf("--from: %w", err)}
		}
		defer file.Close()
		in = file
	}
	s := &sender{f: f, est: f.ErrStyles()}
	var events []*event.Event
	invalid, readErr := s.readFile(context.Background(), name, in, &opts.Event, func(it fileItem) error {
		events = append(events, it.e)
		return nil
	})
	if readErr != nil && !errors.Is(readErr, io.EOF) || invalid > 0 {
		return nil, &SilentError{Code: ExitFailure}
	}
	if len(events) == 0 {
		return nil, fmt.Errorf("--from %s: no events to send", name)
	}
	return &source{file: events, fileEvents: len(events)}, nil
}

// progressBar draws a progress line on stderr, refreshed a few times a second.
func progressBar(f *Factory, total int64, limit time.Duration) (func(load.Progress), func()) {
	var last atomic.Pointer[load.Progress]
	st := f.ErrStyles()
	start := time.Now()
	done := make(chan struct{})
	stopped := make(chan struct{})
	draw := func() {
		p := last.Load()
		if p == nil {
			p = &load.Progress{}
		}
		fmt.Fprintf(f.IO.ErrOut, "\r%s\x1b[K", format.ProgressLine(st, p.Events, total, p.Failed, time.Since(start), limit))
	}
	go func() {
		defer close(stopped)
		tick := time.NewTicker(200 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-tick.C:
				draw()
			case <-done:
				fmt.Fprint(f.IO.ErrOut, "\r\x1b[K")
				return
			}
		}
	}()
	return func(p load.Progress) { last.Store(&p) }, func() { close(done); <-stopped }
}
