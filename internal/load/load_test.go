package load

import (
	"context"
	"errors"
	"math/rand/v2"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cectl/cectl/internal/client"
)

func testEnv(seq int64) *Env {
	return &Env{Seq: seq, Now: time.Date(2026, 11, 25, 10, 0, 0, 5, time.UTC), Rand: rand.New(rand.NewPCG(1, 2))}
}

func TestTemplateRender(t *testing.T) {
	tests := []struct {
		in   string
		want string // a regexp the whole output must match
	}{
		{"plain", `plain`},
		{"", ``},
		{"order-{{seq}}", `order-42`},
		{"{{ seq }}/{{seq}}", `42/42`},
		{"{{uuid}}", `[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}`},
		{"{{now}}", `2026-11-25T10:00:00\.000000005Z`},
		{"t={{unix}}", `t=1795600800`},
		{"{{rand 5 5}}", `5`},
		{"{{rand -3 3}}", `-?[0-3]`},
		{"{{randstr 12}}", `[a-zA-Z0-9]{12}`},
		{"{{randstr 0}}x", `x`},
		{`{{pick "eu" "us" "a b"}}`, `(eu|us|a b)`},
		{`{"n":{{seq}},"r":"{{pick "x\"y"}}"}`, `\{"n":42,"r":"x"y"\}`},
	}
	for _, tt := range tests {
		tpl, err := Parse(tt.in)
		if err != nil {
			t.Errorf("Parse(%q): %v", tt.in, err)
			continue
		}
		got := tpl.Render(testEnv(42))
		if !regexp.MustCompile(`^` + tt.want + `$`).MatchString(got) {
			t.Errorf("%q rendered %q, want /%s/", tt.in, got, tt.want)
		}
	}
}

func TestTemplateRandomness(t *testing.T) {
	tpl, _ := Parse(`{{rand 1 3}}`)
	env := testEnv(1)
	seen := map[string]bool{}
	for i := 0; i < 200; i++ {
		seen[tpl.Render(env)] = true
	}
	if len(seen) != 3 || !seen["1"] || !seen["3"] {
		t.Errorf("rand 1 3 gave %v", seen)
	}
	u, _ := Parse(`{{uuid}}`)
	if u.Render(env) == u.Render(env) {
		t.Error("two uuids were equal")
	}
}

func TestTemplateErrors(t *testing.T) {
	tests := map[string]string{
		"{{seq":              "unclosed",
		"{{}}":               "empty",
		"{{nope}}":           "unknown placeholder {{nope}}",
		"{{seq 1}}":          "takes 0 argument",
		"{{rand 5 1}}":       "MIN <= MAX",
		"{{rand a b}}":       "two integers",
		"{{randstr -1}}":     "length",
		"{{pick}}":           "at least one",
		"{{pick a}}":         "quoted strings",
		`{{pick "unclosed}}`: "unterminated",
	}
	for in, want := range tests {
		_, err := Parse(in)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Parse(%q) = %v, want an error containing %q", in, err, want)
		}
	}
}

func TestStatic(t *testing.T) {
	for in, want := range map[string]bool{"": true, "abc": true, "{{seq}}": false, "a{{uuid}}": false} {
		tpl, _ := Parse(in)
		if tpl.Static() != want {
			t.Errorf("Static(%q) = %v", in, !want)
		}
	}
}

// fakeClock advances only when somebody sleeps, so pacing can be checked exactly.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) SleepUntil(ctx context.Context, t time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if t.After(c.now) {
		c.now = t
	}
	return ctx.Err()
}

func TestPacing(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	clk := &fakeClock{now: start}
	var mu sync.Mutex
	var sent []time.Duration
	send := func(ctx context.Context, seq int64, _ *rand.Rand) (int, client.Result) {
		mu.Lock()
		sent = append(sent, clk.Now().Sub(start))
		mu.Unlock()
		return 1, client.Result{Delivered: true, ACK: true, Status: 202}
	}
	r := Run(context.Background(), Config{Count: 1000, Rate: 1000, Concurrency: 1, Clock: clk}, send, nil)
	if r.Events != 1000 || r.ACK != 1000 {
		t.Fatalf("report %+v", r)
	}
	for i, d := range sent {
		if want := time.Duration(i) * time.Millisecond; d != want {
			t.Fatalf("request %d went at %v, want %v", i, d, want)
		}
	}
	// 1000 events at 1000/s end one interval short of a second.
	if r.Elapsed != 999*time.Millisecond {
		t.Errorf("elapsed %v", r.Elapsed)
	}
}

func TestPacerDue(t *testing.T) {
	start := time.Unix(0, 0)
	p := Pacer{Start: start, Rate: 400}
	if got := p.Due(10).Sub(start); got != 25*time.Millisecond {
		t.Errorf("due %v", got)
	}
	if got := (Pacer{Start: start}).Due(99); !got.Equal(start) {
		t.Errorf("unpaced request due at %v", got)
	}
}

