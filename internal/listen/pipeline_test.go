package listen

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/cectl/cectl/internal/client"
)

func stageNames(h *Handler) []string {
	var names []string
	for _, s := range h.stages {
		names = append(names, s.name)
	}
	return names
}

// A message pays only for the stages its configuration asks for, in a fixed order.
func TestPipelineStages(t *testing.T) {
	replies, err := LoadReplies(bytes.NewReader([]byte(`{"specversion":"1.0","source":"/s","type":"t"}`)))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		cfg  Config
		want string
	}{
		{Config{}, "[decode filter report]"},
		{Config{Faults: Faults{Status: 201}}, "[decode filter report]"},
		{Config{Faults: Faults{Status: 500}}, "[decode filter faults report]"},
		{Config{Faults: Faults{FailRate: 0.1, Delay: time.Second}}, "[decode filter faults report delay]"},
		{Config{Dedupe: true, Count: 3, Recorder: NewRecorder(&bytes.Buffer{}, "b"), Forwarder: NewForwarder(nil, nil), Replies: replies},
			"[decode filter dedupe count record forward reply report]"},
	}
	for _, tt := range tests {
		if got := fmt.Sprint(stageNames(NewHandler(tt.cfg))); got != tt.want {
			t.Errorf("%+v: stages %s, want %s", tt.cfg, got, tt.want)
		}
	}
}

// The pipeline decides; HTTP and brokers only answer. The same message in the same situation
// gets the same verdict over both, each transport answering it in its own terms.
func TestVerdictIsTheSameForEveryTransport(t *testing.T) {
	const valid = `{"specversion":"1.0","id":"1","source":"/s","type":"t"}`
	tests := []struct {
		name    string
		cfg     Config
		doc     string
		outcome Outcome
		status  int
		stage   string
		settle  func(error) bool
	}{
		{"accepted", Config{}, valid, Accepted, http.StatusAccepted, "", func(err error) bool { return err == nil }},
		{"invalid", Config{}, `{"specversion":"1.0","id":"1","source":"/s"}`, Rejected, http.StatusBadRequest, "decode",
			func(err error) bool { var rj *client.Rejected; return errors.As(err, &rj) }},
		{"refused on purpose", Config{Faults: Faults{Status: 500, RetryAfter: "3"}}, valid, Refused, 500, "",
			func(err error) bool {
				var rj *client.Rejected
				return err != nil && !errors.As(err, &rj) && !errors.Is(err, ErrStopped)
			}},
		{"record fails", Config{Recorder: NewRecorder(failWriter{}, "r")}, valid, Failed, http.StatusInternalServerError, "record",
			func(err error) bool {
				var rj *client.Rejected
				return err != nil && !errors.As(err, &rj) && !errors.Is(err, ErrStopped)
			}},
		{"filtered out", Config{Filter: mustFilter(t, "type = 'other'")}, valid, Accepted, http.StatusAccepted, "", func(err error) bool { return err == nil }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var verdicts [2]Verdict
			for i := range 2 {
				h, _ := newTestHandler(tt.cfg)
				x := h.getExchange()
				if i == 0 {
					x.msg = message{header: http.Header{"Content-Type": {"application/cloudevents+json"}}, body: []byte(tt.doc)}
				} else {
					x.msg = message{delivery: structuredDelivery(tt.doc), fromBroker: true}
				}
				verdicts[i] = *h.run(context.Background(), x)
				h.putExchange(x)
			}
			if verdicts[0] != verdicts[1] {
				t.Fatalf("HTTP verdict %+v, broker verdict %+v", verdicts[0], verdicts[1])
			}
			v := verdicts[0]
			if v.Outcome != tt.outcome || v.Status != tt.status || v.Stage != tt.stage {
				t.Fatalf("verdict %+v", v)
			}

			h, _ := newTestHandler(tt.cfg)
			w := serve(h, request("POST", "/", tt.doc, "Content-Type: application/cloudevents+json"))
			if w.Code != tt.status {
				t.Errorf("HTTP answered %d, want %d", w.Code, tt.status)
			}
			if v.RetryAfter != "" && w.Header().Get("Retry-After") != v.RetryAfter {
				t.Errorf("HTTP Retry-After %q, want %q", w.Header().Get("Retry-After"), v.RetryAfter)
			}
			h, _ = newTestHandler(tt.cfg)
			if err := h.Deliver(context.Background(), structuredDelivery(tt.doc)); !tt.settle(err) {
				t.Errorf("Deliver returned %v", err)
			}
		})
	}
}

// A message that comes when others have reached --count is turned away, over HTTP with 503
// and Retry-After, to a broker with ErrStopped; either way its events are not remembered.
func TestVerdictPastTheCount(t *testing.T) {
	h, _ := newTestHandler(Config{Count: 1, Dedupe: true})
	h.counted.Store(1) // another message got there first, after this one was let in
	x := h.getExchange()
	x.msg = message{delivery: structuredDelivery(brokerJSON), fromBroker: true}
	v := *h.run(context.Background(), x)
	h.putExchange(x)
	if v.Outcome != Stopped || v.Status != http.StatusServiceUnavailable || v.RetryAfter == "" || v.Stage != "count" {
		t.Fatalf("verdict %+v", v)
	}
	if err := settle(&v); !errors.Is(err, ErrStopped) {
		t.Errorf("settled with %v", err)
	}
	if h.seen.has(seenKey("/bench", "12345")) {
		t.Error("a turned-away event is remembered as seen")
	}
	select {
	case <-h.Reached():
		t.Error("reached by a turned-away message")
	default:
	}
	w := serve(h, request("POST", "/", "", binaryHeaders...))
	if w.Code != http.StatusServiceUnavailable || w.Header().Get("Retry-After") != "1" || w.Header().Get("Connection") != "close" {
		t.Errorf("HTTP answer %d %v", w.Code, w.Header())
	}
}

func mustFilter(t *testing.T, expr string) *Filter {
	t.Helper()
	f, err := NewFilter(expr, nil)
	if err != nil {
		t.Fatal(err)
	}
	return f
}
