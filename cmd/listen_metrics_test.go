package cmd

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cectl/cectl/internal/binding"
	"github.com/cectl/cectl/internal/testutil"
	natsserver "github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// scrapeURL gets metrics the way Prometheus does and parses them with its text parser.
func scrapeURL(t *testing.T, url string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain; version=0.0.4") {
		t.Fatalf("scrape %s: %s %s", url, resp.Status, resp.Header.Get("Content-Type"))
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	return fams
}

// metricWant is the value a series should have: the metric, one label (or none) and its value.
type metricWant struct {
	name, label, value string
	want               float64
}

// wantMetrics checks the series of a scrape.
func wantMetrics(t *testing.T, fams map[string]*dto.MetricFamily, wants []metricWant) {
	t.Helper()
	for _, c := range wants {
		if got := metricValue(t, fams, c.name, c.label, c.value); got != c.want {
			t.Errorf("%s{%s=%q} = %v, want %v", c.name, c.label, c.value, got, c.want)
		}
	}
}

// metricValue is the value of the series of family name with label=value ("" for none).
func metricValue(t *testing.T, fams map[string]*dto.MetricFamily, name, label, value string) float64 {
	t.Helper()
	f, ok := fams[name]
	if !ok {
		t.Fatalf("no family %s", name)
	}
	for _, m := range f.Metric {
		if label != "" {
			match := false
			for _, l := range m.Label {
				match = match || l.GetName() == label && l.GetValue() == value
			}
			if !match {
				continue
			}
		}
		if m.Histogram != nil {
			return float64(m.Histogram.GetSampleCount())
		}
		return m.Counter.GetValue()
	}
	t.Fatalf("no series %s{%s=%q}", name, label, value)
	return 0
}

