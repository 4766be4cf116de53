package send

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"time"

	"github.com/cectl/cectl/internal/binding"
	"github.com/cectl/cectl/internal/client"
	"github.com/cectl/cectl/internal/eventspec"
	"github.com/cectl/cectl/internal/format"
	"github.com/cectl/cectl/internal/load"
	"github.com/cloudevents/sdk-go/v2/event"
)

// Templates are the attribute and data values of a Spec parsed as templates ({{seq}},
// {{uuid}}, ...), for the events of a load run that differ.
type Templates struct {
	spec   *eventspec.Spec
	fields []templateField
	exts   []*load.Template // nil for typed extensions, which do not take templates
	data   *load.Template   // nil unless the data is UTF-8 text with placeholders
}

type templateField struct {
	tpl *load.Template
	set func(*eventspec.Spec, string)
}

// ParseTemplates parses the spec's values; --data is read (from stdin if it says so) once.
func ParseTemplates(spec *eventspec.Spec, stdin io.Reader) (*Templates, error) {
	t := &Templates{spec: spec}
	for _, f := range []struct {
		flag  string
		value string
		set   func(*eventspec.Spec, string)
	}{
		{"id", spec.ID, func(s *eventspec.Spec, v string) { s.ID = v }},
		{"source", spec.Source, func(s *eventspec.Spec, v string) { s.Source = v }},
		{"type", spec.Type, func(s *eventspec.Spec, v string) { s.Type = v }},
		{"time", spec.Time, func(s *eventspec.Spec, v string) { s.Time = v }},
		{"subject", spec.Subject, func(s *eventspec.Spec, v string) { s.Subject = v }},
		{"dataschema", spec.DataSchema, func(s *eventspec.Spec, v string) { s.DataSchema = v }},
		{"datacontenttype", spec.DataContentType, func(s *eventspec.Spec, v string) { s.DataContentType = v }},
	} {
		tpl, err := load.Parse(f.value)
		if err != nil {
			return nil, &eventspec.UsageError{Err: fmt.Errorf("--%s: %w", f.flag, err)}
		}
		if !tpl.Static() {
			t.fields = append(t.fields, templateField{tpl: tpl, set: f.set})
		}
	}
	t.exts = make([]*load.Template, len(spec.Extensions))
	for i, arg := range spec.Extensions {
		name, value, err := eventspec.ParseExtension(arg)
		if err != nil {
			return nil, &eventspec.UsageError{Err: err}
		}
		if s, ok := value.(string); ok && name+"="+s == arg {
			tpl, err := load.Parse(s)
			if err != nil {
				return nil, &eventspec.UsageError{Err: fmt.Errorf("--ext %s: %w", name, err)}
			}
			if !tpl.Static() {
				t.exts[i] = tpl
			}
		}
	}
	if spec.Given != nil && spec.Given("data") {
		p, err := spec.Load(stdin)
		if err != nil {
			return nil, err
		}
		if eventspec.IsText(p.Bytes) {
			tpl, err := load.Parse(string(p.Bytes))
			if err != nil {
				return nil, &eventspec.UsageError{Err: fmt.Errorf("--data: %w", err)}
			}
			if !tpl.Static() {
				t.data = tpl
			}
		}
	}
	return t, nil
}

// Build makes the event for env from the spec with its templates rendered.
func (t *Templates) Build(env *load.Env) (*event.Event, error) {
	s := *t.spec // the copy shares Given, so it still answers for the user's flags
	for _, f := range t.fields {
		f.set(&s, f.tpl.Render(env))
	}
	if hasAny(t.exts) {
		s.Extensions = make([]string, len(t.spec.Extensions))
		for i, arg := range t.spec.Extensions {
			if t.exts[i] == nil {
				s.Extensions[i] = arg
				continue
			}
			name, _, _ := eventspec.ParseExtension(arg)
			s.Extensions[i] = name + "=" + t.exts[i].Render(env)
		}
	}
	if t.data != nil {
		s.Payload = &eventspec.Payload{Bytes: t.data.Append(nil, env), File: t.spec.Payload.File}
	}
	return s.Build(nil, env.Now)
}

// Static reports whether no value has a placeholder: every event is the same but for the id
// and time the spec does not fix (Fresh).
func (t *Templates) Static() bool { return len(t.fields) == 0 && !hasAny(t.exts) && t.data == nil }

func hasAny(ts []*load.Template) bool {
	for _, t := range ts {
		if t != nil {
			return true
		}
	}
	return false
}

var uuidTemplate, _ = load.Parse("{{uuid}}")

// Fresh gives each copy of a run without placeholders the id and time that building it from
// the spec would give: a new UUID and the time of sending, unless the spec fixes them.
type Fresh struct{ ID, Time bool }

// FreshOf says what the spec leaves to each event: the id and time it does not give.
func FreshOf(spec *eventspec.Spec) Fresh {
	given := func(flag string) bool { return spec.Given != nil && spec.Given(flag) }
	return Fresh{ID: !given("id"), Time: !given("time")}
}

// Of returns the id and time a copy gets: empty and zero for those the spec fixed.
func (f Fresh) Of(env *load.Env) (id string, t time.Time) {
	if f.ID {
		var buf [36]byte
		id = string(uuidTemplate.Append(buf[:0], env))
	}
	if f.Time {
		t = env.Now.UTC()
	}
	return id, t
}

