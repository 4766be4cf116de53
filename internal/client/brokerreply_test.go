package client

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/cectl/cectl/internal/binding"
)

// requestReply answers requests on url with a subscription, as listen --reply does, and
// checks that Request gets the answer, in each mode.
func requestReply(t *testing.T, url string, modes []binding.Mode) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ready := make(chan struct{})
	done := make(chan error, 1)
	replyMode := make(chan binding.Mode, 1)
	go func() {
		done <- Subscribe(ctx, url, SubscribeOptions{Ready: func() { close(ready) }}, func(ctx context.Context, d Delivery) error {
			if d.Reply == nil {
				return errors.New("request without Reply")
			}
			r := d.Event.Clone()
			r.SetID("reply-to-" + d.Event.ID())
			r.SetType("com.example.reply")
			return d.Reply(ctx, &r, <-replyMode)
		})
	}()
	select {
	case <-ready:
	case err := <-done:
		t.Fatal(err)
	}
	tg := open(t, url)
	for _, mode := range modes {
		replyMode <- mode
		e := testEvents(t)[0]
		res, replies, got, err := tg.Request(ctx, mode, e)
		if err != nil || !res.ACK {
			t.Fatalf("%s request: ack=%v err=%v resErr=%v", mode, res.ACK, err, res.Err)
		}
		if len(replies) != 1 || replies[0].ID() != "reply-to-json-1" || replies[0].Type() != "com.example.reply" || got != mode {
			t.Fatalf("%s request: replies %v in %s mode", mode, replies, got)
		}
		if string(replies[0].DataEncoded) != string(e.DataEncoded) {
			t.Errorf("reply data %q", replies[0].DataEncoded)
		}
		if res.Duration <= 0 {
			t.Errorf("round trip %s", res.Duration)
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("subscribe: %v", err)
	}
}

func TestMQTTRequestReply(t *testing.T) {
	for _, s := range servers(t, startMQTT, "CECTL_TEST_MQTT_URL") {
		t.Run(s.name, func(t *testing.T) {
			requestReply(t, s.base+"/"+uniq("cectl/test/req"), []binding.Mode{binding.Binary, binding.Structured})
		})
	}
}

func TestAMQPRequestReply(t *testing.T) {
	for _, s := range amqpServers(t) {
		t.Run(s.name, func(t *testing.T) {
			requestReply(t, s.base+"/queue/"+uniq("cectl-test-req"), []binding.Mode{binding.Binary, binding.Structured})
		})
	}
}

// The requester receives its reply on a dynamic node, which the broker deletes when the
// link goes: a request leaves no queue behind. (RabbitMQ 3 offers no dynamic node; there the
// named reply address is used, as TestAMQPRequestReply shows against a real broker.)
func TestAMQPRequestLeavesNoReplyNode(t *testing.T) {
	b, err := newAMQPBroker("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.close)
	requestReply(t, "amqp://"+b.ln.Addr().String()+"/queue/orders", []binding.Mode{binding.Binary, binding.Structured})
	deadline := time.Now().Add(5 * time.Second)
	for {
		got := b.addresses()
		if strings.Join(got, " ") == "/queue/orders" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the broker holds %q after the requests, want only /queue/orders", got)
		}
		time.Sleep(10 * time.Millisecond)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.nodes != 2 {
		t.Errorf("%d dynamic nodes made, want one a request", b.nodes)
	}
}

// Without a responder the request, which the broker took, gets no response (maybe
// delivered: a responder may have taken it and not answered) within the timeout, and says why.
func TestBrokerRequestWithoutResponder(t *testing.T) {
	for name, base := range map[string]string{"mqtt": startMQTT(t), "amqp": startAMQP(t)} {
		tg, err := Open(base+"/nobody", Options{Timeout: 300 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		defer tg.Close()
		start := time.Now()
		res, replies, _, err := tg.Request(context.Background(), binding.Binary, testEvents(t)[0])
		if err != nil || res.Outcome() != OutcomeNoResponse || replies != nil || res.Err == nil || !strings.Contains(res.Err.Error(), "no reply") {
			t.Errorf("%s: outcome=%v replies=%v err=%v resErr=%v", name, res.Outcome(), replies, err, res.Err)
		}
		if time.Since(start) > 3*time.Second {
			t.Errorf("%s: took %s", name, time.Since(start))
		}
	}
}

// A message that names no reply address cannot be answered.
func TestNoReplyWithoutAddress(t *testing.T) {
	for _, url := range []string{startMQTT(t) + "/plain", startAMQP(t) + "/plain"} {
		l := listen(t, url, SubscribeOptions{})
		tg := open(t, url)
		send(t, tg, binding.Binary, testEvents(t)[0])
		if d := l.next(t); d.Reply != nil {
			t.Errorf("%s: a published event has a Reply", url)
		}
		l.close(t)
	}
}

func TestAMQPReplyAddress(t *testing.T) {
	for addr, want := range map[string]string{
		"orders":          "cectl-reply-x",
		"/queue/orders":   "/queue/cectl-reply-x",
		"/exchange/ex/rk": "/exchange/ex/cectl-reply-x",
	} {
		if got := amqpReplyAddress(addr, "x"); got != want {
			t.Errorf("amqpReplyAddress(%q) = %q, want %q", addr, got, want)
		}
	}
}
