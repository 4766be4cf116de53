package client

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cectl/cectl/internal/binding"
	"github.com/cectl/cectl/internal/ce"
	natsserver "github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
)

func TestNATSRoundTrip(t *testing.T) {
	for _, s := range servers(t, startNATS, "CECTL_TEST_NATS_URL") {
		t.Run(s.name, func(t *testing.T) {
			url := s.base + "/" + uniq("cectl.test.rt")
			roundTrip(t, url, url, []binding.Mode{binding.Binary, binding.Structured}, SubscribeOptions{})
		})
	}
}

// An ACK over core NATS means the server has read the message, also when concurrent sends
// share one flush: after each ACK at least as many messages as were acknowledged so far have
// gone to the server. They are counted by a proxy on the way: the PONG that confirms them
// answers a PING that the proxy passed on after them. (The server's own message count is
// updated after the PONG may have left.)
func TestNATSSharedFlushConfirmsEveryPublish(t *testing.T) {
	base := runNATS(t, &natsserver.Options{})
	var passed atomic.Uint64
	tg := open(t, "nats://"+natsPubCounter(t, strings.TrimPrefix(base, "nats://"), &passed)+"/cectl.test.flush")
	e := testEvents(t)[0]
	var acked atomic.Uint64
	var wg sync.WaitGroup
	for range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 20 {
				res := tg.Send(context.Background(), binding.Structured, e)
				if !res.ACK {
					t.Errorf("send: %v", res.Err)
					return
				}
				k := acked.Add(1)
				if n := passed.Load(); n < k {
					t.Errorf("%d messages acknowledged, %d gone to the server", k, n)
					return
				}
			}
		}()
	}
	wg.Wait()
}

// natsPubCounter relays connections to the NATS server at target, counting in passed each
// PUB or HPUB message it has passed on to the server, and returns its address.
func natsPubCounter(t *testing.T, target string, passed *atomic.Uint64) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return serveRelay(t, l, target, func(c, srv net.Conn) {
		go func() { _, _ = io.Copy(c, srv) }()
		r := bufio.NewReader(c)
		for {
			line, err := r.ReadBytes('\n')
			if err != nil {
				return
			}
			f := strings.Fields(string(line))
			pub := len(f) >= 3 && (f[0] == "PUB" || f[0] == "HPUB")
			if pub {
				size, err := strconv.Atoi(f[len(f)-1])
				if err != nil {
					return
				}
				payload := make([]byte, size+2) // and its CRLF
				if _, err := io.ReadFull(r, payload); err != nil {
					return
				}
				line = append(line, payload...)
			}
			if _, err := srv.Write(line); err != nil {
				return
			}
			if pub {
				passed.Add(1)
			}
		}
	})
}

// The NATS binding is structured only (§3): the payload must be the JSON event format, with
// no binary-mode headers, whatever mode was asked for.
func TestNATSWireIsStructuredJSON(t *testing.T) {
	for _, s := range servers(t, startNATS, "CECTL_TEST_NATS_URL") {
		t.Run(s.name, func(t *testing.T) {
			subject := uniq("cectl.test.wire")
			nc, err := nats.Connect(s.base)
			if err != nil {
				t.Fatal(err)
			}
			defer nc.Close()
			sub, err := nc.SubscribeSync(subject)
			if err != nil {
				t.Fatal(err)
			}
			if err := nc.Flush(); err != nil {
				t.Fatal(err)
			}
			e := testEvents(t)[0]
			send(t, open(t, s.base+"/"+subject), binding.Binary, e)
			msg, err := sub.NextMsg(10 * time.Second)
			if err != nil {
				t.Fatal(err)
			}
			if len(msg.Header) != 0 {
				t.Errorf("headers %v on a NATS message", msg.Header)
			}
			if string(msg.Data) != string(ce.AppendJSON(nil, e)) {
				t.Errorf("payload\n%s\nwant\n%s", msg.Data, ce.AppendJSON(nil, e))
			}
		})
	}
}

func TestNATSRequestReply(t *testing.T) {
	for _, s := range servers(t, startNATS, "CECTL_TEST_NATS_URL") {
		t.Run(s.name, func(t *testing.T) {
			url := s.base + "/" + uniq("cectl.test.req")
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			ready := make(chan struct{})
			done := make(chan error, 1)
			go func() {
				done <- Subscribe(ctx, url, SubscribeOptions{Ready: func() { close(ready) }}, func(ctx context.Context, d Delivery) error {
					if d.Reply == nil {
						return errors.New("request without Reply")
					}
					r := d.Event.Clone()
					r.SetID("reply-to-" + d.Event.ID())
					r.SetType("com.example.reply")
					return d.Reply(ctx, &r, binding.Binary)
				})
			}()
			select {
			case <-ready:
			case err := <-done:
				t.Fatal(err)
			}
			tg := open(t, url)
			e := testEvents(t)[0]
			res, replies, mode, err := tg.Request(ctx, binding.Binary, e)
			if err != nil || !res.ACK {
				t.Fatalf("request: ack=%v err=%v resErr=%v", res.ACK, err, res.Err)
			}
			if len(replies) != 1 || replies[0].ID() != "reply-to-json-1" || replies[0].Type() != "com.example.reply" || mode != binding.Structured {
				t.Fatalf("replies %v in %s mode", replies, mode)
			}
			if string(replies[0].DataEncoded) != string(e.DataEncoded) {
				t.Errorf("reply data %q", replies[0].DataEncoded)
			}
			cancel()
			if err := <-done; err != nil {
				t.Errorf("subscribe: %v", err)
			}
		})
	}
}

