package format

import (
	"bytes"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/cectl/cectl/internal/listen"
)

// A refused broker message shows what the transport did with it, not an HTTP status, and a
// preview of its payload, escaped; the summary does not count broker messages by status.
func TestListenRejectedBrokerMessage(t *testing.T) {
	st := NewStyles(false)
	rep := &listen.Report{
		Kind: listen.KindRejected, Received: time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC),
		Method: listen.MethodReceive, Proto: "NATS", Target: "subject=orders", Status: http.StatusBadRequest,
		Reason:  "invalid event (structured mode):\ninvalid JSON: expected a value, found 'h' [json-syntax]",
		Settled: "dropped (core NATS has no acknowledgement)", Payload: []byte("hello\n\x1b[2Jworld"), PayloadSize: 300,
	}
	var out bytes.Buffer
	if err := ListenRejected(&out, st, rep, ListenOptions{}); err != nil {
		t.Fatal(err)
	}
	want := "10:00:00.000 rejected, dropped (core NATS has no acknowledgement)  NATS subject=orders\n" +
		"  invalid event (structured mode):\n" +
		"  invalid JSON: expected a value, found 'h' [json-syntax]\n" +
		"  payload (300 bytes): hello \\x1b[2Jworld …\n"
	if out.String() != want {
		t.Errorf("got\n%s\nwant\n%s", out.String(), want)
	}

	out.Reset()
	rep.Payload, rep.PayloadSize = nil, 0
	if err := ListenRejected(&out, st, rep, ListenOptions{}); err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(out.String(), "  payload: empty\n") || strings.Contains(out.String(), "400") {
		t.Errorf("empty payload: %q", out.String())
	}

	out.Reset()
	sum := listen.Summary{Requests: 3, Rejected: []listen.StatusCount{{Status: 400, Count: 3}}}
	if err := ListenSummary(&out, st, sum, ListenSummaryOptions{Unit: "message"}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "3 messages rejected\n") || strings.Contains(out.String(), "400") {
		t.Errorf("summary: %q", out.String())
	}
}
