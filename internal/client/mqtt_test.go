package client

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cectl/cectl/internal/binding"
	"github.com/cectl/cectl/internal/ce"
	cemqtt "github.com/cloudevents/sdk-go/protocol/mqtt_paho/v2"
	sdkbinding "github.com/cloudevents/sdk-go/v2/binding"
	"github.com/eclipse/paho.golang/paho"
	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/hooks/auth"
	"github.com/mochi-mqtt/server/v2/listeners"
	mqttpackets "github.com/mochi-mqtt/server/v2/packets"
)

func TestMQTTRoundTrip(t *testing.T) {
	for _, s := range servers(t, startMQTT, "CECTL_TEST_MQTT_URL") {
		t.Run(s.name, func(t *testing.T) {
			for _, qos := range []string{"0", "1", "2"} {
				url := s.base + "/cectl/test/" + uniq("rt") + "?qos=" + qos
				roundTrip(t, url, url, []binding.Mode{binding.Binary, binding.Structured}, SubscribeOptions{})
			}
		})
	}
}

// rawMQTT subscribes with paho, the broker's own client, and returns what arrives.
func rawMQTT(t *testing.T, base, topic string) <-chan *paho.Publish {
	t.Helper()
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := net.Dial("tcp", u.Host)
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan *paho.Publish, 10)
	c := paho.NewClient(paho.ClientConfig{Conn: conn, OnPublishReceived: []func(paho.PublishReceived) (bool, error){
		func(pr paho.PublishReceived) (bool, error) { got <- pr.Packet; return true, nil },
	}})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := c.Connect(ctx, &paho.Connect{ClientID: uniq("raw"), CleanStart: true, KeepAlive: 30}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Disconnect(&paho.Disconnect{}) })
	if _, err := c.Subscribe(ctx, &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: topic, QoS: 1}}}); err != nil {
		t.Fatal(err)
	}
	return got
}

func nextRaw(t *testing.T, got <-chan *paho.Publish) *paho.Publish {
	t.Helper()
	select {
	case p := <-got:
		return p
	case <-time.After(10 * time.Second):
		t.Fatal("no raw MQTT message within 10s")
	}
	return nil
}

// Binary mode: datacontenttype is the Content Type property, every other attribute a user
// property named exactly as the attribute, without the "ce-" prefix sdk-go writes (mqtt
// binding §3.1.1, §3.1.3.1). Structured mode: the event format's media type (§3.2.1).
func TestMQTTWire(t *testing.T) {
	for _, s := range servers(t, startMQTT, "CECTL_TEST_MQTT_URL") {
		t.Run(s.name, func(t *testing.T) {
			topic := "cectl/test/" + uniq("wire")
			got := rawMQTT(t, s.base, topic)
			tg := open(t, s.base+"/"+topic)
			e := testEvents(t)[0]

			res := send(t, tg, binding.Binary, e)
			if !strings.HasPrefix(res.Response.Status, "PUBACK") {
				t.Errorf("status %q", res.Response.Status)
			}
			p := nextRaw(t, got)
			if p.Properties == nil || p.Properties.ContentType != "application/json" {
				t.Fatalf("content type: %+v", p.Properties)
			}
			props := map[string]string{}
			for _, up := range p.Properties.User {
				props[up.Key] = up.Value
			}
			want := map[string]string{
				"specversion": "1.0", "id": "json-1", "source": "/cectl/test", "type": "com.example.broker.test",
				"subject": "orders/42", "time": "2026-01-02T03:04:05.123Z", "region": "eu west",
				"priority": "5", "urgent": "true", "partitionkey": "customer-7",
			}
			if len(props) != len(want) {
				t.Errorf("user properties %v, want %v", props, want)
			}
			for k, v := range want {
				if props[k] != v {
					t.Errorf("user property %s = %q, want %q (all: %v)", k, props[k], v, props)
				}
			}
			if string(p.Payload) != string(e.DataEncoded) {
				t.Errorf("payload %q", p.Payload)
			}

			send(t, tg, binding.Structured, e)
			p = nextRaw(t, got)
			if p.Properties == nil || p.Properties.ContentType != "application/cloudevents+json" || len(p.Properties.User) != 0 {
				t.Fatalf("structured properties: %+v", p.Properties)
			}
			if string(p.Payload) != string(ce.AppendJSON(nil, e)) {
				t.Errorf("payload %s", p.Payload)
			}
		})
	}
}

