package client

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/cectl/cectl/internal/binding"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
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

// A transactional producer ends each transaction with a commit marker, a control record that
// takes an offset of its own but is never delivered: the end is reached when the consumer's
// position passes it, not on a record at the offset before the high watermark.
func TestUntilEndKafkaTransactional(t *testing.T) {
	for _, s := range servers(t, startKafka, "CECTL_TEST_KAFKA_URL") {
		t.Run(s.name, func(t *testing.T) {
			topic := uniq("cectl-end-txn")
			addr := strings.TrimPrefix(s.base, "kafka://")
			produceTxn(t, addr, topic, kgo.TryCommit, "t-0", "t-1", "t-2")
			if ids := readToEnd(t, s.base+"/"+topic, SubscribeOptions{}); strings.Join(ids, " ") != "t-0 t-1 t-2" {
				t.Fatalf("read %v, want t-0 t-1 t-2", ids)
			}
		})
	}
}

// Compaction leaves gaps: here an aborted transaction's record is removed and its abort
// marker, a control record, holds the last offset before the end.
func TestUntilEndKafkaCompactedGap(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	topic := "compacted"
	if err := c.CreateTopic(topic, 1, map[string]string{"cleanup.policy": "compact"}); err != nil {
		t.Fatal(err)
	}
	addr := c.ListenAddrs()[0]
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.DefaultProduceTopic(topic))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if err := cl.ProduceSync(context.Background(), structuredRecord("kept")).FirstErr(); err != nil {
		t.Fatal(err)
	}
	produceTxn(t, addr, topic, kgo.TryAbort, "aborted")
	c.Compact()
	if ids := readToEnd(t, "kafka://"+addr+"/"+topic, SubscribeOptions{}); strings.Join(ids, " ") != "kept" {
		t.Fatalf("read %v, want kept", ids)
	}
}

// produceTxn writes one structured event per id to partition 0 of topic in one transaction,
// committed or aborted.
func produceTxn(t *testing.T, addr, topic string, end kgo.TransactionEndTry, ids ...string) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.DefaultProduceTopic(topic), kgo.AllowAutoTopicCreation(),
		kgo.TransactionalID(uniq("cectl-txn")), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := cl.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	for _, id := range ids {
		if err := cl.ProduceSync(ctx, structuredRecord(id)).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	if err := cl.EndTransaction(ctx, end); err != nil {
		t.Fatal(err)
	}
}

func structuredRecord(id string) *kgo.Record {
	return &kgo.Record{Partition: 0, Key: []byte(id),
		Value:   []byte(`{"specversion":"1.0","id":"` + id + `","source":"/t","type":"com.example.t"}`),
		Headers: []kgo.RecordHeader{{Key: "content-type", Value: []byte("application/cloudevents+json")}}}
}
