package format

import (
	"bytes"
	"testing"

	"github.com/cectl/cectl/internal/client"
)

// A core NATS publish is no ACK: the summary counts it as published, apart from ACKs.
func TestSummaryCountsPublishedApart(t *testing.T) {
	var s Summary
	s.Add(&client.Result{Delivered: true, ACK: true, Unacknowledged: true})
	s.Add(&client.Result{Delivered: true, ACK: true, Unacknowledged: true})
	s.Add(&client.Result{Delivered: true, ACK: true})
	var out bytes.Buffer
	if err := SummaryText(&out, NewStyles(false), s); err != nil {
		t.Fatal(err)
	}
	if want := "sent 3, published 2 (core NATS has no ack), ACK 1, NACK 0, not delivered 0\n"; out.String() != want {
		t.Errorf("got %q, want %q", out.String(), want)
	}
}
