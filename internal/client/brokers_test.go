package client

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"maps"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cectl/cectl/internal/binding"
	"github.com/cectl/cectl/internal/ce"
	"github.com/cloudevents/sdk-go/v2/event"
	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/hooks/auth"
	"github.com/mochi-mqtt/server/v2/listeners"
	natsserver "github.com/nats-io/nats-server/v2/server"
	"github.com/twmb/franz-go/pkg/kfake"
)

// The broker tests run against brokers embedded in the test process, so that they pass on a
// machine with none. When CECTL_TEST_NATS_URL, CECTL_TEST_MQTT_URL, CECTL_TEST_AMQP_URL or
// CECTL_TEST_KAFKA_URL name a real broker (a URL without path, e.g. nats://127.0.0.1:4222 or
// amqp://guest:guest@127.0.0.1:5672), the same tests also run against it as a further
// subtest; without the variable that subtest does not exist. No AMQP 1.0 broker can be
// embedded, so the AMQP tests run against a small one of their own (amqpbroker_test.go).

// server is one broker to run a test against: its base URL without path.
type server struct {
	name string
	base string
}

func startNATS(t *testing.T) string {
	t.Helper()
	return runNATS(t, &natsserver.Options{JetStream: true, StoreDir: t.TempDir()})
}

// runNATS starts an embedded NATS server with opts on a free loopback port and returns its
// nats:// URL.
func runNATS(t *testing.T, opts *natsserver.Options) string {
	t.Helper()
	opts.Host, opts.Port, opts.NoLog, opts.NoSigs = "127.0.0.1", -1, true, true
	s, err := natsserver.NewServer(opts)
	if err != nil {
		t.Fatalf("nats server: %v", err)
	}
	go s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats server did not start")
	}
	t.Cleanup(func() {
		s.Shutdown()
		s.WaitForShutdown()
	})
	return "nats://" + s.Addr().String()
}

func startMQTT(t *testing.T) string {
	t.Helper()
	return "mqtt://" + runMQTT(t, nil)
}

// runMQTT starts an embedded MQTT broker on a free loopback port, speaking TLS when tc is
// set, and returns its address.
func runMQTT(t *testing.T, tc *tls.Config) string {
	t.Helper()
	s := mqtt.New(&mqtt.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err := s.AddHook(new(auth.AllowHook), nil); err != nil {
		t.Fatal(err)
	}
	l := listeners.NewTCP(listeners.Config{ID: "tcp", Address: "127.0.0.1:0", TLSConfig: tc})
	if err := s.AddListener(l); err != nil {
		t.Fatal(err)
	}
	go func() { _ = s.Serve() }()
	t.Cleanup(func() { s.Close() })
	return l.Address()
}

func startKafka(t *testing.T) string {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.AllowAutoTopicCreation(), kfake.DefaultNumPartitions(2))
	if err != nil {
		t.Fatalf("kfake: %v", err)
	}
	t.Cleanup(c.Close)
	return "kafka://" + c.ListenAddrs()[0]
}

// servers returns the embedded broker (when start is not nil) and the real one named by env.
func servers(t *testing.T, start func(*testing.T) string, env string) []server {
	var list []server
	if start != nil {
		list = append(list, server{name: "embedded", base: start(t)})
	}
	if u := os.Getenv(env); u != "" {
		list = append(list, server{name: "real", base: strings.TrimRight(u, "/")})
	}
	return list
}

// closedPort returns an address where nothing listens.
func closedPort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// uniq returns a name no earlier test run used, for topics and subjects on real brokers.
func uniq(prefix string) string {
	return prefix + strings.ReplaceAll(time.Now().Format("150405.000000000"), ".", "")
}

// testEvents are sent in every round trip: JSON data with typed extensions, and binary data
// that is not UTF-8.
func testEvents(t *testing.T) []*event.Event {
	t.Helper()
	mk := func(id, ct string, data []byte) *event.Event {
		e, err := ce.NewEvent(ce.V1)
		if err != nil {
			t.Fatal(err)
		}
		for name, v := range map[string]string{
			"id": id, "source": "/cectl/test", "type": "com.example.broker.test",
			"subject": "orders/42", "time": "2026-01-02T03:04:05.123Z", "datacontenttype": ct,
		} {
			if err := ce.SetAttribute(&e, name, v); err != nil {
				t.Fatal(err)
			}
		}
		for name, v := range map[string]any{"region": "eu west", "priority": 5, "urgent": true, "partitionkey": "customer-7"} {
			if err := ce.SetExtension(&e, name, v); err != nil {
				t.Fatal(err)
			}
		}
		e.DataEncoded = data
		if !ce.IsJSONContentType(ct) {
			e.DataBase64 = true
		}
		return &e
	}
	return []*event.Event{
		mk("json-1", "application/json", []byte(`{"order":42,"note":"caf\u00e9"}`)),
		mk("bin-1", "application/octet-stream", []byte{0, 1, 2, 0xff, 0xfe, '\n'}),
	}
}

