package client

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cectl/cectl/internal/binding"
	"github.com/cectl/cectl/internal/ce"
	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/nats-io/nats.go"
)

// Every entry of the table is complete, its schemes are its own, and Open of one of its
// URLs gives a target of it.
func TestTransportTable(t *testing.T) {
	urls := map[string]string{
		"http": "http://h/", "https": "https://h/", "nats": "nats://h/s", "jetstream": "jetstream://h/S/s",
		"kafka": "kafka://h/t", "mqtt": "mqtt://h/t", "mqtts": "mqtts://h/t", "amqp": "amqp://h/q", "amqps": "amqps://h/q",
	}
	seen := map[string]bool{}
	for _, tr := range Transports() {
		if tr.Name == "" || tr.Form == "" || len(tr.Schemes) == 0 || len(tr.Modes) == 0 || tr.open == nil {
			t.Errorf("%+v: incomplete", tr)
		}
		for _, s := range tr.Schemes {
			if seen[s.Name] {
				t.Errorf("scheme %s twice", s.Name)
			}
			seen[s.Name] = true
			if s.DefaultPort == "" || Lookup(s.Name) != tr {
				t.Errorf("%s: port %q, lookup %v", s.Name, s.DefaultPort, Lookup(s.Name))
			}
			u, ok := urls[s.Name]
			if !ok {
				t.Errorf("%s: no test URL", s.Name)
				continue
			}
			tg, err := Open(u, Options{})
			if err != nil {
				t.Fatalf("%s: %v", u, err)
			}
			if tg.Transport() != tr || tg.URL() != u {
				t.Errorf("%s: transport %s, URL %s", u, tg.Transport().Name, tg.URL())
			}
			// What the table says the target cannot do, it refuses with a usage error.
			var ue *UsageError
			if _, err := tg.Dump(context.Background(), tr.Modes[0], testEvent(t)); !tr.DryRun && !errors.As(err, &ue) {
				t.Errorf("%s: dump: %v", u, err)
			}
			if _, _, _, err := tg.Request(context.Background(), tr.Modes[0], testEvent(t)); tr.NoRequest != "" && !errors.As(err, &ue) {
				t.Errorf("%s: request: %v", u, err)
			}
			tg.Close()
		}
	}
	if len(seen) != len(urls) {
		t.Errorf("schemes %v, test URLs for %d", seen, len(urls))
	}
	if Lookup("ftp") != nil {
		t.Error("ftp has a transport")
	}
}

// Help texts and usage errors list the schemes from the table.
func TestSchemesComeFromTheTable(t *testing.T) {
	if got, want := SchemeList(nil), "http(s)://, nats://, jetstream://, kafka://, mqtt(s)://, amqp(s)://"; got != want {
		t.Errorf("SchemeList = %q, want %q", got, want)
	}
	if got, want := SchemeList((*Transport).CanSubscribe), "nats://, jetstream://, kafka://, mqtt(s)://, amqp(s)://"; got != want {
		t.Errorf("subscribe schemes = %q, want %q", got, want)
	}
	_, err := Open("ftp://h/x", Options{})
	if want := `(want http, https, nats, jetstream, kafka, mqtt, mqtts, amqp or amqps)`; err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("Open ftp: %v", err)
	}
	err = Subscribe(context.Background(), "http://h/", SubscribeOptions{}, nil)
	var ue *UsageError
	if want := `cannot subscribe over "http" (want nats, jetstream, kafka, mqtt, mqtts, amqp or amqps)`; !errors.As(err, &ue) || !strings.Contains(err.Error(), want) {
		t.Errorf("Subscribe http: %v", err)
	}
	if err := Lookup("kafka").CheckDryRun(); !errors.As(err, &ue) || !strings.Contains(err.Error(), "only over http(s)://") {
		t.Errorf("kafka dry run: %v", err)
	}
	if err := Lookup("https").CheckDryRun(); err != nil {
		t.Errorf("https dry run: %v", err)
	}
	for scheme, want := range map[string]string{
		"kafka": "batch mode is not defined for Kafka; use binary or structured",
		"nats":  "batch mode is not defined for NATS; it carries one structured event per message",
	} {
		if _, err := Lookup(scheme).Mode(binding.Batch); err == nil || err.Error() != want {
			t.Errorf("%s batch: %v, want %q", scheme, err, want)
		}
	}
}

