package client

import (
	"strings"
	"testing"

	"github.com/cectl/cectl/internal/binding"
)

// Running the same durable listen twice (?durable=audit&start=all, as a script would) resumes
// the durable after what it acknowledged, and the note for the banner says so.
func TestJetStreamDurableResumesWithStart(t *testing.T) {
	for _, s := range servers(t, startNATS, "CECTL_TEST_NATS_URL") {
		t.Run(s.name, func(t *testing.T) {
			url, stream, _ := jsURL(s.base)
			defer deleteStream(t, s.base, stream)
			tg := open(t, url)
			ev := testEvents(t)[0]
			sendID := func(id string) {
				e := ev.Clone()
				e.SetID(id)
				send(t, tg, binding.Structured, &e)
			}
			sendID("a")
			durable := uniq("audit")
			var notes []string
			l := listen(t, url+"?durable="+durable+"&start=all", SubscribeOptions{Note: func(n string) { notes = append(notes, n) }})
			if d := l.next(t); d.Event.ID() != "a" {
				t.Fatalf("first run got %s, want a", d.Event.ID())
			}
			l.close(t)
			if len(notes) != 1 || !strings.HasPrefix(notes[0], "durable consumer "+durable+" created on stream "+stream+" (start all)") {
				t.Errorf("first run notes %q", notes)
			}

			sendID("b")
			notes = nil
			l = listen(t, url+"?durable="+durable+"&start=all", SubscribeOptions{Note: func(n string) { notes = append(notes, n) }})
			if d := l.next(t); d.Event.ID() != "b" {
				t.Fatalf("second run got %s, want b (resumed after a)", d.Event.ID())
			}
			l.close(t)
			want := "resuming durable consumer " + durable + " on stream " + stream + ": 1 pending, 0 unacknowledged; start=all ignored, a durable keeps its position"
			if len(notes) != 1 || notes[0] != want {
				t.Errorf("second run notes %q, want %q", notes, want)
			}

		})
	}
}