// sameEvent fails unless got has the attributes (in canonical string form, spec v1.0.2
// §3.1.1: binary headers carry every extension as a string) and data of want.
func sameEvent(t *testing.T, want *event.Event, got *event.Event) {
	t.Helper()
	wa, ga := ce.Attributes(want), ce.Attributes(got)
	if len(wa) != len(ga) {
		t.Fatalf("attributes: got %v, want %v", ga, wa)
	}
	for i := range wa {
		if wa[i].Name != ga[i].Name || wa[i].Value != ga[i].Value {
			t.Fatalf("attribute %d: got %s=%q, want %s=%q", i, ga[i].Name, ga[i].Value, wa[i].Name, wa[i].Value)
		}
	}
	if !bytes.Equal(want.DataEncoded, got.DataEncoded) {
		t.Fatalf("data: got %q, want %q", got.DataEncoded, want.DataEncoded)
	}
}

// listener runs Subscribe in the background and collects deliveries.
type listener struct {
	got  chan Delivery
	done chan error
	stop context.CancelFunc
	once sync.Once
}

func listen(t *testing.T, url string, so SubscribeOptions) *listener {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	l := &listener{got: make(chan Delivery, 100), done: make(chan error, 1), stop: cancel}
	ready := make(chan struct{})
	so.Ready = func() { close(ready) }
	if so.Timeout == 0 {
		so.Timeout = 10 * time.Second
	}
	go func() {
		l.done <- Subscribe(ctx, url, so, func(ctx context.Context, d Delivery) error {
			l.got <- d
			return nil
		})
	}()
	select {
	case <-ready:
	case err := <-l.done:
		cancel()
		t.Fatalf("subscribe %s: %v", url, err)
	case <-time.After(20 * time.Second):
		cancel()
		t.Fatalf("subscribe %s: not ready after 20s", url)
	}
	t.Cleanup(func() { l.close(t) })
	return l
}

func (l *listener) next(t *testing.T) Delivery {
	t.Helper()
	select {
	case d := <-l.got:
		return d
	case err := <-l.done:
		t.Fatalf("subscription ended: %v", err)
	case <-time.After(20 * time.Second):
		t.Fatal("no message within 20s")
	}
	return Delivery{}
}

// close stops the subscription and checks that it ended cleanly.
func (l *listener) close(t *testing.T) {
	t.Helper()
	l.once.Do(func() {
		l.stop()
		select {
		case err := <-l.done:
			if err != nil {
				t.Errorf("subscription ended with %v", err)
			}
		case <-time.After(20 * time.Second):
			t.Error("subscription did not end within 20s of cancel")
		}
	})
}

func open(t *testing.T, url string) Target {
	t.Helper()
	tg, err := Open(url, Options{Timeout: 10 * time.Second})
	if err != nil {
		t.Fatalf("open %s: %v", url, err)
	}
	t.Cleanup(func() { tg.Close() })
	return tg
}

func send(t *testing.T, tg Target, mode binding.Mode, e *event.Event) Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	res := tg.Send(ctx, mode, e)
	if !res.ACK {
		t.Fatalf("send %s to %s: delivered=%v err=%v", e.ID(), tg.URL(), res.Delivered, res.Err)
	}
	return res
}

// roundTrip sends every test event in each mode and checks what the subscription got.
func roundTrip(t *testing.T, sendURL, recvURL string, modes []binding.Mode, so SubscribeOptions) {
	t.Helper()
	l := listen(t, recvURL, so)
	tg := open(t, sendURL)
	for _, mode := range modes {
		for _, e := range testEvents(t) {
			send(t, tg, mode, e)
			d := l.next(t)
			if d.Err != nil {
				t.Fatalf("%s %s: decode: %v", mode, e.ID(), d.Err)
			}
			want, _ := tg.Transport().Mode(mode)
			if d.Mode != want {
				t.Errorf("%s %s: arrived in %s mode, want %s", mode, e.ID(), d.Mode, want)
			}
			sameEvent(t, e, &d.Event)
		}
	}
}

