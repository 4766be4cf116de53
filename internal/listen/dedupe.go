package listen

import (
	"crypto/sha256"
	"encoding/binary"
	"io"
	"sync"
)

// DedupeWindow is how many accepted events the duplicate check remembers; the oldest are
// forgotten first, so memory stays bounded however long listen runs.
const DedupeWindow = 1 << 16

// dedupeKey stands for a (source, id) pair: the first 128 bits of its SHA-256. Source and id
// come from the network and may be megabytes long; their hash is a fixed 16 bytes, so the
// window costs the same whatever arrives, and a collision is as unlikely as a guessed
// 128-bit key.
type dedupeKey [16]byte

// seenSet remembers (source, id) pairs: consumers may take two events with the same source
// and id for the same event delivered twice (spec v1.0.2, REQUIRED Attributes, "id").
type seenSet struct {
	mu   sync.Mutex
	m    map[dedupeKey]struct{}
	ring []dedupeKey
	used []bool
	next int
}

func newSeenSet(n int) *seenSet {
	return &seenSet{m: make(map[dedupeKey]struct{}, min(n, 1024)), ring: make([]dedupeKey, n), used: make([]bool, n)}
}

// seenKey hashes source and id; the length of source goes first, so that no other pair
// hashes the same bytes. Usual keys are laid out on the stack, without garbage.
func seenKey(source, id string) dedupeKey {
	var sum [sha256.Size]byte
	var buf [256]byte
	if 8+len(source)+len(id) <= len(buf) {
		b := binary.BigEndian.AppendUint64(buf[:0], uint64(len(source)))
		b = append(append(b, source...), id...)
		sum = sha256.Sum256(b)
	} else {
		h := sha256.New()
		h.Write(binary.BigEndian.AppendUint64(buf[:0], uint64(len(source))))
		io.WriteString(h, source)
		io.WriteString(h, id)
		h.Sum(sum[:0])
	}
	var k dedupeKey
	copy(k[:], sum[:])
	return k
}

// add records key and reports whether it was already there.
func (s *seenSet) add(key dedupeKey) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.m[key]; ok {
		return true
	}
	if s.used[s.next] {
		delete(s.m, s.ring[s.next])
	}
	s.ring[s.next], s.used[s.next] = key, true
	s.next = (s.next + 1) % len(s.ring)
	s.m[key] = struct{}{}
	return false
}

// has reports whether key is known without recording it.
func (s *seenSet) has(key dedupeKey) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.m[key]
	return ok
}

// forget removes key, for an event that was not accepted after all. Its slot in the ring
// stays taken until it is reused.
func (s *seenSet) forget(key dedupeKey) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.m, key)
}
