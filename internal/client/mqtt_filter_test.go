package client

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"
)

// A '#' in an MQTT URL is the multi-level wildcard, not a URL fragment, and '+' the
// single-level one (MQTT 5 §4.7): "shop/#" receives what is published on shop/a/b, and the
// banner note names the filter used.
func TestMQTTWildcardFilters(t *testing.T) {
	for _, s := range servers(t, startMQTT, "CECTL_TEST_MQTT_URL") {
		t.Run(s.name, func(t *testing.T) {
			prefix := "cectl/" + uniq("wild")
			for _, c := range []struct{ url, filter string }{
				{s.base + "/" + prefix + "/#", prefix + "/#"},
				{s.base + "/" + prefix + "/#?qos=2", prefix + "/#"},
				{s.base + "/" + prefix + "/+/b", prefix + "/+/b"},
			} {
				var notes []string
				l := listen(t, c.url, SubscribeOptions{Note: func(n string) { notes = append(notes, n) }})
				if want := "topic filter " + c.filter; len(notes) != 1 || notes[0] != want {
					t.Errorf("%s: notes %q, want %q", c.url, notes, want)
				}
				pub := rawPublisher(t, s.base)
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				_, err := pub.Publish(ctx, &paho.Publish{Topic: prefix + "/a/b", QoS: 1,
					Payload:    []byte(`{"specversion":"1.0","id":"w1","source":"/s","type":"t"}`),
					Properties: &paho.PublishProperties{ContentType: "application/cloudevents+json"}})
				cancel()
				if err != nil {
					t.Fatal(err)
				}
				d := l.next(t)
				if d.Err != nil || d.Event.ID() != "w1" || d.Metadata()["topic"] != prefix+"/a/b" {
					t.Errorf("%s: got %+v (topic %q) err %v", c.url, d.Event, d.Metadata()["topic"], d.Err)
				}
				l.close(t)
			}
		})
	}
}

func TestMQTTTopicFilterErrors(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for url, want := range map[string]string{
		"mqtt://127.0.0.1:1/shop/#/x": "'#' must be a level of its own and the last one",
		"mqtt://127.0.0.1:1/shop#":    "'#' must be a level of its own and the last one",
		"mqtt://127.0.0.1:1/shop/a+":  "'+' must be a level of its own",
	} {
		err := Subscribe(ctx, url, SubscribeOptions{}, func(context.Context, Delivery) error { return nil })
		var ue *UsageError
		if !errors.As(err, &ue) || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want a usage error saying %q", url, err, want)
		}
	}
	// A topic filter is no topic to publish to: before, '#' was cut off as a fragment and the
	// event went to "shop/".
	_, err := Open("mqtt://127.0.0.1:1/shop/#", Options{})
	if err == nil || !strings.Contains(err.Error(), `cannot publish to the topic filter "shop/#"`) {
		t.Errorf("publish to shop/#: %v", err)
	}
}