// A prepared HTTP event, and every copy of it, goes on the wire exactly as Send sends the
// same event, with the extra headers and the User-Agent.
func TestHTTPPreparedIsWhatSendSends(t *testing.T) {
	type request struct {
		header http.Header
		body   string
	}
	var mu sync.Mutex
	var got []request
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		h := r.Header.Clone()
		h.Del("Content-Length")
		h.Del("Accept-Encoding")
		mu.Lock()
		got = append(got, request{h, string(b)})
		mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()
	tg, err := Open(srv.URL, Options{Header: http.Header{"X-Extra": {"1"}}, UserAgent: "cectl-test"})
	if err != nil {
		t.Fatal(err)
	}
	defer tg.Close()
	ctx := context.Background()
	last := func() request {
		mu.Lock()
		defer mu.Unlock()
		return got[len(got)-1]
	}
	noTime := testEvent(t)
	withTime := testEvent(t)
	withTime.SetTime(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	oddID := testEvent(t)
	oddID.SetID("a \"b\" 100%")
	oddID.SetTime(withTime.Time())
	tm := time.Date(2026, 12, 3, 10, 11, 12, 123456789, time.FixedZone("CET", 3600))
	for _, mode := range []binding.Mode{binding.Binary, binding.Structured, binding.Batch} {
		for _, proto := range []*event.Event{noTime, withTime, oddID} {
			p, err := tg.Prepare(ctx, mode, proto)
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range []struct {
				id string
				tm time.Time
			}{{"", time.Time{}}, {"copy-1", tm}, {"", tm}, {"copy-2", time.Time{}}, {"x y", tm}} {
				if res := p.SendCopy(ctx, c.id, c.tm); !res.ACK {
					t.Fatalf("%s %+v: %+v", mode, c, res)
				}
				copied := last()
				want := proto.Clone()
				if c.id != "" {
					want.SetID(c.id)
				}
				if !c.tm.IsZero() {
					want.SetTime(c.tm.UTC())
				}
				if res := tg.Send(ctx, mode, &want); !res.ACK {
					t.Fatalf("%s: %+v", mode, res)
				}
				sent := last()
				if copied.body != sent.body {
					t.Errorf("%s %s %+v: body\n%s\nwant\n%s", mode, proto.ID(), c, copied.body, sent.body)
				}
				for k := range sent.header {
					if g, w := copied.header.Values(k), sent.header.Values(k); !slices.Equal(g, w) {
						t.Errorf("%s %s %+v: %s: %q, want %q", mode, proto.ID(), c, k, g, w)
					}
				}
				if len(copied.header) != len(sent.header) || sent.header.Get("X-Extra") != "1" || sent.header.Get("User-Agent") != "cectl-test" {
					t.Errorf("%s %+v: headers %v, want %v", mode, c, copied.header, sent.header)
				}
			}
			if res := p.Send(ctx); !res.ACK || last().body != func() string { tg.Send(ctx, mode, proto); return last().body }() {
				t.Errorf("%s %s: Send differs from Target.Send", mode, proto.ID())
			}
		}
	}
}

// The structured brokers' copies are the JSON event a copy encodes to, whether or not the
// template could be cut.
func TestStructuredSenderCopies(t *testing.T) {
	var bodies []string
	rec := func(_ context.Context, b []byte) Result { bodies = append(bodies, string(b)); return Result{ACK: true} }
	withTime := testEvent(t)
	withTime.SetTime(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	oddID := withTime.Clone()
	oddID.SetID(`quote " and \ back`)
	tm := time.Date(2026, 12, 3, 10, 11, 12, 120000000, time.UTC)
	for _, proto := range []*event.Event{testEvent(t), withTime, &oddID} {
		s := newStructuredSender(proto, rec, rec)
		if (s.json != nil) != (proto == withTime) {
			t.Errorf("%q: template %v", proto.ID(), s.json != nil)
		}
		for _, c := range []struct {
			id string
			tm time.Time
		}{{"", time.Time{}}, {"c-1", tm}, {"", tm}, {"c-2", time.Time{}}, {"new\nline", tm}} {
			bodies = nil
			s.SendCopy(context.Background(), c.id, c.tm)
			want := ce.AppendJSON(nil, copyEvent(proto, c.id, c.tm))
			if len(bodies) != 1 || bodies[0] != string(want) {
				t.Errorf("%q %+v:\n got %q\nwant %s", proto.ID(), c, bodies, want)
			}
		}
		bodies = nil
		s.Send(context.Background())
		if len(bodies) != 1 || bodies[0] != string(ce.AppendJSON(nil, proto)) {
			t.Errorf("%q: Send %q", proto.ID(), bodies)
		}
	}
}

// One retry policy serves every transport: backoff with jitter between the limits, as many
// retries as asked, none after an answer or a usage error, and a time limit per attempt.
func TestRetryPolicy(t *testing.T) {
	var waits []time.Duration
	var retried []int
	o := Options{Retries: 3, BackoffBase: 100 * time.Millisecond, BackoffMax: 250 * time.Millisecond,
		Sleep:   func(_ context.Context, d time.Duration) error { waits = append(waits, d); return nil },
		OnRetry: func(attempt int, _ time.Duration, _ Result) { retried = append(retried, attempt) },
	}
	ctx := context.Background()
	res := o.retry(ctx, func(context.Context) Result { return notDelivered(errors.New("down")) }, brokerAgain)
	if res.Attempts != 4 || len(waits) != 3 || !slices.Equal(retried, []int{1, 2, 3}) {
		t.Fatalf("attempts %d, waits %v, retried %v", res.Attempts, waits, retried)
	}
	for i, lim := range [][2]time.Duration{{50, 100}, {100, 200}, {125, 250}} {
		if w := waits[i]; w < lim[0]*time.Millisecond || w > lim[1]*time.Millisecond {
			t.Errorf("wait %d: %s, want %d-%d ms", i+1, w, lim[0], lim[1])
		}
	}
	for name, r := range map[string]Result{
		"nack":  nack("X", errors.New("refused")),
		"usage": {Err: &UsageError{Err: errors.New("bad")}},
	} {
		waits = nil
		if res := o.retry(ctx, func(context.Context) Result { return r }, brokerAgain); res.Attempts != 1 || len(waits) != 0 {
			t.Errorf("%s: %d attempts", name, res.Attempts)
		}
	}
	o.Retries, o.Timeout = 0, 20*time.Millisecond
	res = o.retry(ctx, func(actx context.Context) Result {
		<-actx.Done()
		return notDelivered(actx.Err())
	}, brokerAgain)
	var te *TimeoutError
	if !errors.As(res.Err, &te) || te.After != o.Timeout {
		t.Errorf("attempt past its time limit: %v", res.Err)
	}
}

// An error after a message was handed to a live connection leaves it maybe delivered when
// the confirmation timed out or was interrupted; other errors say the broker did not take it.
func TestAfterSend(t *testing.T) {
	for _, tt := range []struct {
		err  error
		want Outcome
	}{
		{fmt.Errorf("publish: %w", context.DeadlineExceeded), OutcomeNoResponse},
		{fmt.Errorf("publish: %w", context.Canceled), OutcomeNoResponse},
		{fmt.Errorf("publish: %w", nats.ErrTimeout), OutcomeNoResponse},
		{&net.OpError{Op: "read", Err: os.ErrDeadlineExceeded}, OutcomeNoResponse},
		{errors.New("connection closed"), OutcomeNotDelivered},
	} {
		if got := afterSend(tt.err); got.Outcome() != tt.want || got.Err != tt.err {
			t.Errorf("afterSend(%v) = %v, want %v", tt.err, got.Outcome(), tt.want)
		}
	}
}
