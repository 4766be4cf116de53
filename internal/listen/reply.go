package listen

import (
	"fmt"
	"io"
	"sync/atomic"
	"time"

	"github.com/cectl/cectl/internal/ce"
	"github.com/cectl/cectl/internal/validate"
	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/google/uuid"
)

// Replies are the events listen answers with, used in turn and cycling.
type Replies struct {
	events []event.Event
	next   atomic.Uint64
}

// ReplyError is an invalid event in a reply file, with its position.
type ReplyError struct {
	Line, Col int
	Msg       string
}

func (e *ReplyError) Error() string {
	if e.Line == 0 {
		return e.Msg
	}
	return fmt.Sprintf("line %d, column %d: %s", e.Line, e.Col, e.Msg)
}

// LoadReplies reads one event, a JSON array of events or JSON lines with the validator's
// scanner, as `cectl validate` reads them, and checks each event by its rules. id may be left
// out: each reply then gets a fresh one; time may be left out too and is then the time of the
// reply.
func LoadReplies(r io.Reader) (*Replies, error) {
	sc := validate.NewScanner(r, validate.Options{})
	var dec ce.Decoder
	var events []event.Event
	for sc.Scan() {
		res := sc.Result()
		if sc.Empty() {
			break
		}
		for _, fd := range res.Findings {
			if fd.Level != validate.Error || res.Index >= 0 && fd.Rule == validate.RuleRequired && fd.Pointer == res.Pointer()+"/id" {
				continue
			}
			return nil, &ReplyError{Line: fd.Line, Col: fd.Column, Msg: fmt.Sprintf("%s [%s]", fd.Message, fd.Rule)}
		}
		if res.Index < 0 {
			continue
		}
		e, err := dec.DecodeValidated(res.Raw())
		if err != nil {
			return nil, &ReplyError{Line: res.Line, Col: res.Column, Msg: err.Error()}
		}
		// A recording used as replies: its receive times belong to the record, not to the
		// events, and are not sent on (as send --from leaves them out).
		ce.TakeReceived(&e)
		events = append(events, e)
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(events) == 0 {
		return nil, &ReplyError{Msg: "no events"}
	}
	return &Replies{events: events}, nil
}

// Len is the number of reply events.
func (r *Replies) Len() int { return len(r.events) }

// Next returns the next reply, with an id and a time when the file gave none.
func (r *Replies) Next(now time.Time) *event.Event {
	i := (r.next.Add(1) - 1) % uint64(len(r.events))
	e := r.events[i].Clone()
	if e.ID() == "" {
		e.SetID(uuid.NewString())
	}
	if e.Time().IsZero() {
		e.SetTime(now)
	}
	return &e
}
