package format

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/cectl/cectl/internal/load"
)

// LoadInfo describes a load run besides its report.
type LoadInfo struct {
	To          string
	Mode        string
	Concurrency int
	Rate        float64
	// Unsent is how many events of a run of a set count were never sent (interrupted or
	// stopped); DeadLetters how many events went to the dead-letter file DeadLetterFile.
	Unsent         int64
	DeadLetters    int64
	DeadLetterFile string
	// WireSent and WireReceived are the bytes on the wire (HTTP: headers, bodies, TLS);
	// Wire says they were counted.
	Wire                   bool
	WireSent, WireReceived int64
	Gzip                   bool
}

// LoadText writes the report of a load run for a person: counts, status codes, throughput,
// latency percentiles with a small histogram, and the first distinct errors.
func LoadText(w io.Writer, st *Styles, r *load.Report, info LoadInfo) error {
	var b strings.Builder
	title := fmt.Sprintf("Sent %d events in %s", r.Events, Duration(r.Elapsed))
	if r.Requests != r.Events {
		title += fmt.Sprintf(" (%d requests)", r.Requests)
	}
	b.WriteString(st.paint(st.Bold, title))
	fmt.Fprintf(&b, " to %s, %s mode, concurrency %d", Sanitize(info.To), info.Mode, info.Concurrency)
	if info.Rate > 0 {
		fmt.Fprintf(&b, ", rate %s/s", trimFloat(info.Rate))
	}
	if r.Warmup > 0 {
		fmt.Fprintf(&b, ", after %d warmup requests", r.Warmup)
	}
	if r.Interrupted {
		b.WriteString(st.paint(st.Warn, " (interrupted)"))
	}
	if r.Stop != "" {
		b.WriteString(st.paint(st.Warn, " ("+r.Stop+")"))
	}
	b.WriteString("\n")

	fmt.Fprintf(&b, "  %-14s %s events/s\n", "throughput", trimFloat(r.EventsPerSecond()))
	fmt.Fprintf(&b, "  %-14s %s\n", "results", outcomes(st, r.Published, r.ACK, r.NACK, r.Undelivered, r.NoResponse))
	if info.Wire {
		note := ""
		if info.Gzip {
			note = " (bodies gzipped)"
		}
		secs := r.Elapsed.Seconds()
		fmt.Fprintf(&b, "  %-14s sent %s (%s/s), received %s%s\n", "bytes on wire", Bytes(info.WireSent), Bytes(int64(float64(info.WireSent)/max(secs, 1e-9))), Bytes(info.WireReceived), note)
	}
	if info.Unsent > 0 {
		fmt.Fprintf(&b, "  %-14s %s\n", "not sent", st.paint(st.Fail, Plural(int(info.Unsent), "event")))
	}
	if info.DeadLetterFile != "" {
		fmt.Fprintf(&b, "  %-14s %s kept in %s\n", "dead letters", Plural(int(info.DeadLetters), "event"), Sanitize(info.DeadLetterFile))
	}
	if len(r.StatusCodes) > 0 {
		var parts []string
		for _, c := range slices.Sorted(maps.Keys(r.StatusCodes)) {
			parts = append(parts, fmt.Sprintf("%d × %d", c, r.StatusCodes[c]))
		}
		fmt.Fprintf(&b, "  %-14s %s\n", "status codes", strings.Join(parts, ", "))
	}
	h := &r.Latency
	if h.Count() > 0 {
		fmt.Fprintf(&b, "  %-14s min %s  p50 %s  p90 %s  p99 %s  max %s\n", "latency",
			Duration(h.Min()), Duration(h.Quantile(0.5)), Duration(h.Quantile(0.9)), Duration(h.Quantile(0.99)), Duration(h.Max()))
		writeBars(&b, st, h.Bars(8))
	}
	if len(r.Errors) > 0 {
		b.WriteString("  errors (first distinct ones)\n")
		for _, e := range r.Errors {
			fmt.Fprintf(&b, "    %s × %s\n", st.paint(st.Fail, strconv.FormatInt(e.Count, 10)), Sanitize(e.Error))
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func writeBars(b *strings.Builder, st *Styles, bars []load.Bar) {
	var top uint64
	for _, bar := range bars {
		top = max(top, bar.Count)
	}
	if top == 0 {
		return
	}
	const width = 40
	for _, bar := range bars {
		n := int(bar.Count * width / top)
		if bar.Count > 0 && n == 0 {
			n = 1
		}
		label := fmt.Sprintf("%9s – %-9s", Duration(bar.From), Duration(bar.To))
		fmt.Fprintf(b, "    %s %s %d\n", st.paint(st.Dim, label), st.paint(st.Type, strings.Repeat("█", n)), bar.Count)
	}
}

func trimFloat(f float64) string {
	if f >= 100 {
		return strconv.FormatFloat(f, 'f', 0, 64)
	}
	return strconv.FormatFloat(f, 'f', 1, 64)
}

// LoadRecord is the JSON form of a load report. Field names are stable: add, never rename.
type LoadRecord struct {
	To              string             `json:"to"`
	Mode            string             `json:"mode"`
	Concurrency     int                `json:"concurrency"`
	Rate            float64            `json:"rate"`
	Sent            int64              `json:"sent"`
	Requests        int64              `json:"requests"`
	ACK             int64              `json:"ack"`
	NACK            int64              `json:"nack"`
	Undelivered     int64              `json:"undelivered"`
	StatusCodes     map[string]int64   `json:"status_codes"`
	DurationMS      float64            `json:"duration_ms"`
	EventsPerSecond float64            `json:"events_per_second"`
	LatencyMS       LatencyRecord      `json:"latency_ms"`
	Errors          []load.ErrorCount  `json:"errors"`
	Warmup          int64              `json:"warmup"`
	Interrupted     bool               `json:"interrupted"`
	Histogram       []LatencyBarRecord `json:"histogram"`
	// NoResponse counts the events whose request went out without a response (maybe
	// delivered); Undelivered those that reached no receiver.
	NoResponse int64 `json:"no_response"`
	// Unsent counts the events of a run of a set count never sent; Stop says why a run
	// stopped early without being interrupted; DeadLetters counts the events kept in the
	// --dead-letter file.
	Unsent      int64  `json:"unsent"`
	Stop        string `json:"stop,omitempty"`
	DeadLetters int64  `json:"dead_letters,omitempty"`
	Kind        string `json:"kind"` // "load"
	// WireBytesSent and WireBytesReceived are the bytes on the wire, for HTTP (absent for
	// brokers, where they are not counted).
	WireBytesSent     *int64 `json:"wire_bytes_sent,omitempty"`
	WireBytesReceived *int64 `json:"wire_bytes_received,omitempty"`
	Gzip              bool   `json:"gzip,omitempty"`
	// Published counts the events sent over a transport without acknowledgements (core
	// NATS), when there are any; they are not among ACK, and sent = ack + published + nack +
	// undelivered + no_response.
	Published int64 `json:"published,omitempty"`
}

// LatencyRecord holds latency figures in milliseconds.
type LatencyRecord struct {
	Min  float64 `json:"min"`
	P50  float64 `json:"p50"`
	P90  float64 `json:"p90"`
	P99  float64 `json:"p99"`
	Max  float64 `json:"max"`
	Mean float64 `json:"mean"`
}

// LatencyBarRecord is one histogram row in milliseconds.
type LatencyBarRecord struct {
	FromMS float64 `json:"from_ms"`
	ToMS   float64 `json:"to_ms"`
	Count  uint64  `json:"count"`
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// LoadJSON writes the report as one JSON object on one line.
func LoadJSON(w io.Writer, r *load.Report, info LoadInfo) error {
	h := &r.Latency
	rec := LoadRecord{
		To: info.To, Mode: info.Mode, Concurrency: info.Concurrency, Rate: info.Rate,
		Sent: r.Events, Requests: r.Requests, ACK: r.ACK, Published: r.Published, NACK: r.NACK, Undelivered: r.Undelivered,
		StatusCodes:     map[string]int64{},
		DurationMS:      ms(r.Elapsed),
		EventsPerSecond: r.EventsPerSecond(),
		LatencyMS: LatencyRecord{Min: ms(h.Min()), P50: ms(h.Quantile(0.5)), P90: ms(h.Quantile(0.9)),
			P99: ms(h.Quantile(0.99)), Max: ms(h.Max()), Mean: ms(h.Mean())},
		Errors:      r.Errors,
		Warmup:      r.Warmup,
		Interrupted: r.Interrupted,
		Histogram:   []LatencyBarRecord{},
		NoResponse:  r.NoResponse,
		Unsent:      info.Unsent,
		Stop:        r.Stop,
		DeadLetters: info.DeadLetters,
		Kind:        "load",
		Gzip:        info.Gzip,
	}
	if info.Wire {
		rec.WireBytesSent, rec.WireBytesReceived = &info.WireSent, &info.WireReceived
	}
	if rec.Errors == nil {
		rec.Errors = []load.ErrorCount{}
	}
	for c, n := range r.StatusCodes {
		rec.StatusCodes[strconv.Itoa(c)] = n
	}
	for _, bar := range h.Bars(8) {
		rec.Histogram = append(rec.Histogram, LatencyBarRecord{FromMS: ms(bar.From), ToMS: ms(bar.To), Count: bar.Count})
	}
	b, err := marshalLine(rec)
	if err != nil {
		return err
	}
	_, err = w.Write(append(b, '\n'))
	return err
}

// ProgressLine renders one line of a progress bar (without a line end) for a terminal:
// done of total (total 0 when unknown), rate, failures and the time left.
func ProgressLine(st *Styles, done, total, failed int64, elapsed, limit time.Duration) string {
	rate := 0.0
	if elapsed > 0 {
		rate = float64(done) / elapsed.Seconds()
	}
	frac := -1.0
	var eta time.Duration
	switch {
	case total > 0:
		frac = float64(done) / float64(total)
		if rate > 0 {
			eta = time.Duration(float64(total-done) / rate * float64(time.Second))
		}
	case limit > 0:
		frac = float64(elapsed) / float64(limit)
		eta = limit - elapsed
	}
	var b strings.Builder
	if frac >= 0 {
		frac = min(frac, 1)
		const width = 24
		n := int(frac * width)
		b.WriteString("[" + st.paint(st.OK, strings.Repeat("█", n)) + strings.Repeat("·", width-n) + "] ")
	}
	if total > 0 {
		fmt.Fprintf(&b, "%d/%d", done, total)
	} else {
		fmt.Fprintf(&b, "%d", done)
	}
	fmt.Fprintf(&b, "  %s ev/s", trimFloat(rate))
	errs := fmt.Sprintf("  errors %d", failed)
	if failed > 0 {
		errs = st.paint(st.Fail, errs)
	}
	b.WriteString(errs)
	if frac >= 0 {
		fmt.Fprintf(&b, "  ETA %s", max(eta, 0).Round(time.Second))
	}
	return b.String()
}

// Bytes renders a byte count in B, kB, MB or GB (powers of 1000).
func Bytes(n int64) string {
	switch {
	case n < 1000:
		return strconv.FormatInt(n, 10) + " B"
	case n < 1000*1000:
		return strconv.FormatFloat(float64(n)/1e3, 'f', 1, 64) + " kB"
	case n < 1000*1000*1000:
		return strconv.FormatFloat(float64(n)/1e6, 'f', 1, 64) + " MB"
	}
	return strconv.FormatFloat(float64(n)/1e9, 'f', 2, 64) + " GB"
}
