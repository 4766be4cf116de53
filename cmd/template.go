package cmd

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/cectl/cectl/internal/evtemplate"
	"github.com/cectl/cectl/internal/format"
	"github.com/cectl/cectl/internal/listen"
	"github.com/cloudevents/sdk-go/v2/event"
)

// parseTemplate parses --template; a template that does not parse is a usage error naming
// its position. nil for no template.
func parseTemplate(f *Factory, text string) (*evtemplate.Template, error) {
	if text == "" {
		return nil, nil
	}
	if f.JSON() {
		return nil, flagErrorf("--template and -o json both say how events are printed; use one")
	}
	t, err := evtemplate.Parse(text)
	if err != nil {
		var te *evtemplate.Error
		if errors.As(err, &te) {
			return nil, flagErrorf("--template: %v", te)
		}
		return nil, flagErrorf("--template: %v", err)
	}
	return t, nil
}

// showTemplate prints each accepted event of a report through --template on stdout, as -o
// json prints each as a JSON line; notes (duplicates, refusals, replies, relays) go to
// stderr.
func (s *shower) showTemplate(b *bytes.Buffer, rep *listen.Report) error {
	if rep.Reason == "" {
		for _, a := range rep.Events {
			if a.Duplicate {
				continue
			}
			line, err := s.tmpl.Execute(a.Event)
			if err != nil {
				fmt.Fprintf(s.errOut, "%s --template: event id=%s: %s\n", s.est.Warn.Sprint("warning:"), format.Sanitize(a.Event.ID()), err)
				continue
			}
			b.Write(line)
		}
		if err := s.write(s.out, b, nil); err != nil {
			return err
		}
	}
	b.Reset()
	// Only stdout holds the answer back; a failing stderr ends listening (fail).
	if err := s.write(s.errOut, b, format.ListenEventNotes(b, s.est, rep, s.opts)); err != nil {
		s.fail(err)
	}
	return nil
}

// executeTemplate writes a reply through the template. A reply the template cannot be
// applied to is an error (exit 1): it is all request has to show.
func executeTemplate(f *Factory, t *evtemplate.Template, e *event.Event) error {
	line, err := t.Execute(e)
	if err != nil {
		return fmt.Errorf("--template: reply id=%s: %s", format.Sanitize(e.ID()), format.Sanitize(err.Error()))
	}
	_, err = f.IO.Out.Write(line)
	return err
}
