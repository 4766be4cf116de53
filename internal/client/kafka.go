package client

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/IBM/sarama"
	"github.com/cectl/cectl/internal/binding"
	"github.com/cectl/cectl/internal/ce"
	cekafka "github.com/cloudevents/sdk-go/protocol/kafka_sarama/v2"
	sdkbinding "github.com/cloudevents/sdk-go/v2/binding"
	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/rcrowley/go-metrics"
)

// Kafka carries events in binary mode (attributes in ce_ headers, datacontenttype in
// content-type, kafka binding §3.2) or structured mode (kafka binding §3.3).
//
// The record key is Options.Key or ?key=, else the partitionkey extension (kafka binding §3.1).
// User info in the URL logs in with SASL PLAIN.
//
// Records are written by sdk-go's producer-message writer and sent with a sarama sync producer
// we hold ourselves, to report the partition and offset. Key mapping is done here: with its
// key-mapping transformer on, sdk-go's writer decodes a structured event with its own JSON
// codec and re-encodes it in binary mode. Receiving uses a sarama consumer group directly:
// sdk-go's consumer drops the record key and timestamp and adds kafkatopic, kafkapartition
// and kafkaoffset extensions to every event, which would change the events shown.
var kafkaTransport = Transport{
	Name:      "Kafka",
	Schemes:   []Scheme{{"kafka", "9092"}},
	Form:      "kafka://[user:pass@]broker[:9092][,broker2...]/topic[?key=K&group=G&start=newest|oldest&tls=true&ca=FILE]",
	Modes:     []binding.Mode{binding.Binary, binding.Structured},
	NoRequest: "a produced record has no reply; use send, or nats:// for request/reply",
	UntilEnd:  true,
	open: func(tr *Transport, raw string, u *url.URL, opts Options) (Target, error) {
		return openKafka(tr, raw, u, opts)
	},
	subscribe: subscribeKafka,
}

var kafkaKeys = []string{"key", "group", "start"}

type kafkaTarget struct {
	base
	ep    endpoint
	topic string
	key   string
	opts  Options
	prod  lazy[*kafkaProducer]
}

type kafkaProducer struct {
	client sarama.Client
	sync   sarama.SyncProducer
}

func parseKafka(tr *Transport, raw string, u *url.URL) (endpoint, string, error) {
	ep, err := parseEndpoint(raw, u, tr.defaultPort(u.Scheme), true, kafkaKeys...)
	if err != nil {
		return ep, "", err
	}
	topic := ep.path
	if topic == "" {
		return ep, "", &UsageError{Err: fmt.Errorf("%q has no topic (want kafka://broker:9092/topic)", raw)}
	}
	if len(topic) > 249 || strings.IndexFunc(topic, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-')
	}) >= 0 {
		return ep, "", &UsageError{Err: fmt.Errorf("%q: %q is not a Kafka topic name (letters, digits, '.', '_', '-'; at most 249)", raw, topic)}
	}
	return ep, topic, nil
}

func openKafka(tr *Transport, raw string, u *url.URL, opts Options) (*kafkaTarget, error) {
	ep, topic, err := parseKafka(tr, raw, u)
	if err != nil {
		return nil, err
	}
	cfg, err := kafkaConfig(ep, opts.Timeout, opts.Insecure)
	if err != nil {
		return nil, err
	}
	t := &kafkaTarget{base: base{tr, raw}, ep: ep, topic: topic, key: firstNonEmpty(opts.Key, ep.q.Get("key")), opts: opts}
	t.prod.open = func(ctx context.Context) (*kafkaProducer, error) {
		c, err := kafkaClient(ctx, ep, cfg, topic)
		if err != nil {
			return nil, err
		}
		p, err := sarama.NewSyncProducerFromClient(c)
		if err != nil {
			c.Close()
			return nil, err
		}
		return &kafkaProducer{client: c, sync: p}, nil
	}
	t.prod.close = func(p *kafkaProducer) {
		p.sync.Close()
		p.client.Close()
	}
	return t, nil
}

