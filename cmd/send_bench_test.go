package cmd

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	natsserver "github.com/nats-io/nats-server/v2/server"
	"github.com/twmb/franz-go/pkg/kfake"
)

// benchSend runs cectl send with args, which send b.N events, and reports the time per
// event. It measures the send fast paths: an event encoded once and copies that change only
// id and time in a load run, and the read-ahead of send --from.
func benchSend(b *testing.B, args ...string) {
	b.Helper()
	b.ReportAllocs()
	f, _, errOut := testFactory("", nil)
	root := NewCmdRoot(f)
	root.SetArgs(append([]string{"send"}, args...))
	b.ResetTimer()
	_, err := root.ExecuteContextC(context.Background())
	b.StopTimer()
	if err != nil {
		b.Fatalf("%v: %s", err, errOut)
	}
}

func benchHTTPServer(b *testing.B) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusAccepted)
	}))
	b.Cleanup(srv.Close)
	return srv.URL
}

func benchNATS(b *testing.B) string {
	s, err := natsserver.NewServer(&natsserver.Options{Host: "127.0.0.1", Port: -1, NoLog: true, NoSigs: true})
	if err != nil {
		b.Fatal(err)
	}
	go s.Start()
	if !s.ReadyForConnections(5 * time.Second) {
		b.Fatal("nats server did not start")
	}
	b.Cleanup(s.Shutdown)
	return s.ClientURL()
}

func benchKafka(b *testing.B) string {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.AllowAutoTopicCreation())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(c.Close)
	return "kafka://" + c.ListenAddrs()[0] + "/bench"
}

func BenchmarkSendLoad(b *testing.B) {
	event := []string{"--type", "com.example.bench", "--source", "/bench", "-e", "region=eu", "--data", `{"id":42,"name":"Ada"}`}
	for _, bc := range []struct {
		name string
		to   func(*testing.B) string
		mode string
	}{
		{"http-binary", benchHTTPServer, "binary"},
		{"http-structured", benchHTTPServer, "structured"},
		{"kafka-binary", benchKafka, "binary"},
		{"kafka-structured", benchKafka, "structured"},
		{"nats-structured", func(b *testing.B) string { return benchNATS(b) + "/bench.events" }, "structured"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			to := bc.to(b)
			benchSend(b, append([]string{"--to", to, "--mode", bc.mode, "--count", strconv.Itoa(b.N), "--concurrency", "8", "-o", "json"}, event...)...)
		})
	}
}

func BenchmarkSendFrom(b *testing.B) {
	to := benchHTTPServer(b)
	var sb strings.Builder
	for i := range b.N {
		fmt.Fprintf(&sb, `{"specversion":"1.0","id":"e%d","source":"/bench","type":"com.example.bench","region":"eu","data":{"id":%d}}`+"\n", i, i)
	}
	file := filepath.Join(b.TempDir(), "events.jsonl")
	if err := os.WriteFile(file, []byte(sb.String()), 0o644); err != nil {
		b.Fatal(err)
	}
	benchSend(b, "--to", to, "--from", file, "-o", "json")
}
