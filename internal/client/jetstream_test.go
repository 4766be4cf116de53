package client

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cectl/cectl/internal/binding"
	"github.com/cectl/cectl/internal/ce"
	natsserver "github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
)

func jsURL(base string) (url, stream, subject string) {
	stream = uniq("CECTL")
	subject = strings.ToLower(stream) + ".created"
	return strings.Replace(base, "nats://", "jetstream://", 1) + "/" + stream + "/" + subject, stream, subject
}

func TestJetStreamRoundTrip(t *testing.T) {
	for _, s := range servers(t, startNATS, "CECTL_TEST_NATS_URL") {
		t.Run(s.name, func(t *testing.T) {
			url, stream, _ := jsURL(s.base)
			defer deleteStream(t, s.base, stream)
			roundTrip(t, url, url, []binding.Mode{binding.Binary, binding.Structured}, SubscribeOptions{})
		})
	}
}

func deleteStream(t *testing.T, base, stream string) {
	nc, err := nats.Connect(base)
	if err != nil {
		t.Error(err)
		return
	}
	defer nc.Close()
	js, _ := nc.JetStream()
	if err := js.DeleteStream(stream); err != nil {
		t.Errorf("delete stream %s: %v", stream, err)
	}
}

// The PubAck is reported, the stream created by send captures exactly the URL's subject, and
// the stored message is the JSON event format.
func TestJetStreamPubAckAndWire(t *testing.T) {
	for _, s := range servers(t, startNATS, "CECTL_TEST_NATS_URL") {
		t.Run(s.name, func(t *testing.T) {
			url, stream, subject := jsURL(s.base)
			defer deleteStream(t, s.base, stream)
			tg := open(t, url)
			e := testEvents(t)[0]
			res := send(t, tg, binding.Binary, e)
			if res.Response == nil || res.Response.Status != "PubAck stream "+stream+" seq 1" {
				t.Errorf("status %+v", res.Response)
			}
			res = send(t, tg, binding.Structured, e)
			if !strings.HasSuffix(res.Response.Status, "seq 2") {
				t.Errorf("status %+v", res.Response)
			}
			nc, err := nats.Connect(s.base)
			if err != nil {
				t.Fatal(err)
			}
			defer nc.Close()
			js, _ := nc.JetStream()
			info, err := js.StreamInfo(stream)
			if err != nil {
				t.Fatal(err)
			}
			if got := info.Config.Subjects; len(got) != 1 || got[0] != subject {
				t.Errorf("stream subjects %v", got)
			}
			m, err := js.GetMsg(stream, 1)
			if err != nil {
				t.Fatal(err)
			}
			if string(m.Data) != string(ce.AppendJSON(nil, e)) || len(m.Header) != 0 {
				t.Errorf("stored message %q with headers %v", m.Data, m.Header)
			}
			// A subject the existing stream does not capture is refused before publishing.
			other := strings.Replace(url, subject, "elsewhere.x", 1)
			r := open(t, other).Send(context.Background(), binding.Structured, e)
			if r.Delivered || r.Err == nil || !strings.Contains(r.Err.Error(), "does not capture subject elsewhere.x") {
				t.Errorf("send to an uncaptured subject: %+v", r)
			}
		})
	}
}

// start=all replays what the stream holds; a durable consumer resumes after the last message
// it acknowledged, in a later subscription.
func TestJetStreamStartAndDurable(t *testing.T) {
	for _, s := range servers(t, startNATS, "CECTL_TEST_NATS_URL") {
		t.Run(s.name, func(t *testing.T) {
			url, stream, _ := jsURL(s.base)
			defer deleteStream(t, s.base, stream)
			tg := open(t, url)
			ev := testEvents(t)[0]
			for _, id := range []string{"a", "b"} {
				e := ev.Clone()
				e.SetID(id)
				send(t, tg, binding.Structured, &e)
			}
			l := listen(t, url, SubscribeOptions{Start: "all", Durable: "cectl-test"})
			for _, id := range []string{"a", "b"} {
				if d := l.next(t); d.Event.ID() != id || d.Metadata()["stream"] != stream || d.Metadata()["consumer"] != "cectl-test" {
					t.Fatalf("got %s %v, want %s", d.Event.ID(), d.Metadata(), id)
				}
			}
			l.close(t)
			e := ev.Clone()
			e.SetID("c")
			send(t, tg, binding.Structured, &e)
			l = listen(t, url, SubscribeOptions{Durable: "cectl-test"})
			if d := l.next(t); d.Event.ID() != "c" || d.Metadata()["seq"] != "3" {
				t.Fatalf("resumed durable got %s seq %s, want c seq 3", d.Event.ID(), d.Metadata()["seq"])
			}
			// Without start, a new ephemeral subscription sees only new events.
			l2 := listen(t, url, SubscribeOptions{})
			e.SetID("d")
			send(t, tg, binding.Structured, &e)
			if d := l2.next(t); d.Event.ID() != "d" {
				t.Fatalf("ephemeral got %s, want d", d.Event.ID())
			}
			l3 := listen(t, url, SubscribeOptions{Start: "seq:2"})
			if d := l3.next(t); d.Event.ID() != "b" {
				t.Fatalf("start=seq:2 got %s, want b", d.Event.ID())
			}
		})
	}
}