func kafkaConfig(ep endpoint, timeout time.Duration, insecure bool) (*sarama.Config, error) {
	d := connectTimeout(timeout)
	cfg := sarama.NewConfig()
	// Sarama keeps go-metrics histograms and meters of every request, which nothing here
	// reads, for about a twentieth of the CPU of a load run or a listener. A registry that
	// hands out metrics that record nothing turns them off for this client alone, where
	// go-metrics' UseNilMetrics would for the whole process.
	cfg.MetricRegistry = nilRegistry{}
	cfg.ClientID = "cectl"
	cfg.Net.DialTimeout, cfg.Net.ReadTimeout, cfg.Net.WriteTimeout = d, d, d
	cfg.Metadata.Retry.Max = 1
	cfg.Metadata.Retry.Backoff = 100 * time.Millisecond
	cfg.Metadata.Full = false
	cfg.Producer.Return.Successes = true
	cfg.Producer.RequiredAcks = sarama.WaitForAll
	cfg.Producer.Timeout = d
	cfg.Producer.Retry.Max = 2
	if ui := ep.u.User; ui != nil {
		cfg.Net.SASL.Enable = true
		cfg.Net.SASL.Mechanism = sarama.SASLTypePlaintext
		cfg.Net.SASL.User = ui.Username()
		cfg.Net.SASL.Password = ep.password()
	}
	tc, err := ep.tlsConfig(insecure)
	if err != nil {
		return nil, err
	}
	if tc != nil {
		cfg.Net.TLS.Enable = true
		cfg.Net.TLS.Config = tc
	}
	return cfg, nil
}

// kafkaClient connects to the cluster, giving up when ctx ends even if sarama is still
// trying brokers.
func kafkaClient(ctx context.Context, ep endpoint, cfg *sarama.Config, topic string) (sarama.Client, error) {
	type result struct {
		c   sarama.Client
		err error
	}
	ch := make(chan result, 1)
	go func() {
		c, err := sarama.NewClient(ep.hosts, cfg)
		if err == nil {
			// sarama connects lazily; asking for the topic's metadata reaches a broker now.
			if err = c.RefreshMetadata(topic); err != nil {
				c.Close()
			}
		}
		ch <- result{c, err}
	}()
	select {
	case r := <-ch:
		if r.err != nil {
			return nil, dialError("Kafka", ep.hosts, r.err)
		}
		return r.c, nil
	case <-ctx.Done():
		go func() {
			if r := <-ch; r.err == nil {
				r.c.Close()
			}
		}()
		return nil, dialError("Kafka", ep.hosts, ctx.Err())
	}
}

func (t *kafkaTarget) Close() error { t.prod.shutdown(); return nil }

// Send produces one record and waits for the broker's acknowledgement from all in-sync
// replicas: ACK with the partition and offset, NACK when the broker answered with an error.
func (t *kafkaTarget) Send(ctx context.Context, mode binding.Mode, events ...*event.Event) Result {
	pm, err := t.record(ctx, mode, events)
	if err != nil {
		return Result{Err: err}
	}
	return t.produce(ctx, pm, true)
}