// freeAddr is a TCP address on 127.0.0.1 that nothing listens on now.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// waitScrape scrapes url until ok says the run got far enough, and returns that scrape.
func waitScrape(t *testing.T, url string, ok func(map[string]*dto.MetricFamily) bool) map[string]*dto.MetricFamily {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		if resp, err := http.Get(url); err == nil {
			resp.Body.Close()
			if f := scrapeURL(t, url); ok(f) {
				return f
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: the run did not get far enough", url)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestListenMetricsOnTheListenAddress(t *testing.T) {
	down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusAccepted) }))
	defer down.Close()
	var out, errOut testutil.Buffer
	record := filepath.Join(t.TempDir(), "events.jsonl")
	url, cancel, done := startListen(t, &out, &errOut, "--metrics", "--record", record, "--dedupe", "--forward-to", down.URL, "-q")
	defer cancel()
	for i, c := range []struct {
		mode binding.Mode
		id   string
		typ  string
	}{
		{binding.Binary, "1", "com.example.a"},
		{binding.Structured, "2", "com.example.a"},
		{binding.Binary, "3", "com.example.b"},
		{binding.Binary, "1", "com.example.a"}, // a duplicate
	} {
		if st := post(t, url, c.mode, c.id, c.typ); st != http.StatusAccepted {
			t.Fatalf("post %d: %d", i, st)
		}
	}
	// A batch of two new events and a duplicate: two lines in the record.
	for _, c := range []struct {
		ctype, body string
		status      int
	}{
		{"application/cloudevents-batch+json", `[{"specversion":"1.0","id":"4","source":"/test","type":"com.example.a"},
			{"specversion":"1.0","id":"1","source":"/test","type":"com.example.a"},
			{"specversion":"1.0","id":"5","source":"/test","type":"com.example.b"}]`, http.StatusAccepted},
		{"application/cloudevents+json", `{"specversion":"1.0"}`, http.StatusBadRequest},
	} {
		resp, err := http.Post(url, c.ctype, strings.NewReader(c.body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != c.status {
			t.Fatalf("%s: %d", c.ctype, resp.StatusCode)
		}
	}

	f := scrapeURL(t, strings.TrimSuffix(url, "/")+"/metrics")
	wantMetrics(t, f, []metricWant{
		{"cectl_listen_events_accepted_total", "type", "com.example.a", 3},
		{"cectl_listen_events_accepted_total", "type", "com.example.b", 2},
		{"cectl_listen_events_duplicate_total", "", "", 2},
		{"cectl_listen_requests_total", "", "", 5},
		{"cectl_listen_requests_rejected_total", "reason", "invalid", 1},
		{"cectl_listen_record_writes_total", "outcome", "ok", 5}, // per event, as the record has them
		{"cectl_listen_forwards_total", "outcome", "ack", 4},
		{"cectl_listen_handling_seconds", "", "", 6},
	})
	if b := metricValue(t, f, "cectl_listen_received_bytes_total", "", ""); b < 100 {
		t.Errorf("received bytes %v", b)
	}
	// Scrapes are not events: nothing more was shown or counted.
	if got := metricValue(t, scrapeURL(t, strings.TrimSuffix(url, "/")+"/metrics"), "cectl_listen_requests_total", "", ""); got != 5 {
		t.Errorf("after a second scrape: %v requests", got)
	}
	cancel()
	if err := wait(t, done); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(errOut.String(), "metrics at /metrics") {
		t.Errorf("the banner does not say where the metrics are:\n%s", errOut.String())
	}
	if b, err := os.ReadFile(record); err != nil || strings.Count(string(b), "\n") != 5 {
		t.Errorf("record: %v\n%s", err, b)
	}
}

func TestListenMetricsAddr(t *testing.T) {
	addr := freeAddr(t)
	var out, errOut testutil.Buffer
	url, cancel, done := startListen(t, &out, &errOut, "--metrics-addr", addr)
	defer cancel()
	if st := post(t, url, binding.Binary, "1", "com.example.a"); st != http.StatusAccepted {
		t.Fatalf("post: %d", st)
	}
	f := scrapeURL(t, "http://"+addr+"/metrics")
	if got := metricValue(t, f, "cectl_listen_events_accepted_total", "type", "com.example.a"); got != 1 {
		t.Errorf("accepted %v", got)
	}
	// The listen address serves events only.
	resp, err := http.Get(strings.TrimSuffix(url, "/") + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode == http.StatusOK {
		t.Errorf("/metrics on the listen address with --metrics-addr: %s", resp.Status)
	}
	cancel()
	if err := wait(t, done); err != nil {
		t.Fatal(err)
	}
}

func TestListenMetricsFlags(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--metrics", "--from", "nats://localhost:4222/x"}, "--metrics with --from needs --metrics-addr"},
		{[]string{"--metrics", "--path", "/metrics/"}, "--path /metrics/ is where --metrics serves the metrics"},
		{[]string{"--metrics-addr", "nohostport"}, "want host:port"},
	} {
		_, err := parseListen(t, nil, nil, c.args...)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: err %v, want %q", c.args, err, c.want)
		}
	}
}

