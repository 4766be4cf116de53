package client

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/cectl/cectl/internal/binding"
)

// nats.go says only "no servers available for connection" when it could not reach a
// server; the error keeps why the dial failed.
func TestNATSKeepsTheDialError(t *testing.T) {
	addr := closedPort(t)
	for _, url := range []string{"nats://" + addr + "/x", "jetstream://" + addr + "/S/x"} {
		tg, err := Open(url, Options{Timeout: 3 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		res := tg.Send(context.Background(), binding.Structured, testEvents(t)[0])
		tg.Close()
		if res.Err == nil || !strings.Contains(res.Err.Error(), "connection refused") || strings.Contains(res.Err.Error(), "no servers available") {
			t.Errorf("send %s: %v, want the dial error", url, res.Err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		err = Subscribe(ctx, url, SubscribeOptions{Timeout: 3 * time.Second}, func(context.Context, Delivery) error { return nil })
		cancel()
		if err == nil || !strings.Contains(err.Error(), "connection refused") {
			t.Errorf("subscribe %s: %v, want the dial error", url, err)
		}
	}
}

// Core NATS has no acknowledgement: a publish is a success marked Unacknowledged (shown as
// PUBLISHED); JetStream's PubAck is an acknowledgement.
func TestNATSPublishIsNotAnAck(t *testing.T) {
	for _, s := range servers(t, startNATS, "CECTL_TEST_NATS_URL") {
		t.Run(s.name, func(t *testing.T) {
			res := send(t, open(t, s.base+"/cectl.test."+uniq("pub")), binding.Structured, testEvents(t)[0])
			if !res.Unacknowledged {
				t.Errorf("core NATS publish: %+v, want Unacknowledged", res)
			}
			url, stream, _ := jsURL(s.base)
			defer deleteStream(t, s.base, stream)
			if res := send(t, open(t, url), binding.Structured, testEvents(t)[0]); res.Unacknowledged {
				t.Errorf("JetStream publish marked Unacknowledged: %+v", res)
			}
		})
	}
}
