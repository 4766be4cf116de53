package ce

import (
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
)

func TestAppendRecordedAndTakeReceived(t *testing.T) {
	at := time.Date(2026, 11, 25, 10, 0, 0, 123456789, time.UTC)
	e := event.New()
	e.SetID("1")
	e.SetSource("/s")
	e.SetType("t")
	got := string(AppendRecorded(nil, &e, at))
	want := `{"specversion":"1.0","id":"1","source":"/s","type":"t","cectlreceivedtime":"2026-11-25T10:00:00.123456789Z"}`
	if got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}

	// A stamp already there is replaced, not repeated, and the event itself is left alone.
	e.SetExtension(ReceivedExtension, "2020-01-01T00:00:00Z")
	got = string(AppendRecorded(nil, &e, at))
	if got != want {
		t.Errorf("restamped:\n got  %s\nwant %s", got, want)
	}
	if e.Extensions()[ReceivedExtension] != "2020-01-01T00:00:00Z" {
		t.Errorf("the event was changed: %v", e.Extensions())
	}

	var dec Decoder
	d, err := dec.Decode([]byte(want))
	if err != nil {
		t.Fatal(err)
	}
	rt, ok := TakeReceived(&d)
	if !ok || !rt.Equal(at) {
		t.Errorf("TakeReceived = %v, %v; want %v", rt, ok, at)
	}
	if _, has := d.Extensions()[ReceivedExtension]; has {
		t.Error("TakeReceived left the extension in")
	}
	e.SetExtension(ReceivedExtension, "yesterday")
	if _, ok := TakeReceived(&e); ok {
		t.Error("an unparsable stamp was taken as a time")
	}
}
