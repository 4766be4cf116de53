package cmd

import (
	"context"
	"math/rand/v2"
	"runtime/debug"
	"testing"
	"time"

	"github.com/cectl/cectl/internal/ce"
	"github.com/cectl/cectl/internal/load"
	"github.com/spf13/cobra"
)

// A run without placeholders copies one event built from the flags; each copy must be what
// building it from the flags gives, but for a fresh id and time when the flags set none.
func TestProtoEventIsWhatTheFlagsBuild(t *testing.T) {
	for _, args := range [][]string{
		{"--type", "t", "-e", "region=eu", "-e", "n:=5", "--subject", "s", "-d", `{"a":1}`},
		{"--type", "t", "--id", "fixed", "--time", "2026-01-02T03:04:05Z", "-d", "text", "--datacontenttype", "text/plain"},
		{"--type", "t", "--specversion", "0.3", "-d", "\x00\x01"},
	} {
		f, _, _ := testFactory("", nil)
		var opts *SendOptions
		err := runCmd(t, f, func(f *Factory) *cobra.Command {
			return NewCmdSend(f, func(_ context.Context, o *SendOptions) error { opts = o; return nil })
		}, append([]string{"--to", "nats://127.0.0.1:4222/x"}, args...)...)
		if err != nil {
			t.Fatal(err)
		}
		tpl, err := parseTemplates(&opts.Event, nil)
		if err != nil {
			t.Fatal(err)
		}
		if !tpl.static() {
			t.Fatalf("%v: not static", args)
		}
		now := time.Date(2026, 11, 25, 10, 0, 0, 123456789, time.Local)
		env := &load.Env{Seq: 2, Now: now, Rand: rand.New(rand.NewPCG(1, 2))}
		first, err := tpl.build(&load.Env{Seq: 1, Now: now.Add(-time.Hour), Rand: rand.New(rand.NewPCG(3, 4))})
		if err != nil {
			t.Fatal(err)
		}
		want, err := tpl.build(env)
		if err != nil {
			t.Fatal(err)
		}
		p := newProtoEvent(&opts.Event, first)
		got := p.event(env)
		if opts.Event.ID == "" && (got.ID() == first.ID() || len(got.ID()) != 36) {
			t.Errorf("%v: id %q, want a fresh UUID", args, got.ID())
		}
		if err := got.Validate(); err != nil {
			t.Errorf("%v: %v", args, err)
		}
		got.SetID(want.ID())
		if g, w := string(ce.AppendJSON(nil, got)), string(ce.AppendJSON(nil, want)); g != w {
			t.Errorf("%v:\n got %s\nwant %s", args, g, w)
		}
		// The structured brokers get the prototype encoded once, cut where id and time go:
		// the same bytes as encoding a copy.
		jt := newJSONTemplate(p)
		if jt == nil {
			t.Fatalf("%v: no JSON template", args)
		}
		for i := range 3 {
			at := now.Add(time.Duration(i) * 1234567 * time.Nanosecond)
			g := jt.event(&load.Env{Seq: 3, Now: at, Rand: rand.New(rand.NewPCG(5, uint64(i)))})
			w := ce.AppendJSON(nil, p.event(&load.Env{Seq: 3, Now: at, Rand: rand.New(rand.NewPCG(5, uint64(i)))}))
			if string(g) != string(w) {
				t.Errorf("%v: template\n got %s\nwant %s", args, g, w)
			}
		}
		// The copy is the copy's own: changing it leaves the prototype alone.
		_ = ce.SetExtension(got, "region", "us")
		if v, _ := first.Extensions()["region"]; v == "us" {
			t.Errorf("%v: the copy shares its extensions with the prototype", args)
		}
	}
}

func TestCollectForThroughputLeavesGOGCAlone(t *testing.T) {
	before := debug.SetGCPercent(100)
	defer debug.SetGCPercent(before)
	limit := debug.SetMemoryLimit(-1)
	defer debug.SetMemoryLimit(limit)
	collectForThroughput(func(string) string { return "" }, 32<<20)
	if got := debug.SetGCPercent(100); got != 400 {
		t.Errorf("without GOGC: GC percent %d, want 400", got)
	}
	if got := debug.SetMemoryLimit(limit); got != 96<<20 {
		t.Errorf("memory limit %d, want three times what may be live (96 MiB)", got)
	}
	collectForThroughput(func(string) string { return "" }, 0)
	if got := debug.SetMemoryLimit(limit); got != 48<<20 {
		t.Errorf("memory limit %d, want at least 48 MiB", got)
	}
	collectForThroughput(func(k string) string {
		if k == "GOMEMLIMIT" {
			return "1GiB"
		}
		return ""
	}, 0)
	if got := debug.SetMemoryLimit(limit); got != limit {
		t.Errorf("with GOMEMLIMIT set: memory limit changed to %d", got)
	}
	debug.SetGCPercent(100)
	collectForThroughput(func(k string) string {
		if k == "GOGC" {
			return "50"
		}
		return ""
	}, 0)
	if got := debug.SetGCPercent(100); got != 100 {
		t.Errorf("with GOGC set: GC percent changed to %d", got)
	}
}