// produce sends a copy of pm as Send does. SendMessage takes no context: the producer's
// timeouts (Options.Timeout) bound it, for each of its retries. With interruptible, the
// wait ends with ctx too (a Ctrl-C), the record's fate then unknown; a load run spares
// itself the goroutine this takes, and waits at most that long for the records in flight.
func (t *kafkaTarget) produce(ctx context.Context, pm *sarama.ProducerMessage, interruptible bool) Result {
	return t.opts.retry(ctx, func(ctx context.Context) Result {
		p, err := t.prod.get(ctx)
		if err != nil {
			return notDelivered(err)
		}
		m := *pm
		var partition int32
		var offset int64
		if interruptible {
			type produced struct {
				partition int32
				offset    int64
				err       error
			}
			ch := make(chan produced, 1)
			go func() {
				var r produced
				r.partition, r.offset, r.err = p.sync.SendMessage(&m)
				ch <- r
			}()
			select {
			case r := <-ch:
				partition, offset, err = r.partition, r.offset, r.err
			case <-ctx.Done():
				return noResponse(fmt.Errorf("produce to %s: %w", t.topic, ctx.Err()))
			}
		} else {
			partition, offset, err = p.sync.SendMessage(&m)
		}
		if err != nil {
			var ke sarama.KError
			if errors.Is(err, sarama.ErrOutOfBrokers) {
				return notDelivered(dialError("Kafka", t.ep.hosts, err))
			}
			if errors.As(err, &ke) {
				return nack("Kafka", fmt.Errorf("produce to %s: %w", t.topic, ke))
			}
			return afterSend(fmt.Errorf("produce to %s: %w", t.topic, err))
		}
		b := make([]byte, 0, 40)
		b = strconv.AppendInt(append(b, "partition "...), int64(partition), 10)
		b = strconv.AppendInt(append(b, " offset "...), offset, 10)
		return ack("Kafka", string(b))
	}, brokerAgain)
}

// Prepare encodes the event once as Send would. In binary mode the id and time are header
// values of their own (ce_id, ce_time: kafka binding §3.2.3), and a copy changes only those;
// in structured mode the record value is the JSON event (kafka binding §3.3), and a copy
// writes its id and time into the text.
func (t *kafkaTarget) Prepare(ctx context.Context, mode binding.Mode, proto *event.Event) (Sender, error) {
	pm, err := t.record(ctx, mode, []*event.Event{proto})
	if err != nil {
		return nil, err
	}
	k := &kafkaSender{t: t, mode: mode, proto: proto, pm: pm, id: -1, time: -1}
	if mode == binding.Structured {
		k.json = newJSONTemplate(proto)
	}
	for i, h := range pm.Headers {
		switch string(h.Key) {
		case "ce_id":
			k.id = i
		case "ce_time":
			k.time = i
		}
	}
	return k, nil
}

type kafkaSender struct {
	t        *kafkaTarget
	mode     binding.Mode
	proto    *event.Event
	pm       *sarama.ProducerMessage
	id, time int           // the index of the ce_id and ce_time headers, -1 for none
	json     *jsonTemplate // a structured copy's value; nil to encode each
}

func (k *kafkaSender) Send(ctx context.Context) Result { return k.t.produce(ctx, k.pm, true) }

func (k *kafkaSender) SendCopy(ctx context.Context, id string, tm time.Time) Result {
	pm, err := k.copyRecord(ctx, id, tm)
	if err != nil {
		return Result{Err: err}
	}
	return k.t.produce(ctx, pm, false)
}

// copyRecord is the record of the copy with id and time in place of the event's.
func (k *kafkaSender) copyRecord(ctx context.Context, id string, tm time.Time) (*sarama.ProducerMessage, error) {
	if k.mode == binding.Binary {
		return k.record(id, tm), nil
	}
	if k.json != nil {
		if body, ok := k.json.event(id, tm); ok {
			m := *k.pm
			m.Value = sarama.ByteEncoder(body)
			return &m, nil
		}
	}
	return k.t.record(ctx, k.mode, []*event.Event{copyEvent(k.proto, id, tm)})
}

// record is the copy with id and time in place of the event's.
func (k *kafkaSender) record(id string, tm time.Time) *sarama.ProducerMessage {
	m := *k.pm
	m.Headers = slices.Clone(m.Headers)
	if id != "" && k.id >= 0 {
		m.Headers[k.id].Value = []byte(id)
	}
	if !tm.IsZero() {
		v := []byte(ce.FormatTime(tm.UTC()))
		if k.time >= 0 {
			m.Headers[k.time].Value = v
		} else {
			m.Headers = append(m.Headers, sarama.RecordHeader{Key: []byte("ce_time"), Value: v})
		}
	}
	return &m
}

