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
// offset the next record will get). A partition is done once the consumer's position reaches
// it: when the record before it was handled, when the consumer starts at or beyond it, or when
// the offsets between the last record handled and the end hold nothing to deliver — the
// commit or abort markers of transactions (control records, which take offsets but are never
// delivered) and the gaps compaction leaves. The subscription ends when every partition it
// claimed is done.
type kafkaEnd struct {
	client  sarama.Client
	topic   string
	mu      sync.Mutex
	high    map[int32]int64
	low     map[int32]int64
	next    map[int32]int64 // the offset after the last record handled, or where the claim starts
	claimed map[int32]bool
	done    map[int32]bool
}

// kafkaEndAt reads the high and low watermarks of every partition of topic.
func kafkaEndAt(c sarama.Client, topic string) (*kafkaEnd, error) {
	parts, err := c.Partitions(topic)
	if err != nil {
		return nil, fmt.Errorf("partitions of %s: %w", topic, err)
	}
	e := &kafkaEnd{client: c, topic: topic, high: map[int32]int64{}, low: map[int32]int64{},
		next: map[int32]int64{}, claimed: map[int32]bool{}, done: map[int32]bool{}}
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
	e.next[p] = initial
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
	e.next[p] = offset + 1
	if offset >= e.high[p]-1 {
		e.done[p] = true
	}
	return e.allDone()
}

// idle is called when a partition's consumer has delivered nothing for a while. It asks the
// partition's leader what lies between the last record handled and the end; when nothing
// there is a record the consumer would deliver, the partition is done. It says whether every
// claimed partition is done. A fetch that fails leaves the partition as it was, to be asked
// again when it is idle next.
func (e *kafkaEnd) idle(p int32) bool {
	e.mu.Lock()
	from, high, done := e.next[p], e.high[p], e.done[p]
	e.mu.Unlock()
	if !done {
		if more, err := e.recordsBetween(p, from, high); err != nil || more {
			return false
		}
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.next[p] == from { // no record was handled meanwhile
		e.done[p] = true
	}
	return e.allDone()
}

// recordsBetween says whether partition p holds a record the consumer delivers (one that is
// not a control record) at an offset from from up to, not including, to. It fetches from the
// leader as the consumer does, reading on while the answers hold only control records.
func (e *kafkaEnd) recordsBetween(p int32, from, to int64) (bool, error) {
	for from < to {
		b, err := e.client.Leader(e.topic, p)
		if err != nil {
			return false, err
		}
		cfg := e.client.Config()
		req := fetchRequest(cfg.Version, cfg.Consumer.IsolationLevel)
		req.AddBlock(e.topic, p, from, 1<<20, -1)
		res, err := b.Fetch(req)
		if err != nil {
			return false, err
		}
		block := res.GetBlock(e.topic, p)
		if block == nil {
			return false, sarama.ErrIncompleteResponse
		}
		if !errors.Is(block.Err, sarama.ErrNoError) {
			return false, block.Err
		}
		last := int64(-1) // the last offset the answer covers
		for _, rs := range block.RecordsSet {
			switch {
			case rs.RecordBatch != nil:
				rb := rs.RecordBatch
				last = max(last, rb.LastOffset())
				if rb.Control {
					continue
				}
				for _, r := range rb.Records {
					if off := rb.FirstOffset + r.OffsetDelta; off >= from && off < to {
						return true, nil
					}
				}
			case rs.MsgSet != nil:
				for _, m := range rs.MsgSet.Messages {
					last = max(last, m.Offset)
					if m.Offset >= from && m.Offset < to {
						return true, nil
					}
				}
			}
		}
		if last < from {
			return false, nil // nothing at or after from: the records up to the end are gone
		}
		from = last + 1
	}
	return false, nil
}

// fetchRequest is a fetch that answers at once, in the version sarama's consumer uses for
// the protocol version v (4 at least: record batches, which transactions need).
func fetchRequest(v sarama.KafkaVersion, iso sarama.IsolationLevel) *sarama.FetchRequest {
	req := &sarama.FetchRequest{Version: 4, MaxBytes: sarama.MaxResponseSize, Isolation: iso}
	switch {
	case v.IsAtLeast(sarama.V2_1_0_0):
		req.Version = 10
	case v.IsAtLeast(sarama.V1_1_0_0):
		req.Version = 7
	}
	if req.Version >= 7 {
		req.SessionID, req.SessionEpoch = 0, -1 // no fetch session
	}
	return req
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