// Messages that sdk-go's MQTT protocol sends ("ce-" user properties) are read too, and
// properties that cannot be attribute names are not taken for extensions.
func TestMQTTReadsSDKAndForeignProperties(t *testing.T) {
	base := startMQTT(t)
	topic := "cectl/test/sdk"
	l := listen(t, base+"/"+topic, SubscribeOptions{})
	u, _ := url.Parse(base)
	conn, err := net.Dial("tcp", u.Host)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	p, err := cemqtt.New(ctx, &paho.ClientConfig{Conn: conn, ClientID: "sdk-sender"},
		cemqtt.WithPublish(&paho.Publish{Topic: topic, QoS: 1}))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close(ctx)
	e := testEvents(t)[0]
	if err := p.Send(quiet(ctx), sdkbinding.ToMessage(e)); err != nil {
		t.Fatal(err)
	}
	d := l.next(t)
	if d.Err != nil || d.Mode != binding.Binary {
		t.Fatalf("sdk-go message: mode %s err %v", d.Mode, d.Err)
	}
	sameEvent(t, e, &d.Event)

	raw := rawPublisher(t, base)
	pub := &paho.Publish{Topic: topic, QoS: 1, Payload: []byte("x"), Properties: &paho.PublishProperties{
		ContentType: "text/plain",
		User: paho.UserProperties{
			{Key: "specversion", Value: "1.0"}, {Key: "id", Value: "1"}, {Key: "source", Value: "/s"},
			{Key: "type", Value: "t"}, {Key: "Trace-ID", Value: "abc"},
		},
	}}
	if _, err := raw.Publish(ctx, pub); err != nil {
		t.Fatal(err)
	}
	d = l.next(t)
	if d.Err != nil || d.Event.ID() != "1" || len(d.Event.Extensions()) != 0 || d.Metadata()["property:Trace-ID"] != "abc" {
		t.Fatalf("foreign property: %+v err %v", d.Event, d.Err)
	}

	pub = &paho.Publish{Topic: topic, QoS: 1, Payload: []byte("{not json"), Properties: &paho.PublishProperties{ContentType: "application/cloudevents+json"}}
	if _, err := raw.Publish(ctx, pub); err != nil {
		t.Fatal(err)
	}
	if d = l.next(t); d.Err == nil || d.Mode != binding.Structured {
		t.Fatalf("malformed structured message accepted: %+v", d)
	}
}

func rawPublisher(t *testing.T, base string) *paho.Client {
	t.Helper()
	u, _ := url.Parse(base)
	conn, err := net.Dial("tcp", u.Host)
	if err != nil {
		t.Fatal(err)
	}
	c := paho.NewClient(paho.ClientConfig{Conn: conn})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := c.Connect(ctx, &paho.Connect{ClientID: uniq("pub"), CleanStart: true, KeepAlive: 30}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Disconnect(&paho.Disconnect{}) })
	return c
}

// connectHook keeps the properties of every CONNECT the broker gets.
type connectHook struct {
	mqtt.HookBase
	got chan mqttpackets.Properties
}

func (h *connectHook) ID() string           { return "connect-recorder" }
func (h *connectHook) Provides(b byte) bool { return b == mqtt.OnConnect }
func (h *connectHook) OnConnect(_ *mqtt.Client, pk mqttpackets.Packet) error {
	h.got <- pk.Properties
	return nil
}

