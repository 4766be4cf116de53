package client

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/cectl/cectl/internal/binding"
)

// readToEnd subscribes with UntilEnd and returns the ids handled; the subscription must end
// by itself.
func readToEnd(t *testing.T, url string, so SubscribeOptions) []string {
	t.Helper()
	so.UntilEnd = true
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var ids []string
	err := Subscribe(ctx, url, so, func(_ context.Context, d Delivery) error {
		ids = append(ids, d.Event.ID())
		return nil
	})
	if err != nil {
		t.Fatalf("Subscribe: %v", err)
	}
	if ctx.Err() != nil {
		t.Fatalf("the subscription did not end by itself (read %d)", len(ids))
	}
	return ids
}

func TestUntilEndKafkaEveryPartition(t *testing.T) {
	for _, s := range servers(t, startKafka, "CECTL_TEST_KAFKA_URL") { // embedded: two partitions a topic
		t.Run(s.name, func(t *testing.T) { untilEndKafka(t, s.base) })
	}
}

func untilEndKafka(t *testing.T, base string) {
	topic := uniq("cectl-end")
	e := testEvents(t)[0]
	for i := range 8 {
		tg := open(t, fmt.Sprintf("%s/%s?key=k%d", base, topic, i))
		e.SetID(fmt.Sprintf("e-%d", i))
		if res := send(t, tg, binding.Binary, e); !res.ACK {
			t.Fatalf("send: %+v", res)
		}
	}
	if ids := readToEnd(t, base+"/"+topic, SubscribeOptions{}); len(ids) != 8 {
		t.Fatalf("read %v, want 8 events", ids)
	}
	// From the newest offset there is nothing to read.
	if ids := readToEnd(t, base+"/"+topic, SubscribeOptions{Start: "newest"}); len(ids) != 0 {
		t.Fatalf("read %v from newest, want none", ids)
	}
}

func TestUntilEndJetStream(t *testing.T) {
	for _, s := range servers(t, startNATS, "CECTL_TEST_NATS_URL") {
		t.Run(s.name, func(t *testing.T) { untilEndJetStream(t, s.base) })
	}
}

func untilEndJetStream(t *testing.T, base string) {
	name := uniq("END")
	url := "jetstream://" + base[len("nats://"):] + "/" + name + "/" + strings.ToLower(name) + ".x"
	tg := open(t, url)
	e := testEvents(t)[0]
	for i := range 5 {
		e.SetID(fmt.Sprintf("j-%d", i))
		if res := send(t, tg, binding.Structured, e); !res.ACK {
			t.Fatalf("send: %+v", res)
		}
	}
	ids := readToEnd(t, url, SubscribeOptions{})
	if len(ids) != 5 || ids[0] != "j-0" || ids[4] != "j-4" {
		t.Fatalf("read %v, want j-0 … j-4", ids)
	}
	if ids := readToEnd(t, url+"?start=last", SubscribeOptions{}); len(ids) != 1 || ids[0] != "j-4" {
		t.Fatalf("read %v from the last, want j-4", ids)
	}
}

func TestUntilEndRefusedWithoutAnEnd(t *testing.T) {
	for _, url := range []string{"nats://127.0.0.1:1/x", "mqtt://127.0.0.1:1/x", "amqp://127.0.0.1:1/x"} {
		err := Subscribe(context.Background(), url, SubscribeOptions{UntilEnd: true}, func(context.Context, Delivery) error { return nil })
		var ue *UsageError
		if !errors.As(err, &ue) {
			t.Errorf("%s: %v, want a usage error", url, err)
		}
	}
}
