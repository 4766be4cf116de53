package client

import (
	"context"
	"maps"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/cectl/cectl/internal/binding"
	"github.com/cectl/cectl/internal/ce"
	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/rcrowley/go-metrics"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func TestKafkaRoundTrip(t *testing.T) {
	for _, s := range servers(t, startKafka, "CECTL_TEST_KAFKA_URL") {
		t.Run(s.name, func(t *testing.T) {
			url := s.base + "/" + uniq("cectl-rt")
			// Newest (the default) is only right if Ready is: the topic is empty until the
			// subscription is in place.
			roundTrip(t, url, url, []binding.Mode{binding.Binary, binding.Structured}, SubscribeOptions{})
		})
	}
}

// rawKafka reads a topic from the start with franz-go, a Kafka client of its own.
func rawKafka(t *testing.T, base, topic string, n int) []*kgo.Record {
	t.Helper()
	c, err := kgo.NewClient(kgo.SeedBrokers(strings.TrimPrefix(base, "kafka://")), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	var recs []*kgo.Record
	for len(recs) < n {
		f := c.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("read %d of %d records: %v", len(recs), n, err)
		}
		recs = append(recs, f.Records()...)
	}
	return recs
}

// Binary mode: ce_ headers and content-type (kafka binding §3.2); structured: the event
// format's content-type and nothing else (§3.3); the key is the partitionkey extension unless
// one is given (§3.1).
func TestKafkaWire(t *testing.T) {
	for _, s := range servers(t, startKafka, "CECTL_TEST_KAFKA_URL") {
		t.Run(s.name, func(t *testing.T) {
			topic := uniq("cectl-wire")
			e := testEvents(t)[0]
			res := send(t, open(t, s.base+"/"+topic), binding.Binary, e)
			if !strings.HasPrefix(res.Response.Status, "partition ") || !strings.Contains(res.Response.Status, " offset ") {
				t.Errorf("status %q", res.Response.Status)
			}
			send(t, open(t, s.base+"/"+topic), binding.Structured, e)
			tg, err := Open(s.base+"/"+topic+"?key=from-url", Options{Key: "from-options"})
			if err != nil {
				t.Fatal(err)
			}
			defer tg.Close()
			send(t, tg, binding.Binary, e)
			recs := rawKafka(t, s.base, topic, 3)
			byKey := map[string][]*kgo.Record{}
			for _, r := range recs {
				byKey[string(r.Key)] = append(byKey[string(r.Key)], r)
			}
			if len(byKey["customer-7"]) != 2 || len(byKey["from-options"]) != 1 {
				t.Fatalf("keys: %v", byKey)
			}
			for _, r := range byKey["customer-7"] {
				h := map[string]string{}
				for _, kv := range r.Headers {
					h[kv.Key] = string(kv.Value)
				}
				if h["content-type"] == "application/cloudevents+json" {
					if len(h) != 1 || string(r.Value) != string(ce.AppendJSON(nil, e)) {
						t.Errorf("structured record: headers %v value %s", h, r.Value)
					}
					continue
				}
				want := map[string]string{
					"ce_specversion": "1.0", "ce_id": "json-1", "ce_source": "/cectl/test",
					"ce_type": "com.example.broker.test", "ce_subject": "orders/42",
					"ce_time": "2026-01-02T03:04:05.123Z", "ce_region": "eu west", "ce_priority": "5",
					"ce_urgent": "true", "ce_partitionkey": "customer-7", "content-type": "application/json",
				}
				if len(h) != len(want) {
					t.Errorf("binary headers %v", h)
				}
				for k, v := range want {
					if h[k] != v {
						t.Errorf("header %s = %q, want %q", k, h[k], v)
					}
				}
				if string(r.Value) != string(e.DataEncoded) {
					t.Errorf("value %q", r.Value)
				}
			}
		})
	}
}

