// Command brokers measures how fast cectl's broker targets publish, next to each broker's own
// Go client publishing raw messages of the same size with the same delivery guarantee, in the
// same run, and prints the ratios.
//
// Brokers given by URL are used as they are; the others run embedded in this process
// (nats-server with JetStream, mochi-mqtt, kfake). AMQP runs only with -amqp.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/Azure/go-amqp"
	"github.com/IBM/sarama"
	"github.com/cectl/cectl/internal/binding"
	"github.com/cectl/cectl/internal/ce"
	"github.com/cectl/cectl/internal/client"
	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/eclipse/paho.golang/packets"
	"github.com/eclipse/paho.golang/paho"
	mqttserver "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/hooks/auth"
	"github.com/mochi-mqtt/server/v2/listeners"
	natsserver "github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/rcrowley/go-metrics"
	"github.com/twmb/franz-go/pkg/kfake"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "brokers:", err)
		os.Exit(1)
	}
}

type config struct {
	n, conc, rounds int
}

// bench is one transport: how to publish one event with cectl, and one raw message with the
// broker's client.
type bench struct {
	name   string
	target string
	raw    func(ctx context.Context, payload []byte) (publish func() error, done func(), err error)
	// sub subscribes with the broker's own client, calling got for every message (after
	// acknowledging it where the protocol acknowledges), until stop is called.
	sub  func(ctx context.Context, got func()) (stop func(), err error)
	note string
}

func run() error {
	// The raw sarama clients run without sarama's go-metrics, as cectl's Kafka clients do
	// (their config has a registry that records nothing), so that both sides do the same
	// work. A command may switch this for its whole process; a library may not.
	metrics.UseNilMetrics = true
	var cfg config
	var natsURL, mqttURL, amqpURL, kafkaURL, only string
	flag.IntVar(&cfg.n, "n", 20000, "events per measurement")
	flag.IntVar(&cfg.conc, "c", 16, "concurrent publishers")
	flag.IntVar(&cfg.rounds, "rounds", 2, "measurements of each side; the best counts")
	flag.StringVar(&natsURL, "nats", "", "NATS server URL (default: embedded)")
	flag.StringVar(&mqttURL, "mqtt", "", "MQTT broker URL (default: embedded)")
	flag.StringVar(&kafkaURL, "kafka", "", "Kafka broker URL (default: embedded kfake)")
	flag.StringVar(&amqpURL, "amqp", "", "AMQP 1.0 broker URL, e.g. amqp://guest:guest@127.0.0.1:5672 (no default)")
	flag.StringVar(&only, "only", "", "comma-separated transports to run (nats,jetstream,kafka,mqtt,amqp)")
	e2e := flag.Bool("e2e", false, "measure raw publish -> broker -> raw subscribe end to end instead")
	deleteStream := flag.String("delete-stream", "", "delete this JetStream stream on -nats and do nothing else (the end-to-end script's clean-up)")
	serveKafka := flag.Bool("serve-kafka", false, "run an embedded Kafka broker (kfake), print its URL and serve until interrupted (the end-to-end script's Kafka broker)")
	lines := flag.Int("lines", 0, "read standard input to its end and print the time (Unix nanoseconds) at which line N arrived (the end-to-end script's clock for listen)")
	flag.Parse()
	if *serveKafka {
		return serveEmbeddedKafka()
	}
	if *lines > 0 {
		return timeLine(os.Stdin, *lines)
	}
	if *deleteStream != "" {
		nc, err := nats.Connect(natsURL)
		if err != nil {
			return err
		}
		defer nc.Close()
		js, err := nc.JetStream()
		if err != nil {
			return err
		}
		return js.DeleteStream(*deleteStream)
	}

	var stops []func()
	defer func() {
		for _, s := range stops {
			s()
		}
	}()
	if natsURL == "" {
		u, stop, err := embeddedNATS()
		if err != nil {
			return err
		}
		natsURL, stops = u, append(stops, stop)
	}
	if mqttURL == "" {
		u, stop, err := embeddedMQTT()
		if err != nil {
			return err
		}
		mqttURL, stops = u, append(stops, stop)
	}
	if kafkaURL == "" {
		c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.AllowAutoTopicCreation())
		if err != nil {
			return err
		}
		kafkaURL, stops = "kafka://"+c.ListenAddrs()[0], append(stops, c.Close)
	}
	stamp := time.Now().Format("150405")
	benches := []bench{
		natsBench(natsURL, "cectl.bench."+stamp),
		jetStreamBench(natsURL, "CECTLBENCH"+stamp),
		kafkaBench(kafkaURL, "cectl-bench-"+stamp),
		mqttBench(mqttURL, "cectl/bench/"+stamp),
	}
	if amqpURL != "" {
		benches = append(benches, amqpBench(strings.TrimRight(amqpURL, "/"), "/topic/cectl.bench."+stamp))
	}
	if *e2e {
		fmt.Printf("raw end to end: the broker's own client publishing %d events from %d goroutines and subscribing to them\n", cfg.n, cfg.conc)
		for _, b := range benches {
			if b.sub == nil || only != "" && !strings.Contains(","+only+",", ","+b.name+",") {
				continue
			}
			r, err := endToEnd(cfg, b)
			if err != nil {
				return fmt.Errorf("%s: %w", b.name, err)
			}
			fmt.Printf("%-10s %14.0f\n", b.name, r)
		}
		return nil
	}
	fmt.Printf("%d events, concurrency %d, best of %d; cectl sends structured events, the raw client the same bytes\n\n", cfg.n, cfg.conc, cfg.rounds)
	fmt.Printf("%-10s %14s %14s %7s\n", "transport", "cectl ev/s", "raw ev/s", "ratio")
	failed := false
	for _, b := range benches {
		if only != "" && !strings.Contains(","+only+",", ","+b.name+",") {
			continue
		}
		c, r, err := measure(cfg, b)
		if err != nil {
			return fmt.Errorf("%s: %w", b.name, err)
		}
		ratio := c / r
		mark := ""
		if ratio < 0.7 {
			mark, failed = "  below 0.7", true
		}
		fmt.Printf("%-10s %14.0f %14.0f %6.2fx%s\n", b.name, c, r, ratio, mark)
		if b.note != "" {
			fmt.Printf("%-10s %s\n", "", b.note)
		}
	}
	if failed {
		return errors.New("a ratio is below 0.7")
	}
	return nil
}