func TestJetStreamMalformedIsTerminated(t *testing.T) {
	base := startNATS(t)
	url, stream, subject := jsURL(base)
	l := listen(t, url, SubscribeOptions{})
	nc, err := nats.Connect(base)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := nc.JetStream()
	if _, err := js.Publish(subject, []byte("not json")); err != nil {
		t.Fatal(err)
	}
	if d := l.next(t); d.Err == nil || d.Metadata()["stream"] != stream {
		t.Fatalf("malformed: %+v", d)
	}
	send(t, open(t, url), binding.Structured, testEvents(t)[0])
	if d := l.next(t); d.Err != nil || d.Event.ID() != "json-1" {
		t.Fatalf("next: %+v", d)
	}
	select {
	case d := <-l.got:
		t.Fatalf("redelivered: %+v", d)
	case <-time.After(200 * time.Millisecond):
	}
}

func TestJetStreamBrokerDown(t *testing.T) {
	brokerDown(t, "jetstream://"+closedPort(t)+"/S/s")
}

// A message the handler refuses with a *Rejected is settled as no CloudEvent (terminated, not
// redelivered), and receiving goes on; with Undecoded a structured message comes as its bytes.
func TestJetStreamRejectedByHandlerIsTerminated(t *testing.T) {
	base := startNATS(t)
	url, _, _ := jsURL(base)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	got := make(chan Delivery, 10)
	ready := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		so := SubscribeOptions{Timeout: 10 * time.Second, Undecoded: true, Ready: func() { close(ready) }}
		done <- Subscribe(ctx, url, so, func(_ context.Context, d Delivery) error {
			got <- d
			if strings.Contains(string(d.Raw), `"id":"json-1"`) {
				return &Rejected{Reason: "refused"}
			}
			return nil
		})
	}()
	select {
	case <-ready:
	case err := <-done:
		t.Fatal(err)
	}
	nc, err := nats.Connect(base)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	terminated, err := nc.SubscribeSync("$JS.EVENT.ADVISORY.CONSUMER.MSG_TERMINATED.>")
	if err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	tg := open(t, url)
	send(t, tg, binding.Structured, testEvents(t)[0])
	d := <-got
	if d.Err != nil || d.Mode != binding.Structured || d.Event.Context != nil || !strings.Contains(string(d.Raw), `"id":"json-1"`) {
		t.Fatalf("undecoded delivery: %+v", d)
	}
	send(t, tg, binding.Structured, testEvents(t)[1])
	if d := <-got; !strings.Contains(string(d.Raw), `"id":"bin-1"`) {
		t.Fatalf("next: %s", d.Raw)
	}
	if _, err := terminated.NextMsg(10 * time.Second); err != nil {
		t.Fatalf("no termination advisory for the refused message: %v", err)
	}
	if _, err := terminated.NextMsg(200 * time.Millisecond); err == nil {
		t.Fatal("the accepted message was terminated too")
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// Acknowledgements go in groups where the consumer's policy is "all" (always for the
// ephemeral consumers listen makes), but only ever for handled messages: the handled ones are
// acknowledged soon (within ackDelay) and when the subscription ends; the one the handler
// failed on is not.
func TestJetStreamGroupedAcksCoverOnlyHandledMessages(t *testing.T) {
	base := startNATS(t)
	url, stream, subject := jsURL(base)
	tg := open(t, url)
	ev := testEvents(t)[0]
	publish := func(from, to int) {
		for i := from; i <= to; i++ {
			e := ev.Clone()
			e.SetID(strconv.Itoa(i))
			if res := tg.Send(context.Background(), binding.Structured, &e); !res.ACK {
				t.Errorf("send %d: %v", i, res.Err)
			}
		}
	}
	nc, err := nats.Connect(base)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := nc.JetStream()
	publish(1, 100)
	if _, err := js.AddConsumer(stream, &nats.ConsumerConfig{Durable: "grouped", DeliverSubject: nats.NewInbox(),
		DeliverPolicy: nats.DeliverAllPolicy, AckPolicy: nats.AckAllPolicy, FilterSubject: subject, AckWait: 5 * time.Second}); err != nil {
		t.Fatal(err)
	}

	for _, durable := range []string{"", "grouped"} {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		ready := make(chan struct{})
		done := make(chan error, 1)
		consumer := make(chan string, 1)
		handled := 0
		so := SubscribeOptions{Timeout: 10 * time.Second, Durable: durable, Ready: func() { close(ready) }}
		if durable == "" {
			so.Start = "all"
		}
		go func() {
			done <- Subscribe(ctx, url, so, func(_ context.Context, d Delivery) error {
				n, _ := strconv.Atoi(d.Event.ID())
				if n != handled+1 {
					t.Errorf("%q: got message %d after %d", durable, n, handled)
				}
				if n == 100 {
					consumer <- d.Metadata()["consumer"]
				}
				if n == 103 {
					return errors.New("the record is full")
				}
				handled = n
				return nil
			})
		}()
		<-ready
		name := <-consumer
		// Everything handled so far is acknowledged within ackDelay, while listening.
		deadline := time.Now().Add(5 * time.Second)
		for {
			ci, err := js.ConsumerInfo(stream, name)
			if err != nil {
				t.Fatal(err)
			}
			if ci.Config.AckPolicy != nats.AckAllPolicy {
				t.Fatalf("%q: consumer %s has ack policy %s, want all", durable, name, ci.Config.AckPolicy)
			}
			if ci.AckFloor.Stream >= 100 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%q: ack floor %d after handling 100 messages", durable, ci.AckFloor.Stream)
			}
			time.Sleep(10 * time.Millisecond)
		}
		if durable == "" {
			publish(101, 105)
		}
		if err := <-done; err == nil || err.Error() != "the record is full" {
			t.Fatalf("%q: Subscribe returned %v", durable, err)
		}
		if durable == "" {
			continue // the ephemeral consumer went with its subscription
		}
		ci, err := js.ConsumerInfo(stream, name)
		if err != nil {
			t.Fatal(err)
		}
		if ci.AckFloor.Stream != 102 {
			t.Fatalf("after the failure: ack floor %d, want 102 (103 was not handled)", ci.AckFloor.Stream)
		}
	}
}

