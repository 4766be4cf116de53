package listen

import (
	"net/http"

	"github.com/cectl/cectl/internal/binding"
	"github.com/cectl/cectl/internal/validate"
	"github.com/cloudevents/sdk-go/v2/event"
)

// problem is a request listen refuses: the status and a plain-text reason, one or more lines.
type problem struct {
	status int
	reason string
}

func (p *problem) Error() string { return p.reason }

// decoded is what a request carried. The slices come from the caller, room for one event
// included.
type decoded struct {
	mode     binding.Mode
	events   []event.Event
	warnings [][]validate.Finding // per event: SHOULD violations, shown but not refused
}

// decode reads the events of a request with the strict decoder (binding.Decoder.DecodeHTTP):
// in whichever mode it is, checked by the strict validator before anything is built.
func (h *Handler) decode(header http.Header, body []byte, d *decoded) *problem {
	dec := h.validator()
	defer h.validators.Put(dec)
	out := d.lend()
	p := dec.DecodeHTTP(header, body, &out)
	return d.take(&out, p)
}

// lend lends d's slices to the binding's decoder.
func (d *decoded) lend() binding.Decoded {
	return binding.Decoded{Mode: d.mode, Events: d.events, Warnings: d.warnings}
}

// take keeps what the binding's decoder produced in out and turns its refusal into a problem.
func (d *decoded) take(out *binding.Decoded, p *binding.Problem) *problem {
	d.mode, d.events, d.warnings = out.Mode, out.Events, out.Warnings
	if p != nil {
		return &problem{p.Status, p.Reason}
	}
	return nil
}