// Source makes the event of each sequence number of a load run: from the spec with its
// templates rendered, or cycling through the events of a file.
type Source struct {
	Templates *Templates
	// First is the first event built from the templates, checked before the run.
	First *event.Event
	// File are the events of a --from file.
	File []*event.Event
}

// Event returns the event of env.Seq.
func (s *Source) Event(env *load.Env) (*event.Event, error) {
	if s.File != nil {
		return s.File[(env.Seq-1+int64(len(s.File)))%int64(len(s.File))], nil
	}
	return s.Templates.Build(env)
}

// ErrInvalid says that a file held invalid events, each reported already.
var ErrInvalid = errors.New("the file holds invalid events")

// ReadAll reads every event of a file, since a load run may cycle through it. Invalid events
// are reported; then it returns ErrInvalid.
func ReadAll(r *FileReader) ([]*event.Event, error) {
	var events []*event.Event
	invalid, err := r.Read(context.Background(), func(it Item) error {
		events = append(events, it.Event)
		return nil
	})
	if err != nil && !errors.Is(err, io.EOF) || invalid > 0 {
		return nil, ErrInvalid
	}
	if len(events) == 0 {
		return nil, fmt.Errorf("--from %s: no events to send", r.Name)
	}
	return events, nil
}

// Load sends the messages of a load run: each message holds PerRequest events of the source
// (several only in batch mode), Total events in all (0: no limit). When every event is the
// same but for its id and time, the target encodes the first once and sends copies.
type Load struct {
	target     client.Target
	mode       binding.Mode
	src        *Source
	perRequest int64
	total      int64
	prepared   client.Sender
	fresh      Fresh
	// DeadLetter, when set, keeps the events of every message not acknowledged.
	DeadLetter *DeadLetter
}

// NewLoad prepares a load run; fresh says what a copy of a static spec's event changes.
func NewLoad(ctx context.Context, t client.Target, mode binding.Mode, src *Source, perRequest, total int64, fresh Fresh) (*Load, error) {
	l := &Load{target: t, mode: mode, src: src, perRequest: max(perRequest, 1), total: total, fresh: fresh}
	if src.Templates != nil && src.Templates.Static() && l.perRequest == 1 {
		p, err := t.Prepare(ctx, mode, src.First)
		if err != nil {
			return nil, err
		}
		l.prepared = p
	}
	return l, nil
}

// Send sends message number seq and says how many events it held; it is a load.SendFunc.
func (l *Load) Send(ctx context.Context, seq int64, rnd *rand.Rand) (int, client.Result) {
	n, res := l.send(ctx, seq, rnd)
	if res.Outcome() == client.OutcomeNoResponse {
		res.Err = format.ExplainNoResponse(res.Err)
	}
	return n, res
}

func (l *Load) send(ctx context.Context, seq int64, rnd *rand.Rand) (int, client.Result) {
	if l.prepared != nil {
		env := load.Env{Seq: seq, Now: time.Now(), Rand: rnd}
		id, tm := l.fresh.Of(&env)
		res := l.prepared.SendCopy(ctx, id, tm)
		if !res.ACK && l.DeadLetter != nil {
			l.DeadLetter.Add(client.CopyEvent(l.src.First, id, tm))
		}
		return 1, res
	}
	events, n, err := l.events(seq, rnd)
	if err != nil {
		return n, client.Result{Err: err}
	}
	res := l.target.Send(ctx, l.mode, events...)
	if !res.ACK {
		l.DeadLetter.Add(events...)
	}
	return len(events), res
}

// events builds the events of message seq, n of them; on an error, n says how many it
// should have had.
func (l *Load) events(seq int64, rnd *rand.Rand) (events []*event.Event, n int, err error) {
	first := (seq-1)*l.perRequest + 1
	count := l.perRequest
	if l.total > 0 && seq > 0 {
		count = min(l.perRequest, l.total-first+1)
	}
	events = make([]*event.Event, 0, count)
	env := &load.Env{Rand: rnd}
	for i := int64(0); i < count; i++ {
		env.Seq = first + i
		env.Now = time.Now()
		e, err := l.src.Event(env)
		if err != nil {
			return nil, int(count), err
		}
		events = append(events, e)
	}
	return events, int(count), nil
}

// KeepUnsent builds the events of the messages the run never sent (report.Unsent, and every
// seq from report.UnsentFrom to messages) and adds them to DeadLetter, so that sending the
// dead-letter file completes the run. It returns how many events that was.
func (l *Load) KeepUnsent(report *load.Report, messages int64) (int64, error) {
	rnd := rand.New(rand.NewPCG(rand.Uint64(), 0))
	var n int64
	keep := func(seq int64) error {
		if l.prepared != nil {
			env := load.Env{Seq: seq, Now: time.Now(), Rand: rnd}
			id, tm := l.fresh.Of(&env)
			l.DeadLetter.Add(client.CopyEvent(l.src.First, id, tm))
			n++
			return nil
		}
		events, _, err := l.events(seq, rnd)
		if err != nil {
			return err
		}
		l.DeadLetter.Add(events...)
		n += int64(len(events))
		return nil
	}
	for _, seq := range report.Unsent {
		if err := keep(seq); err != nil {
			return n, err
		}
	}
	for seq := report.UnsentFrom; seq <= messages; seq++ {
		if err := keep(seq); err != nil {
			return n, err
		}
	}
	return n, nil
}
