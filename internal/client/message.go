package client

import (
	"context"

	"github.com/cectl/cectl/internal/binding"
)

// MessageSender is a Target that can send an already encoded HTTP message, so that a load
// run can encode an event once and change only what differs per event.
type MessageSender interface {
	SendMessage(ctx context.Context, msg binding.Message) Result
}

// SendMessage posts msg.
func (t *httpTarget) SendMessage(ctx context.Context, msg binding.Message) Result {
	return t.c.Post(ctx, t.url, msg)
}
