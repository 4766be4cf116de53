package listen

import (
	"math/rand/v2"
	"net/http"
	"time"
)

// Faults are answers made wrong on purpose, to see how a sender copes with them: another
// status, a share of failures, a slow answer. They change the answer only: a refused event is
// shown, but not recorded, relayed, replied to or remembered as seen.
type Faults struct {
	// Status answers accepted events (default 202 Accepted, or 200 OK when a reply is sent:
	// a response that carries a payload is 200 or 201, webhook §2.2). A status that is not
	// 2xx refuses every event.
	Status int
	// FailRate is the share of event messages answered 503 on purpose.
	FailRate float64
	// Delay is waited before answering an event message.
	Delay time.Duration
	// RetryAfter is sent with every non-2xx answer made on purpose.
	RetryAfter string
	// Rand is the dice of FailRate; nil means the real one.
	Rand func() float64
}

// withDefaults fills in the status (replying says whether a payload goes back) and the dice.
func (f Faults) withDefaults(replying bool) Faults {
	if f.Status == 0 {
		f.Status = http.StatusAccepted
		if replying {
			f.Status = http.StatusOK
		}
	}
	if f.Rand == nil {
		f.Rand = rand.Float64
	}
	return f
}

// refuses reports whether some events may be refused on purpose.
func (f *Faults) refuses() bool { return f.FailRate > 0 || !is2xx(f.Status) }

// refusal rolls the dice and says whether this message is refused on purpose: with which
// status, and for which option; reason is empty when it is not.
func (f *Faults) refusal() (status int, reason string) {
	switch {
	case f.FailRate > 0 && f.Rand() < f.FailRate:
		return http.StatusServiceUnavailable, "--fail-rate"
	case !is2xx(f.Status):
		return f.Status, "--status"
	}
	return 0, ""
}

func is2xx(s int) bool { return s >= 200 && s <= 299 }
