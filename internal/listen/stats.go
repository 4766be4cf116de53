package listen

import (
	"sort"
	"strings"
	"sync"
	"unicode/utf8"
)

// Summary counts what listen saw, for the report at the end.
type Summary struct {
	// Requests is the number of well-formed requests carrying events (or an empty batch).
	Requests int64
	// Events is the number of events in them; Selected those the filter let through.
	Events, Selected int64
	// Duplicates is the number of selected events seen before (with --dedupe).
	Duplicates int64
	// Refused is the number of event requests answered non-2xx on purpose.
	Refused int64
	// Recorded is the number of events written to the record.
	Recorded int64
	// Modes counts requests per content mode, indexed by binding.Mode (binary, structured,
	// batch).
	Modes [3]int64
	// Types counts selected events per type, most frequent first.
	Types []TypeCount
	// Rejected counts refused requests per status, by status.
	Rejected []StatusCount
	// TurnedAway is the number of requests answered 503 because listen was stopping.
	TurnedAway int64
	// RelayFailed is the number of requests not acknowledged because a --forward-to target
	// did not acknowledge them.
	RelayFailed int64
	// Handshakes is the number of webhook validation requests answered (webhook §4).
	Handshakes int64
}

// TypeCount is the number of events of one type.
type TypeCount struct {
	Type  string
	Count int64
}

// StatusCount is the number of requests rejected with one status.
type StatusCount struct {
	Status int
	Count  int64
}

// RejectedTotal is the number of rejected requests.
func (s *Summary) RejectedTotal() int64 {
	var n int64
	for _, r := range s.Rejected {
		n += r.Count
	}
	return n
}

// maxTypes and maxTypeLen bound the per-type table: types come from the network, and a
// type may be megabytes long. A longer type is counted under its first maxTypeLen bytes
// (cut at a character boundary) followed by "…", so the table holds at most about
// maxTypes × maxTypeLen bytes of keys.
const (
	maxTypes   = 1000
	maxTypeLen = 256
)

// typeKey is the name an event type is counted under.
func typeKey(t string) string {
	if len(t) <= maxTypeLen {
		return t
	}
	cut := maxTypeLen
	for cut > 0 && !utf8.RuneStart(t[cut]) {
		cut--
	}
	// A copy: the key must not keep the whole string, and with it the event, alive.
	return strings.Clone(t[:cut]) + "…"
}

type statsCounter struct {
	mu         sync.Mutex
	s          Summary
	byType     map[string]int64
	otherTypes int64
	rejected   map[int]int64
}

// events counts a message that carried total events, fresh of them selected and new.
func (c *statsCounter) events(rep *Report, total, fresh int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.s.Requests++
	c.s.Modes[rep.Mode]++
	c.s.Events += int64(total)
	c.s.Selected += int64(len(rep.Events))
	c.s.Duplicates += int64(len(rep.Events) - fresh)
	if rep.Reason != "" {
		c.s.Refused++
	}
	for _, a := range rep.Events {
		t := typeKey(a.Event.Type())
		if _, ok := c.byType[t]; ok || len(c.byType) < maxTypes {
			c.byType[t]++
		} else {
			c.otherTypes++
		}
	}
}

func (c *statsCounter) reject(status int) {
	c.mu.Lock()
	c.rejected[status]++
	c.mu.Unlock()
}

func (c *statsCounter) recorded(n int) {
	c.mu.Lock()
	c.s.Recorded += int64(n)
	c.mu.Unlock()
}

func (c *statsCounter) relayFailed() {
	c.mu.Lock()
	c.s.RelayFailed++
	c.mu.Unlock()
}

func (c *statsCounter) handshake() {
	c.mu.Lock()
	c.s.Handshakes++
	c.mu.Unlock()
}

func (c *statsCounter) turnedAway() {
	c.mu.Lock()
	c.s.TurnedAway++
	c.mu.Unlock()
}

// Summary returns the counts so far.
func (h *Handler) Summary() Summary {
	c := &h.stats
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.s
	s.Types = make([]TypeCount, 0, len(c.byType)+1)
	for t, n := range c.byType {
		s.Types = append(s.Types, TypeCount{t, n})
	}
	sort.Slice(s.Types, func(i, j int) bool {
		if s.Types[i].Count != s.Types[j].Count {
			return s.Types[i].Count > s.Types[j].Count
		}
		return s.Types[i].Type < s.Types[j].Type
	})
	if c.otherTypes > 0 {
		s.Types = append(s.Types, TypeCount{"(other types)", c.otherTypes})
	}
	for st, n := range c.rejected {
		s.Rejected = append(s.Rejected, StatusCount{st, n})
	}
	sort.Slice(s.Rejected, func(i, j int) bool { return s.Rejected[i].Status < s.Rejected[j].Status })
	return s
}
