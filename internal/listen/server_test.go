package listen

import (
	"context"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("timed out")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestServerServesAndShutsDownGracefully(t *testing.T) {
	started := make(chan struct{})
	h := NewHandler(Config{Path: "/events", Faults: Faults{Delay: 200 * time.Millisecond}, Report: func(r *Report) {
		if r.Kind == KindEvents {
			close(started)
		}
	}})
	srv, err := Listen(h, ServerOptions{Addr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(srv.URL(), "http://127.0.0.1:") || !strings.HasSuffix(srv.URL(), "/events") || srv.AllInterfaces() {
		t.Errorf("URL %s", srv.URL())
	}
	if srv.srv.ReadHeaderTimeout == 0 || srv.srv.IdleTimeout == 0 || srv.srv.ReadTimeout == 0 || srv.srv.MaxHeaderBytes == 0 {
		t.Error("a slow client could hold the listener")
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve() }()

	// An event in flight when the stop comes is still answered.
	answer := make(chan int, 1)
	go func() {
		req, _ := http.NewRequest("POST", srv.URL(), nil)
		for k, v := range map[string]string{"Ce-Specversion": "1.0", "Ce-Id": "1", "Ce-Source": "/s", "Ce-Type": "t"} {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			answer <- 0
			return
		}
		resp.Body.Close()
		answer <- resp.StatusCode
	}()
	<-started
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if code := <-answer; code != http.StatusAccepted {
		t.Errorf("in-flight request answered %d", code)
	}
	if err := <-served; err != nil {
		t.Errorf("Serve: %v", err)
	}
	if _, err := net.Dial("tcp", srv.Addr().String()); err == nil {
		t.Error("still listening after Shutdown")
	}
}

func TestServerAllInterfaces(t *testing.T) {
	srv, err := Listen(NewHandler(Config{}), ServerOptions{Addr: ":0"})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Shutdown(context.Background())
	if !srv.AllInterfaces() || !strings.HasPrefix(srv.URL(), "http://localhost:") {
		t.Errorf("URL %s, all interfaces %v", srv.URL(), srv.AllInterfaces())
	}
}
