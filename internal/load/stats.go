package load

import (
	"math"
	"math/bits"
	"sort"
	"time"
)

// subBits sets the histogram's precision: 2^subBits buckets per power of two, so a recorded
// latency is off by less than 1/2^subBits (under 1%).
const subBits = 7

// Histogram records latencies in microseconds with bounded memory and relative precision,
// the way HdrHistogram does: log-spaced groups, linear buckets within each.
type Histogram struct {
	counts   [64 << subBits]uint64
	n        uint64
	min, max time.Duration
	sum      time.Duration
}

func bucketOf(us uint64) int {
	if us < 1<<subBits {
		return int(us)
	}
	e := bits.Len64(us) - subBits - 1
	return (e+1)<<subBits + int(us>>uint(e)) - 1<<subBits
}

// lowerBound returns the smallest value in bucket b.
func lowerBound(b int) uint64 {
	if b < 1<<subBits {
		return uint64(b)
	}
	e := b>>subBits - 1
	return (uint64(b&(1<<subBits-1)) + 1<<subBits) << uint(e)
}

// Record adds one latency.
func (h *Histogram) Record(d time.Duration) {
	if d < 0 {
		d = 0
	}
	us := uint64(d / time.Microsecond)
	h.counts[bucketOf(us)]++
	if h.n == 0 || d < h.min {
		h.min = d
	}
	if d > h.max {
		h.max = d
	}
	h.n++
	h.sum += d
}

// Merge adds the counts of o.
func (h *Histogram) Merge(o *Histogram) {
	if o.n == 0 {
		return
	}
	for i, c := range o.counts {
		h.counts[i] += c
	}
	if h.n == 0 || o.min < h.min {
		h.min = o.min
	}
	if o.max > h.max {
		h.max = o.max
	}
	h.n += o.n
	h.sum += o.sum
}

// Count is how many latencies were recorded.
func (h *Histogram) Count() uint64 { return h.n }

// Quantile returns the latency below which the fraction q of the recorded ones lie
// (nearest rank), clamped to the exact minimum and maximum.
func (h *Histogram) Quantile(q float64) time.Duration {
	if h.n == 0 {
		return 0
	}
	rank := uint64(math.Ceil(q * float64(h.n)))
	rank = max(rank, 1)
	var seen uint64
	for b, c := range h.counts {
		seen += c
		if seen >= rank {
			// The midpoint of the bucket halves the error of its lower bound.
			lo := lowerBound(b)
			hi := lowerBound(b + 1)
			d := time.Duration((lo+hi)/2) * time.Microsecond
			if hi-lo <= 1 {
				d = time.Duration(lo) * time.Microsecond
			}
			return min(max(d, h.min), h.max)
		}
	}
	return h.max
}

// Min, Max and Mean of the recorded latencies.
func (h *Histogram) Min() time.Duration { return h.min }
func (h *Histogram) Max() time.Duration { return h.max }
func (h *Histogram) Mean() time.Duration {
	if h.n == 0 {
		return 0
	}
	return h.sum / time.Duration(h.n)
}

// Bar is one row of a latency histogram drawn for a person.
type Bar struct {
	From, To time.Duration
	Count    uint64
}

// Bars groups the latencies into at most n rows of equal width on a log scale between the
// minimum and the maximum.
func (h *Histogram) Bars(n int) []Bar {
	if h.n == 0 || n <= 0 {
		return nil
	}
	lo, hi := float64(max(h.min, time.Microsecond)), float64(max(h.max, time.Microsecond))
	if hi <= lo {
		return []Bar{{From: h.min, To: h.max, Count: h.n}}
	}
	step := math.Log(hi/lo) / float64(n)
	bars := make([]Bar, n)
	for i := range bars {
		bars[i].From = time.Duration(lo * math.Exp(step*float64(i)))
		bars[i].To = time.Duration(lo * math.Exp(step*float64(i+1)))
	}
	bars[n-1].To = h.max
	for b, c := range h.counts {
		if c == 0 {
			continue
		}
		v := float64(lowerBound(b)) * float64(time.Microsecond)
		i := 0
		if v > lo {
			i = min(int(math.Log(v/lo)/step), n-1)
		}
		bars[i].Count += c
	}
	return bars
}

// ErrorCount is one distinct error and how often it happened.
type ErrorCount struct {
	Error string `json:"error"`
	Count int64  `json:"count"`
}

// errorSet keeps the first few distinct errors with their counts.
type errorSet struct {
	order  []string
	counts map[string]int64
	limit  int
}

func (s *errorSet) add(msg string) {
	if s.counts == nil {
		s.counts = make(map[string]int64)
	}
	if _, ok := s.counts[msg]; !ok && len(s.order) >= s.limit {
		return
	}
	if _, ok := s.counts[msg]; !ok {
		s.order = append(s.order, msg)
	}
	s.counts[msg]++
}

func (s *errorSet) merge(o *errorSet) {
	for _, msg := range o.order {
		if _, ok := s.counts[msg]; !ok && len(s.order) >= s.limit {
			continue
		}
		if s.counts == nil {
			s.counts = make(map[string]int64)
		}
		if _, ok := s.counts[msg]; !ok {
			s.order = append(s.order, msg)
		}
		s.counts[msg] += o.counts[msg]
	}
}

func (s *errorSet) list() []ErrorCount {
	out := make([]ErrorCount, 0, len(s.order))
	for _, msg := range s.order {
		out = append(out, ErrorCount{Error: msg, Count: s.counts[msg]})
	}
	return out
}

func sortedCodes(m map[int]int64) []int {
	codes := make([]int, 0, len(m))
	for c := range m {
		codes = append(codes, c)
	}
	sort.Ints(codes)
	return codes
}
