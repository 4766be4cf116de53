package client

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/cectl/cectl/internal/binding"
	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/nats-io/nats.go"
)

// TestNATSTraceHeaders: an event that carries the distributed tracing extension goes out
// over NATS and JetStream with the traceparent and tracestate headers, for a subscriber that
// reads the trace from headers; an event without it gets no header.
func TestNATSTraceHeaders(t *testing.T) {
	base := startNATS(t)
	nc, err := nats.Connect(base)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	const tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	traced := event.New()
	traced.SetID("1")
	traced.SetSource("/s")
	traced.SetType("com.example.traced")
	traced.SetExtension("traceparent", tp)
	traced.SetExtension("tracestate", "vendor=1")
	plain := traced.Clone()
	plain.SetExtension("traceparent", nil)
	plain.SetExtension("tracestate", nil)

	ctx := context.Background()
	for _, c := range []struct{ name, url, subject string }{
		{"nats", base + "/traced.core", "traced.core"},
		{"jetstream", strings.Replace(base, "nats://", "jetstream://", 1) + "/TRACED/traced.js", "traced.js"},
	} {
		sub, err := nc.SubscribeSync(c.subject)
		if err != nil {
			t.Fatal(err)
		}
		if err := nc.Flush(); err != nil {
			t.Fatal(err)
		}
		tg, err := Open(c.url, Options{Timeout: 10 * time.Second})
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		// Send, then a prepared sender, then an event without a trace.
		if res := tg.Send(ctx, binding.Structured, &traced); !res.ACK {
			t.Fatalf("%s: send: %v", c.name, res.Err)
		}
		s, err := tg.Prepare(ctx, binding.Structured, &traced)
		if err != nil {
			t.Fatal(err)
		}
		if res := s.Send(ctx); !res.ACK {
			t.Fatalf("%s: prepared send: %v", c.name, res.Err)
		}
		if res := tg.Send(ctx, binding.Structured, &plain); !res.ACK {
			t.Fatalf("%s: send: %v", c.name, res.Err)
		}
		for i, want := range []string{tp, tp, ""} {
			msg, err := sub.NextMsg(5 * time.Second)
			if err != nil {
				t.Fatalf("%s: message %d: %v", c.name, i, err)
			}
			if got := msg.Header.Get("traceparent"); got != want {
				t.Errorf("%s: message %d: traceparent header %q, want %q", c.name, i, got, want)
			}
			if st := msg.Header.Get("tracestate"); (st == "vendor=1") != (want != "") {
				t.Errorf("%s: message %d: tracestate header %q", c.name, i, st)
			}
		}
		_ = sub.Unsubscribe()
		tg.Close()
	}

	// A NATS request carries it too.
	got := make(chan string, 1)
	sub, err := nc.Subscribe("traced.req", func(m *nats.Msg) {
		got <- m.Header.Get("traceparent")
		_ = m.Respond([]byte(`{"specversion":"1.0","id":"r","source":"/r","type":"com.example.reply"}`))
	})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()
	_ = nc.Flush()
	tg, err := Open(base+"/traced.req", Options{Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer tg.Close()
	if res, _, _, _ := tg.Request(ctx, binding.Structured, &traced); !res.ACK {
		t.Fatalf("request: %v", res.Err)
	}
	if h := <-got; h != tp {
		t.Errorf("request: traceparent header %q", h)
	}
}
