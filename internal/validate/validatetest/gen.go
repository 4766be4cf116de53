// Package validatetest generates realistic CloudEvents for benchmarks of the
// validator and of its baselines: varied types, sources, times, extensions
// and data, about 300 bytes per event, every one of them valid.
package validatetest

import (
	"fmt"
	"io"
	"math/rand/v2"
	"strconv"
)

var (
	types = []string{
		"com.example.order.created", "com.example.order.shipped", "com.example.user.updated",
		"com.example.payment.captured", "io.sensors.reading", "com.github.pull_request.opened",
		"com.example.inventory.adjusted", "org.example.audit.login",
	}
	sources = []string{
		"https://shop.example.com/orders", "/sensors/tn-1234567/alerts", "urn:uuid:6e8bc430-9c3a-11d9-9669-0800200c9a66",
		"https://github.com/cloudevents/spec/pull", "//payments.example.net/v2/captures?region=eu", "mailto:ops@example.org",
	}
	tenants = []string{"eu1", "us2", "ap3", "acme", "globex"}
	words   = []string{"alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel"}
)

// Generator writes events as JSON lines. It is deterministic for a seed.
type Generator struct {
	r *rand.Rand
	n int
	b []byte
}

// New returns a Generator.
func New(seed uint64) *Generator {
	return &Generator{r: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))}
}

func (g *Generator) str(s string) { g.b = strconv.AppendQuote(g.b, s) }

func (g *Generator) member(name string) {
	g.b = append(g.b, ',', '"')
	g.b = append(g.b, name...)
	g.b = append(g.b, '"', ':')
}

// Next returns the next event without its line break; the slice is reused.
func (g *Generator) Next() []byte {
	r := g.r
	g.n++
	g.b = append(g.b[:0], `{"specversion":"1.0"`...)
	g.member("id")
	if r.IntN(2) == 0 {
		g.b = fmt.Appendf(g.b, `"%08x-%04x-4%03x-%04x-%012x"`, r.Uint32(), r.Uint32()&0xffff, r.Uint32()&0xfff, 0x8000|r.Uint32()&0x3fff, r.Uint64()&0xffffffffffff)
	} else {
		g.b = fmt.Appendf(g.b, `"%d"`, g.n)
	}
	g.member("source")
	g.str(sources[r.IntN(len(sources))])
	g.member("type")
	g.str(types[r.IntN(len(types))])
	g.member("time")
	zone := [...]string{"Z", "+01:00", "-05:00", "+05:30"}[r.IntN(4)]
	g.b = fmt.Appendf(g.b, `"2026-%02d-%02dT%02d:%02d:%02d.%03d%s"`, 1+r.IntN(12), 1+r.IntN(28), r.IntN(24), r.IntN(60), r.IntN(60), r.IntN(1000), zone)
	if r.IntN(2) == 0 {
		g.member("subject")
		g.b = fmt.Appendf(g.b, `"%s/%d"`, words[r.IntN(len(words))], r.IntN(100000))
	}
	if r.IntN(4) == 0 {
		g.member("traceparent")
		g.b = fmt.Appendf(g.b, `"00-%016x%016x-%016x-01"`, r.Uint64(), r.Uint64(), r.Uint64())
	} else {
		g.member("tenant")
		g.str(tenants[r.IntN(len(tenants))])
		g.member("priority")
		g.b = strconv.AppendInt(g.b, int64(r.IntN(10)), 10)
	}
	switch k := r.IntN(10); {
	case k < 7: // JSON data, its content type explicit or implied
		if r.IntN(2) == 0 {
			g.member("datacontenttype")
			g.str("application/json")
		}
		g.member("data")
		g.b = fmt.Appendf(g.b, `{"id":%d,"name":%q,"amount":%d.%02d,"tags":[%q]}`,
			r.IntN(1000000), words[r.IntN(len(words))], r.IntN(10000), r.IntN(100), words[r.IntN(len(words))])
	case k < 9: // text
		g.member("datacontenttype")
		g.str("text/plain; charset=utf-8")
		g.member("data")
		g.b = fmt.Appendf(g.b, `"%s %s, %d items \u00e9t\u00e9"`, words[r.IntN(len(words))], words[r.IntN(len(words))], r.IntN(100))
	default: // binary
		g.member("datacontenttype")
		g.str("application/octet-stream")
		g.member("dataschema")
		g.str("https://schemas.example.com/blob/v1")
		g.member("data_base64")
		g.str("AAECAwQFBgcICQoLDA0ODxAREhMUFRYX")
	}
	g.b = append(g.b, '}')
	return g.b
}

// WriteLines writes n events as JSON lines.
func (g *Generator) WriteLines(w io.Writer, n int) (int64, error) {
	var total int64
	for i := 0; i < n; i++ {
		line := append(g.Next(), '\n')
		k, err := w.Write(line)
		total += int64(k)
		if err != nil {
			return total, err
		}
	}
	return total, nil
}
