package client

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"
)

// refusingAMQP is a server that refuses every SASL login with outcome code 1, "auth"
// (amqp 1.0 §5.3.3.6), or, with v091, answers with the AMQP 0-9-1 protocol header.
func refusingAMQP(t *testing.T, v091 bool) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			nc, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer nc.Close()
				hdr := make([]byte, 8)
				if _, err := io.ReadFull(nc, hdr); err != nil {
					return
				}
				if v091 {
					_, _ = nc.Write([]byte{'A', 'M', 'Q', 'P', 0, 0, 9, 1})
					return
				}
				_, _ = nc.Write(hdr)
				_, _ = nc.Write(amqpFrameBytes(1, 0, amqpPerformative(saslMechanisms, amqpSymbols{"ANONYMOUS", "PLAIN"}), nil))
				c := &amqpConn{nc: nc}
				r := bufio.NewReader(nc)
				if _, err := c.readFrame(r); err != nil {
					return
				}
				_, _ = nc.Write(amqpFrameBytes(1, 0, amqpPerformative(saslOutcome, uint8(1)), nil))
				_, _ = io.Copy(io.Discard, nc)
			}()
		}
	}()
	return "amqp://" + l.Addr().String()
}

func TestAMQPLoginErrorsSayWhatToDo(t *testing.T) {
	base := refusingAMQP(t, false)
	old := refusingAMQP(t, true)
	ev := testEvents(t)[0]
	for _, c := range []struct{ url, want string }{
		{strings.Replace(base, "amqp://", "amqp://alice:wrong@", 1) + "/orders", `wrong user or password for "alice"`},
		{base + "/orders", "the broker refuses an anonymous login; give user:password in the URL"},
		{old + "/orders", "the server speaks AMQP 0-9-1, not AMQP 1.0; RabbitMQ 3 speaks 1.0 with its plugin: rabbitmq-plugins enable rabbitmq_amqp1_0"},
	} {
		tg, err := Open(c.url, Options{Timeout: 5 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		res := tg.Send(ctx, 0, ev)
		cancel()
		tg.Close()
		if res.ACK || res.Err == nil || !strings.Contains(res.Err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", c.url, res.Err, c.want)
		}
		ctx, cancel = context.WithTimeout(context.Background(), 10*time.Second)
		err = Subscribe(ctx, c.url, SubscribeOptions{Timeout: 5 * time.Second}, func(context.Context, Delivery) error { return nil })
		cancel()
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("listen %s: %v, want %q", c.url, err, c.want)
		}
	}
}

// A link to an address the broker does not have: amqp:not-found, or RabbitMQ's words.
func TestAMQPUnknownAddress(t *testing.T) {
	for _, msg := range []string{
		`*Error{Condition: amqp:not-found, Description: no such node, Info: map[]}`,
		`session ended by server: *Error{Condition: amqp:invalid-field, Description: Attach rejected: {unknown_destination,"/nosuch/x"}, Info: map[]}`,
	} {
		err := amqpLinkError("/nosuch/x", errors.New(msg))
		if !errors.Is(err, errAMQPUnknownAddress) || !strings.Contains(err.Error(), "the broker has no such address: /nosuch/x; check the address") {
			t.Errorf("%s: %v", msg, err)
		}
	}
	if err := amqpLinkError("/q", errors.New("amqp:resource-limit-exceeded")); errors.Is(err, errAMQPUnknownAddress) {
		t.Errorf("another refusal taken for an unknown address: %v", err)
	}
	// A real broker, when one is configured (RabbitMQ refuses an unknown /exchange/).
	if base := strings.TrimRight(os.Getenv("CECTL_TEST_AMQP_URL"), "/"); base != "" {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		err := Subscribe(ctx, base+"/exchange/cectl-no-such-exchange-"+uniq("x")+"/k", SubscribeOptions{Timeout: 10 * time.Second}, func(context.Context, Delivery) error { return nil })
		if !errors.Is(err, errAMQPUnknownAddress) {
			t.Errorf("real broker, unknown exchange: %v", err)
		}
		u, _ := url.Parse(base)
		if u.User != nil {
			u.User = url.UserPassword(u.User.Username(), "cectl-wrong-password")
			err := Subscribe(ctx, u.String()+"/queue/x", SubscribeOptions{Timeout: 10 * time.Second}, func(context.Context, Delivery) error { return nil })
			if err == nil || !strings.Contains(err.Error(), "wrong user or password") {
				t.Errorf("real broker, wrong password: %v", err)
			}
		}
	}
}
