package ui

import (
	"bytes"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/cectl/cectl/internal/binding"
	"github.com/cectl/cectl/internal/listen"
	"github.com/cectl/cectl/internal/validate"
	"github.com/cloudevents/sdk-go/v2/event"
)

// entry is one message of the history, kept as listen built it: nothing is encoded for the
// page until a browser asks for it.
type entry struct {
	seq      uint64
	size     int64
	received time.Time
	took     time.Duration
	kind     listen.Kind
	preload  bool // read from the --record file at start
	method   string
	target   string
	proto    string
	remote   string
	host     string
	header   http.Header
	// wire is the header fields as they came (listen.Report.Wire), when known: shown instead of
	// header, in their order and case.
	wire     [][2]string
	mode     binding.Mode
	outcome  listen.Outcome
	status   int
	reason   string
	events   []event.Event
	info     []eventInfo
	body     []byte
	answer   http.Header
	reply    *event.Event
	replyM   binding.Mode
	forwards []forwarded
	// Room for the one event most messages carry, so that keeping it allocates nothing more.
	oneEvent [1]event.Event
	oneInfo  [1]eventInfo
}

// eventInfo is what the pipeline said about one event of a message.
type eventInfo struct {
	selected  bool
	duplicate bool
	warnings  []validate.Finding
}

type forwarded struct {
	to     string
	status int
	err    string
}

// entryOverhead is what an entry costs besides its bytes of data, headers and body: the
// structures of the event and the entry. It is counted against the history's byte bound.
const entryOverhead = 512

// newEntry copies what the entry keeps out of x, whose buffers are reused after Observe.
func newEntry(x *listen.Exchange) *entry {
	rep := x.Report
	e := &entry{
		received: rep.Received,
		took:     x.Took,
		kind:     rep.Kind,
		method:   rep.Method,
		target:   rep.Target,
		proto:    rep.Proto,
		remote:   rep.Remote,
		host:     x.Host,
		header:   rep.Header, // a request's own header map: nothing changes it after the answer
		wire:     rep.Wire,   // the request's own too
		mode:     rep.Mode,
		status:   x.Verdict.Status,
		reason:   x.Verdict.Reason,
		outcome:  x.Verdict.Outcome,
		answer:   x.Answer,
		reply:    x.Verdict.Reply,
		replyM:   x.Verdict.ReplyMode,
	}
	if rep.Kind == listen.KindRejected && e.reason == "" {
		e.reason = rep.Reason
	}
	size := int64(entryOverhead + len(x.Body))
	if len(x.Body) > 0 {
		e.body = bytes.Clone(x.Body)
	}
	for k, vs := range e.header {
		size += int64(len(k))
		for _, v := range vs {
			size += int64(len(v))
		}
	}
	if e.wire != nil {
		// The names and values are those of header, in one string with the request line.
		size += int64(cap(e.wire)*32 + len(e.method) + len(e.target))
	}
	if n := len(x.Events); n > 0 {
		if n == 1 {
			e.events, e.info = e.oneEvent[:], e.oneInfo[:]
		} else {
			e.events = make([]event.Event, n)
			e.info = make([]eventInfo, n)
		}
		for i := range x.Events {
			ev := x.Events[i] // the context is the event's own; only the data may share the body
			if d := ev.DataEncoded; len(d) > 0 {
				if len(d) == len(x.Body) && &d[0] == &x.Body[0] {
					ev.DataEncoded = e.body // a binary-mode body is the data
				} else {
					ev.DataEncoded = bytes.Clone(d)
					size += int64(len(d))
				}
			}
			e.events[i] = ev
			size += entryOverhead
		}
		for _, a := range x.Selected {
			if a.Index < n {
				// The findings may live in the decoder's buffers, which are reused.
				e.info[a.Index] = eventInfo{selected: true, duplicate: a.Duplicate, warnings: slices.Clone(a.Warnings)}
			}
		}
	}
	for _, f := range rep.Forwards {
		fw := forwarded{to: f.To, status: f.Result.Status}
		if f.Result.Err != nil {
			fw.err = f.Result.Err.Error()
		}
		e.forwards = append(e.forwards, fw)
	}
	e.size = size
	return e
}

// history is a ring of the latest entries, bounded in number and in bytes. Appending is all
// a message costs when no browser watches.
type history struct {
	mu       sync.Mutex
	ring     []*entry // oldest at head
	head, n  int
	bytes    int64
	maxBytes int64
	seq      uint64 // the last sequence number given
	cleared  uint64 // the last sequence number cleared away
	watchers map[chan struct{}]struct{}
}

func newHistory(maxEvents int, maxBytes int64) *history {
	return &history{ring: make([]*entry, max(maxEvents, 1)), maxBytes: maxBytes, watchers: map[chan struct{}]struct{}{}}
}

// add appends e, pushing out the oldest entries while either bound is exceeded (an entry
// larger than the byte bound alone is still kept, as the only one), and wakes the streams.
func (h *history) add(e *entry) {
	h.mu.Lock()
	h.seq++
	e.seq = h.seq
	for h.n > 0 && (h.n == len(h.ring) || h.bytes+e.size > h.maxBytes) {
		h.popLocked()
	}
	h.ring[(h.head+h.n)%len(h.ring)] = e
	h.n++
	h.bytes += e.size
	for w := range h.watchers {
		select {
		case w <- struct{}{}:
		default:
		}
	}
	h.mu.Unlock()
}

func (h *history) popLocked() {
	old := h.ring[h.head]
	h.ring[h.head] = nil
	h.head = (h.head + 1) % len(h.ring)
	h.n--
	h.bytes -= old.size
}

// clear empties the history; the sequence numbers go on.
func (h *history) clear() {
	h.mu.Lock()
	for h.n > 0 {
		h.popLocked()
	}
	h.cleared = h.seq
	for w := range h.watchers {
		select {
		case w <- struct{}{}:
		default:
		}
	}
	h.mu.Unlock()
}

// since returns the entries after seq, oldest first, with the sequence number of the oldest
// entry kept (the next one when there is none) and the last one cleared away.
func (h *history) since(seq uint64, dst []*entry) (out []*entry, oldest uint64, cleared uint64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	out = dst[:0]
	oldest = h.seq + 1
	if h.n > 0 {
		oldest = h.ring[h.head].seq
	}
	for i := 0; i < h.n; i++ {
		e := h.ring[(h.head+i)%len(h.ring)]
		if e.seq > seq {
			out = append(out, e)
		}
	}
	return out, oldest, h.cleared
}

func (h *history) lastSeq() uint64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.seq
}

// find returns the entry with sequence number seq, if it is still kept.
func (h *history) find(seq uint64) *entry {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.n == 0 {
		return nil
	}
	first := h.ring[h.head].seq
	if seq < first || seq >= first+uint64(h.n) {
		return nil
	}
	// Sequence numbers of kept entries are consecutive: clear removes all of them at once.
	return h.ring[(h.head+int(seq-first))%len(h.ring)]
}

func (h *history) watch() chan struct{} {
	w := make(chan struct{}, 1)
	h.mu.Lock()
	h.watchers[w] = struct{}{}
	h.mu.Unlock()
	return w
}

func (h *history) unwatch(w chan struct{}) {
	h.mu.Lock()
	delete(h.watchers, w)
	h.mu.Unlock()
}

// stats are the history's size now.
func (h *history) stats() (n int, bytes int64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.n, h.bytes
}