// A single send whose PubAck does not come ends with its context (Ctrl-C), not after the
// JetStream wait, here the 30 s timeout. The server is core NATS with a stand-in for the
// stream lookup and a subscriber that takes the event and never answers.
func TestJetStreamSendEndsWithContext(t *testing.T) {
	base := runNATS(t, &natsserver.Options{})
	nc, err := nats.Connect(base)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	info := `{"type":"io.nats.jetstream.api.v1.stream_info_response","config":{"name":"HUSH","subjects":["hush.x"]},"state":{}}`
	if _, err := nc.Subscribe("$JS.API.STREAM.INFO.HUSH", func(m *nats.Msg) { _ = m.Respond([]byte(info)) }); err != nil {
		t.Fatal(err)
	}
	taken := make(chan struct{}, 1)
	if _, err := nc.Subscribe("hush.x", func(*nats.Msg) { taken <- struct{}{} }); err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	tg, err := Open(strings.Replace(base, "nats://", "jetstream://", 1)+"/HUSH/hush.x", Options{Timeout: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer tg.Close()
	sendCanceledWhen(t, tg, binding.Structured, taken)
}

// Start keywords are case-insensitive, as every enum value cectl takes; values are not.
func TestJetStreamStartKeywordsIgnoreCase(t *testing.T) {
	for start, want := range map[string]nats.DeliverPolicy{
		"ALL": nats.DeliverAllPolicy, "Last": nats.DeliverLastPolicy, "New": nats.DeliverNewPolicy,
		"SEQ:5": nats.DeliverByStartSequencePolicy, "Time:2026-11-25T10:00:00Z": nats.DeliverByStartTimePolicy,
	} {
		cfg, err := jsDeliverPolicy("jetstream://h/s", start)
		if err != nil {
			t.Errorf("start=%q: %v", start, err)
			continue
		}
		if cfg.DeliverPolicy != want {
			t.Errorf("start=%q: policy %v, want %v", start, cfg.DeliverPolicy, want)
		}
	}
	if _, err := jsDeliverPolicy("jetstream://h/s", "SEQ:x"); err == nil {
		t.Error("start=SEQ:x was accepted")
	}
}
