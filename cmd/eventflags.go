package cmd

import (
	"io"
	"time"

	"github.com/cectl/cectl/internal/binding"
	"github.com/cectl/cectl/internal/eventspec"
	"github.com/cectl/cectl/internal/validate"
	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/spf13/pflag"
)

// eventFlags are the event attribute flags that send and request share. They fill an
// eventspec.Spec, which builds the event; its usage errors are the commands' usage errors.
type eventFlags struct {
	eventspec.Spec
}

func (ef *eventFlags) register(fs *pflag.FlagSet) {
	ef.Given = fs.Changed
	fs.StringVar(&ef.Type, "type", "", "event type, e.g. com.example.user.created (required unless --from)")
	fs.StringVar(&ef.Source, "source", "cectl", "event source, a URI-reference")
	fs.StringVar(&ef.ID, "id", "", "event id (default a fresh UUID)")
	fs.StringVar(&ef.Time, "time", "", "event time, RFC 3339 (default now; --time '' leaves it out)")
	fs.StringVar(&ef.Subject, "subject", "", "event subject")
	fs.StringVar(&ef.DataSchema, "dataschema", "", "URI of the schema the data adheres to")
	fs.StringVar(&ef.DataContentType, "datacontenttype", "", "content type of the data (default inferred from the data)")
	fs.StringVar(&ef.SpecVersion, "specversion", "1.0", "CloudEvents spec version: 1.0 or 0.3")
	enumValues(fs, "specversion", "1.0", "0.3")
	fs.StringArrayVarP(&ef.Extensions, "ext", "e", nil, "extension attribute `name=value`, or name:=json for a typed value (repeatable)")
	fs.StringVarP(&ef.Data, "data", "d", "", "event data: literal text, @file, or - / @- for stdin")
}

func (ef *eventFlags) changed(name string) bool { return ef.Given != nil && ef.Given(name) }

// build makes an event from the flags alone.
func (ef *eventFlags) build(stdin io.Reader, now time.Time) (*event.Event, error) {
	return ef.Spec.Build(stdin, now)
}

// apply sets the attributes given on the command line, overriding what e has.
func (ef *eventFlags) apply(e *event.Event, stdin io.Reader) error {
	return ef.Spec.Apply(e, stdin)
}

// checkEvent checks an event before it is sent with the check listen applies to what arrives
// (binding.Check). Errors come back; warnings are returned for the caller to show.
func checkEvent(e *event.Event) (errs, warnings []validate.Finding) {
	return binding.Check(e)
}
