package cmd

import (
	"context"
	"encoding/json"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"runtime/debug"
	"slices"
	"testing"
	"time"

	"github.com/cectl/cectl/internal/binding"
	"github.com/cectl/cectl/internal/client"
	"github.com/cectl/cectl/internal/load"
	"github.com/spf13/cobra"
)

// A run without placeholders sends copies of one event built from the flags; each copy must
// arrive as what building it from the flags gives, but for a fresh id and time when the
// flags set none.
func TestCopiesAreWhatTheFlagsBuild(t *testing.T) {
	var got []*http.Request
	var bodies [][]byte
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got, bodies = append(got, r), append(bodies, b)
		w.WriteHeader(http.StatusAccepted)
	}))
	defer srv.Close()
	for _, args := range [][]string{
		{"--type", "t", "-e", "region=eu", "-e", "n:=5", "--subject", "s", "-d", `{"a":1}`},
		{"--type", "t", "--id", "fixed", "--time", "2026-01-02T03:04:05Z", "-d", "text", "--datacontenttype", "text/plain"},
		{"--type", "t", "--specversion", "0.3", "-d", "\x00\x01"},
	} {
		for _, mode := range []binding.Mode{binding.Binary, binding.Structured} {
			f, _, _ := testFactory("", nil)
			var opts *SendOptions
			err := runCmd(t, f, func(f *Factory) *cobra.Command {
				return NewCmdSend(f, func(_ context.Context, o *SendOptions) error { opts = o; return nil })
			}, append([]string{"--to", srv.URL}, args...)...)
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
			first, err := tpl.build(&load.Env{Seq: 1, Now: now.Add(-time.Hour), Rand: rand.New(rand.NewPCG(3, 4))})
			if err != nil {
				t.Fatal(err)
			}
			tg, err := client.Open(srv.URL, client.Options{})
			if err != nil {
				t.Fatal(err)
			}
			prepared, err := tg.Prepare(context.Background(), mode, first)
			if err != nil {
				t.Fatal(err)
			}
			fr := newFresh(&opts.Event)
			for i := range 3 {
				env := &load.Env{Seq: 2, Now: now.Add(time.Duration(i) * 1234567), Rand: rand.New(rand.NewPCG(1, uint64(i)))}
				want, err := tpl.build(env)
				if err != nil {
					t.Fatal(err)
				}
				got, bodies = nil, nil
				id, tm := fr.of(env)
				if res := prepared.SendCopy(context.Background(), id, tm); !res.ACK {
					t.Fatalf("%v %s: %+v", args, mode, res)
				}
				// What arrives is what encoding the event built from the flags gives.
				_, gotMode, err := binding.Decode(got[0].Header, bodies[0])
				if err != nil || gotMode != mode {
					t.Fatalf("%v %s: decode: %v %s", args, mode, err, gotMode)
				}
				gotID := got[0].Header.Get("Ce-Id")
				if mode == binding.Structured {
					var doc struct{ ID string }
					_ = json.Unmarshal(bodies[0], &doc)
					gotID = doc.ID
				}
				if opts.Event.ID == "" && (gotID == first.ID() || len(gotID) != 36) {
					t.Errorf("%v %s: id %q, want a fresh UUID", args, mode, gotID)
				}
				want.SetID(gotID)
				msg, err := binding.Encode(mode, want)
				if err != nil {
					t.Fatal(err)
				}
				if string(bodies[0]) != string(msg.Body) {
					t.Errorf("%v %s:\n got %s\nwant %s", args, mode, bodies[0], msg.Body)
				}
				for k := range msg.Header {
					if g, w := got[0].Header.Values(k), msg.Header.Values(k); !slices.Equal(g, w) {
						t.Errorf("%v %s: %s: %q, want %q", args, mode, k, g, w)
					}
				}
			}
			tg.Close()
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
