package trace

import (
	"net/http"
	"strings"
	"testing"

	"github.com/cloudevents/sdk-go/v2/event"
)

func TestNewAndParse(t *testing.T) {
	c := New()
	if !c.Valid() || c.Flags != Sampled {
		t.Fatalf("%+v", c)
	}
	tp := c.Traceparent()
	if len(tp) != 55 || !strings.HasPrefix(tp, "00-"+c.TraceIDString()+"-"+c.SpanIDString()+"-01") {
		t.Fatalf("traceparent %q", tp)
	}
	got, err := Parse(tp)
	if err != nil || got != c {
		t.Fatalf("Parse(%q) = %+v, %v", tp, got, err)
	}
	if New().TraceID == c.TraceID {
		t.Fatal("two traces share an id")
	}
	child := c.Child()
	if child.TraceID != c.TraceID || child.SpanID == c.SpanID {
		t.Fatalf("child %+v of %+v", child, c)
	}
}

func TestParseRejects(t *testing.T) {
	// Examples of W3C Trace Context §3.2.2 and what it rules out.
	good := "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	if c, err := Parse(good); err != nil || c.TraceIDString() != "4bf92f3577b34da6a3ce929d0e0e4736" || c.SpanIDString() != "00f067aa0ba902b7" || c.Flags != 1 {
		t.Fatalf("%+v %v", c, err)
	}
	// A later version is read by its first four fields (§3.2.4).
	if _, err := Parse("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-what-ever"); err != nil {
		t.Fatalf("version 01: %v", err)
	}
	for _, bad := range []string{
		"",
		"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
		"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
		"ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
		"00-00000000000000000000000000000000-00f067aa0ba902b7-01",
		"00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
		"00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
		"00_4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
		"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0g",
	} {
		if _, err := Parse(bad); err == nil {
			t.Errorf("Parse(%q) accepted", bad)
		}
	}
}

func TestContinue(t *testing.T) {
	in := event.New()
	c := New()
	c.State = "vendor=abc"
	SetOnEvent(&in, c)
	reply := event.New()
	got, ok := Continue(&reply, &in, "")
	if !ok || got.TraceID != c.TraceID || got.SpanID == c.SpanID || got.State != "vendor=abc" {
		t.Fatalf("%+v %v", got, ok)
	}
	back, ok := FromEvent(&reply)
	if !ok || back != got {
		t.Fatalf("reply carries %+v, want %+v", back, got)
	}
	// No extension: the HTTP header's trace; neither: the reply is left alone.
	plain, reply2 := event.New(), event.New()
	if got, ok := Continue(&reply2, &plain, c.Traceparent()); !ok || got.TraceID != c.TraceID {
		t.Fatalf("from the header: %+v %v", got, ok)
	}
	reply3 := event.New()
	if _, ok := Continue(&reply3, &plain, ""); ok || len(reply3.Extensions()) != 0 {
		t.Fatalf("no trace, but %v", reply3.Extensions())
	}
}

func TestFromHeader(t *testing.T) {
	const tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	h := http.Header{}
	h.Set("Traceparent", tp)
	h.Add("Tracestate", "a=1")
	h.Add("Tracestate", "b=2")
	if c, ok := FromHeader(h); !ok || c.Traceparent() != tp || c.State != "a=1,b=2" {
		t.Fatalf("%+v %v", c, ok)
	}
	// Broker properties keep the case of their names.
	if c, ok := FromHeader(http.Header{"traceparent": {tp}, "tracestate": {"v=1"}}); !ok || c.State != "v=1" {
		t.Fatalf("lower-case names: %+v %v", c, ok)
	}
	for _, bad := range []http.Header{nil, {"Traceparent": {"00-zz"}}, {"Traceparent": {tp, tp}}} {
		if c, ok := FromHeader(bad); ok {
			t.Errorf("%v: %+v", bad, c)
		}
	}
}
