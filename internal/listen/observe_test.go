package listen

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/cectl/cectl/internal/binding"
	"github.com/cectl/cectl/internal/client"
)

// seen is what an observer kept of each exchange: copies, as Observe's contract asks.
type seen struct {
	kind     Kind
	status   int
	outcome  Outcome
	reason   string
	ids      []string
	selected []int
	data     []string
	body     string
	header   http.Header
	host     string
	answer   http.Header
}

type recorder struct {
	mu  sync.Mutex
	got []seen
}

func (r *recorder) Observe(x *Exchange) {
	s := seen{kind: x.Report.Kind, status: x.Verdict.Status, outcome: x.Verdict.Outcome, reason: x.Verdict.Reason,
		body: string(x.Body), header: x.Report.Header.Clone(), host: x.Host, answer: x.Answer.Clone()}
	for _, e := range x.Events {
		s.ids = append(s.ids, e.ID())
		s.data = append(s.data, string(e.DataEncoded))
	}
	for _, a := range x.Selected {
		s.selected = append(s.selected, a.Index)
	}
	r.mu.Lock()
	r.got = append(r.got, s)
	r.mu.Unlock()
}

// TestObserverHTTP: the observer sees every answered request — events with the ones the
// filter selected, and requests rejected before any event was read — with the body, the
// wire headers and the answer.
func TestObserverHTTP(t *testing.T) {
	var rec recorder
	filter, err := NewFilter("", []string{"com.example.keep"})
	if err != nil {
		t.Fatal(err)
	}
	h := NewHandler(Config{Observer: &rec, Filter: filter})
	do := func(method, target, ct, body string) int {
		req := httptest.NewRequest(method, target, strings.NewReader(body))
		if ct != "" {
			req.Header.Set("Content-Type", ct)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		return w.Code
	}
	batch := `[{"specversion":"1.0","id":"a","source":"/s","type":"com.example.keep","data":"x"},` +
		`{"specversion":"1.0","id":"b","source":"/s","type":"com.example.skip"}]`
	if c := do("POST", "/", "application/cloudevents-batch+json", batch); c != 202 {
		t.Fatalf("batch: %d", c)
	}
	do("GET", "/", "", "")
	do("POST", "/nowhere", "", "")
	do("POST", "/", "text/plain", "hello")
	if len(rec.got) != 4 {
		t.Fatalf("observed %d exchanges, want 4", len(rec.got))
	}
	b := rec.got[0]
	if b.kind != KindEvents || b.status != 202 || strings.Join(b.ids, ",") != "a,b" || len(b.selected) != 1 || b.selected[0] != 0 ||
		b.body != batch || b.host != "example.com" || b.header.Get("Content-Type") != "application/cloudevents-batch+json" {
		t.Errorf("batch exchange: %+v", b)
	}
	for i, want := range []int{405, 404, 415} {
		r := rec.got[i+1]
		if r.kind != KindRejected || r.status != want || r.reason == "" || r.ids != nil {
			t.Errorf("exchange %d: %+v, want rejected %d", i+1, r, want)
		}
	}
	if rec.got[1].answer.Get("Allow") != allowed {
		t.Errorf("the answer's headers are not observed: %v", rec.got[1].answer)
	}
	if rec.got[3].body != "hello" {
		t.Errorf("rejected body %q", rec.got[3].body)
	}
}

// TestObserverBroker: a broker message is observed with its properties as headers, also
// without -v (ShowHeaders), and its payload.
func TestObserverBroker(t *testing.T) {
	var rec recorder
	h := NewHandler(Config{Observer: &rec})
	doc := `{"specversion":"1.0","id":"m1","source":"/s","type":"t","data":{"a":1}}`
	d := client.Delivery{Mode: binding.Structured, Raw: []byte(doc), Transport: "nats",
		Meta: map[string]string{"subject": "orders", "header:Trace": "x1"}}
	if err := h.Deliver(context.Background(), d); err != nil {
		t.Fatal(err)
	}
	g := rec.got[0]
	if g.kind != KindEvents || g.ids[0] != "m1" || g.body != doc || g.header.Get("Trace") != "x1" || g.answer != nil {
		t.Errorf("broker exchange: %+v", g)
	}
	if !bytes.Equal([]byte(g.data[0]), []byte(`{"a":1}`)) {
		t.Errorf("data %q", g.data[0])
	}
}