// startMQTTRecordingConnects starts an embedded broker that hands over the properties of
// every CONNECT it gets, and returns its URL.
func startMQTTRecordingConnects(t *testing.T) (string, <-chan mqttpackets.Properties) {
	t.Helper()
	s := mqtt.New(&mqtt.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	hook := &connectHook{got: make(chan mqttpackets.Properties, 4)}
	for _, h := range []mqtt.Hook{new(auth.AllowHook), hook} {
		if err := s.AddHook(h, nil); err != nil {
			t.Fatal(err)
		}
	}
	l := listeners.NewTCP(listeners.Config{ID: "tcp", Address: "127.0.0.1:0"})
	if err := s.AddListener(l); err != nil {
		t.Fatal(err)
	}
	go func() { _ = s.Serve() }()
	t.Cleanup(func() { s.Close() })
	return "mqtt://" + l.Address(), hook.got
}

// A subscriber asks for a wide receive window (MQTT 5.0 §3.1.2.11.3): without it Mosquitto
// keeps 20 messages in flight and drops QoS 1 messages once 1000 more wait for a listener that
// is behind.
func TestMQTTSubscriberAsksForAWideReceiveWindow(t *testing.T) {
	base, connects := startMQTTRecordingConnects(t)
	listen(t, base+"/cectl/test/window", SubscribeOptions{})
	if got := (<-connects).ReceiveMaximum; got < 1000 {
		t.Fatalf("the subscriber's CONNECT has Receive Maximum %d; want a window of at least 1000", got)
	}
}

func TestMQTTBrokerDown(t *testing.T) {
	brokerDown(t, "mqtt://"+closedPort(t)+"/x")
}

// countingConn counts the writes that reach the network.
type countingConn struct {
	net.Conn
	writes atomic.Int64
}

func (c *countingConn) Write(p []byte) (int, error) {
	c.writes.Add(1)
	return c.Conn.Write(p)
}

// paho writes the parts of a packet one by one while it holds the connection's lock: they
// must reach the network in one write, whole, and packets of concurrent writers must not
// interleave. What is buffered when the connection closes is written first.
func TestMQTTBufferedConnWritesWholePackets(t *testing.T) {
	a, b := net.Pipe()
	cc := &countingConn{Conn: a}
	c := newBufferedConn(cc)
	got := make(chan []byte, 1)
	go func() {
		all, _ := io.ReadAll(b)
		got <- all
	}()
	var locker sync.Locker = c // paho's packet writer looks for a sync.Locker
	locker.Lock()
	for _, part := range []string{"<", "a", ">"} {
		if _, err := c.Write([]byte(part)); err != nil {
			t.Fatal(err)
		}
	}
	locker.Unlock()
	if n := cc.writes.Load(); n != 1 {
		t.Errorf("one packet of three parts took %d writes", n)
	}
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 50 {
				c.Lock()
				c.Write([]byte{'<'})
				c.Write([]byte{byte('b' + i)})
				c.Write([]byte{'>'})
				c.Unlock()
			}
		}()
	}
	wg.Wait()
	c.Write([]byte("<z>")) // outside the lock: written too
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	all := <-got
	if len(all) != 3*(1+20*50+1) {
		t.Fatalf("%d bytes arrived, want %d", len(all), 3*(1+20*50+1))
	}
	for i := 0; i < len(all); i += 3 {
		if all[i] != '<' || all[i+2] != '>' {
			t.Fatalf("packets interleaved at byte %d: %q", i, all[i:i+3])
		}
	}
	if string(all[len(all)-3:]) != "<z>" {
		t.Errorf("the last write did not arrive last: %q", all[len(all)-3:])
	}
}

// A write that fails closes the connection, so that paho sees it lost; later writes fail.
func TestMQTTBufferedConnWriteError(t *testing.T) {
	a, b := net.Pipe()
	b.Close()
	c := newBufferedConn(a)
	c.Lock()
	c.Write([]byte("x"))
	c.Unlock()
	if _, err := c.Write([]byte("y")); err == nil {
		t.Fatal("a write after a failed one succeeded")
	}
	if _, err := a.Read(make([]byte, 1)); err == nil {
		t.Fatal("the connection is still open")
	}
}

// Close does not hang on a peer that stopped reading: the write it waits for is given up.
func TestMQTTBufferedConnCloseDoesNotHang(t *testing.T) {
	a, b := net.Pipe() // a write to a blocks until b reads, which it never does
	defer b.Close()
	c := newBufferedConn(a)
	go func() {
		c.Lock()
		c.Write([]byte("stuck"))
		c.Unlock()
	}()
	time.Sleep(50 * time.Millisecond)
	done := make(chan struct{})
	go func() {
		c.Close()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Close hung on a peer that does not read")
	}
}