// record encodes the event as a producer message.
func (t *kafkaTarget) record(ctx context.Context, mode binding.Mode, events []*event.Event) (*sarama.ProducerMessage, error) {
	e, err := oneEvent(t, mode, events)
	if err != nil {
		return nil, err
	}
	var msg sdkbinding.Message = sdkbinding.ToMessage(e)
	if mode == binding.Structured {
		msg = structuredMessage(ce.AppendJSON(make([]byte, 0, 512), e))
	}
	pm := &sarama.ProducerMessage{Topic: t.topic}
	if err := cekafka.WriteProducerMessage(cekafka.WithSkipKeyMapping(quiet(ctx)), msg, pm); err != nil {
		return nil, err
	}
	key := t.key
	if key == "" {
		if v, ok := extension(e, "partitionkey"); ok {
			key = ce.FormatValue(v)
		}
	}
	if key != "" {
		pm.Key = sarama.StringEncoder(key)
	}
	return pm, nil
}

// subscribeKafka consumes a topic in a consumer group. With a group name, offsets are marked
// after handle returned and committed, in order per partition; without one, a throw-away
// group commits nothing.
func subscribeKafka(ctx context.Context, tr *Transport, raw string, u *url.URL, so SubscribeOptions, handle func(context.Context, Delivery) error) error {
	ep, topic, err := parseKafka(tr, raw, u)
	if err != nil {
		return err
	}
	cfg, err := kafkaConfig(ep, so.Timeout, so.Insecure)
	if err != nil {
		return err
	}
	start := firstNonEmpty(so.Start, ep.q.Get("start"))
	if so.UntilEnd && start == "" {
		start = "oldest"
	}
	switch strings.ToLower(start) {
	case "", "newest":
		cfg.Consumer.Offsets.Initial = sarama.OffsetNewest
	case "oldest":
		cfg.Consumer.Offsets.Initial = sarama.OffsetOldest
	default:
		return &UsageError{Err: fmt.Errorf("%q: start=%q: want newest or oldest", raw, start)}
	}
	group := firstNonEmpty(so.Group, ep.q.Get("group"))
	commit := group != ""
	if !commit {
		b := make([]byte, 8)
		_, _ = rand.Read(b)
		group = "cectl-" + hex.EncodeToString(b)
	}
	cfg.Consumer.Offsets.AutoCommit.Enable = commit
	// A fetch that finds no records waits this long on the broker, and stopping waits for
	// it: at the default of 500 ms, listen --count took half a second to end after its last
	// event. A broker answers as soon as records come (min bytes 1), so this costs no
	// latency, only a fetch every 100 ms (sarama's least) while the topic is idle.
	cfg.Consumer.MaxWaitTime = 100 * time.Millisecond
	cctx, cancel := context.WithTimeout(ctx, connectTimeout(so.Timeout))
	client, err := kafkaClient(cctx, ep, cfg, topic)
	cancel()
	if err != nil {
		return err
	}
	defer client.Close()
	cg, err := sarama.NewConsumerGroupFromClient(group, client)
	if err != nil {
		return fmt.Errorf("consumer group %s: %w", group, err)
	}
	defer cg.Close()
	ictx, stop := context.WithCancel(ctx)
	defer stop()
	h := &kafkaGroupHandler{ctx: ctx, handle: handle, undecoded: so.Undecoded, commit: commit, ready: so.ready(), stop: stop}
	if so.UntilEnd {
		if h.end, err = kafkaEndAt(client, topic); err != nil {
			return err
		}
	}
	for {
		err := cg.Consume(ictx, []string{topic}, h)
		if herr := h.failure(); herr != nil {
			return herr
		}
		if ictx.Err() != nil {
			return nil
		}
		if err != nil {
			return fmt.Errorf("consume %s: %w", topic, err)
		}
	}
}

