package client

import (
	"context"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/Azure/go-amqp"
	"github.com/cectl/cectl/internal/binding"
	"github.com/cectl/cectl/internal/ce"
)

// amqpServers has the test's own broker (amqpbroker_test.go), which has receiver settle mode
// second, and the real one, where RabbitMQ 3 has not. On RabbitMQ, /queue/NAME addresses
// declare the queue on first use.
func amqpServers(t *testing.T) []server { return servers(t, startAMQP, "CECTL_TEST_AMQP_URL") }

func TestAMQPRoundTrip(t *testing.T) {
	for _, s := range amqpServers(t) {
		t.Run(s.name, func(t *testing.T) {
			url := s.base + "/queue/" + uniq("cectl-rt")
			roundTrip(t, url, url, []binding.Mode{binding.Binary, binding.Structured}, SubscribeOptions{})
		})
	}
}

// Binary mode puts attributes in "cloudEvents:" application properties with native AMQP
// types (amqp binding §3.1.3), checked with go-amqp as the raw reader.
func TestAMQPWire(t *testing.T) {
	for _, s := range amqpServers(t) {
		t.Run(s.name, func(t *testing.T) {
			addr := "/queue/" + uniq("cectl-wire")
			u, err := url.Parse(s.base)
			if err != nil {
				t.Fatal(err)
			}
			opts := []amqp.ConnOption{amqp.ConnSASLAnonymous()}
			if u.User != nil {
				p, _ := u.User.Password()
				opts = []amqp.ConnOption{amqp.ConnSASLPlain(u.User.Username(), p)}
			}
			c, err := amqp.Dial("amqp://"+u.Host, opts...)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			sess, err := c.NewSession()
			if err != nil {
				t.Fatal(err)
			}
			r, err := sess.NewReceiver(amqp.LinkSourceAddress(addr), amqp.LinkCredit(10))
			if err != nil {
				t.Fatal(err)
			}
			tg := open(t, s.base+addr)
			e := testEvents(t)[0]
			if res := send(t, tg, binding.Binary, e); res.Response.Status != "accepted" {
				t.Errorf("status %q", res.Response.Status)
			}
			send(t, tg, binding.Structured, e)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			m, err := r.Receive(ctx)
			if err != nil {
				t.Fatal(err)
			}
			_ = r.AcceptMessage(ctx, m)
			ap := m.ApplicationProperties
			if ap["cloudEvents:specversion"] != "1.0" || ap["cloudEvents:id"] != "json-1" || ap["cloudEvents:region"] != "eu west" {
				t.Errorf("application properties %v", ap)
			}
			if v, ok := ap["cloudEvents:priority"].(int64); !ok || v != 5 {
				t.Errorf("priority %T %v, want the AMQP long 5", ap["cloudEvents:priority"], ap["cloudEvents:priority"])
			}
			if v, ok := ap["cloudEvents:urgent"].(bool); !ok || !v {
				t.Errorf("urgent %T %v, want the AMQP boolean true", ap["cloudEvents:urgent"], ap["cloudEvents:urgent"])
			}
			if _, ok := ap["cloudEvents:time"].(time.Time); !ok {
				t.Errorf("time %T, want an AMQP timestamp", ap["cloudEvents:time"])
			}
			if _, ok := ap["cloudEvents:datacontenttype"]; ok || m.Properties == nil || *m.Properties.ContentType != "application/json" {
				t.Errorf("datacontenttype must be the content-type property only: %v %+v", ap, m.Properties)
			}
			if string(m.GetData()) != string(e.DataEncoded) {
				t.Errorf("data %q", m.GetData())
			}
			m, err = r.Receive(ctx)
			if err != nil {
				t.Fatal(err)
			}
			_ = r.AcceptMessage(ctx, m)
			if *m.Properties.ContentType != "application/cloudevents+json" || string(m.GetData()) != string(ce.AppendJSON(nil, e)) {
				t.Errorf("structured: %s %s", *m.Properties.ContentType, m.GetData())
			}
		})
	}
}

