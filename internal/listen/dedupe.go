package listen

import "sync"

// DedupeWindow is how many accepted events the duplicate check remembers; the oldest are
// forgotten first, so memory stays bounded however long listen runs.
const DedupeWindow = 1 << 16

// seenSet remembers (source, id) pairs: consumers may take two events with the same source
// and id for the same event delivered twice (spec v1.0.2, REQUIRED Attributes, "id").
type seenSet struct {
	mu   sync.Mutex
	m    map[string]struct{}
	ring []string
	next int
}

func newSeenSet(n int) *seenSet {
	return &seenSet{m: make(map[string]struct{}, min(n, 1024)), ring: make([]string, n)}
}

func seenKey(source, id string) string {
	return source + "\x00" + id
}

// add records key and reports whether it was already there.
func (s *seenSet) add(key string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.m[key]; ok {
		return true
	}
	if old := s.ring[s.next]; old != "" {
		delete(s.m, old)
	}
	s.ring[s.next] = key
	s.next = (s.next + 1) % len(s.ring)
	s.m[key] = struct{}{}
	return false
}

// has reports whether key is known without recording it.
func (s *seenSet) has(key string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.m[key]
	return ok
}

// forget removes key, for an event that was not accepted after all. Its slot in the ring
// stays taken until it is reused.
func (s *seenSet) forget(key string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.m, key)
}