// kafkaGroupHandler hands records to handle one at a time, whichever partition they come
// from: sarama runs one goroutine per partition, the mutex makes them take turns, and each
// record is marked only after handle returned, so committed offsets never run ahead of what
// was handled (sdk-go #643).
type kafkaGroupHandler struct {
	ctx       context.Context
	handle    func(context.Context, Delivery) error
	undecoded bool
	commit    bool
	ready     func()
	stop      context.CancelFunc
	end       *kafkaEnd // with SubscribeOptions.UntilEnd
	mu        sync.Mutex
	pending   atomic.Int32
	errMu     sync.Mutex
	err       error
}

func (h *kafkaGroupHandler) failure() error {
	h.errMu.Lock()
	defer h.errMu.Unlock()
	return h.err
}

func (h *kafkaGroupHandler) Setup(s sarama.ConsumerGroupSession) error {
	n := 0
	for _, ps := range s.Claims() {
		n += len(ps)
	}
	h.pending.Store(int32(n))
	if h.end != nil {
		for _, ps := range s.Claims() {
			h.end.expect(ps)
		}
		if n == 0 {
			h.stop() // the group's other members read every partition: nothing is ours
		}
	}
	if n == 0 {
		h.ready()
	}
	return nil
}

func (h *kafkaGroupHandler) Cleanup(s sarama.ConsumerGroupSession) error {
	if h.commit {
		s.Commit()
	}
	return nil
}

func (h *kafkaGroupHandler) ConsumeClaim(s sarama.ConsumerGroupSession, claim sarama.ConsumerGroupClaim) error {
	// The claim's starting offset is resolved before ConsumeClaim runs, so once every claim
	// got here, later records are received.
	if h.pending.Add(-1) == 0 {
		h.ready()
	}
	var idle <-chan time.Time
	if h.end != nil {
		if h.end.claim(claim.Partition(), claim.InitialOffset()) {
			h.stop()
		}
		// A partition whose last offsets hold no record to deliver (transaction markers,
		// compaction's gaps) is seen to be done only by asking, once nothing comes.
		t := time.NewTicker(kafkaIdleCheck)
		defer t.Stop()
		idle = t.C
	}
	delivered := false
	for {
		select {
		case <-idle:
			if !delivered && h.end.idle(claim.Partition()) {
				h.stop()
			}
			delivered = false
		case msg, ok := <-claim.Messages():
			if !ok {
				return nil
			}
			delivered = true
			if h.end != nil && h.end.partitionDone(msg.Partition) {
				continue // beyond the end at the start
			}
			d := kafkaDelivery(msg, h.undecoded)
			h.mu.Lock()
			err := h.ctx.Err()
			if err == nil && h.failure() == nil {
				_, err = deliver(h.ctx, h.handle, d)
			}
			h.mu.Unlock()
			if err != nil {
				h.errMu.Lock()
				if h.err == nil && h.ctx.Err() == nil {
					h.err = err
				}
				h.errMu.Unlock()
				h.stop()
				return nil
			}
			if h.commit {
				s.MarkMessage(msg, "")
			}
			if h.end != nil && h.end.handled(msg.Partition, msg.Offset) {
				h.stop()
			}
		case <-s.Context().Done():
			return nil
		}
	}
}

// kafkaIdleCheck is how long a partition read to its end (SubscribeOptions.UntilEnd) may
// deliver nothing before the broker is asked whether anything is left before the end.
const kafkaIdleCheck = 250 * time.Millisecond

func kafkaDelivery(msg *sarama.ConsumerMessage, undecoded bool) Delivery {
	d := Delivery{Raw: msg.Value, Transport: "kafka", describe: func() map[string]string { return kafkaMeta(msg) }}
	decodeInto(&d, undecoded, func(dc *decoder) (event.Event, binding.Mode, error) { return decodeKafka(msg, dc) })
	return d
}

