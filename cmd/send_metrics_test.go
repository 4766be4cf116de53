package cmd

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
)

// sendOutcomes are the outcome labels of send's metrics.
var sendOutcomes = []string{"ack", "published", "nack", "no_response", "not_delivered"}

// wantSendOutcomes checks that requests and events of every outcome are as in want (one
// event per request), and that nothing counts events as sent whatever became of them.
func wantSendOutcomes(t *testing.T, fams map[string]*dto.MetricFamily, want map[string]float64) {
	t.Helper()
	if _, ok := fams["cectl_send_events_sent_total"]; ok {
		t.Error("cectl_send_events_sent_total counts events whatever became of them")
	}
	var wants []metricWant
	for _, o := range sendOutcomes {
		wants = append(wants, metricWant{"cectl_send_requests_total", "outcome", o, want[o]},
			metricWant{"cectl_send_events_total", "outcome", o, want[o]})
	}
	wantMetrics(t, fams, wants)
}

// startSend runs send with args until it ends or the returned cancel is called; the channel
// yields its exit code.
func startSend(t *testing.T, args ...string) (context.CancelFunc, chan int) {
	t.Helper()
	f, _, _ := testFactory("", nil)
	ctx, cancel := context.WithCancel(context.Background())
	done, ended := make(chan int, 1), make(chan struct{})
	go func() {
		done <- Run(ctx, f.IO, f.Build, append([]string{"send"}, args...), f.Getenv)
		close(ended)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-ended:
		case <-time.After(15 * time.Second):
			t.Error("send did not end")
		}
	})
	return cancel, done
}

func TestSendLoadMetrics(t *testing.T) {
	// The receiver refuses every third request and holds the last one until the test has
	// scraped the metrics of the ones before it.
	var n atomic.Int32
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		i := n.Add(1)
		if i == 14 {
			<-release
		}
		if i%3 == 0 {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		w.WriteHeader(http.StatusAccepted)
	}))
	defer srv.Close()
	defer func() {
		select {
		case <-release:
		default:
			close(release)
		}
	}()
	addr := freeAddr(t)
	f, out, errOut := testFactory("", nil)
	done := make(chan int, 1)
	go func() {
		done <- Run(context.Background(), f.IO, f.Build, []string{"send", "--to", srv.URL, "--type", "com.example.load",
			"--count", "12", "--warmup", "2", "--metrics-addr", addr, "-o", "json"}, f.Getenv)
	}()
	// Two warm-up requests, then twelve: the fourteenth is held.
	fams := waitScrape(t, "http://"+addr+"/metrics", func(map[string]*dto.MetricFamily) bool { return n.Load() == 14 })
	close(release)
	// The warm-up requests (the first two, acknowledged) are not counted, as in the report:
	// of the eleven after them, the 3rd, 6th, 9th and 12th request were refused.
	wantSendOutcomes(t, fams, map[string]float64{"ack": 7, "nack": 4})
	wantMetrics(t, fams, []metricWant{{"cectl_send_latency_seconds", "", "", 11}})
	select {
	case code := <-done:
		if code != 1 { // some were refused
			t.Errorf("exit %d\n%s\n%s", code, out, errOut)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("send did not end")
	}
	if !strings.Contains(errOut.String(), "metrics at http://"+addr+"/metrics") {
		t.Errorf("stderr does not say where the metrics are: %s", errOut)
	}
}

func TestSendDurationMetrics(t *testing.T) {
	// A --duration run against a receiver that acknowledges, refuses, and closes the
	// connection without an answer in turn; it holds the seventh request until the test has
	// scraped the metrics of the six before it.
	var n atomic.Int32
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		i := n.Add(1)
		switch {
		case i >= 7:
			<-release
			w.WriteHeader(http.StatusAccepted)
		case i%3 == 1:
			w.WriteHeader(http.StatusAccepted)
		case i%3 == 2:
			w.WriteHeader(http.StatusServiceUnavailable)
		default:
			conn, _, err := w.(http.Hijacker).Hijack()
			if err == nil {
				conn.Close()
			}
		}
	}))
	defer srv.Close()
	addr := freeAddr(t)
	cancel, done := startSend(t, "--to", srv.URL, "--type", "com.example.load", "--duration", "10m", "--metrics-addr", addr, "-o", "json")
	fams := waitScrape(t, "http://"+addr+"/metrics", func(map[string]*dto.MetricFamily) bool { return n.Load() >= 7 })
	cancel() // no new request starts, and the one held ends
	close(release)
	wantSendOutcomes(t, fams, map[string]float64{"ack": 2, "nack": 2, "no_response": 2})
	wantMetrics(t, fams, []metricWant{{"cectl_send_latency_seconds", "", "", 6}})
	select {
	case <-done:
	case <-time.After(15 * time.Second):
		t.Fatal("send did not stop")
	}
}

func TestSendMetricsNotDelivered(t *testing.T) {
	// Nothing listens at the target: every event is counted as not delivered, none as sent.
	addr, dead := freeAddr(t), freeAddr(t)
	cancel, _ := startSend(t, "--to", "http://"+dead, "--type", "com.example.load", "--duration", "10m", "--rate", "200",
		"--metrics-addr", addr, "-o", "json")
	defer cancel()
	fams := waitScrape(t, "http://"+addr+"/metrics", func(f map[string]*dto.MetricFamily) bool {
		return metricValue(t, f, "cectl_send_requests_total", "outcome", "not_delivered") >= 5
	})
	for _, o := range sendOutcomes[:4] {
		wantMetrics(t, fams, []metricWant{{"cectl_send_requests_total", "outcome", o, 0}, {"cectl_send_events_total", "outcome", o, 0}})
	}
	if _, ok := fams["cectl_send_events_sent_total"]; ok {
		t.Error("events never delivered are counted as sent")
	}
	if got := metricValue(t, fams, "cectl_send_events_total", "outcome", "not_delivered"); got < 5 {
		t.Errorf("%v events not delivered", got)
	}
}
