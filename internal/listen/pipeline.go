package listen

import (
	"context"
	"net/http"
	"time"

	"github.com/cectl/cectl/internal/binding"
	"github.com/cectl/cectl/internal/ce"
	"github.com/cectl/cectl/internal/client"
	"github.com/cectl/cectl/internal/trace"
	"github.com/cloudevents/sdk-go/v2/event"
)

// Outcome says what became of a message, in terms every transport can answer.
type Outcome int

// The outcomes of a message.
const (
	// Accepted: the events were taken (shown, recorded, relayed as asked).
	Accepted Outcome = iota
	// Rejected: the message is no valid CloudEvent, or the request is wrong; sending it again
	// will not help.
	Rejected
	// Refused: the events were well-formed but refused on purpose (Faults).
	Refused
	// Busy: too many messages at once; the sender may try again shortly.
	Busy
	// Stopped: listen has stopped taking messages (--count reached, or stopping); the sender
	// keeps the message.
	Stopped
	// Failed: listen could not keep the events (the record cannot be written).
	Failed
)

// Verdict is what the pipeline decided about one message. Each transport turns it into its
// own answer: an HTTP status with headers and a body, or a broker's acknowledgement.
type Verdict struct {
	Outcome Outcome
	// Status is the answer as an HTTP status, the richest vocabulary of the bindings.
	Status int
	// Reason says why the events were not taken: the problem found (Rejected), or the option
	// that refused them (Refused, "--status" or "--fail-rate").
	Reason string
	// RetryAfter, when set, tells the sender when to try again (RFC 9110 §10.2.3).
	RetryAfter string
	// Reply is the event to answer with, in ReplyMode; nil for none.
	Reply     *event.Event
	ReplyMode binding.Mode
	// Stage is the name of the stage that made the verdict final, when one ended the pipeline
	// early; empty when every stage ran.
	Stage string
}

// A stage is one step of the pipeline with one job. It reads and fills in the exchange; it
// returns false when the verdict is final and the later stages must not run.
type stage struct {
	name string
	run  func(ctx context.Context, h *Handler, x *exchange) bool
}

// pipeline is the ordered list of stages for cfg. Stages that have nothing to do with cfg
// are left out, so a message pays only for what was asked.
//
// The order matters: the answer on purpose is decided before dedupe, because only accepted
// events are remembered as seen; the count is taken before the record, so that no event
// beyond it is recorded; the report comes after record, relay and reply, so that what is
// shown is what was done; the delay comes last, just before the answer.
func pipeline(cfg *Config) []stage {
	p := []stage{
		{"decode", decodeStage},
		{"filter", filterStage},
	}
	if cfg.Faults.refuses() {
		p = append(p, stage{"faults", faultsStage})
	}
	if cfg.Dedupe {
		p = append(p, stage{"dedupe", dedupeStage})
	}
	if cfg.Count > 0 {
		p = append(p, stage{"count", countStage})
	}
	if cfg.Recorder != nil {
		p = append(p, stage{"record", recordStage})
	}
	if cfg.Forwarder != nil {
		p = append(p, stage{"forward", forwardStage})
	}
	if cfg.Replies != nil {
		p = append(p, stage{"reply", replyStage})
	}
	p = append(p, stage{"report", reportStage})
	if cfg.Faults.Delay > 0 {
		p = append(p, stage{"delay", delayStage})
	}
	return p
}

// run takes the message in x through the pipeline and returns the verdict, whatever the
// transport; the verdict lives in x. The events of a message that is not accepted are not
// remembered as seen: the sender will send them again, and rightly so.
func (h *Handler) run(ctx context.Context, x *exchange) *Verdict {
	x.verdict = Verdict{Outcome: Accepted, Status: h.cfg.Faults.Status}
	for _, s := range h.stages {
		if !s.run(ctx, h, x) {
			x.verdict.Stage = s.name
			break
		}
	}
	if x.verdict.Outcome != Accepted {
		for _, k := range x.added {
			h.seen.forget(k)
		}
	}
	if x.reached && x.verdict.Outcome != Failed && x.verdict.Outcome != Stopped {
		h.reachOne.Do(func() { close(h.reached) })
	}
	return &x.verdict
}

