package client

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"
)

// A subscriber with MaxMessage tells an MQTT broker its Maximum Packet Size (MQTT 5.0
// §3.1.2.11.4), with room for the properties; the broker then never sends it a larger
// message, and the next one still comes.
func TestMQTTSubscriberSetsMaximumPacketSize(t *testing.T) {
	base, connects := startMQTTRecordingConnects(t)
	sub := listen(t, base+"/cectl/test/size", SubscribeOptions{MaxMessage: 1000})
	if got := (<-connects).MaximumPacketSize; got != 1000+messageHeadroom {
		t.Fatalf("the subscriber's CONNECT has Maximum Packet Size %d, want %d", got, 1000+messageHeadroom)
	}
	pub := rawPublisher(t, base)
	<-connects
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	doc := func(id, data string) []byte {
		return []byte(`{"specversion":"1.0","id":"` + id + `","source":"/s","type":"t","data":"` + data + `"}`)
	}
	props := &paho.PublishProperties{ContentType: "application/cloudevents+json"}
	for _, p := range []*paho.Publish{
		{Topic: "cectl/test/size", QoS: 1, Payload: doc("big", strings.Repeat("x", 2*messageHeadroom)), Properties: props},
		{Topic: "cectl/test/size", QoS: 1, Payload: doc("small", "x"), Properties: props},
	} {
		if _, err := pub.Publish(ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	if d := sub.next(t); d.Event.ID() != "small" {
		t.Fatalf("got %q (%d bytes), want the small message only", d.Event.ID(), len(d.Raw))
	}
	// Without a limit nothing is said.
	listen(t, base+"/cectl/test/nosize", SubscribeOptions{})
	if got := (<-connects).MaximumPacketSize; got != 0 {
		t.Errorf("Maximum Packet Size %d without a limit", got)
	}
}

// A subscriber with MaxMessage sets the receiving link's max-message-size (AMQP 1.0 §2.7.3),
// with room for the properties.
func TestAMQPSubscriberSetsMaxMessageSize(t *testing.T) {
	b, err := newAMQPBroker("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.close)
	base := "amqp://" + b.ln.Addr().String()
	listen(t, base+"/size", SubscribeOptions{MaxMessage: 1000}).close(t)
	listen(t, base+"/nosize", SubscribeOptions{}).close(t)
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.maxSizes) != 2 || b.maxSizes[0] != 1000+messageHeadroom || b.maxSizes[1] != 0 {
		t.Errorf("max-message-size asked: %v, want [%d 0]", b.maxSizes, 1000+messageHeadroom)
	}
}