func kafkaMeta(msg *sarama.ConsumerMessage) map[string]string {
	m := map[string]string{
		"topic":     msg.Topic,
		"partition": strconv.FormatInt(int64(msg.Partition), 10),
		"offset":    strconv.FormatInt(msg.Offset, 10),
	}
	if msg.Key != nil {
		m["key"] = string(msg.Key)
	}
	if !msg.Timestamp.IsZero() {
		m["timestamp"] = msg.Timestamp.Format(time.RFC3339Nano)
	}
	for _, h := range msg.Headers {
		if h != nil {
			m["header:"+string(h.Key)] = string(h.Value)
		}
	}
	return m
}

// decodeKafka tells the mode by the content-type header (kafka binding §3): a CloudEvents
// media type is structured, a ce_specversion header is binary. A record with neither is
// tried as a structured JSON event, since the structured mode's content-type is optional
// (kafka binding §3.3.1).
func decodeKafka(msg *sarama.ConsumerMessage, dc *decoder) (event.Event, binding.Mode, error) {
	var ct, sv string
	var attrs []binaryValue
	for _, h := range msg.Headers {
		if h == nil {
			continue
		}
		k := strings.ToLower(string(h.Key))
		switch {
		case k == "content-type":
			ct = string(h.Value)
		case k == "ce_specversion":
			sv = string(h.Value)
		case strings.HasPrefix(k, "ce_"):
			attrs = append(attrs, binaryValue{name: k[3:], value: string(h.Value)})
		}
	}
	if strings.HasPrefix(ce.MediaType(ct), "application/cloudevents") || sv == "" && ct == "" {
		if err := checkStructuredType(ct); err != nil {
			return event.Event{}, binding.Structured, err
		}
		e, err := dc.structured(msg.Value)
		return e, binding.Structured, err
	}
	if sv == "" {
		return event.Event{}, binding.Binary, errors.New("the record carries no CloudEvent (no ce_specversion header and not a structured content type)")
	}
	e, err := dc.binary(sv, attrs, ct, msg.Value)
	return e, binding.Binary, err
}

// extension reads one extension without the copy of all of them that event.Extensions makes.
func extension(e *event.Event, name string) (any, bool) {
	switch ec := e.Context.(type) {
	case *event.EventContextV1:
		v, ok := ec.Extensions[name]
		return v, ok
	case *event.EventContextV03:
		v, ok := ec.Extensions[name]
		return v, ok
	}
	return nil, false
}

// nilRegistry is a go-metrics registry whose metrics record nothing (sarama Config.MetricRegistry).
type nilRegistry struct{}

func (nilRegistry) Each(func(string, any))            {}
func (nilRegistry) Get(string) any                    { return nil }
func (nilRegistry) GetAll() map[string]map[string]any { return nil }
func (nilRegistry) Register(string, any) error        { return nil }
func (nilRegistry) RunHealthchecks()                  {}
func (nilRegistry) Unregister(string)                 {}
func (nilRegistry) UnregisterAll()                    {}

// GetOrRegister returns a metric that records nothing of the kind the constructor i makes.
func (nilRegistry) GetOrRegister(_ string, i any) any {
	switch i.(type) {
	case func() metrics.Meter:
		return metrics.NilMeter{}
	case func() metrics.Histogram:
		return metrics.NilHistogram{}
	case func() metrics.Counter:
		return metrics.NilCounter{}
	case func() metrics.Gauge:
		return metrics.NilGauge{}
	}
	if v := reflect.ValueOf(i); v.Kind() == reflect.Func && v.Type().NumIn() == 0 && v.Type().NumOut() == 1 {
		return v.Call(nil)[0].Interface() // a kind sarama did not use when this was written
	}
	return i
}