// measure runs cectl and the raw client in turns and returns the best rate of each.
func measure(cfg config, b bench) (float64, float64, error) {
	ctx := context.Background()
	e := benchEvent()
	payload := ce.AppendJSON(nil, e)
	tg, err := client.Open(b.target, client.Options{Timeout: 10 * time.Second})
	if err != nil {
		return 0, 0, err
	}
	defer tg.Close()
	send := func() error {
		res := tg.Send(ctx, binding.Structured, e)
		if !res.ACK {
			return fmt.Errorf("not acknowledged: %v", res.Err)
		}
		return nil
	}
	publish, done, err := b.raw(ctx, payload)
	if err != nil {
		return 0, 0, err
	}
	defer done()
	var bestC, bestR float64
	for range cfg.rounds {
		r, err := rate(cfg, publish)
		if err != nil {
			return 0, 0, fmt.Errorf("raw client: %w", err)
		}
		bestR = max(bestR, r)
		c, err := rate(cfg, send)
		if err != nil {
			return 0, 0, fmt.Errorf("cectl: %w", err)
		}
		bestC = max(bestC, c)
	}
	return bestC, bestR, nil
}

// endToEnd subscribes with the raw client, publishes n messages with it from conc goroutines,
// and returns messages per second from the first publish until the last message arrived.
func endToEnd(cfg config, b bench) (float64, error) {
	ctx := context.Background()
	payload := ce.AppendJSON(nil, benchEvent())
	publish, done, err := b.raw(ctx, payload)
	if err != nil {
		return 0, err
	}
	defer done()
	var count atomic.Int64
	all := make(chan struct{})
	stop, err := b.sub(ctx, func() {
		if count.Add(1) == int64(cfg.n) {
			close(all)
		}
	})
	if err != nil {
		return 0, err
	}
	defer stop()
	start := time.Now()
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, cfg.conc)
	for range cfg.conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= int64(cfg.n) {
				if err := publish(); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	select {
	case err := <-errs:
		return 0, err
	default:
	}
	select {
	case <-all:
	case <-time.After(60 * time.Second):
		return 0, fmt.Errorf("%d of %d messages arrived", count.Load(), cfg.n)
	}
	return float64(cfg.n) / time.Since(start).Seconds(), nil
}

