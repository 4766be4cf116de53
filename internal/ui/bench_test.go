package ui

import (
	"bufio"
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/cectl/cectl/internal/binding"
	"github.com/cectl/cectl/internal/listen"
	"github.com/cloudevents/sdk-go/v2/event"
)

func benchExchange(b *testing.B) *listen.Exchange {
	e := event.New()
	e.SetID("12345")
	e.SetSource("/bench")
	e.SetType("com.example.order.placed")
	e.SetTime(time.Now())
	if err := e.SetData("application/json", map[string]any{"order": 42, "item": "book", "qty": 1}); err != nil {
		b.Fatal(err)
	}
	return &listen.Exchange{
		Report: &listen.Report{Kind: listen.KindEvents, Received: time.Now(), Method: "POST", Target: "/", Proto: "HTTP/1.1",
			Remote: "127.0.0.1:5000", Mode: binding.Binary, Header: http.Header{
				"Ce-Specversion": {"1.0"}, "Ce-Id": {"12345"}, "Ce-Source": {"/bench"}, "Ce-Type": {"com.example.order.placed"},
				"Ce-Time": {"2026-11-25T10:00:00Z"}, "Content-Type": {"application/json"}, "Content-Length": {"35"}, "User-Agent": {"bench"}}},
		Events:   []event.Event{e},
		Selected: []listen.Arrival{{Index: 0}},
		Body:     e.DataEncoded,
		Verdict:  &listen.Verdict{Outcome: listen.Accepted, Status: 202},
		Answer:   http.Header{},
		Host:     "127.0.0.1:8080",
	}
}

// BenchmarkObserve is what --ui costs each message when no page is open.
func BenchmarkObserve(b *testing.B) {
	u, _ := New(Options{})
	x := benchExchange(b)
	b.ReportAllocs()
	for b.Loop() {
		u.Observe(x)
	}
}

// BenchmarkEncodeSummary is what each message costs a page that follows: its list entry.
func BenchmarkEncodeSummary(b *testing.B) {
	e := newEntry(benchExchange(b))
	var buf []byte
	var enc encoder
	b.ReportAllocs()
	for b.Loop() {
		buf = enc.summary(buf[:0], e, nil)
	}
	b.ReportMetric(float64(len(buf)), "bytes/entry")
}

// BenchmarkEncodeEntry is what the detail of an entry costs when the page opens it.
func BenchmarkEncodeEntry(b *testing.B) {
	e := newEntry(benchExchange(b))
	var buf []byte
	var enc encoder
	b.ReportAllocs()
	for b.Loop() {
		buf = enc.entry(buf[:0], e, nil)
	}
}

// BenchmarkHandler compares listen's handler without and with the view observing it (no
// page open): the cost --ui adds to each event.
func BenchmarkHandler(b *testing.B) {
	body := []byte(`{"order":42,"item":"book","qty":1}`)
	for _, withUI := range []bool{false, true} {
		name := "bare"
		cfg := listen.Config{Report: func(*listen.Report) {}}
		if withUI {
			name = "ui"
			u, _ := New(Options{})
			cfg.Observer = u
		}
		b.Run(name, func(b *testing.B) {
			h := listen.NewHandler(cfg)
			req, _ := http.NewRequest("POST", "/", nil)
			req.Header = http.Header{"Ce-Specversion": {"1.0"}, "Ce-Id": {"12345"}, "Ce-Source": {"/bench"},
				"Ce-Type": {"com.example.order.placed"}, "Content-Type": {"application/json"}}
			req.ContentLength = int64(len(body))
			w := &discardWriter{h: http.Header{}}
			b.ReportAllocs()
			for b.Loop() {
				req.Body = io.NopCloser(bytes.NewReader(body))
				clear(w.h)
				h.ServeHTTP(w, req)
			}
		})
	}
}

type discardWriter struct{ h http.Header }

func (w *discardWriter) Header() http.Header         { return w.h }
func (w *discardWriter) Write(p []byte) (int, error) { return len(p), nil }
func (w *discardWriter) WriteHeader(int)             {}

// BenchmarkObserveFollowed is what --ui costs each message while one page follows: the
// observer, the stream's encoding and writes (the page's reading is on another goroutine
// and only counts the entries).
func BenchmarkObserveFollowed(b *testing.B) {
	u, _ := New(Options{})
	defer u.Close()
	srv := httptest.NewServer(u.Handler())
	defer srv.Close()
	resp, err := http.Get(srv.URL + Prefix + "events")
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	got := make(chan int64, 1)
	go func() {
		var n int64
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(nil, 16<<20)
		for sc.Scan() {
			if id, ok := bytes.CutPrefix(sc.Bytes(), []byte("id: ")); ok {
				n++
				if string(id) == strconv.Itoa(b.N) {
					got <- n
				}
			}
		}
	}()
	x := benchExchange(b)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		u.Observe(x)
	}
	select {
	case n := <-got:
		// Under a flood faster than the page reads, the oldest are pushed out of the
		// history before it gets them, as they would be for a browser.
		b.ReportMetric(float64(n)/float64(b.N), "sent/op")
	case <-time.After(10 * time.Second):
		b.Fatal("the page did not get every entry")
	}
}
