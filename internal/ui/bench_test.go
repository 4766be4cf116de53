package ui

import (
	"bytes"
	"io"
	"net/http"
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

// BenchmarkEncodeEntry is what each message costs a page that follows.
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