// rate calls f n times from conc goroutines, after a short warm-up, and returns calls per second.
func rate(cfg config, f func() error) (float64, error) {
	for range 100 {
		if err := f(); err != nil {
			return 0, err
		}
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, cfg.conc)
	start := time.Now()
	for range cfg.conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= int64(cfg.n) {
				if err := f(); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	el := time.Since(start)
	select {
	case err := <-errs:
		return 0, err
	default:
	}
	return float64(cfg.n) / el.Seconds(), nil
}

func benchEvent() *event.Event {
	e, _ := ce.NewEvent(ce.V1)
	for k, v := range map[string]string{
		"id": "b0c8a1f2-5d0e-4c1b-9a57-3f1e2d4c6b7a", "source": "/cectl/bench", "type": "com.example.bench",
		"time": "2026-01-02T03:04:05Z", "datacontenttype": "application/json",
	} {
		_ = ce.SetAttribute(&e, k, v)
	}
	_ = ce.SetExtension(&e, "region", "eu")
	e.DataEncoded = []byte(`{"order":42,"items":["a","b","c"],"total":99.5,"note":"` + strings.Repeat("x", 120) + `"}`)
	return &e
}

func natsBench(base, subject string) bench {
	return bench{
		name: "nats", target: base + "/" + subject,
		note: "ack = the server read it; raw: Publish + Flush per message",
		sub: func(ctx context.Context, got func()) (func(), error) {
			nc, err := nats.Connect(base)
			if err != nil {
				return nil, err
			}
			sub, err := nc.Subscribe(subject, func(*nats.Msg) { got() })
			if err != nil {
				nc.Close()
				return nil, err
			}
			_ = sub.SetPendingLimits(-1, -1)
			return nc.Close, nc.Flush()
		},
		raw: func(ctx context.Context, payload []byte) (func() error, func(), error) {
			nc, err := nats.Connect(base)
			if err != nil {
				return nil, nil, err
			}
			return func() error {
				if err := nc.Publish(subject, payload); err != nil {
					return err
				}
				return nc.FlushTimeout(10 * time.Second)
			}, nc.Close, nil
		},
	}
}

func jetStreamBench(base, stream string) bench {
	subject := strings.ToLower(stream) + ".created"
	return bench{
		name: "jetstream", target: strings.Replace(base, "nats://", "jetstream://", 1) + "/" + stream + "/" + subject,
		note: "ack = PubAck; raw: js.Publish (waits for the PubAck)",
		sub: func(ctx context.Context, got func()) (func(), error) {
			nc, err := nats.Connect(base)
			if err != nil {
				return nil, err
			}
			js, err := nc.JetStream()
			if err != nil {
				nc.Close()
				return nil, err
			}
			_, err = js.Subscribe(subject, func(m *nats.Msg) {
				_ = m.Ack()
				got()
			}, nats.BindStream(stream), nats.DeliverNew(), nats.ManualAck())
			if err != nil {
				nc.Close()
				return nil, err
			}
			return nc.Close, nc.Flush()
		},
		raw: func(ctx context.Context, payload []byte) (func() error, func(), error) {
			nc, err := nats.Connect(base)
			if err != nil {
				return nil, nil, err
			}
			js, err := nc.JetStream()
			if err != nil {
				nc.Close()
				return nil, nil, err
			}
			if _, err := js.AddStream(&nats.StreamConfig{Name: stream, Subjects: []string{subject}, Storage: nats.FileStorage}); err != nil {
				nc.Close()
				return nil, nil, err
			}
			return func() error {
					_, err := js.Publish(subject, payload)
					return err
				}, func() {
					_ = js.DeleteStream(stream)
					nc.Close()
				}, nil
		},
	}
}

// timeLine reads r to its end and prints when its line n arrived; it fails when r has fewer
// lines. listen prints an event a line (-o json), so that is when it had the last event,
// before it stopped and closed its subscription, which the raw subscriber is not timed for
// either.
func timeLine(r io.Reader, n int) error {
	buf := make([]byte, 256<<10)
	seen := 0
	for {
		k, err := r.Read(buf)
		for _, c := range buf[:k] {
			if c != '\n' {
				continue
			}
			if seen++; seen == n {
				fmt.Println(time.Now().UnixNano())
			}
		}
		if err == io.EOF {
			if seen < n {
				return fmt.Errorf("%d lines, want %d", seen, n)
			}
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// serveEmbeddedKafka serves kfake on a free loopback port until SIGINT or SIGTERM: no Kafka
// broker runs on this machine, and the Kafka protocol in a process of its own lets the
// end-to-end script run cectl send and listen against it like a real one.
func serveEmbeddedKafka() error {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.AllowAutoTopicCreation())
	if err != nil {
		return err
	}
	defer c.Close()
	fmt.Println("kafka://" + c.ListenAddrs()[0])
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	<-ctx.Done()
	return nil
}

func kafkaBench(base, topic string) bench {
	host := strings.TrimPrefix(base, "kafka://")
	return bench{
		name: "kafka", target: base + "/" + topic,
		note: "ack = produce acknowledged by all in-sync replicas; raw: sarama SyncProducer, the client sdk-go uses",
		sub: func(ctx context.Context, got func()) (func(), error) {
			c, err := sarama.NewConsumer([]string{host}, sarama.NewConfig())
			if err != nil {
				return nil, err
			}
			parts, err := c.Partitions(topic) // creates the topic (auto-creation)
			if err != nil {
				c.Close()
				return nil, err
			}
			var wg sync.WaitGroup
			var pcs []sarama.PartitionConsumer
			stop := func() {
				for _, pc := range pcs {
					pc.AsyncClose()
				}
				wg.Wait()
				c.Close()
			}
			for _, p := range parts {
				pc, err := c.ConsumePartition(topic, p, sarama.OffsetNewest)
				if err != nil {
					stop()
					return nil, err
				}
				pcs = append(pcs, pc)
				wg.Add(1)
				go func() {
					defer wg.Done()
					for range pc.Messages() {
						got()
					}
				}()
			}
			return stop, nil
		},
		raw: func(ctx context.Context, payload []byte) (func() error, func(), error) {
			cfg := sarama.NewConfig()
			cfg.Producer.Return.Successes = true
			cfg.Producer.RequiredAcks = sarama.WaitForAll
			p, err := sarama.NewSyncProducer([]string{host}, cfg)
			if err != nil {
				return nil, nil, err
			}
			hdr := []sarama.RecordHeader{{Key: []byte("content-type"), Value: []byte("application/cloudevents+json")}}
			return func() error {
				_, _, err := p.SendMessage(&sarama.ProducerMessage{Topic: topic, Value: sarama.ByteEncoder(payload), Headers: hdr})
				return err
			}, func() { p.Close() }, nil
		},
	}
}

func mqttBench(base, topic string) bench {
	return bench{
		name: "mqtt", target: base + "/" + topic + "?qos=1",
		note: "ack = PUBACK (QoS 1); raw: paho.golang Publish at QoS 1",
		sub: func(ctx context.Context, got func()) (func(), error) {
			u, err := url.Parse(base)
			if err != nil {
				return nil, err
			}
			conn, err := net.Dial("tcp", u.Host)
			if err != nil {
				return nil, err
			}
			c := paho.NewClient(paho.ClientConfig{Conn: packets.NewThreadSafeConn(conn),
				OnPublishReceived: []func(paho.PublishReceived) (bool, error){func(paho.PublishReceived) (bool, error) {
					got()
					return true, nil
				}}})
			if _, err := c.Connect(ctx, &paho.Connect{ClientID: "cectl-bench-raw-sub", CleanStart: true, KeepAlive: 30}); err != nil {
				return nil, err
			}
			if _, err := c.Subscribe(ctx, &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: topic, QoS: 1}}}); err != nil {
				return nil, err
			}
			return func() { _ = c.Disconnect(&paho.Disconnect{}) }, nil
		},
		raw: func(ctx context.Context, payload []byte) (func() error, func(), error) {
			u, err := url.Parse(base)
			if err != nil {
				return nil, nil, err
			}
			conn, err := net.Dial("tcp", u.Host)
			if err != nil {
				return nil, nil, err
			}
			c := paho.NewClient(paho.ClientConfig{Conn: packets.NewThreadSafeConn(conn)})
			if _, err := c.Connect(ctx, &paho.Connect{ClientID: "cectl-bench-raw", CleanStart: true, KeepAlive: 30}); err != nil {
				return nil, nil, err
			}
			props := &paho.PublishProperties{ContentType: "application/cloudevents+json"}
			return func() error {
				_, err := c.Publish(ctx, &paho.Publish{Topic: topic, QoS: 1, Payload: payload, Properties: props})
				return err
			}, func() { _ = c.Disconnect(&paho.Disconnect{}) }, nil
		},
	}
}

