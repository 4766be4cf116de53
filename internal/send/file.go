package send

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"time"

	"github.com/cectl/cectl/internal/binding"
	"github.com/cectl/cectl/internal/ce"
	"github.com/cectl/cectl/internal/client"
	"github.com/cectl/cectl/internal/format"
	"github.com/cectl/cectl/internal/validate"
	"github.com/cloudevents/sdk-go/v2/event"
)

// FileReader reads the events of a file (send --from): one JSON event, a JSON array of
// events or JSON lines. The validator's scanner streams the file and checks every event by
// the rules of cectl validate; invalid events are reported with their position and left out.
type FileReader struct {
	// Name is the file as reports name it.
	Name string
	In   io.Reader
	// Override, when set, changes each valid event (the attribute flags given with --from)
	// and says why the result cannot be sent.
	Override func(e *event.Event) error
	// Prepare, when set, encodes each event for its target as it is read (Target.Prepare).
	Prepare func(ctx context.Context, e *event.Event) (client.Sender, error)
	// Styles colour the reports, which go to Diag.
	Styles *format.Styles
	Diag   io.Writer
	// JSON writes the reports as JSON objects (the findings of validate -o json).
	JSON bool

	// Lost, when set, is given each valid event that was read but never handed to emit
	// because the run stopped (Ctrl-C, a stop condition, failed output).
	Lost func(Item)
	// Drain makes ReadAhead read the file to its end after the run stopped, handing the rest
	// of its events to Lost, so that every event of the file is either sent or lost.
	Drain bool

	// After Read or ReadAhead: Unsent is how many valid events were read but never handed to
	// emit (the run was interrupted), Stopped whether reading ended before the end of the file.
	Unsent  int
	Stopped bool
}

// Item is one event read from a file.
type Item struct {
	Event *event.Event
	Line  int
	// Prepared is Event already encoded by Prepare, or PrepareErr why it could not be.
	Prepared   client.Sender
	PrepareErr error
	// At is when the event was received (the stamp listen --record keeps) or, without one,
	// its time attribute as the file has it: what --pace replays. Zero when it has neither.
	At time.Time
	// notes are the reports that stood in the file before the event, held back by ReadAhead
	// to be shown in order; Event is nil for notes after the last event.
	notes []byte
}

// Read reads, validates and decodes the events in order, hands each valid one to emit and
// reports the invalid ones, until the file ends, ctx is done or emit fails. It returns how
// many events were invalid and the error that stopped reading, if any.
func (r *FileReader) Read(ctx context.Context, emit func(Item) error) (int, error) {
	sc := validate.NewScanner(r.In, validate.Options{})
	var dec ce.Decoder // keeps what the events of the file share (their source)
	invalid := 0
	for {
		if ctx.Err() != nil {
			r.Stopped = true
			break
		}
		if !sc.Scan() {
			break
		}
		if sc.Empty() {
			// Nothing but white space: no events, which is not an invalid event.
			continue
		}
		res := sc.Result()
		if !res.Valid() && sc.Err() != nil && ctx.Err() != nil {
			// The read was interrupted (Ctrl-C while a record was half typed at a
			// terminal, or half written to a pipe): what came of the record is no
			// invalid event but one the user gave up on.
			r.Stopped = true
			return invalid, nil
		}
		for _, fd := range res.Findings {
			if r.JSON {
				_ = format.FindingJSON(r.Diag, r.Name, res.Index, fd)
			} else if fd.Level == validate.Error {
				r.reportInvalid(fd.Line, fd.Column, fd.Message, fd.Rule)
			} else {
				fmt.Fprintf(r.Diag, "%s:%d:%d: %s %s [%s]\n", r.Name, fd.Line, fd.Column, r.Styles.Warn.Sprint("warning:"), fd.Message, fd.Rule)
			}
		}
		if !res.Valid() {
			invalid++
			continue
		}
		if res.Index < 0 {
			continue
		}
		e, err := dec.DecodeValidated(res.Raw())
		var at time.Time
		if err == nil {
			at = stampOf(&e)
		}
		if err == nil && r.Override != nil {
			err = r.Override(&e)
		}
		if err != nil {
			invalid++
			r.reportInvalid(res.Line, res.Column, err.Error(), "event")
			continue
		}
		// What listen refuses in every mode is not sent.
		if f, ok := binding.CheckData(&e); !ok {
			invalid++
			r.reportInvalid(res.Line, res.Column, f.Pointer+": "+f.Message, f.Rule)
			continue
		}
		it := Item{Event: &e, Line: res.Line, At: at}
		if r.Prepare != nil {
			it.Prepared, it.PrepareErr = r.Prepare(ctx, &e)
		}
		if err := emit(it); err != nil {
			r.Stopped = true
			return invalid, err
		}
	}
	if err := sc.Err(); err != nil {
		if ctx.Err() != nil {
			// Interrupted while reading (Ctrl-C at a terminal): no invalid event.
			r.Stopped = true
			return invalid, nil
		}
		r.reportInvalid(0, 0, fmt.Sprintf("cannot read further: %v", err), "read")
		return invalid + 1, err
	}
	return invalid, nil
}