func TestNATSRequestWithoutResponder(t *testing.T) {
	base := startNATS(t)
	tg := open(t, base+"/nobody.here")
	start := time.Now()
	res, replies, _, err := tg.Request(context.Background(), binding.Structured, testEvents(t)[0])
	if err != nil || res.Delivered || replies != nil || res.Err == nil || !strings.Contains(res.Err.Error(), "no responders") {
		t.Fatalf("request without responder: delivered=%v replies=%v err=%v resErr=%v", res.Delivered, replies, err, res.Err)
	}
	if time.Since(start) > 3*time.Second {
		t.Fatalf("took %s", time.Since(start))
	}
}

// A message that is not a CloudEvent is handed over with Err set, and the subscription goes
// on to the next message.
func TestNATSMalformed(t *testing.T) {
	base := startNATS(t)
	url := base + "/cectl.test.bad"
	l := listen(t, url, SubscribeOptions{})
	nc, err := nats.Connect(base)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	for _, p := range []string{`{"specversion":"1.0"`, `[]`, `{"specversion":"2.0","id":"1"}`, "\xff"} {
		if err := nc.Publish("cectl.test.bad", []byte(p)); err != nil {
			t.Fatal(err)
		}
		d := l.next(t)
		if d.Err == nil || string(d.Raw) != p {
			t.Fatalf("payload %q: err=%v raw=%q", p, d.Err, d.Raw)
		}
	}
	send(t, open(t, url), binding.Structured, testEvents(t)[0])
	if d := l.next(t); d.Err != nil || d.Event.ID() != "json-1" || d.Metadata()["subject"] != "cectl.test.bad" {
		t.Fatalf("good message after bad ones: %+v", d)
	}
}

// A message from a binary-mode sender (ce- headers, as sdk-go's JetStream sender writes)
// decodes too.
func TestNATSBinaryHeadersDecode(t *testing.T) {
	msg := &nats.Msg{Subject: "s", Header: nats.Header{
		"ce-specversion": {"1.0"}, "ce-id": {"7"}, "ce-source": {"/x"}, "ce-type": {"t"},
		"ce-myext": {"v"}, "content-type": {"text/plain"},
	}, Data: []byte("hi")}
	e, mode, err := decodeNATSMsg(msg, &decoder{})
	if err != nil || mode != binding.Binary || e.ID() != "7" || e.Extensions()["myext"] != "v" || e.DataContentType() != "text/plain" || string(e.DataEncoded) != "hi" {
		t.Fatalf("got %v %s %v", e, mode, err)
	}
}

func TestNATSBrokerDown(t *testing.T) {
	brokerDown(t, "nats://"+closedPort(t)+"/x")
}

func TestBrokerURLs(t *testing.T) {
	for _, tc := range []struct {
		url, err string
	}{
		{"nats://h/", "no subject"},
		{"nats://h/a.>", "wildcard"},
		{"nats://h/a..b", "empty token"},
		{"nats://h/a?qos=1", `unknown query parameter "qos"`},
		{"nats:///a", "no host"},
		{"jetstream://h/ORDERS", "STREAM/subject"},
		{"jetstream://h/OR.DERS/x", "stream name"},
		{"kafka://h/", "no topic"},
		{"kafka://h/bad topic", "not a Kafka topic"},
		{"mqtt://h/", "no topic"},
		{"mqtt://h/a/+/b", "topic filter"},
		{"mqtt://h/a?qos=3", "qos"},
		{"mqtt://h/a?retain=maybe", "retain"},
		{"amqp://h/", "no address"},
		{"amqp://h/q?tls=maybe", "tls"},
		{"amqp://h/q?ca=/does/not/exist", "ca"},
		{"ftp://h/q", "unsupported scheme"},
	} {
		_, err := Open(tc.url, Options{})
		var ue *UsageError
		if !errors.As(err, &ue) || !strings.Contains(err.Error(), tc.err) {
			t.Errorf("Open(%q) = %v, want a usage error about %q", tc.url, err, tc.err)
		}
	}
	for _, tc := range []struct{ url, addr string }{
		{"amqp://h/orders", "orders"},
		{"amqp://h/queue/orders", "/queue/orders"},
		{"amqp://h//queue/orders", "/queue/orders"},
		{"amqp://h/exchange/amq.topic/a.b", "/exchange/amq.topic/a.b"},
	} {
		tg, err := Open(tc.url, Options{})
		if err != nil {
			t.Fatal(err)
		}
		if got := tg.(*amqpTarget).address; got != tc.addr {
			t.Errorf("%s: address %q, want %q", tc.url, got, tc.addr)
		}
	}
}

