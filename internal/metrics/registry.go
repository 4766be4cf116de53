package metrics

import (
	"bufio"
	"math"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
)

// The metrics are kept and exposed here rather than with prometheus/client_golang: that
// package registers the Go and process collectors in its default registry when it is
// initialised, which every cectl command would pay at start-up whether it serves metrics or
// not (about 1 ms with its protobuf dependencies, against a start-up budget measured
// against curl). What a listener needs is counters, counters with a fixed set of label
// values, and a histogram, written in the Prometheus text exposition format (version
// 0.0.4); the tests read them back with the Prometheus parser.

// Registry is a set of metric families, exposed in the order they were added.
type Registry struct {
	mu   sync.Mutex
	fams []*family
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry { return &Registry{} }

type family struct {
	name, help, typ string
	label           string // the one label of a vector, "" for none
	mu              sync.Mutex
	series          []*series
	hist            *Histogram
}

type series struct {
	value string // the label's value
	c     *Counter
}

// Counter is a monotonically increasing count. It is safe for concurrent use.
type Counter struct{ bits atomic.Uint64 } // a float64

// Inc adds 1.
func (c *Counter) Inc() { c.Add(1) }

// Add adds v, which must not be negative.
func (c *Counter) Add(v float64) {
	for {
		old := c.bits.Load()
		if c.bits.CompareAndSwap(old, math.Float64bits(math.Float64frombits(old)+v)) {
			return
		}
	}
}

// Value is the count.
func (c *Counter) Value() float64 { return math.Float64frombits(c.bits.Load()) }

// Counter adds a counter without labels.
func (r *Registry) Counter(name, help string) *Counter {
	f := r.add(&family{name: name, help: help, typ: "counter"})
	return f.with("")
}

// CounterVec is a family of counters told apart by one label.
type CounterVec struct{ f *family }

// CounterVec adds a family of counters with one label.
func (r *Registry) CounterVec(name, help, label string) *CounterVec {
	return &CounterVec{r.add(&family{name: name, help: help, typ: "counter", label: label})}
}

// With returns the counter of the label value v, making it the first time. Callers resolve
// the counters they need once and keep them: With takes a lock.
func (v *CounterVec) With(value string) *Counter { return v.f.with(value) }

func (f *family) with(value string) *Counter {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, s := range f.series {
		if s.value == value {
			return s.c
		}
	}
	s := &series{value: value, c: &Counter{}}
	f.series = append(f.series, s)
	return s.c
}

// Histogram counts observations in buckets of fixed upper bounds. It is safe for
// concurrent use.
type Histogram struct {
	bounds []float64
	counts []atomic.Uint64 // per bucket, not cumulative; the last is +Inf
	sum    Counter
	count  atomic.Uint64
}

// Histogram adds a histogram with the given ascending upper bounds.
func (r *Registry) Histogram(name, help string, bounds []float64) *Histogram {
	h := &Histogram{bounds: bounds, counts: make([]atomic.Uint64, len(bounds)+1)}
	r.add(&family{name: name, help: help, typ: "histogram", hist: h})
	return h
}

// Observe adds one observation.
func (h *Histogram) Observe(v float64) {
	i := sort.SearchFloat64s(h.bounds, v) // the first bound >= v: le is inclusive
	h.counts[i].Add(1)
	h.sum.Add(v)
	h.count.Add(1)
}

func (r *Registry) add(f *family) *family {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.fams = append(r.fams, f)
	return f
}

// WriteText writes every family in the text exposition format.
func (r *Registry) WriteText(w *bufio.Writer) error {
	r.mu.Lock()
	fams := append([]*family(nil), r.fams...)
	r.mu.Unlock()
	for _, f := range fams {
		w.WriteString("# HELP " + f.name + " " + escapeHelp(f.help) + "\n")
		w.WriteString("# TYPE " + f.name + " " + f.typ + "\n")
		if h := f.hist; h != nil {
			var cum uint64
			for i := range h.counts {
				cum += h.counts[i].Load()
				le := "+Inf"
				if i < len(h.bounds) {
					le = formatFloat(h.bounds[i])
				}
				w.WriteString(f.name + `_bucket{le="` + le + `"} ` + strconv.FormatUint(cum, 10) + "\n")
			}
			w.WriteString(f.name + "_sum " + formatFloat(h.sum.Value()) + "\n")
			w.WriteString(f.name + "_count " + strconv.FormatUint(cum, 10) + "\n")
			continue
		}
		f.mu.Lock()
		series := append([]*series(nil), f.series...)
		f.mu.Unlock()
		for _, s := range series {
			w.WriteString(f.name)
			if f.label != "" {
				w.WriteString("{" + f.label + `="` + escapeLabel(s.value) + `"}`)
			}
			w.WriteString(" " + formatFloat(s.c.Value()) + "\n")
		}
	}
	return w.Flush()
}

// ContentType is the media type of the text exposition format.
const ContentType = "text/plain; version=0.0.4; charset=utf-8"

// Handler serves the metrics of reg.
func Handler(reg *Registry) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.Method != http.MethodGet && req.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "metrics are read with GET", http.StatusMethodNotAllowed)
			return
		}
		w.Header().Set("Content-Type", ContentType)
		if req.Method == http.MethodHead {
			return
		}
		_ = reg.WriteText(bufio.NewWriter(w))
	})
}

func formatFloat(v float64) string {
	switch {
	case math.IsInf(v, 1):
		return "+Inf"
	case math.IsInf(v, -1):
		return "-Inf"
	case math.IsNaN(v):
		return "NaN"
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}

// escapeLabel escapes a label value: backslash, double quote and line feed.
var labelEscaper = strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)

func escapeLabel(s string) string { return labelEscaper.Replace(s) }

// escapeHelp escapes help text: backslash and line feed.
var helpEscaper = strings.NewReplacer(`\`, `\\`, "\n", `\n`)

func escapeHelp(s string) string { return helpEscaper.Replace(s) }