// message is what arrived, as the transport handed it over.
type message struct {
	// header and body are an HTTP request's.
	header http.Header
	body   []byte
	// delivery is a broker message (fromBroker).
	delivery   client.Delivery
	fromBroker bool
}

// decodeStage checks the message strictly and decodes its events; what is no valid
// CloudEvent is rejected with the reason.
func decodeStage(_ context.Context, h *Handler, x *exchange) bool {
	d := &x.dec
	*d = decoded{events: x.events[:0], warnings: x.warnings[:0]}
	var p *problem
	switch m := &x.msg; {
	case !m.fromBroker:
		p = h.decode(m.header, m.body, d)
	case m.delivery.Mode == binding.Structured && m.delivery.Raw != nil:
		p = h.decodeBrokerStructured(m.delivery, d)
	default:
		p = h.decodeBrokerBinary(&m.delivery, d)
	}
	rep := &x.rep
	rep.Mode = d.mode
	rep.Bytes = len(x.msg.body) + len(x.msg.delivery.Raw)
	if p != nil {
		h.reject(x, p.status, p.reason)
		return false
	}
	rep.Kind = KindEvents
	rep.Total = len(d.events)
	return true
}

// filterStage selects the events that are handled (--filter, --type); the others are only
// acknowledged.
func filterStage(_ context.Context, h *Handler, x *exchange) bool {
	rep, d := &x.rep, &x.dec
	rep.Events = x.arrivals[:0]
	for i := range d.events {
		e := &d.events[i]
		if !h.cfg.Filter.Match(e) {
			continue
		}
		rep.Events = append(rep.Events, Arrival{Event: e, Index: i, Warnings: d.warnings[i]})
	}
	x.fresh = len(rep.Events)
	return true
}

// faultsStage refuses the events on purpose, as Faults say. The refused events still go
// through the later stages, which take nothing that is not accepted, and are shown.
func faultsStage(_ context.Context, h *Handler, x *exchange) bool {
	if status, reason := h.cfg.Faults.refusal(); reason != "" {
		x.verdict = Verdict{Outcome: Refused, Status: status, Reason: reason, RetryAfter: h.cfg.Faults.RetryAfter}
	}
	return true
}

// dedupeStage marks the events whose (source, id) was accepted before. Only accepted events
// are remembered; run forgets them again if a later stage does not accept them after all.
func dedupeStage(_ context.Context, h *Handler, x *exchange) bool {
	accepted := x.verdict.Outcome == Accepted
	for i := range x.rep.Events {
		a := &x.rep.Events[i]
		key := seenKey(a.Event.Source(), a.Event.ID())
		if accepted {
			a.Duplicate = h.seen.add(key)
			if !a.Duplicate {
				x.added = append(x.added, key)
			}
		} else {
			a.Duplicate = h.seen.has(key)
		}
		if a.Duplicate {
			x.fresh--
		}
	}
	return true
}

// countStage counts the new events towards --count and turns away a message that comes
// when others have reached it first.
func countStage(_ context.Context, h *Handler, x *exchange) bool {
	if x.fresh == 0 {
		return true
	}
	fresh := int64(x.fresh)
	n := h.counted.Add(fresh)
	if n-fresh >= int64(h.cfg.Count) {
		h.turnAway(x)
		return false
	}
	x.reached = n >= int64(h.cfg.Count)
	return true
}

// recordStage appends the new accepted events to the record before anything acknowledges
// them; a record that cannot be written fails the message and ends listening.
func recordStage(_ context.Context, h *Handler, x *exchange) bool {
	if x.verdict.Outcome != Accepted || x.fresh == 0 {
		return true
	}
	n, err := h.record(x.rep.Events, x.rep.Received)
	if err != nil {
		x.rep.RecordFailed = n
		h.fail(err)
		h.reject(x, http.StatusInternalServerError, "the event could not be recorded: "+err.Error())
		return false
	}
	x.rep.Recorded = n
	return true
}

// forwardStage relays a message with new accepted events, unchanged, to the other receivers.
func forwardStage(ctx context.Context, h *Handler, x *exchange) bool {
	if x.verdict.Outcome != Accepted || x.fresh == 0 {
		return true
	}
	x.rep.Forwards = h.cfg.Forwarder.Forward(context.WithoutCancel(ctx), x.msg.header, x.msg.body, h.cfg.ForwardTimeout)
	h.relayed(x)
	return true
}

