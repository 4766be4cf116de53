package listen

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
)

// BenchmarkDeliverUndecoded is the path of every binary broker message listen takes: the
// attributes handed over as they travelled, checked and built once.
func BenchmarkDeliverUndecoded(b *testing.B) {
	h := NewHandler(Config{Report: writeAndDiscard})
	d := undecodedBinary(b, brokerJSON)
	b.ReportAllocs()
	for b.Loop() {
		if err := h.Deliver(context.Background(), d); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkHandlerBatch posts a batch of ten events.
func BenchmarkHandlerBatch(b *testing.B) {
	h := NewHandler(Config{Report: writeAndDiscard})
	body := []byte("[" + strings.TrimSuffix(strings.Repeat(brokerJSON+",", 10), ",") + "]")
	rd := bytes.NewReader(body)
	req, _ := http.NewRequest("POST", "http://localhost/", io.NopCloser(rd))
	req.RequestURI = "/"
	req.ContentLength = int64(len(body))
	req.Header = http.Header{"Content-Type": {"application/cloudevents-batch+json"}}
	w := &discardWriter{h: http.Header{}}
	b.ReportAllocs()
	for b.Loop() {
		rd.Reset(body)
		clear(w.h)
		h.ServeHTTP(w, req)
		if w.code != http.StatusAccepted {
			b.Fatal(w.code)
		}
	}
}