// With a group, offsets are committed only for handled records: a new subscription of the
// group resumes after them. Records that are not CloudEvents arrive with Err set.
func TestKafkaGroupResumes(t *testing.T) {
	base := startKafka(t)
	topic := "cectl-group"
	url := base + "/" + topic
	tg := open(t, url)
	ev := testEvents(t)[0]
	for _, id := range []string{"a", "b"} {
		e := ev.Clone()
		e.SetID(id)
		send(t, tg, binding.Structured, &e)
	}
	prod, err := kgo.NewClient(kgo.SeedBrokers(strings.TrimPrefix(base, "kafka://")))
	if err != nil {
		t.Fatal(err)
	}
	defer prod.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := prod.ProduceSync(ctx, &kgo.Record{Topic: topic, Value: []byte("plain text"), Headers: []kgo.RecordHeader{{Key: "content-type", Value: []byte("text/plain")}}}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	l := listen(t, url, SubscribeOptions{Group: "g1", Start: "oldest"})
	seen := map[string]bool{}
	for range 3 {
		d := l.next(t)
		switch {
		case d.Err != nil:
			if string(d.Raw) != "plain text" || d.Metadata()["header:content-type"] != "text/plain" {
				t.Errorf("malformed record: %+v", d)
			}
			seen["bad"] = true
		default:
			seen[d.Event.ID()] = true
			if d.Metadata()["topic"] != topic || d.Metadata()["offset"] == "" || d.Metadata()["key"] != "customer-7" {
				t.Errorf("meta %v", d.Metadata())
			}
			if _, ok := d.Event.Extensions()["kafkaoffset"]; ok {
				t.Errorf("kafka metadata leaked into the event: %v", d.Event.Extensions())
			}
		}
	}
	if !seen["a"] || !seen["b"] || !seen["bad"] {
		t.Fatalf("seen %v", seen)
	}
	l.close(t)
	e := ev.Clone()
	e.SetID("c")
	send(t, tg, binding.Structured, &e)
	l = listen(t, url, SubscribeOptions{Group: "g1", Start: "oldest"})
	if d := l.next(t); d.Event.ID() != "c" {
		t.Fatalf("group resumed at %q (err %v), want c", d.Event.ID(), d.Err)
	}
}

func TestKafkaBrokerDown(t *testing.T) {
	brokerDown(t, "kafka://"+closedPort(t)+"/x")
}

// A prepared event's copy is the record Send would produce for the event with that id and
// time, in both modes, also when the event had no time.
func TestKafkaPreparedCopies(t *testing.T) {
	tg := open(t, "kafka://127.0.0.1:1/topic?key=k")
	ctx := context.Background()
	noTime := testEvents(t)[1]
	noTime.SetTime(time.Time{})
	tm := time.Date(2026, 12, 2, 6, 30, 1, 500, time.FixedZone("CET", 3600))
	for _, mode := range []binding.Mode{binding.Binary, binding.Structured} {
		for _, e := range []*event.Event{testEvents(t)[0], noTime} {
			tpl, err := tg.Prepare(ctx, mode, e)
			if err != nil {
				t.Fatal(err)
			}
			if (tpl.(*kafkaSender).json != nil) != (mode == binding.Structured && e != noTime) {
				t.Errorf("%s %s: JSON template %v", mode, e.ID(), tpl.(*kafkaSender).json != nil)
			}
			for _, c := range []struct {
				id string
				tm time.Time
			}{{"copy-1", tm}, {"", tm}, {"copy-2", time.Time{}}} {
				got, err := tpl.(*kafkaSender).copyRecord(ctx, c.id, c.tm)
				if err != nil {
					t.Fatal(err)
				}
				want := e.Clone()
				if c.id != "" {
					want.SetID(c.id)
				}
				if !c.tm.IsZero() {
					want.SetTime(c.tm.UTC())
				}
				wpm, err := tg.(*kafkaTarget).record(ctx, mode, []*event.Event{&want})
				if err != nil {
					t.Fatal(err)
				}
				headers := func(pm *sarama.ProducerMessage) map[string]string {
					h := map[string]string{}
					for _, kv := range pm.Headers {
						h[string(kv.Key)] = string(kv.Value)
					}
					return h
				}
				if g, w := headers(got), headers(wpm); !maps.Equal(g, w) {
					t.Errorf("%s %s %+v: headers\n%v\nwant\n%v", mode, e.ID(), c, g, w)
				}
				gv, _ := got.Value.Encode()
				wv, _ := wpm.Value.Encode()
				gk, _ := got.Key.Encode()
				wk, _ := wpm.Key.Encode()
				if string(gv) != string(wv) || string(gk) != string(wk) || got.Topic != wpm.Topic {
					t.Errorf("%s %s %+v: record %q %q %s, want %q %q %s", mode, e.ID(), c, gk, gv, got.Topic, wk, wv, wpm.Topic)
				}
			}
			if mode != binding.Binary {
				continue
			}
			// The copies do not share what they change.
			a, b := tpl.(*kafkaSender).record("a", tm), tpl.(*kafkaSender).record("b", tm)
			if recordHeader(a, "ce_id") != "a" || recordHeader(b, "ce_id") != "b" || recordHeader(tpl.(*kafkaSender).pm, "ce_id") != e.ID() {
				t.Errorf("copies share headers: %q %q", recordHeader(a, "ce_id"), recordHeader(b, "ce_id"))
			}
		}
	}
}

func recordHeader(pm *sarama.ProducerMessage, key string) string {
	for _, h := range pm.Headers {
		if string(h.Key) == key {
			return string(h.Value)
		}
	}
	return ""
}

// A single send whose produce request the broker holds ends with its context (Ctrl-C), not
// after the producer's timeouts and retries.
func TestKafkaSendEndsWithContext(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.AllowAutoTopicCreation())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	held, release := make(chan struct{}, 1), make(chan struct{})
	c.ControlKey(int16(kmsg.Produce), func(kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		select {
		case held <- struct{}{}:
		default:
		}
		c.SleepControl(func() { <-release })
		return nil, nil, false
	})
	tg, err := Open("kafka://"+c.ListenAddrs()[0]+"/held", Options{Timeout: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	sendCanceledWhen(t, tg, binding.Binary, held)
	close(release)
	tg.Close()
}

// Sarama's metrics are off for cectl's clients without switching them off for the process.
func TestKafkaMetricsOffPerClient(t *testing.T) {
	u, _ := url.Parse("kafka://h/t")
	ep, _, err := parseKafka(&kafkaTransport, u.String(), u)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := kafkaConfig(ep, 0, false)
	if err != nil {
		t.Fatal(err)
	}
	r := cfg.MetricRegistry
	if _, ok := metrics.GetOrRegisterMeter("m", r).(metrics.NilMeter); !ok {
		t.Error("meter records")
	}
	if _, ok := metrics.GetOrRegisterCounter("c", r).(metrics.NilCounter); !ok {
		t.Error("counter records")
	}
	if _, ok := metrics.GetOrRegisterHistogram("h", r, metrics.NewUniformSample(10)).(metrics.NilHistogram); !ok {
		t.Error("histogram records")
	}
	if _, ok := metrics.GetOrRegisterGauge("g", r).(metrics.NilGauge); !ok {
		t.Error("gauge records")
	}
	if metrics.UseNilMetrics {
		t.Error("go-metrics switched off for the whole process")
	}
	if m := metrics.NewMeter(); m == (metrics.NilMeter{}) {
		t.Error("metrics outside cectl's Kafka clients record nothing")
	} else {
		m.Stop()
	}
}
