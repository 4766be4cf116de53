package listen

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/cectl/cectl/internal/binding"
	"github.com/cectl/cectl/internal/ce"
	"github.com/cectl/cectl/internal/client"
	"github.com/cectl/cectl/internal/testutil"
	"github.com/cloudevents/sdk-go/v2/event"
)

const brokerJSON = `{"specversion":"1.0","id":"12345","source":"/bench","type":"com.example.order.placed","time":"2026-11-25T10:00:00Z","datacontenttype":"application/json","data":{"order":42,"item":"book","qty":1}}`

// binaryDelivery is a binary-mode message as a subscriber hands it over: the event decoded
// from the transport's properties, the payload as data.
func binaryDelivery(t testing.TB, doc string) client.Delivery {
	t.Helper()
	e, err := ce.Decode([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	return client.Delivery{Event: e, Mode: binding.Binary, Raw: e.DataEncoded,
		Transport: "mqtt", Meta: map[string]string{"topic": "orders", "qos": "1", "property:trace": "abc"}}
}

// undecodedBinary is a binary-mode message handed over undecoded: its attributes as the
// strings they travelled as, datacontenttype as the transport's content type.
func undecodedBinary(t testing.TB, doc string) client.Delivery {
	t.Helper()
	d := binaryDelivery(t, doc)
	for _, a := range ce.Attributes(&d.Event) {
		if a.Name == "datacontenttype" {
			d.ContentType = a.Value
			continue
		}
		d.Attrs = append(d.Attrs, binding.Attr{Name: a.Name, Value: a.Value})
	}
	d.Event = event.Event{}
	return d
}

// structuredDelivery is a structured message handed over undecoded.
func structuredDelivery(doc string) client.Delivery {
	return client.Delivery{Mode: binding.Structured, Raw: []byte(doc),
		Transport: "nats", Meta: map[string]string{"subject": "orders"}}
}

func TestDeliverTakesBinaryAndStructuredMessages(t *testing.T) {
	for name, d := range map[string]client.Delivery{
		"binary": binaryDelivery(t, brokerJSON), "binary undecoded": undecodedBinary(t, brokerJSON),
		"structured": structuredDelivery(brokerJSON),
	} {
		t.Run(name, func(t *testing.T) {
			file := &testutil.Buffer{}
			h, rs := newTestHandler(Config{Recorder: NewRecorder(file, "buffer")})
			if err := h.Deliver(context.Background(), d); err != nil {
				t.Fatalf("Deliver: %v", err)
			}
			rep := rs.last(t)
			if rep.Kind != KindEvents || rep.Mode != d.Mode || rep.Proto != strings.ToUpper(d.Transport) || len(rep.Events) != 1 {
				t.Fatalf("report %+v", rep)
			}
			if rep.Header != nil || rep.Target != "" {
				t.Errorf("headers laid out without ShowHeaders: %q %v", rep.Target, rep.Header)
			}
			if got := rs.json[0]; got != brokerJSON {
				t.Errorf("event\n got %s\nwant %s", got, brokerJSON)
			}
			// The record keeps the receive time (the test clock) for send --pace.
			if file.String() != strings.TrimSuffix(brokerJSON, "}")+`,"cectlreceivedtime":"2026-11-25T10:00:00Z"}`+"\n" {
				t.Errorf("record %q", file)
			}
		})
	}
}

func TestDeliverShowHeaders(t *testing.T) {
	h, rs := newTestHandler(Config{ShowHeaders: true})
	if err := h.Deliver(context.Background(), binaryDelivery(t, brokerJSON)); err != nil {
		t.Fatal(err)
	}
	rep := rs.last(t)
	// The transport's headers, under their own names, and nothing made up.
	if rep.Target != "qos=1 topic=orders" || len(rep.Header) != 1 || len(rep.Header["trace"]) != 1 || rep.Header["trace"][0] != "abc" {
		t.Fatalf("target %q, header %v", rep.Target, rep.Header)
	}
}

// A binary message is checked by the same rules as an HTTP binary request: typed extensions
// get their type back, data without datacontenttype is JSON, and what is wrong is refused
// with a *client.Rejected, so that the subscriber settles it as no CloudEvent.
func TestDeliverBinaryChecks(t *testing.T) {
	h, rs := newTestHandler(Config{})
	d := binaryDelivery(t, `{"specversion":"1.0","id":"1","source":"/s","type":"t","data":{"a":1}}`)
	if err := ce.SetExtension(&d.Event, "sampledrate", "10"); err != nil {
		t.Fatal(err)
	}
	if err := h.Deliver(context.Background(), d); err != nil {
		t.Fatal(err)
	}
	want := `{"specversion":"1.0","id":"1","source":"/s","type":"t","datacontenttype":"application/json","sampledrate":10,"data":{"a":1}}`
	if got := rs.json[len(rs.json)-1]; got != want {
		t.Errorf("event\n got %s\nwant %s", got, want)
	}

	for name, mutate := range map[string]func(e *event.Event){
		"invalid UTF-8":      func(e *event.Event) { _ = ce.SetAttribute(e, "subject", "a\xffb") },
		"control character":  func(e *event.Event) { _ = ce.SetAttribute(e, "subject", "a\x01b") },
		"wrong typed exten.": func(e *event.Event) { _ = ce.SetExtension(e, "sampledrate", "ten") },
	} {
		d := binaryDelivery(t, brokerJSON)
		mutate(&d.Event)
		err := h.Deliver(context.Background(), d)
		var rj *client.Rejected
		if !errors.As(err, &rj) {
			t.Errorf("%s: Deliver returned %v, want a *client.Rejected", name, err)
			continue
		}
		rep := rs.last(t)
		if rep.Kind != KindRejected || rep.Status != 400 || !strings.Contains(rep.Reason, "binary mode") || rep.Target == "" {
			t.Errorf("%s: report %+v", name, rep)
		}
	}
}

// Undecoded binary attributes go through the same checks: the transport's content type
// wins over a datacontenttype attribute, typed extensions get their type, and a value the
// validator refuses is rejected naming the attribute.
func TestDeliverUndecodedBinary(t *testing.T) {
	h, rs := newTestHandler(Config{})
	d := client.Delivery{Mode: binding.Binary, Transport: "kafka", Raw: []byte("hi"), ContentType: "text/plain", Attrs: []binding.Attr{
		{Name: "specversion", Value: "1.0"}, {Name: "id", Value: "1"}, {Name: "source", Value: "/s"}, {Name: "type", Value: "t"},
		{Name: "datacontenttype", Value: "application/xml"}, {Name: "sampledrate", Value: "10"}, {Name: "region", Value: "eu"},
	}}
	if err := h.Deliver(context.Background(), d); err != nil {
		t.Fatal(err)
	}
	want := `{"specversion":"1.0","id":"1","source":"/s","type":"t","datacontenttype":"text/plain","region":"eu","sampledrate":10,"data":"hi"}`
	if got := rs.json[len(rs.json)-1]; got != want {
		t.Errorf("event\n got %s\nwant %s", got, want)
	}
	d.ContentType, d.Raw = "", []byte(`{"a":1}`)
	if err := h.Deliver(context.Background(), d); err != nil {
		t.Fatal(err)
	}
	if got := rs.json[len(rs.json)-1]; !strings.Contains(got, `"datacontenttype":"application/xml"`) {
		t.Errorf("without a content type the attribute counts: %s", got)
	}

	d.Attrs = append(d.Attrs[:len(d.Attrs):len(d.Attrs)], binding.Attr{Name: "time", Value: "yesterday"})
	err := h.Deliver(context.Background(), d)
	var rj *client.Rejected
	if !errors.As(err, &rj) {
		t.Fatalf("Deliver returned %v, want a *client.Rejected", err)
	}
	if rep := rs.last(t); rep.Kind != KindRejected || !strings.Contains(rep.Reason, "binary mode") || !strings.Contains(rep.Reason, "time") {
		t.Errorf("report %+v", rep)
	}
}

func TestDeliverRefusesWhatIsNoEvent(t *testing.T) {
	h, rs := newTestHandler(Config{})
	for name, d := range map[string]client.Delivery{
		"not json":       structuredDelivery(`{not json`),
		"float ext":      structuredDelivery(`{"specversion":"1.0","id":"1","source":"/s","type":"t","x":1.5}`),
		"no id":          structuredDelivery(`{"specversion":"1.0","source":"/s","type":"t"}`),
		"subscriber err": {Mode: binding.Structured, Raw: []byte("x"), Err: errors.New("unsupported event format"), Transport: "amqp"},
	} {
		err := h.Deliver(context.Background(), d)
		var rj *client.Rejected
		if !errors.As(err, &rj) {
			t.Errorf("%s: Deliver returned %v, want a *client.Rejected", name, err)
			continue
		}
		if rep := rs.last(t); rep.Kind != KindRejected || rep.Status < 400 || rep.Status > 415 {
			t.Errorf("%s: report %+v", name, rep)
		}
	}
	if s := h.Summary(); s.Selected != 0 {
		t.Errorf("refused messages counted: %+v", s)
	}
}

// A message whose event could not be recorded must not be acknowledged: Deliver returns an
// error that is not a *client.Rejected, so the subscription ends with the message unsettled.
func TestDeliverRecordFailureIsNotAcknowledged(t *testing.T) {
	h, _ := newTestHandler(Config{Recorder: NewRecorder(failWriter{}, "events.jsonl")})
	err := h.Deliver(context.Background(), structuredDelivery(brokerJSON))
	var rj *client.Rejected
	if err == nil || errors.As(err, &rj) || errors.Is(err, ErrStopped) {
		t.Fatalf("Deliver returned %v, want an error that leaves the message unacknowledged", err)
	}
}

func TestDeliverStopsAtCount(t *testing.T) {
	h, _ := newTestHandler(Config{Count: 1})
	if err := h.Deliver(context.Background(), structuredDelivery(brokerJSON)); err != nil {
		t.Fatal(err)
	}
	if err := h.Deliver(context.Background(), structuredDelivery(brokerJSON)); !errors.Is(err, ErrStopped) {
		t.Fatalf("past the count: %v, want ErrStopped", err)
	}
}

func BenchmarkDeliver(b *testing.B) {
	h := NewHandler(Config{Report: writeAndDiscard})
	for _, d := range []client.Delivery{binaryDelivery(b, brokerJSON), structuredDelivery(brokerJSON)} {
		b.Run(d.Mode.String(), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if err := h.Deliver(context.Background(), d); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
