// Package binding is cectl's protocol binding layer: how an event travels in a message and how
// a message becomes events again.
//
//   - Content modes (binary, structured, batch: http binding §3) and the media types of the
//     JSON event format and its batch format (json-format §3, §4); ModeOf tells the mode of an
//     HTTP message by its Content-Type.
//   - Event → message: Encode writes an HTTP message in a mode, percent-encoding binary-mode
//     header values (http binding §3.1.3.2), which sdk-go does not.
//   - Message → events: Decoder is the one strict decoder, used by listen (HTTP requests and
//     broker deliveries), by request for replies and by broker subscriptions. Every event is
//     checked by the strict validator of package validate before it is built, and a refusal
//     is a *Problem with its status, reason and rules.
//   - Binary mode has one typing rule for HTTP headers and for Kafka, MQTT, NATS and AMQP
//     properties alike: attributes arrive as Attr (a canonical string, or a native AMQP
//     Boolean or Integer), context attributes are strings, and the documented Integer and
//     Boolean extensions take their type from their canonical string (ce.TypedValue).
//   - Check is what a receiver checks, for a sender to apply before sending.
package binding