func amqpBench(base, addr string) bench {
	return bench{
		name: "amqp", target: base + addr,
		note: "ack = accepted disposition; raw: go-amqp Sender.Send",
		sub: func(ctx context.Context, got func()) (func(), error) {
			u, err := url.Parse(base)
			if err != nil {
				return nil, err
			}
			p, _ := u.User.Password()
			c, err := amqp.Dial("amqp://"+u.Host, amqp.ConnSASLPlain(u.User.Username(), p))
			if err != nil {
				return nil, err
			}
			s, err := c.NewSession()
			if err != nil {
				c.Close()
				return nil, err
			}
			r, err := s.NewReceiver(amqp.LinkSourceAddress(addr), amqp.LinkCredit(100))
			if err != nil {
				c.Close()
				return nil, err
			}
			rctx, cancel := context.WithCancel(ctx)
			go func() {
				for {
					m, err := r.Receive(rctx)
					if err != nil {
						return
					}
					_ = r.AcceptMessage(rctx, m)
					got()
				}
			}()
			return func() { cancel(); c.Close() }, nil
		},
		raw: func(ctx context.Context, payload []byte) (func() error, func(), error) {
			u, err := url.Parse(base)
			if err != nil {
				return nil, nil, err
			}
			p, _ := u.User.Password()
			c, err := amqp.Dial("amqp://"+u.Host, amqp.ConnSASLPlain(u.User.Username(), p))
			if err != nil {
				return nil, nil, err
			}
			s, err := c.NewSession()
			if err != nil {
				c.Close()
				return nil, nil, err
			}
			snd, err := s.NewSender(amqp.LinkTargetAddress(addr))
			if err != nil {
				c.Close()
				return nil, nil, err
			}
			ct := "application/cloudevents+json"
			return func() error {
				return snd.Send(ctx, &amqp.Message{Data: [][]byte{payload}, Properties: &amqp.MessageProperties{ContentType: &ct}})
			}, func() { c.Close() }, nil
		},
	}
}

func embeddedNATS() (string, func(), error) {
	dir, err := os.MkdirTemp("", "cectl-bench-js")
	if err != nil {
		return "", nil, err
	}
	s, err := natsserver.NewServer(&natsserver.Options{Host: "127.0.0.1", Port: -1, JetStream: true, StoreDir: dir, NoLog: true, NoSigs: true})
	if err != nil {
		return "", nil, err
	}
	go s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		return "", nil, errors.New("embedded nats-server did not start")
	}
	return s.ClientURL(), func() { s.Shutdown(); os.RemoveAll(dir) }, nil
}

func embeddedMQTT() (string, func(), error) {
	s := mqttserver.New(&mqttserver.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err := s.AddHook(new(auth.AllowHook), nil); err != nil {
		return "", nil, err
	}
	l := listeners.NewTCP(listeners.Config{ID: "tcp", Address: "127.0.0.1:0"})
	if err := s.AddListener(l); err != nil {
		return "", nil, err
	}
	go func() { _ = s.Serve() }()
	return "mqtt://" + l.Address(), func() { s.Close() }, nil
}
