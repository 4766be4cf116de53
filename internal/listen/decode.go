package listen

import (
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

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

// The limits of a compressed body, besides --max-body for what it inflates to: past
// bombFloor, a body may inflate at most maxRatio times its compressed size. Text compresses
// 3–20 times; a body that inflates a thousandfold was made to.
const (
	maxRatio  = 256
	bombFloor = 1 << 20
)

// inflate undoes the Content-Encoding of a request body (RFC 9110 §8.4): gzip, or none. The
// HTTP binding carries the event, not its transfer, in the body; what is decoded, checked,
// recorded and relayed is the inflated body, so that no compressed bytes are ever taken for
// the JSON they encode. Another coding is answered 415 with Accept-Encoding (RFC 9110
// §15.5.16, §12.5.3); a body that inflates past --max-body or maxRatio, 413. The inflated
// body's memory comes from the budget and goes back with x.
func (h *Handler) inflate(w http.ResponseWriter, header http.Header, body []byte, x *exchange) ([]byte, *problem) {
	values := header.Values("Content-Encoding")
	if len(values) == 0 {
		return body, nil
	}
	var codings []string
	for _, v := range values {
		for c := range strings.SplitSeq(v, ",") {
			if c = strings.ToLower(strings.TrimSpace(c)); c != "" && c != "identity" {
				codings = append(codings, c)
			}
		}
	}
	switch {
	case len(codings) == 0:
		return body, nil
	case len(codings) > 1 || codings[0] != "gzip" && codings[0] != "x-gzip":
		w.Header().Set("Accept-Encoding", "gzip")
		return nil, &problem{http.StatusUnsupportedMediaType, fmt.Sprintf("Content-Encoding %q is not supported: listen takes gzip or no encoding", strings.Join(values, ", "))}
	}
	zr, err := gzip.NewReader(bytes.NewReader(body))
	if err != nil {
		return nil, &problem{http.StatusBadRequest, "Content-Encoding gzip: the body is not gzip: " + err.Error()}
	}
	limit := h.cfg.MaxBody
	out := make([]byte, 0, min(max(4*int64(len(body)), 4<<10), limit+1))
	if !h.budget.tryAcquire(int64(cap(out))) {
		return nil, &problem{http.StatusServiceUnavailable, "too many requests at once: try again"}
	}
	x.reserved += int64(cap(out))
	for {
		if len(out) == cap(out) {
			grow := min(int64(cap(out)), limit+1-int64(cap(out)))
			if grow <= 0 {
				return nil, &problem{http.StatusRequestEntityTooLarge, fmt.Sprintf("the gzip body of %d bytes inflates to more than %d bytes; listen takes at most %d (--max-body)", len(body), limit, limit)}
			}
			nb, p := h.growBody(x, out, grow)
			if p != nil {
				return nil, p
			}
			out = nb
		}
		n, err := zr.Read(out[len(out):cap(out)])
		out = out[:len(out)+n]
		if n := int64(len(out)); n > limit {
			return nil, &problem{http.StatusRequestEntityTooLarge, fmt.Sprintf("the gzip body of %d bytes inflates to more than %d bytes; listen takes at most %d (--max-body)", len(body), limit, limit)}
		} else if n > bombFloor && n > maxRatio*int64(len(body)) {
			return nil, &problem{http.StatusRequestEntityTooLarge, fmt.Sprintf("the gzip body of %d bytes inflates more than %d times (past %d bytes): refused as a compression bomb", len(body), maxRatio, n)}
		}
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, &problem{http.StatusBadRequest, "Content-Encoding gzip: the body is corrupt: " + err.Error()}
		}
	}
}
