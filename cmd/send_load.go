package cmd

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"runtime/debug"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/cectl/cectl/internal/binding"
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

var uuidTemplate, _ = load.Parse("{{uuid}}")

// fresh gives each copy of a run without placeholders the id and time that building it from
// the flags would give: a new UUID and the time of sending, unless the flags fixed them.
type fresh struct{ id, time bool }

func newFresh(ef *eventFlags) fresh { return fresh{id: !ef.changed("id"), time: !ef.changed("time")} }

// of returns the id and time a copy gets: empty and zero for those the flags fixed.
func (f fresh) of(env *load.Env) (id string, t time.Time) {
	if f.id {
		var buf [36]byte
		id = string(uuidTemplate.Append(buf[:0], env))
	}
	if f.time {
		t = env.Now.UTC()
	}
	return id, t
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
	if next.tpl != nil && next.tpl.static() && perRequest == 1 {
		// Every event is the same but for its id and time: the target encodes it once and
		// sends copies that differ in those only.
		if next.prepared, err = t.Prepare(ctx, mode, next.first); err != nil {
			return err
		}
		next.fresh = newFresh(&opts.Event)
	}

	total := lf.Count
	if total == 0 && lf.Duration == 0 {
		total = int64(next.fileEvents) // --from without a count: each event of the file once
	}
	requests := (total + perRequest - 1) / perRequest
	send := func(sctx context.Context, seq int64, rnd *rand.Rand) (int, client.Result) {
		if next.prepared != nil {
			env := load.Env{Seq: seq, Now: time.Now(), Rand: rnd}
			id, tm := next.fresh.of(&env)
			return 1, next.prepared.SendCopy(sctx, id, tm)
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
	prepared   client.Sender // the first event, for a run without placeholders
	fresh      fresh         // what changes in each copy of prepared
	file       []*event.Event
	fileEvents int
}

func (s *source) event(env *load.Env) (*event.Event, error) {
	if s.file != nil {
		return s.file[(env.Seq-1+int64(len(s.file)))%int64(len(s.file))], nil
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