// Incoming property values may be native AMQP types or canonical strings, under either
// prefix (amqp binding §3.1.3.2); this needs no broker.
func TestAMQPDecodeNativeAndStringValues(t *testing.T) {
	ct := "text/plain"
	tm := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, prefix := range amqpPrefixes {
		m := &amqp.Message{
			Properties: &amqp.MessageProperties{ContentType: &ct},
			ApplicationProperties: map[string]any{
				prefix + "specversion": "1.0", prefix + "id": "1", prefix + "source": "/s",
				prefix + "type": "t", prefix + "time": tm, prefix + "n": int64(7), prefix + "b": true,
				prefix + "s": "2026-01-02T03:04:05Z", "other": "x",
			},
			Data: [][]byte{[]byte("hi")},
		}
		e, mode, err := decodeAMQP(m, &decoder{})
		if err != nil || mode != binding.Binary {
			t.Fatalf("%s: %v %s", prefix, err, mode)
		}
		if !e.Time().Equal(tm) || e.Extensions()["n"] != int32(7) || e.Extensions()["b"] != true || e.Extensions()["s"] != "2026-01-02T03:04:05Z" || len(e.Extensions()) != 3 {
			t.Errorf("%s: %v", prefix, e)
		}
		if e.DataContentType() != "text/plain" || string(e.DataEncoded) != "hi" {
			t.Errorf("%s: data %q %q", prefix, e.DataContentType(), e.DataEncoded)
		}
	}
	big := &amqp.Message{ApplicationProperties: map[string]any{
		"cloudEvents:specversion": "1.0", "cloudEvents:id": "1", "cloudEvents:source": "/s", "cloudEvents:type": "t",
		"cloudEvents:n": int64(1 << 40),
	}}
	if _, _, err := decodeAMQP(big, &decoder{}); err == nil || !strings.Contains(err.Error(), "[integer-range]") {
		t.Errorf("integer out of range: %v", err)
	}
	if d := amqpDelivery("q", &amqp.Message{Data: [][]byte{[]byte("x")}}, false); d.Err == nil || string(d.Raw) != "x" {
		t.Errorf("message without CloudEvent: %+v", d)
	}
}

func TestAMQPBrokerDown(t *testing.T) {
	brokerDown(t, "amqp://"+closedPort(t)+"/q")
}

// A subscriber whose handler takes no more messages (More false) leaves the rest on the
// broker, also where taking a message accepts it, and a message taken is handled before the
// next: a second subscription gets every message the first did not handle.
func TestAMQPLeavesWhatWasNotHandled(t *testing.T) {
	for _, s := range amqpServers(t) {
		t.Run(s.name, func(t *testing.T) {
			url := s.base + "/queue/" + uniq("cectl-more")
			// The queue exists once a link was attached to it.
			first := listen(t, url, SubscribeOptions{})
			first.close(t)
			tg := open(t, url)
			events := testEvents(t)
			for _, id := range []string{"m-1", "m-2", "m-3"} {
				e := events[0].Clone()
				e.SetID(id)
				send(t, tg, binding.Structured, &e)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			handled := 0
			so := SubscribeOptions{Timeout: 10 * time.Second, More: func() bool { return handled < 1 }}
			err := Subscribe(ctx, url, so, func(_ context.Context, d Delivery) error {
				handled++
				if d.Event.ID() != "m-1" {
					t.Errorf("first subscription got %s", d.Event.ID())
				}
				return nil
			})
			if err != nil || handled != 1 {
				t.Fatalf("first subscription: err %v, %d handled", err, handled)
			}
			l := listen(t, url, SubscribeOptions{})
			for _, want := range []string{"m-2", "m-3"} {
				if d := l.next(t); d.Event.ID() != want {
					t.Fatalf("second subscription got %s, want %s", d.Event.ID(), want)
				}
			}
		})
	}
}
