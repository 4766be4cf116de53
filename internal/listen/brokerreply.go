package listen

import (
	"context"

	"github.com/cectl/cectl/internal/client"
)

// sendBrokerReply answers an accepted broker message with the reply event the pipeline
// picked (--reply), at the address the message named: a NATS reply subject, an MQTT 5
// response topic, an AMQP reply-to address (client.Delivery.Reply). The reply goes out
// before the message is acknowledged; a reply that cannot be sent leaves the message
// unacknowledged and ends the subscription with the error.
func sendBrokerReply(ctx context.Context, d client.Delivery, v *Verdict) error {
	if v.Outcome != Accepted || v.Reply == nil || d.Reply == nil {
		return nil
	}
	return d.Reply(ctx, v.Reply, v.ReplyMode)
}
