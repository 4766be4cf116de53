package cmd

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestSendLoadMetrics(t *testing.T) {
	// The receiver refuses every third request and holds the last one until the test has
	// scraped the metrics of the eleven before it.
	var n atomic.Int32
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		i := n.Add(1)
		if i == 12 {
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
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()

	f, out, errOut := testFactory("", nil)
	done := make(chan int, 1)
	go func() {
		done <- Run(context.Background(), f.IO, f.Build, []string{"send", "--to", srv.URL, "--type", "com.example.load",
			"--count", "12", "--metrics-addr", addr, "-o", "json"}, f.Getenv)
	}()
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := http.Get("http://" + addr + "/metrics")
		if err == nil {
			resp.Body.Close()
			if n.Load() == 12 {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the last request did not come (%d): %v", n.Load(), err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	fams := scrapeURL(t, "http://"+addr+"/metrics")
	close(release)
	wantMetrics(t, fams, []metricWant{
		{"cectl_send_events_sent_total", "", "", 11},
		{"cectl_send_requests_total", "outcome", "ack", 8},
		{"cectl_send_requests_total", "outcome", "nack", 3},
		{"cectl_send_requests_total", "outcome", "not_delivered", 0},
		{"cectl_send_latency_seconds", "", "", 11},
	})
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
