// Package send is what cectl send does between the command line and the transport:
// a Session delivers events to one target and renders a result line for each; a FileReader
// streams the events of a --from file, validated, overridden by the command line and prepared
// for the target ahead of sending; Templates and Source make the events of a load run.
package send

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/cectl/cectl/internal/binding"
	"github.com/cectl/cectl/internal/client"
	"github.com/cectl/cectl/internal/format"
	"github.com/cloudevents/sdk-go/v2/event"
)

// Session delivers events to one target and reports each result on Out: a line of text or,
// with JSON, a JSON object. It counts the results in Summary.
type Session struct {
	Target client.Target
	// To is the target as results show it (a password masked).
	To   string
	Mode binding.Mode
	// DryRun prints the messages the events would make instead of sending them.
	DryRun bool
	JSON   bool
	// Verbose shows each exchange on ErrOut.
	Verbose           bool
	Out, ErrOut       io.Writer
	Styles, ErrStyles *format.Styles

	Summary format.Summary

	// DeadLetter, when set, keeps every event not acknowledged and every event of a file
	// that was read but not sent.
	DeadLetter *DeadLetter
	// MaxFailures, when above 0, stops SendFile after that many events in a row were not
	// acknowledged.
	MaxFailures int
	failures    int // events in a row not acknowledged

	// out buffers results when stdout is not a terminal and the events come from a file; it
	// is flushed at least every flushEvery, so a pipe still sees results while a long file is
	// sent. Events from stdin may trickle in, so their results are never held back.
	out       *bufio.Writer
	lastFlush time.Time
	flushEach bool
	writeErr  error
}

const flushEvery = 100 * time.Millisecond

// flushed flushes the buffered results when they are due.
func (s *Session) flushed(force bool) error {
	if s.out == nil {
		return nil
	}
	if now := time.Now(); force || s.flushEach || now.Sub(s.lastFlush) >= flushEvery {
		s.lastFlush = now
		return s.out.Flush()
	}
	return nil
}

// Deliver sends events in one message (several only in batch mode) and reports the result
// for each. It returns the result, nil in a dry run, and an error only when output fails.
func (s *Session) Deliver(ctx context.Context, events []*event.Event, lines []int) (*client.Result, error) {
	if s.DryRun {
		return nil, s.dump(ctx, events)
	}
	res := s.Target.Send(ctx, s.Mode, events...)
	return s.report(&res, events, lines)
}

// deliverItem delivers one event read from a file, as the reader prepared it; an event that
// could not be prepared is reported with the reason.
func (s *Session) deliverItem(ctx context.Context, it Item) (*client.Result, error) {
	var res client.Result
	switch {
	case it.Prepared != nil:
		res = it.Prepared.Send(ctx)
	case it.PrepareErr != nil:
		res = client.Result{Err: it.PrepareErr}
	default:
		return s.Deliver(ctx, []*event.Event{it.Event}, []int{it.Line})
	}
	return s.report(&res, []*event.Event{it.Event}, []int{it.Line})
}

// report shows the result of one message for each of its events and counts it.
func (s *Session) report(res *client.Result, events []*event.Event, lines []int) (*client.Result, error) {
	if res.Outcome() == client.OutcomeNoResponse {
		res.Err = format.ExplainNoResponse(res.Err)
	}
	if s.Verbose {
		if err := format.Exchange(s.ErrOut, s.ErrStyles, res); err != nil {
			return nil, err
		}
	}
	if res.ACK {
		s.failures = 0
	} else {
		s.failures += len(events)
		s.DeadLetter.Add(events...)
	}
	for i, e := range events {
		s.Summary.Add(res)
		d := format.Delivery{Event: e, To: s.To, Mode: s.Mode.String(), Result: res}
		if i < len(lines) {
			d.Line = lines[i]
		}
		if i > 0 && d.Result.Response != nil {
			// The response belongs to the whole batch: show it once.
			r := *d.Result
			r.Response = nil
			d.Result = &r
		}
		var err error
		w := s.Out
		if s.out != nil {
			w = s.out
		}
		if s.JSON {
			err = format.DeliveryJSON(w, d)
		} else {
			err = format.DeliveryText(w, s.Styles, d)
		}
		if err == nil {
			err = s.flushed(false)
		}
		if err != nil {
			s.writeErr = err
			return res, err
		}
	}
	return res, nil
}