func TestBrokerModes(t *testing.T) {
	for _, tc := range []struct {
		url       string
		in, out   binding.Mode
		wantError bool
	}{
		{"nats://h/s", binding.Binary, binding.Structured, false},
		{"nats://h/s", binding.Structured, binding.Structured, false},
		{"nats://h/s", binding.Batch, binding.Batch, true},
		{"jetstream://h/S/s", binding.Binary, binding.Structured, false},
		{"kafka://h/t", binding.Binary, binding.Binary, false},
		{"kafka://h/t", binding.Batch, binding.Batch, true},
		{"mqtt://h/t", binding.Structured, binding.Structured, false},
		{"amqp://h/q", binding.Batch, binding.Batch, true},
		{"http://h/", binding.Batch, binding.Batch, false},
	} {
		tg, err := Open(tc.url, Options{})
		if err != nil {
			t.Fatal(err)
		}
		got, err := tg.Transport().Mode(tc.in)
		if got != tc.out || (err != nil) != tc.wantError {
			t.Errorf("%s %s: got %s, %v", tc.url, tc.in, got, err)
		}
		if tc.wantError {
			res := tg.Send(context.Background(), tc.in, testEvents(t)[0])
			if res.Delivered || res.Err == nil {
				t.Errorf("%s %s: send went ahead", tc.url, tc.in)
			}
		}
	}
	tg, _ := Open("kafka://h/t", Options{})
	if res := tg.Send(context.Background(), binding.Binary, testEvents(t)...); res.Err == nil || !strings.Contains(res.Err.Error(), "one event") {
		t.Errorf("two events in one Kafka record: %v", res.Err)
	}
	for _, u := range []string{"kafka://h/t", "jetstream://h/S/s"} {
		tg, _ := Open(u, Options{})
		res, _, _, err := tg.Request(context.Background(), binding.Structured, testEvents(t)[0])
		var ue *UsageError
		if !errors.As(err, &ue) || !strings.Contains(err.Error(), "request is not available") || res.Err != err || res.Delivered {
			t.Errorf("%s: request: %v (result %+v)", u, err, res)
		}
		if err := tg.Transport().CheckRequest(); !errors.As(err, &ue) {
			t.Errorf("%s: CheckRequest = %v", u, err)
		}
	}
	for _, u := range []string{"nats://h/s", "http://h/", "mqtt://h/t", "amqp://h/q"} {
		tg, _ := Open(u, Options{})
		if err := tg.Transport().CheckRequest(); err != nil {
			t.Errorf("%s: CheckRequest = %v", u, err)
		}
	}
}

func TestSubjectWithin(t *testing.T) {
	for _, tc := range []struct {
		sub, filter string
		want        bool
	}{
		{"a.b", "a.b", true},
		{"a.b", "a.*", true},
		{"a.b.c", "a.*", false},
		{"a.b.c", "a.>", true},
		{"a", "a.>", false},
		{"a.*", "a.>", true},
		{"a.>", "a.*", false},
		{"a.>", "a.>", true},
		{"b.x", "a.*", false},
	} {
		if got := subjectWithin(tc.sub, tc.filter); got != tc.want {
			t.Errorf("subjectWithin(%q, %q) = %v", tc.sub, tc.filter, got)
		}
	}
}

// A handler's error ends the subscription with that error, and no message is handled after
// Subscribe returned.
func TestNATSHandlerErrorEndsSubscription(t *testing.T) {
	base := startNATS(t)
	url := base + "/" + uniq("cectl.test.stop")
	ready := make(chan struct{})
	done := make(chan error, 1)
	var calls atomic.Int32
	go func() {
		so := SubscribeOptions{Timeout: 10 * time.Second, Ready: func() { close(ready) }}
		done <- Subscribe(context.Background(), url, so, func(context.Context, Delivery) error {
			calls.Add(1)
			return errors.New("record full")
		})
	}()
	<-ready
	tg := open(t, url)
	for range 5 {
		send(t, tg, binding.Structured, testEvents(t)[0])
	}
	select {
	case err := <-done:
		if err == nil || err.Error() != "record full" {
			t.Fatalf("Subscribe returned %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the subscription did not end")
	}
	time.Sleep(100 * time.Millisecond)
	if n := calls.Load(); n != 1 {
		t.Fatalf("handled %d messages, want 1", n)
	}
}
