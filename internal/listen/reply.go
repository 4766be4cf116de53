package listen

import (
	"errors"
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

// LoadReplies reads one event, a JSON array of events or JSON lines, validating each event.
// id may be left out: each reply then gets a fresh one; time may be left out too and is then
// the time of the reply.
func LoadReplies(r io.Reader) (*Replies, error) {
	rd := ce.NewReader(r)
	v := validate.New(validate.Options{})
	var events []event.Event
	for {
		rec, err := rd.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			var se *ce.SyntaxError
			if errors.As(err, &se) {
				return nil, &ReplyError{Line: se.Line, Col: se.Col, Msg: se.Err.Error()}
			}
			return nil, err
		}
		for _, fd := range v.Event(rec.Raw) {
			if fd.Level != validate.Error || fd.Rule == validate.RuleRequired && fd.Pointer == "/id" {
				continue
			}
			line, col := fd.Line+rec.Line-1, fd.Column
			if fd.Line == 1 {
				col += rec.Col - 1
			}
			return nil, &ReplyError{Line: line, Col: col, Msg: fmt.Sprintf("%s [%s]", fd.Message, fd.Rule)}
		}
		e, err := ce.Decode(rec.Raw)
		if err != nil {
			return nil, &ReplyError{Line: rec.Line, Col: rec.Col, Msg: err.Error()}
		}
		events = append(events, e)
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