// replyStage picks the event to answer an accepted message with.
func replyStage(_ context.Context, h *Handler, x *exchange) bool {
	if x.verdict.Outcome != Accepted || len(x.rep.Events) == 0 {
		return true
	}
	if x.msg.fromBroker && x.msg.delivery.Reply == nil {
		return true // a broker message that names nowhere to answer (brokerreply.go)
	}
	rep := &x.rep
	rep.Reply = h.cfg.Replies.Next(rep.Received)
	// The reply continues the trace of the event it answers (distributed tracing extension).
	trace.Continue(rep.Reply, rep.Events[0].Event, x.msg.header.Get(trace.AttrParent))
	rep.ReplyMode = h.cfg.ReplyMode
	x.verdict.Reply, x.verdict.ReplyMode = rep.Reply, rep.ReplyMode
	return true
}

// reportStage counts the message and shows it: the selected events, or an empty batch.
func reportStage(_ context.Context, h *Handler, x *exchange) bool {
	rep := &x.rep
	rep.Status = x.verdict.Status
	if x.verdict.Outcome == Refused {
		rep.Reason = x.verdict.Reason
	}
	if len(rep.Events) > 0 || rep.Total == 0 {
		if err := h.show(rep); err != nil {
			// Not acknowledged: the summary counts the request among the rejected ones,
			// not its events among those taken.
			h.unshown(x, err)
			return false
		}
	}
	h.stats.events(rep, len(x.dec.events), x.fresh)
	return true
}

// delayStage waits before the answer (--delay), cut short when the sender goes or listen
// stops.
func delayStage(ctx context.Context, h *Handler, _ *exchange) bool {
	t := time.NewTimer(h.cfg.Faults.Delay)
	select {
	case <-t.C:
	case <-ctx.Done():
	case <-h.stopping:
	}
	t.Stop()
	return true
}

// reject makes the verdict a refusal of the message for what is wrong with it (or, with a 5xx
// status, with listen) and shows it. A broker message shows where it came from.
func (h *Handler) reject(x *exchange, status int, reason string) {
	rep := &x.rep
	if x.msg.fromBroker && rep.Header == nil {
		rep.Target, rep.Header = describeDelivery(x.msg.delivery)
	}
	if x.msg.fromBroker {
		brokerRefusal(rep, &x.msg.delivery)
	}
	rep.Kind = KindRejected
	rep.Status = status
	rep.Reason = reason
	h.stats.reject(status)
	h.cfg.Report(rep)
	x.verdict = Verdict{Outcome: Rejected, Status: status, Reason: reason}
	switch {
	case status == http.StatusServiceUnavailable:
		x.verdict.Outcome, x.verdict.RetryAfter = Busy, "1"
	case status >= 500:
		x.verdict.Outcome = Failed
	}
}

// turnAway makes the verdict a message that came after the end: the sender keeps it.
func (h *Handler) turnAway(x *exchange) {
	x.verdict = Verdict{Outcome: Stopped, Status: http.StatusServiceUnavailable, Reason: "listener is stopping", RetryAfter: "1"}
	h.stats.turnedAway()
}

func (h *Handler) fail(err error) {
	h.failOne.Do(func() { h.failed <- err })
}

// record appends the new events of a message to the record in one write, each with the
// instant it was received (ce.ReceivedExtension), which send --from --pace replays. It
// returns how many events the write carried; with an error, none of them counts as kept.
func (h *Handler) record(events []Arrival, received time.Time) (int, error) {
	bp := h.bufs.Get().(*[]byte)
	buf := (*bp)[:0]
	n := 0
	for _, a := range events {
		if a.Duplicate {
			continue
		}
		buf = ce.AppendRecorded(buf, a.Event, received)
		buf = append(buf, '\n')
		n++
	}
	err := h.cfg.Recorder.Append(buf)
	if cap(buf) <= pooledBuffer {
		*bp = buf[:0]
		h.bufs.Put(bp)
	}
	if err == nil {
		h.stats.recorded(n)
	}
	return n, err
}
