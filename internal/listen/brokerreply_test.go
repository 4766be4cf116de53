package listen

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/cectl/cectl/internal/binding"
	"github.com/cloudevents/sdk-go/v2/event"
)

func testReplies(t *testing.T) *Replies {
	t.Helper()
	r, err := LoadReplies(strings.NewReader(`{"specversion":"1.0","id":"r1","source":"/svc","type":"com.example.pong"}
{"specversion":"1.0","id":"r2","source":"/svc","type":"com.example.pong2"}`))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// A broker message that names where to answer gets the replies in turn, in the reply mode,
// before it is acknowledged.
func TestDeliverRepliesOverBrokers(t *testing.T) {
	h, rs := newTestHandler(Config{Replies: testReplies(t), ReplyMode: binding.Structured})
	var got []string
	var modes []binding.Mode
	for range 3 {
		d := structuredDelivery(brokerJSON)
		d.Reply = func(_ context.Context, e *event.Event, mode binding.Mode) error {
			got = append(got, e.ID())
			modes = append(modes, mode)
			return nil
		}
		if err := h.Deliver(context.Background(), d); err != nil {
			t.Fatalf("Deliver: %v", err)
		}
	}
	if strings.Join(got, ",") != "r1,r2,r1" || modes[0] != binding.Structured {
		t.Fatalf("replies %v in %v, want r1,r2,r1 in structured mode", got, modes)
	}
	if rep := rs.list[0]; rep.Reply == nil || rep.Reply.ID() != "r1" {
		t.Errorf("the report does not show the reply: %+v", rep.Reply)
	}
}

// A message that names nowhere to answer takes no reply, and none is reported.
func TestDeliverNoReplyAddress(t *testing.T) {
	h, rs := newTestHandler(Config{Replies: testReplies(t)})
	if err := h.Deliver(context.Background(), structuredDelivery(brokerJSON)); err != nil {
		t.Fatalf("Deliver: %v", err)
	}
	if rep := rs.list[0]; rep.Reply != nil {
		t.Errorf("reported reply %s for a message without a reply address", rep.Reply.ID())
	}
}

// A reply that cannot be sent leaves the message unacknowledged.
func TestDeliverReplyFails(t *testing.T) {
	h, _ := newTestHandler(Config{Replies: testReplies(t)})
	d := structuredDelivery(brokerJSON)
	d.Reply = func(context.Context, *event.Event, binding.Mode) error { return errors.New("broker gone") }
	if err := h.Deliver(context.Background(), d); err == nil || !strings.Contains(err.Error(), "broker gone") {
		t.Fatalf("Deliver: %v, want the reply's error", err)
	}
}