// brokerDown checks that a send to a port where nothing listens is not delivered, quickly.
func brokerDown(t *testing.T, url string) {
	t.Helper()
	tg, err := Open(url, Options{Timeout: 3 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer tg.Close()
	start := time.Now()
	res := tg.Send(context.Background(), binding.Structured, testEvents(t)[0])
	if res.Delivered || res.ACK || res.Err == nil {
		t.Fatalf("send to a closed port: delivered=%v ack=%v err=%v", res.Delivered, res.ACK, res.Err)
	}
	if d := time.Since(start); d > 4*time.Second {
		t.Fatalf("send to a closed port took %s", d)
	}
	if !strings.Contains(res.Err.Error(), "cannot connect") {
		t.Errorf("error %q does not say it cannot connect", res.Err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Second)
	defer cancel()
	if err := Subscribe(ctx, url, SubscribeOptions{Timeout: 3 * time.Second}, func(context.Context, Delivery) error { return nil }); err == nil || ctx.Err() != nil {
		t.Fatalf("subscribe to a closed port: err=%v after %s", err, time.Since(start))
	}
}

// Undecoded, a binary message comes as the string attributes it carried, with no event
// decoded, where the transport's values are strings (Kafka, MQTT); AMQP's typed values are
// decoded. A structured message comes as its JSON alone.
func TestSubscribeUndecoded(t *testing.T) {
	type tc struct {
		name, url string
		typed     bool
	}
	cases := []tc{
		{"kafka", startKafka(t) + "/" + uniq("cectl-undecoded"), false},
		{"mqtt", startMQTT(t) + "/cectl/test/undecoded", false},
	}
	for _, s := range amqpServers(t) {
		cases = append(cases, tc{"amqp " + s.name, s.base + "/queue/" + uniq("cectl-undecoded"), true})
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			l := listen(t, c.url, SubscribeOptions{Undecoded: true})
			tg := open(t, c.url)
			e := testEvents(t)[0]
			send(t, tg, binding.Binary, e)
			send(t, tg, binding.Structured, e)
			d := l.next(t)
			if d.Err != nil || d.Mode != binding.Binary {
				t.Fatalf("binary: %v %s", d.Err, d.Mode)
			}
			got := map[string]string{}
			types := map[string]ce.Type{}
			for _, a := range d.Attrs {
				got[a.Name] = a.Value
				types[a.Name] = a.Type
			}
			want := map[string]string{"specversion": "1.0", "id": "json-1", "source": "/cectl/test", "type": "com.example.broker.test",
				"subject": "orders/42", "time": "2026-01-02T03:04:05.123Z", "region": "eu west", "priority": "5", "urgent": "true",
				"partitionkey": "customer-7"}
			if d.Event.Context != nil || !maps.Equal(got, want) || d.ContentType != "application/json" || string(d.Raw) != string(e.DataEncoded) {
				t.Errorf("binary: event %v, attrs %v, content type %q, raw %q", d.Event, got, d.ContentType, d.Raw)
			}
			// AMQP carries typed values (amqp binding §3.1.3.2); they are handed over with
			// their type, the others as the strings they travelled as.
			if c.typed && (types["urgent"] != ce.Boolean || types["priority"] != ce.Integer || types["time"] != ce.String) {
				t.Errorf("typed values: %v", types)
			}
			if !c.typed && (types["urgent"] != ce.String || types["priority"] != ce.String) {
				t.Errorf("string values: %v", types)
			}
			d = l.next(t)
			if d.Err != nil || d.Mode != binding.Structured || d.Event.Context != nil || d.Attrs != nil || string(d.Raw) != string(ce.AppendJSON(nil, e)) {
				t.Errorf("structured: %v %s %v %q", d.Err, d.Mode, d.Attrs, d.Raw)
			}
		})
	}
}

// sendCanceledWhen sends an event with a context that is canceled once the broker has it
// (arrived), as a Ctrl-C would, and checks that Send then ends, not delivered, without
// waiting for an answer that does not come.
func sendCanceledWhen(t *testing.T, tg Target, mode binding.Mode, arrived <-chan struct{}) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { <-arrived; cancel() }()
	done := make(chan Result, 1)
	go func() { done <- tg.Send(ctx, mode, testEvents(t)[0]) }()
	select {
	case res := <-done:
		if res.Delivered || !errors.Is(res.Err, context.Canceled) {
			t.Errorf("delivered=%v err=%v, want context.Canceled", res.Delivered, res.Err)
		}
	case <-time.After(15 * time.Second):
		t.Error("Send did not end with its context")
	}
}
