package client

import (
	"errors"
	"fmt"
	"sync"

	"github.com/IBM/sarama"
	"github.com/nats-io/nats.go"
)

// Reading to the end (SubscribeOptions.UntilEnd, listen --until-end): the subscription takes
// what the stream or topic holds when it starts and then ends by itself, returning nil, like
// kcat -e. What is published after the start may or may not be read.

// checkUntilEnd refuses UntilEnd on a transport that keeps no messages to read to an end.
func (tr *Transport) checkUntilEnd() error {
	if tr.UntilEnd {
		return nil
	}
	return &UsageError{Err: fmt.Errorf("reading to the end needs a stream or a topic that keeps messages (%s); %s only passes messages on",
		SchemeList(func(t *Transport) bool { return t.UntilEnd }), tr.Name)}
}

// errReachedEnd ends a subscription whose last message at the start was handled; the
// subscription then returns nil.
var errReachedEnd = errors.New("reached the end")

// jsEnd knows where a JetStream consumer's end is: the stream's last sequence at the start.
// A message at or beyond it, or one after which the consumer has nothing pending, is the
// last to read.
type jsEnd struct {
	lastSeq uint64
}

// jsEndAt reads the stream's last sequence.
func jsEndAt(js nats.JetStreamContext, stream string) (*jsEnd, error) {
	info, err := js.StreamInfo(stream)
	if err != nil {
		return nil, fmt.Errorf("stream %s: %w", stream, err)
	}
	return &jsEnd{lastSeq: info.State.LastSeq}, nil
}

// emptyAtStart says, right after the consumer was created, whether it has nothing to deliver:
// no message pending and none delivered but unacknowledged. (A message delivered meanwhile
// and already handled ended the run itself: nothing was pending after it.)
func (e *jsEnd) emptyAtStart(sub *nats.Subscription) (bool, error) {
	if e.lastSeq == 0 {
		return true, nil
	}
	info, err := sub.ConsumerInfo()
	if err != nil {
		return false, fmt.Errorf("consumer: %w", err)
	}
	return info.NumPending == 0 && info.NumAckPending == 0, nil
}

// last says whether msg, just handled, is the last one to read.
func (e *jsEnd) last(msg *nats.Msg) bool {
	md, err := msg.Metadata()
	if err != nil {
		return false
	}
	return md.Sequence.Stream >= e.lastSeq || md.NumPending == 0
}

// kafkaEnd knows where each partition of a topic ends: its high watermark at the start (the
// offset the next record will get). A partition is done once the record before it was
// handled, or when the consumer starts at or beyond it; the subscription ends when every
// partition it claimed is done.
type kafkaEnd struct {
	mu      sync.Mutex
	high    map[int32]int64
	low     map[int32]int64
	claimed map[int32]bool
	done    map[int32]bool
}

// kafkaEndAt reads the high and low watermarks of every partition of topic.
func kafkaEndAt(c sarama.Client, topic string) (*kafkaEnd, error) {
	parts, err := c.Partitions(topic)
	if err != nil {
		return nil, fmt.Errorf("partitions of %s: %w", topic, err)
	}
	e := &kafkaEnd{high: map[int32]int64{}, low: map[int32]int64{}, claimed: map[int32]bool{}, done: map[int32]bool{}}
	for _, p := range parts {
		if e.high[p], err = c.GetOffset(topic, p, sarama.OffsetNewest); err != nil {
			return nil, fmt.Errorf("end of %s partition %d: %w", topic, p, err)
		}
		if e.low[p], err = c.GetOffset(topic, p, sarama.OffsetOldest); err != nil {
			return nil, fmt.Errorf("start of %s partition %d: %w", topic, p, err)
		}
	}
	return e, nil
}

// claim notes a partition this consumer reads from initial (an offset, or sarama's
// OffsetNewest / OffsetOldest), and says whether every claimed partition is done.
func (e *kafkaEnd) claim(p int32, initial int64) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.claimed[p] = true
	switch initial {
	case sarama.OffsetNewest:
		e.done[p] = true
	case sarama.OffsetOldest:
		initial = e.low[p]
	}
	if initial >= e.high[p] {
		e.done[p] = true
	}
	return e.allDone()
}

// expect notes the partitions of a session before their claims start, so that one done
// partition does not end the run while another has not begun.
func (e *kafkaEnd) expect(parts []int32) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, p := range parts {
		e.claimed[p] = true
	}
}

// handled notes a handled record and says whether every claimed partition is done.
func (e *kafkaEnd) handled(p int32, offset int64) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	if offset >= e.high[p]-1 {
		e.done[p] = true
	}
	return e.allDone()
}

// partitionDone says whether a partition was read to its end: its later records are not
// taken.
func (e *kafkaEnd) partitionDone(p int32) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.done[p]
}

func (e *kafkaEnd) allDone() bool {
	for p := range e.claimed {
		if !e.done[p] {
			return false
		}
	}
	return true
}
