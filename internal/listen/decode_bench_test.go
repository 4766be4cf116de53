package listen

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/cectl/cectl/internal/validate"
	"github.com/cloudevents/sdk-go/v2/event"
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
	benchServe(b, h, http.Header{"Content-Type": {"application/cloudevents-batch+json"}}, body)
}

// BenchmarkDecodeBinaryOnly is the strict decoding of a binary-mode request alone.
func BenchmarkDecodeBinaryOnly(b *testing.B) {
	h := NewHandler(Config{})
	header := http.Header{
		"Ce-Specversion": {"1.0"}, "Ce-Id": {"12345"}, "Ce-Source": {"/bench"}, "Ce-Type": {"com.example.order.placed"},
		"Ce-Time": {"2026-11-25T10:00:00Z"}, "Content-Type": {"application/json"}}
	body := []byte(`{"order":42,"item":"book","qty":1}`)
	var ev [1]event.Event
	var w [1][]validate.Finding
	b.ReportAllocs()
	for b.Loop() {
		d := decoded{events: ev[:0], warnings: w[:0]}
		if p := h.decode(header, body, &d); p != nil {
			b.Fatal(p)
		}
	}
}
