package client

import (
	"context"
	"time"

	"github.com/cectl/cectl/internal/binding"
	"github.com/cloudevents/sdk-go/v2/event"
)

// Target is where send and request deliver events. Open returns the Target of a URL; what it
// can do is in its Transport.
type Target interface {
	// Transport is the entry of the transport table the target belongs to.
	Transport() *Transport
	// URL is the target as the user gave it.
	URL() string
	// Send delivers events in one message (several only in batch mode) and classifies the
	// outcome. mode is one the transport has (Transport.Mode).
	Send(ctx context.Context, mode binding.Mode, events ...*event.Event) Result
	// Prepare encodes proto for mode once and returns a Sender of it and of copies of it
	// that differ only in their id and time, each as cheap to send as the transport allows.
	// mode is one the transport has; in batch mode a message of the Sender holds one event.
	Prepare(ctx context.Context, mode binding.Mode, proto *event.Event) (Sender, error)
	// Request delivers one event and returns the events of the reply; a *UsageError when
	// the transport has no request/reply (Transport.CheckRequest).
	Request(ctx context.Context, mode binding.Mode, e *event.Event) (Result, []event.Event, binding.Mode, error)
	// Dump returns the message as it would go on the wire, for --dry-run; a *UsageError
	// when the transport cannot show it (Transport.CheckDryRun).
	Dump(ctx context.Context, mode binding.Mode, events ...*event.Event) ([]byte, error)
	Close() error
}

// Sender sends one event prepared by Target.Prepare, or copies of it.
type Sender interface {
	// Send sends the prepared event as Target.Send would.
	Send(ctx context.Context) Result
	// SendCopy sends a copy with id and t (in UTC) in place of the event's own; an empty id
	// or a zero t keeps the event's. It serves load runs: where the wait for the broker's answer would
	// need a goroutine of its own to end with ctx, SendCopy waits for the answer (bounded by
	// Options.Timeout) instead, so an interrupted run waits for what it has in flight.
	SendCopy(ctx context.Context, id string, t time.Time) Result
}

// UsageError is a target URL that cannot be used as given, or an operation its transport
// does not have; commands report it as a usage error.
type UsageError struct{ Err error }

func (e *UsageError) Error() string { return e.Err.Error() }
func (e *UsageError) Unwrap() error { return e.Err }

// base is what every target has: its transport and URL, and the usage errors of the
// operations its transport does not have.
type base struct {
	tr  *Transport
	raw string
}

func (b base) Transport() *Transport { return b.tr }
func (b base) URL() string           { return b.raw }

// Request refuses as the transport table says; a transport with request/reply has its own.
func (b base) Request(ctx context.Context, mode binding.Mode, e *event.Event) (Result, []event.Event, binding.Mode, error) {
	err := b.tr.CheckRequest()
	return Result{Err: err}, nil, mode, err
}

// Dump refuses as the transport table says; a transport that can dump has its own.
func (b base) Dump(context.Context, binding.Mode, ...*event.Event) ([]byte, error) {
	return nil, b.tr.CheckDryRun()
}

// copies is the Sender of a transport that encodes each event as it sends it: a copy of the
// prototype shares its data and gets its own context.
type copies struct {
	t     Target
	mode  binding.Mode
	proto *event.Event
}

func (c *copies) Send(ctx context.Context) Result { return c.t.Send(ctx, c.mode, c.proto) }

func (c *copies) SendCopy(ctx context.Context, id string, t time.Time) Result {
	return c.t.Send(ctx, c.mode, copyEvent(c.proto, id, t))
}

// copyEvent is e with id and t, in UTC, in place of its own (empty and zero keep them). The
// context is copied; the data is shared, since nothing writes to it while sending.
// CopyEvent is e with id and t (in UTC) in place of its own, as SendCopy sends it; an empty
// id or a zero t keeps the event's.
func CopyEvent(e *event.Event, id string, t time.Time) *event.Event { return copyEvent(e, id, t) }

func copyEvent(e *event.Event, id string, t time.Time) *event.Event {
	if id == "" && t.IsZero() {
		return e
	}
	c := &event.Event{Context: e.Context.Clone(), DataEncoded: e.DataEncoded, DataBase64: e.DataBase64}
	if id != "" {
		c.SetID(id)
	}
	if !t.IsZero() {
		c.SetTime(t.UTC())
	}
	return c
}
