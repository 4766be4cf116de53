package ce

import (
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/cloudevents/sdk-go/v2/types"
)

// ReceivedExtension is the extension attribute in which listen --record keeps the instant it
// received each event, so that send --from --pace can replay a recording at the pace it
// arrived. It is an extension like any other (spec v1.0.2 Extension Context Attributes and
// Attribute Naming Convention: lower-case letters and digits; a String holding an RFC 3339
// timestamp), so a record file stays a valid event file for validate, listen --reply and
// send --from. send --from and listen --reply leave it out of what they send, as it describes
// the recording, not the event.
const ReceivedExtension = "cectlreceivedtime"

// AppendRecorded appends the JSON form of e with ReceivedExtension set to received.
func AppendRecorded(dst []byte, e *event.Event, received time.Time) []byte {
	if _, has := e.Extensions()[ReceivedExtension]; has {
		// A replayed recording that kept the stamp (it was sent by another tool): the new
		// receive time replaces it, on a copy, as others still read the event.
		c := e.Clone()
		c.SetExtension(ReceivedExtension, FormatTime(received.UTC()))
		return AppendJSON(dst, &c)
	}
	dst = AppendJSON(dst, e)
	if n := len(dst); n > 0 && dst[n-1] == '}' {
		dst = append(dst[:n-1], `,"`+ReceivedExtension+`":"`...)
		dst = received.UTC().AppendFormat(dst, time.RFC3339Nano)
		dst = append(dst, '"', '}')
	}
	return dst
}

// TakeReceived removes ReceivedExtension from e and returns its time, if it held a valid one.
func TakeReceived(e *event.Event) (time.Time, bool) {
	v, has := e.Extensions()[ReceivedExtension]
	if !has {
		return time.Time{}, false
	}
	DeleteAttribute(e, ReceivedExtension)
	t, err := types.ToTime(v)
	return t, err == nil
}