// dump prints the exact message the events would make.
func (s *Session) dump(ctx context.Context, events []*event.Event) error {
	b, err := s.Target.Dump(ctx, s.Mode, events...)
	if err != nil {
		return err
	}
	b = format.HideDumpCredentials(b)
	w := s.Out
	if s.out != nil {
		w = s.out // in order with the findings about the file
	}
	if s.JSON {
		return format.DumpJSON(w, s.To, b)
	}
	return format.DumpText(w, b)
}

// errStop ends the reading of a file when a stop condition is met.
var errStop = errors.New("stop condition met")

// stopDue says errStop when MaxFailures events in a row failed, and notes why in Summary.
func (s *Session) stopDue() error {
	if s.MaxFailures <= 0 || s.failures < s.MaxFailures {
		return nil
	}
	s.Summary.Stop = fmt.Sprintf("stopped after %s in a row not acknowledged (--max-failures %d)", format.Plural(s.failures, "event"), s.MaxFailures)
	return errStop
}

// FileOptions say how SendFile sends a file.
type FileOptions struct {
	// BatchSize is how many events go in one batch message in batch mode; 0 is all.
	BatchSize int
	// Trickle says that events may come slowly (stdin): each is read and sent as it comes,
	// and its result shown at once.
	Trickle bool
	// Buffer says that results may be buffered (stdout is not a terminal).
	Buffer bool
	// Pace, when set, holds each event back to keep the gaps of the recording (--pace).
	Pace *Pacer
}

// SendFile sends every event r reads, in order, or in batches in batch mode; outside batch
// mode and dry runs each event is prepared for the target as it is read. It adds the
// invalid events to Summary and returns the error that stopped reading, and an error when
// output failed.
func (s *Session) SendFile(ctx context.Context, r *FileReader, opts FileOptions) (readErr, err error) {
	s.out = bufio.NewWriterSize(s.Out, 32<<10)
	s.lastFlush = time.Now()
	s.flushEach = !opts.Buffer || opts.Trickle
	defer s.flushed(true)
	if s.JSON {
		// Findings about the file are results too: JSON objects on stdout, in file order.
		r.Diag, r.JSON = s.out, true
	}
	if !s.DryRun && s.Mode != binding.Batch {
		r.Prepare = func(ctx context.Context, e *event.Event) (client.Sender, error) {
			return s.Target.Prepare(ctx, s.Mode, e)
		}
	}
	if s.DeadLetter != nil {
		r.Lost = func(it Item) { s.DeadLetter.Add(it.Event) }
	}
	var batch []*event.Event
	var lines []int
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		_, err := s.Deliver(ctx, batch, lines)
		batch, lines = batch[:0], lines[:0]
		return err
	}
	read := r.ReadAhead
	if opts.Trickle {
		read = r.Read
	}
	var emitErr error
	invalid, readErr := read(ctx, func(it Item) error {
		if s.Mode != binding.Batch {
			if opts.Pace != nil {
				// Interrupted while waiting, the event still goes to deliverItem, which
				// reports it not delivered, as it does an event in flight.
				opts.Pace.Wait(ctx, it)
			}
			if _, emitErr = s.deliverItem(ctx, it); emitErr == nil {
				emitErr = s.stopDue()
			}
			return emitErr
		}
		if len(batch) > 0 && batch[0].SpecVersion() != it.Event.SpecVersion() {
			// The events of one batch share a specversion (json-format §4, as listen and
			// validate check it): a file that mixes them goes out as one batch per run.
			if emitErr = flush(); emitErr != nil {
				return emitErr
			}
		}
		batch = append(batch, it.Event)
		lines = append(lines, it.Line)
		if opts.BatchSize > 0 && len(batch) >= opts.BatchSize {
			if emitErr = flush(); emitErr == nil {
				emitErr = s.stopDue()
			}
		}
		return emitErr
	})
	stopped := errors.Is(emitErr, errStop)
	if emitErr != nil && !stopped {
		return readErr, emitErr
	}
	s.Summary.Invalid += invalid
	if ctx.Err() == nil && !stopped {
		if err := flush(); err != nil {
			return readErr, err
		}
	} else {
		// Interrupted or stopped: say what never went, so that the user knows what to send
		// again (and keep it in the dead-letter file).
		s.Summary.Unsent += r.Unsent + len(batch)
		s.DeadLetter.Add(batch...)
		if r.Stopped {
			s.Summary.Unread = r.Name
		}
		if s.Summary.Stop == "" && errors.Is(context.Cause(ctx), context.DeadlineExceeded) {
			s.Summary.Stop = "stopped at the deadline"
		}
	}
	if s.writeErr != nil {
		return readErr, s.writeErr
	}
	return readErr, s.flushed(true)
}
