package send

import (
	"context"
	"encoding/json"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cectl/cectl/internal/binding"
	"github.com/cectl/cectl/internal/client"
	"github.com/cectl/cectl/internal/eventspec"
	"github.com/cectl/cectl/internal/load"
)

// specOf is the Spec of command-line style arguments, with cectl's defaults.
func specOf(t *testing.T, args []string) *eventspec.Spec {
	t.Helper()
	s := &eventspec.Spec{Source: "cectl", SpecVersion: "1.0"}
	given := map[string]bool{}
	s.Given = func(flag string) bool { return given[flag] }
	for i := 0; i < len(args); i += 2 {
		flag, v := strings.TrimLeft(args[i], "-"), args[i+1]
		switch flag {
		case "type":
			s.Type = v
		case "id":
			s.ID = v
		case "time":
			s.Time = v
		case "subject":
			s.Subject = v
		case "datacontenttype":
			s.DataContentType = v
		case "specversion":
			s.SpecVersion = v
		case "e":
			flag, s.Extensions = "ext", append(s.Extensions, v)
		case "d":
			flag, s.Data = "data", v
		default:
			t.Fatalf("unknown flag %s", args[i])
		}
		given[flag] = true
	}
	return s
}

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
			spec := specOf(t, args)
			tpl, err := ParseTemplates(spec, nil)
			if err != nil {
				t.Fatal(err)
			}
			if !tpl.Static() {
				t.Fatalf("%v: not static", args)
			}
			now := time.Date(2026, 11, 25, 10, 0, 0, 123456789, time.Local)
			first, err := tpl.Build(&load.Env{Seq: 1, Now: now.Add(-time.Hour), Rand: rand.New(rand.NewPCG(3, 4))})
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
			fr := FreshOf(spec)
			for i := range 3 {
				env := &load.Env{Seq: 2, Now: now.Add(time.Duration(i) * 1234567), Rand: rand.New(rand.NewPCG(1, uint64(i)))}
				want, err := tpl.Build(env)
				if err != nil {
					t.Fatal(err)
				}
				got, bodies = nil, nil
				id, tm := fr.Of(env)
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
				if spec.ID == "" && (gotID == first.ID() || len(gotID) != 36) {
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

// A load run sends copies of one prepared event when the spec has no placeholders, builds
// each event otherwise, and fills batches of PerRequest events up to Total.
func TestLoadSend(t *testing.T) {
	var ids []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		events, _, err := binding.Decode(r.Header, b)
		if err != nil {
			t.Errorf("receiver: %v", err)
		}
		for _, e := range events {
			ids = append(ids, e.ID())
		}
		w.WriteHeader(http.StatusAccepted)
	}))
	defer srv.Close()
	tg, err := client.Open(srv.URL, client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer tg.Close()
	ctx := context.Background()
	for _, tc := range []struct {
		args       []string
		mode       binding.Mode
		perRequest int64
		total      int64
		prepared   bool
		want       []int // events per message
	}{
		{[]string{"--type", "t"}, binding.Binary, 1, 3, true, []int{1, 1, 1}},
		{[]string{"--type", "t", "--id", "e-{{seq}}"}, binding.Structured, 1, 2, false, []int{1, 1}},
		{[]string{"--type", "t", "--id", "e-{{seq}}"}, binding.Batch, 3, 7, false, []int{3, 3, 1}},
	} {
		spec := specOf(t, tc.args)
		tpl, err := ParseTemplates(spec, nil)
		if err != nil {
			t.Fatal(err)
		}
		first, err := tpl.Build(&load.Env{Seq: 1, Now: time.Now(), Rand: rand.New(rand.NewPCG(1, 1))})
		if err != nil {
			t.Fatal(err)
		}
		l, err := NewLoad(ctx, tg, tc.mode, &Source{Templates: tpl, First: first}, tc.perRequest, tc.total, FreshOf(spec))
		if err != nil {
			t.Fatal(err)
		}
		if (l.prepared != nil) != tc.prepared {
			t.Errorf("%v: prepared %v", tc.args, l.prepared != nil)
		}
		ids = nil
		for seq, n := range tc.want {
			got, res := l.Send(ctx, int64(seq+1), rand.New(rand.NewPCG(2, uint64(seq))))
			if got != n || !res.ACK {
				t.Errorf("%v: message %d: %d events, %+v; want %d", tc.args, seq+1, got, res, n)
			}
		}
		if !tc.prepared && tc.args[3] == "e-{{seq}}" {
			want := []string{}
			for i := range len(ids) {
				want = append(want, "e-"+strconv.Itoa(i+1))
			}
			if !slices.Equal(ids, want) {
				t.Errorf("%v: ids %v, want %v", tc.args, ids, want)
			}
		} else if len(slices.Compact(slices.Clone(ids))) != len(ids) {
			t.Errorf("%v: copies share ids: %v", tc.args, ids)
		}
	}
}
