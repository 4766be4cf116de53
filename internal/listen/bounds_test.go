package listen

import (
	"context"
	"errors"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/cectl/cectl/internal/client"
	"github.com/cectl/cectl/internal/testutil"
	"github.com/cloudevents/sdk-go/v2/event"
)

// retained runs f and returns how many heap bytes stay live after it.
func retained(f func()) int64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	f()
	runtime.GC()
	runtime.ReadMemStats(&after)
	return int64(after.HeapAlloc) - int64(before.HeapAlloc)
}

// The summary keeps at most a bounded prefix of each type: 40 events with 1 MiB types of
// their own leave well under 1 MiB behind, not 40 MiB.
func TestSummaryTypesBounded(t *testing.T) {
	h, _ := newTestHandler(Config{})
	var keep *Handler
	grew := retained(func() {
		for i := range 40 {
			e := event.New()
			e.SetType(strings.Repeat("é", 512<<10) + string(rune('a'+i%26)) + strings.Repeat("x", i))
			rep := &Report{Events: []Arrival{{Event: &e}}}
			h.stats.events(rep, 1, 1)
		}
		keep = h
	})
	if grew > 1<<20 {
		t.Errorf("the summary keeps %d bytes for 40 long types", grew)
	}
	s := keep.Summary()
	if len(s.Types) != 1 || s.Types[0].Count != 40 {
		t.Fatalf("types %d, first %+v", len(s.Types), s.Types[0].Count)
	}
	k := s.Types[0].Type
	if len(k) > maxTypeLen+len("…") || !utf8.ValidString(k) || !strings.HasSuffix(k, "é…") {
		t.Errorf("type shown as %d bytes: %q", len(k), k[len(k)-10:])
	}
	if short := typeKey("com.example.t"); short != "com.example.t" {
		t.Errorf("a short type is counted as %q", short)
	}
}

// --dedupe remembers a fixed-size hash per event, whatever the size of source and id, and
// keeps the pair apart from every other pair (no separator can be forged).
func TestDedupeKeysBounded(t *testing.T) {
	s := newSeenSet(DedupeWindow)
	id := strings.Repeat("i", 64<<10)
	grew := retained(func() {
		for i := range 500 {
			src := "/s/" + strings.Repeat("s", i)
			if s.add(seenKey(src, id)) {
				t.Fatalf("event %d taken for a duplicate", i)
			}
		}
	})
	// 500 events with 64 KiB ids: 32 MiB if the keys were kept.
	if grew > 1<<20 {
		t.Errorf("the dedupe window keeps %d bytes for 500 events", grew)
	}
	if !s.add(seenKey("/s/"+strings.Repeat("s", 7), id)) {
		t.Error("a repeated event is not a duplicate")
	}
	if s.add(seenKey("a\x00", "b")) || s.add(seenKey("a", "\x00b")) {
		t.Error("different (source, id) pairs taken for one")
	}
}

// --max-body holds for broker messages too: a larger one is rejected with the reason, and
// not recorded.
func TestDeliverRefusesPastMaxBody(t *testing.T) {
	file := &testutil.Buffer{}
	h, rs := newTestHandler(Config{MaxBody: 1024, Recorder: NewRecorder(file, "buffer")})
	big := `{"specversion":"1.0","id":"1","source":"/s","type":"t","data":"` + strings.Repeat("x", 2000) + `"}`
	err := h.Deliver(context.Background(), structuredDelivery(big))
	var rej *client.Rejected
	if !errors.As(err, &rej) || !strings.Contains(rej.Reason, "listen takes at most 1024 (--max-body)") {
		t.Fatalf("Deliver: %v", err)
	}
	if rep := rs.last(t); rep.Kind != KindRejected || rep.Status != http.StatusRequestEntityTooLarge {
		t.Errorf("report %+v", rep)
	}
	if file.String() != "" {
		t.Errorf("recorded %q", file.String())
	}
	if err := h.Deliver(context.Background(), structuredDelivery(brokerJSON)); err != nil {
		t.Errorf("a small message: %v", err)
	}
}

// Short and long keys hash the same way whichever path lays them out.
func TestSeenKeyPaths(t *testing.T) {
	short := seenKey("/s", "1")
	long := seenKey(strings.Repeat("s", 300), "1")
	if short == long || seenKey("/s", "1") != short || seenKey(strings.Repeat("s", 300), "1") != long {
		t.Error("keys are not stable or collide")
	}
	if seenKey(strings.Repeat("a", 120), strings.Repeat("b", 130)) == seenKey(strings.Repeat("a", 121), strings.Repeat("b", 129)) {
		t.Error("the split between source and id is lost")
	}
	if n := testing.AllocsPerRun(100, func() { seenKey("/orders", "5f0c8e9e-5d0b-4a43-9d5e-0f0b8b7a7c11") }); n != 0 {
		t.Errorf("%v allocations per usual key", n)
	}
}
