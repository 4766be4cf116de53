package client

import (
	"errors"
	"fmt"
	"strings"
)

// go-amqp reports a refused login, a server of another AMQP version and a refused link as
// text only; these turn them into what to do, keeping the broker's words.

// amqpLoginError explains a failed connection: a login the broker refused (SASL outcome
// code 1 is "auth", amqp 1.0 §5.3.3.6) or a server that speaks AMQP 0-9-1.
func amqpLoginError(ep endpoint, err error) error {
	msg := err.Error()
	switch {
	case strings.Contains(msg, "auth failed with code 0x1"):
		if ep.u.User == nil {
			return fmt.Errorf("the broker refuses an anonymous login; give user:password in the URL (amqp://user:pass@host/address) (%w)", err)
		}
		return fmt.Errorf("wrong user or password for %q: the broker refused the login (%w)", ep.u.User.Username(), err)
	case strings.Contains(msg, "auth failed with code"):
		return fmt.Errorf("the broker could not check the login; try again later (%w)", err)
	case strings.Contains(msg, "unexpected protocol version 0.9"):
		return fmt.Errorf("the server speaks AMQP 0-9-1, not AMQP 1.0; RabbitMQ 3 speaks 1.0 with its plugin: rabbitmq-plugins enable rabbitmq_amqp1_0 (%w)", err)
	}
	return err
}

// errAMQPUnknownAddress marks a link the broker refused because it has no such address.
var errAMQPUnknownAddress = errors.New("the broker has no such address")

// amqpLinkError explains a link the broker refused to attach: amqp:not-found (amqp 1.0
// §2.8.15), or RabbitMQ's "unknown_destination".
func amqpLinkError(addr string, err error) error {
	msg := err.Error()
	if strings.Contains(msg, "amqp:not-found") || strings.Contains(msg, "unknown_destination") {
		return fmt.Errorf("%w: %s; check the address (RabbitMQ names them /queue/NAME, /exchange/NAME/KEY, /topic/KEY, /amq/queue/NAME) (%v)", errAMQPUnknownAddress, addr, err)
	}
	return err
}
