package client

import (
	"context"
	"testing"
	"time"

	"github.com/cectl/cectl/internal/binding"
	natsserver "github.com/nats-io/nats-server/v2/server"
	"github.com/twmb/franz-go/pkg/kfake"
)

// BenchmarkBrokerSend measures Target.Send to embedded brokers from concurrent senders: the
// path of every event of send and send --from to a broker.
func BenchmarkBrokerSend(b *testing.B) {
	ns, err := natsserver.NewServer(&natsserver.Options{Host: "127.0.0.1", Port: -1, NoLog: true, NoSigs: true, JetStream: true, StoreDir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	go ns.Start()
	if !ns.ReadyForConnections(5 * time.Second) {
		b.Fatal("nats server did not start")
	}
	defer ns.Shutdown()
	kc, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.AllowAutoTopicCreation())
	if err != nil {
		b.Fatal(err)
	}
	defer kc.Close()
	nats := ns.ClientURL()
	for _, bc := range []struct {
		name string
		url  string
		mode binding.Mode
	}{
		{"nats", nats + "/bench.send", binding.Structured},
		{"jetstream", "jetstream://" + nats[len("nats://"):] + "/BENCH/bench.js", binding.Structured},
		{"kafka-binary", "kafka://" + kc.ListenAddrs()[0] + "/bench", binding.Binary},
	} {
		b.Run(bc.name, func(b *testing.B) {
			tg, err := Open(bc.url, Options{Timeout: 10 * time.Second})
			if err != nil {
				b.Fatal(err)
			}
			defer tg.Close()
			e := testEvent(b)
			ctx := context.Background()
			if res := tg.Send(ctx, bc.mode, e); !res.ACK {
				b.Fatalf("%+v", res)
			}
			b.ReportAllocs()
			b.SetParallelism(4)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if res := tg.Send(ctx, bc.mode, e); !res.ACK {
						b.Errorf("%+v", res)
						return
					}
				}
			})
		})
	}
}