func TestListenMetricsForwardFailures(t *testing.T) {
	// A relay that is refused (nack) or that reaches nobody (not delivered): the events were
	// recorded, but the request is answered with an error, as the summary counts it.
	refusing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusBadRequest) }))
	defer refusing.Close()
	for _, c := range []struct {
		name, to, outcome string
		status            int
	}{
		{"nack", refusing.URL, "nack", http.StatusBadRequest},
		{"not delivered", "http://" + freeAddr(t), "not_delivered", http.StatusBadGateway},
	} {
		t.Run(c.name, func(t *testing.T) {
			var out, errOut testutil.Buffer
			record := filepath.Join(t.TempDir(), "events.jsonl")
			url, cancel, done := startListen(t, &out, &errOut, "--metrics", "--record", record, "--forward-to", c.to, "-q")
			defer cancel()
			for i, typ := range []string{"com.example.a", "com.example.b", "com.example.a"} {
				if st := post(t, url, binding.Binary, strconv.Itoa(i), typ); st != c.status {
					t.Fatalf("post %d: %d, want %d", i, st, c.status)
				}
			}
			f := scrapeURL(t, strings.TrimSuffix(url, "/")+"/metrics")
			wantMetrics(t, f, []metricWant{
				{"cectl_listen_requests_total", "", "", 3},
				{"cectl_listen_requests_rejected_total", "reason", "forward_failed", 3},
				{"cectl_listen_requests_rejected_total", "reason", "other", 0},
				{"cectl_listen_forwards_total", "outcome", c.outcome, 3},
				{"cectl_listen_forwards_total", "outcome", "ack", 0},
				// Each event was written to the record before the relay.
				{"cectl_listen_record_writes_total", "outcome", "ok", 3},
				{"cectl_listen_record_writes_total", "outcome", "error", 0},
				{"cectl_listen_handling_seconds", "", "", 3},
			})
			if fam := f["cectl_listen_events_accepted_total"]; fam != nil {
				for _, m := range fam.Metric {
					if m.Counter.GetValue() != 0 {
						t.Errorf("events not acknowledged are counted as accepted: %v", m)
					}
				}
			}
			cancel()
			if err := wait(t, done); err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(errOut.String(), "3 requests not relayed") {
				t.Errorf("the summary does not count what the metrics count:\n%s", errOut.String())
			}
			b, err := os.ReadFile(record)
			if err != nil {
				t.Fatal(err)
			}
			if n := strings.Count(string(b), "\n"); n != 3 {
				t.Errorf("%d lines recorded", n)
			}
		})
	}
}

func TestListenMetricsFromNATS(t *testing.T) {
	// A broker listener's metrics, on --metrics-addr: events published by send, and a message
	// that is no CloudEvent.
	s, err := natsserver.NewServer(&natsserver.Options{Host: "127.0.0.1", Port: -1, NoLog: true, NoSigs: true})
	if err != nil {
		t.Fatal(err)
	}
	go s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats server did not start")
	}
	defer s.Shutdown()
	from := s.ClientURL() + "/orders"
	addr := freeAddr(t)
	record := filepath.Join(t.TempDir(), "events.jsonl")
	var out, errOut testutil.Buffer
	opts, err := parseListen(t, &out, &errOut, "--from", from, "--metrics-addr", addr, "--record", record, "-q")
	if err != nil {
		t.Fatal(err)
	}
	opts.F.Output = "text"
	ready := make(chan string, 1)
	opts.Ready = func(url string) { ready <- url }
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- listenRun(ctx, opts) }()
	select {
	case <-ready:
	case err := <-done:
		t.Fatalf("listen ended at once: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("listen did not start")
	}

	for i, typ := range []string{"com.example.a", "com.example.b", "com.example.a"} {
		f, sout, serr := testFactory("", nil)
		if code := Run(context.Background(), f.IO, f.Build, []string{"send", "--to", from, "--type", typ, "--id", strconv.Itoa(i)}, f.Getenv); code != 0 {
			t.Fatalf("send %d: exit %d\n%s%s", i, code, sout, serr)
		}
	}
	nc, err := nats.Connect(s.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	if err := nc.Publish("orders", []byte("not an event")); err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	f := waitScrape(t, "http://"+addr+"/metrics", func(f map[string]*dto.MetricFamily) bool {
		return metricValue(t, f, "cectl_listen_handling_seconds", "", "") == 4
	})
	wantMetrics(t, f, []metricWant{
		{"cectl_listen_events_accepted_total", "type", "com.example.a", 2},
		{"cectl_listen_events_accepted_total", "type", "com.example.b", 1},
		{"cectl_listen_requests_total", "", "", 3},
		{"cectl_listen_requests_rejected_total", "reason", "invalid", 1},
		{"cectl_listen_record_writes_total", "outcome", "ok", 3},
	})
	if b := metricValue(t, f, "cectl_listen_received_bytes_total", "", ""); b < float64(len("not an event")) {
		t.Errorf("received bytes %v", b)
	}
	cancel()
	if err := wait(t, done); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(errOut.String(), "metrics at http://"+addr+"/metrics") {
		t.Errorf("the banner does not say where the metrics are:\n%s", errOut.String())
	}
}