func (r *FileReader) reportInvalid(line, col int, msg, rule string) {
	if r.JSON {
		_ = format.FindingJSON(r.Diag, r.Name, -1, validate.Finding{Rule: rule, Level: validate.Error, Line: line, Column: col, Message: msg})
		return
	}
	pos := r.Name
	if line > 0 {
		pos = fmt.Sprintf("%s:%d:%d", r.Name, line, col)
	}
	fmt.Fprintf(r.Diag, "%s: %s invalid event, not sent: %s [%s]\n", pos, r.Styles.Fail.Sprint("error:"), msg, rule)
}

// readAheadBatch is how many read events ReadAhead hands over at a time.
const readAheadBatch = 64

// ReadAhead is Read with the reading, validating, decoding and preparing done in a goroutine
// of its own, so that it overlaps the wait for each response. Events are handed over in
// batches: handing over every event alone cost more in wake-ups than the overlap saved. emit
// is called in this goroutine, in file order, with the reports written to Diag in order
// between events.
func (r *FileReader) ReadAhead(ctx context.Context, emit func(Item) error) (int, error) {
	rctx, cancel := context.WithCancel(ctx)
	if r.Drain {
		// The reader reads on after the run stops; the loop below hands the rest to Lost.
		rctx, cancel = context.WithCancel(context.WithoutCancel(ctx))
	}
	defer cancel()
	batches := make(chan []Item, 2)
	var invalid, readerLost, lost int
	var stopped bool
	var readErr error
	go func() {
		defer close(batches)
		var notes bytes.Buffer
		rr := *r
		rr.Diag = &notes
		defer func() { stopped = rr.Stopped }()
		batch := make([]Item, 0, readAheadBatch)
		handOver := func() bool {
			select {
			case batches <- batch:
				batch = make([]Item, 0, readAheadBatch)
				return true
			case <-rctx.Done():
				readerLost += countEvents(batch)
				r.lose(batch)
				return false
			}
		}
		invalid, readErr = rr.Read(rctx, func(it Item) error {
			if notes.Len() > 0 {
				it.notes = bytes.Clone(notes.Bytes())
				notes.Reset()
			}
			batch = append(batch, it)
			if len(batch) == readAheadBatch && !handOver() {
				return context.Cause(rctx)
			}
			return nil
		})
		if notes.Len() > 0 {
			batch = append(batch, Item{notes: notes.Bytes()})
		}
		if len(batch) > 0 {
			handOver()
		}
	}()
	var emitErr error
	for batch := range batches {
		for i, it := range batch {
			if emitErr != nil || ctx.Err() != nil {
				lost += countEvents(batch[i:])
				r.lose(batch[i:])
				break
			}
			if len(it.notes) > 0 {
				_, _ = r.Diag.Write(it.notes)
			}
			if it.Event != nil {
				emitErr = emit(it)
			}
		}
		if (emitErr != nil || ctx.Err() != nil) && !r.Drain {
			cancel() // the reader stops at its next event; the loop drains what it handed over
		}
	}
	// The reader has ended (it closed batches), so its results are safe to read.
	r.Unsent += readerLost + lost
	r.Stopped = stopped
	if emitErr != nil {
		return invalid, emitErr
	}
	return invalid, readErr
}

// lose hands the events of items to Lost.
func (r *FileReader) lose(items []Item) {
	if r.Lost == nil {
		return
	}
	for _, it := range items {
		if it.Event != nil {
			r.Lost(it)
		}
	}
}

// countEvents counts the items that carry an event (the others carry only reports).
func countEvents(items []Item) int {
	n := 0
	for _, it := range items {
		if it.Event != nil {
			n++
		}
	}
	return n
}