func TestRunCountsEverything(t *testing.T) {
	seen := sync.Map{}
	var warm int
	var mu sync.Mutex
	send := func(ctx context.Context, seq int64, _ *rand.Rand) (int, client.Result) {
		if seq <= 0 {
			mu.Lock()
			warm++
			mu.Unlock()
			return 1, client.Result{Delivered: true, ACK: true, Status: 200}
		}
		if _, dup := seen.LoadOrStore(seq, true); dup {
			t.Errorf("seq %d sent twice", seq)
		}
		switch seq % 10 {
		case 0:
			return 2, client.Result{Err: errors.New("connection refused")}
		case 1:
			return 2, client.Result{Delivered: true, Status: 503, Response: &client.Response{Status: "503 Service Unavailable"}}
		}
		return 2, client.Result{Delivered: true, ACK: true, Status: 202}
	}
	r := Run(context.Background(), Config{Count: 100, Concurrency: 8, Warmup: 5}, send, nil)
	if warm != 5 {
		t.Errorf("%d warmup requests", warm)
	}
	if r.Requests != 100 || r.Events != 200 || r.ACK != 160 || r.NACK != 20 || r.Undelivered != 20 {
		t.Errorf("report %+v", r)
	}
	if r.StatusCodes[202] != 80 || r.StatusCodes[503] != 10 || len(r.StatusCodes) != 2 {
		t.Errorf("codes %v", r.StatusCodes)
	}
	if len(r.Errors) != 2 || r.Errors[0].Count+r.Errors[1].Count != 20 {
		t.Errorf("errors %v", r.Errors)
	}
	if r.Latency.Count() != 100 {
		t.Errorf("latency count %d", r.Latency.Count())
	}
}

func TestRunDurationAndInterrupt(t *testing.T) {
	clk := &fakeClock{now: time.Unix(0, 0)}
	send := func(ctx context.Context, seq int64, _ *rand.Rand) (int, client.Result) {
		return 1, client.Result{Delivered: true, ACK: true, Status: 202}
	}
	r := Run(context.Background(), Config{Duration: time.Second, Rate: 100, Concurrency: 4, Clock: clk}, send, nil)
	if r.Events != 100 || r.Interrupted {
		t.Errorf("1s at 100/s sent %d events (interrupted %v)", r.Events, r.Interrupted)
	}

	ctx, cancel := context.WithCancel(context.Background())
	var n int64
	var mu sync.Mutex
	send = func(sctx context.Context, seq int64, _ *rand.Rand) (int, client.Result) {
		mu.Lock()
		n++
		if n == 50 {
			cancel()
		}
		mu.Unlock()
		if sctx.Err() != nil {
			t.Error("an in-flight request was cancelled by the interrupt")
		}
		return 1, client.Result{Delivered: true, ACK: true, Status: 202}
	}
	r = Run(ctx, Config{Count: 1000000, Concurrency: 4}, send, nil)
	if !r.Interrupted || r.Events < 50 || r.Events > 60 {
		t.Errorf("interrupted %v after %d events", r.Interrupted, r.Events)
	}
}

// A request ended by the deadline is the last one: the run's own deadline timer may
// fire after the request's, and no further request may start in between.
func TestRunDeadlineEndsTheRun(t *testing.T) {
	for range 5 {
		var n atomic.Int64
		send := func(ctx context.Context, seq int64, _ *rand.Rand) (int, client.Result) {
			n.Add(1)
			<-ctx.Done()
			return 1, client.Result{Err: ctx.Err()}
		}
		// Long enough for the first request to start on a busy machine.
		r := Run(context.Background(), Config{Count: 10, Deadline: time.Now().Add(300 * time.Millisecond)}, send, nil)
		if n.Load() != 1 || r.Requests != 1 || r.Stop != "stopped at the deadline" {
			t.Fatalf("%d requests started, report: %d requests, stop %q", n.Load(), r.Requests, r.Stop)
		}
		if len(r.Unsent) != 0 || r.UnsentFrom != 2 {
			t.Fatalf("unsent %v from %d, want from 2", r.Unsent, r.UnsentFrom)
		}
	}
}

func TestHistogramQuantiles(t *testing.T) {
	var h Histogram
	for i := 1; i <= 10000; i++ {
		h.Record(time.Duration(i) * time.Microsecond)
	}
	for _, tt := range []struct {
		q    float64
		want time.Duration
	}{{0.5, 5 * time.Millisecond}, {0.9, 9 * time.Millisecond}, {0.99, 9900 * time.Microsecond}, {1, 10 * time.Millisecond}} {
		got := h.Quantile(tt.q)
		if diff := float64(got-tt.want) / float64(tt.want); diff > 0.01 || diff < -0.01 {
			t.Errorf("p%v = %v, want %v within 1%%", tt.q*100, got, tt.want)
		}
	}
	if h.Min() != time.Microsecond || h.Max() != 10*time.Millisecond {
		t.Errorf("min %v max %v", h.Min(), h.Max())
	}
	if m := h.Mean(); m < 5000*time.Microsecond || m > 5001*time.Microsecond {
		t.Errorf("mean %v", m)
	}
	var one Histogram
	one.Record(3 * time.Millisecond)
	if one.Quantile(0.5) != 3*time.Millisecond || one.Quantile(0.99) != 3*time.Millisecond {
		t.Errorf("single value quantiles %v %v", one.Quantile(0.5), one.Quantile(0.99))
	}
	var total uint64
	for _, b := range h.Bars(10) {
		total += b.Count
	}
	if total != 10000 {
		t.Errorf("bars hold %d of 10000", total)
	}
}

func TestBucketsAreContinuous(t *testing.T) {
	prev := -1
	for us := uint64(0); us < 1<<20; us += 7 {
		b := bucketOf(us)
		if b < prev {
			t.Fatalf("bucket of %d went down", us)
		}
		if lowerBound(b) > us || lowerBound(b+1) <= us {
			t.Fatalf("%d in bucket %d [%d, %d)", us, b, lowerBound(b), lowerBound(b+1))
		}
		prev = b
	}
}
