package send

import (
	"context"

	"github.com/cectl/cectl/internal/binding"
	"github.com/cectl/cectl/internal/client"
	"github.com/cloudevents/sdk-go/v2/event"
)

// Streamer is a target that can send an event's data as it reads it (HTTP, binary and
// structured mode): e carries d.StandIn() as its data, d goes in its place
// (binding.EncodeStream).
type Streamer interface {
	SendStream(ctx context.Context, mode binding.Mode, e *event.Event, d *binding.StreamData) client.Result
}

// DeliverStream sends e in s.Mode with the data d in place of its stand-in, read as it is
// sent rather than held in memory, and reports the result as Deliver does.
func (s *Session) DeliverStream(ctx context.Context, st Streamer, e *event.Event, d *binding.StreamData) (*client.Result, error) {
	res := st.SendStream(ctx, s.Mode, e, d)
	return s.report(&res, []*event.Event{e}, nil)
}
