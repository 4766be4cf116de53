package metrics

import (
	"bytes"
	"io"
	"net/http"
	"testing"

	"github.com/cectl/cectl/internal/ce"
	"github.com/cectl/cectl/internal/listen"
)

// BenchmarkHandler is listen's HTTP handler on a binary-mode event, its report written as a
// JSON line (what -o json does) and discarded, without and with the metrics; the ratio of
// the two is the metrics' cost on the hot path (target: at most 5%).
func BenchmarkHandler(b *testing.B) {
	show := func(r *listen.Report) {
		var buf [512]byte
		out := buf[:0]
		for _, a := range r.Events {
			out = ce.AppendJSON(out, a.Event)
		}
		io.Discard.Write(out)
	}
	m := NewListen(0)
	for _, c := range []struct {
		name   string
		report func(*listen.Report)
	}{
		{"plain", show},
		{"metrics", func(r *listen.Report) { m.Observe(r); show(r) }},
	} {
		b.Run(c.name, func(b *testing.B) {
			h := listen.NewHandler(listen.Config{Report: c.report})
			body := []byte(`{"order":42,"item":"book","qty":1}`)
			rd := bytes.NewReader(body)
			req, _ := http.NewRequest("POST", "http://localhost/", io.NopCloser(rd))
			req.RequestURI = "/"
			req.ContentLength = int64(len(body))
			req.Header = http.Header{
				"Ce-Specversion": {"1.0"}, "Ce-Id": {"12345"}, "Ce-Source": {"/bench"}, "Ce-Type": {"com.example.order.placed"},
				"Ce-Time": {"2026-11-25T10:00:00Z"}, "Content-Type": {"application/json"}}
			w := &discard{h: http.Header{}}
			b.ReportAllocs()
			for b.Loop() {
				rd.Reset(body)
				clear(w.h)
				h.ServeHTTP(w, req)
				if w.code != http.StatusAccepted {
					b.Fatal(w.code)
				}
			}
		})
	}
}

// BenchmarkObserve is the metrics' part alone: one accepted event of a known type, recorded.
func BenchmarkObserve(b *testing.B) {
	m := NewListen(0)
	r := &listen.Report{Kind: listen.KindEvents, Status: 202, Bytes: 200, Recorded: 1, Events: []listen.Arrival{{Event: ev("com.example.order.placed")}}}
	b.ReportAllocs()
	for b.Loop() {
		m.Observe(r)
	}
}

type discard struct {
	h    http.Header
	code int
}

func (w *discard) Header() http.Header         { return w.h }
func (w *discard) Write(p []byte) (int, error) { return len(p), nil }
func (w *discard) WriteHeader(c int)           { w.code = c }
