// Package listen is cectl's CloudEvents receiver: an http.Handler that decodes every content
// mode strictly and never panics, answers as configured (on purpose wrongly, to test senders),
// records, relays and replies, and reports each request to whoever shows it.
//
// It does not use sdk-go's receiver: one request can crash that, and it answers 500 to what is
// the sender's fault (see the project's SPEC-NOTES).
package listen

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cectl/cectl/internal/binding"
	"github.com/cectl/cectl/internal/ce"
	"github.com/cectl/cectl/internal/validate"
	"github.com/cloudevents/sdk-go/v2/event"
)

// Config says what the handler accepts and how it answers.
type Config struct {
	// Path is the URL path events are taken at; other paths get 404.
	Path string
	// Status answers accepted events; a non-2xx status refuses them all on purpose.
	Status int
	// MaxBody is the largest body read; larger ones get 413.
	MaxBody int64
	// Memory bounds the bytes of bodies held at once (0: 2×MaxBody, at least 8 MiB).
	Memory int64
	// Token, when set, is the bearer token every event request must carry.
	Token string
	// Filter selects the events that are shown, recorded, counted, relayed and replied to;
	// the others are only acknowledged. Nil selects all.
	Filter *Filter
	// Dedupe marks events whose (source, id) was accepted before.
	Dedupe bool
	// Replies, when set, answer each accepted request with an event in ReplyMode.
	Replies   *Replies
	ReplyMode binding.Mode
	// FailRate is the share of event requests answered 503 on purpose.
	FailRate float64
	// Delay is waited before answering an event request.
	Delay time.Duration
	// RetryAfter is sent with every non-2xx answer made on purpose.
	RetryAfter string
	// Forwarder relays accepted requests; ForwardTimeout bounds that.
	Forwarder      *Forwarder
	ForwardTimeout time.Duration
	// Recorder, when set, receives every accepted event before it is acknowledged.
	Recorder *Recorder
	// Count, when positive, is how many events are handled; later requests get 503.
	Count int
	// Report receives every request worth showing. It is called concurrently, before the
	// answer is sent, and must not keep the Report after it returns.
	Report func(*Report)
	// ShowHeaders fills in Report.Target and Report.Header for the events of a broker
	// message (Deliver): laying out the transport's metadata and headers costs more than the
	// rest of the message's handling, and only -v shows them. Rejected messages always have
	// them.
	ShowHeaders bool

	// Now and Rand are the clock and the dice; nil means the real ones.
	Now  func() time.Time
	Rand func() float64
}

// MethodReceive is the method of a broker message's report (Deliver): Proto is the
// transport, Target its metadata (topic, partition, offset …) and Header its headers or
// properties, under the names they have on the wire.
const MethodReceive = "RECEIVE"

// Kind says what a Report is about.
type Kind int

// The kinds of report.
const (
	// KindEvents is a request that carried events (or an empty batch).
	KindEvents Kind = iota
	// KindRejected is a request listen refused; Status and Reason say why.
	KindRejected
	// KindHandshake is a webhook validation request (webhook §4.1).
	KindHandshake
)

// Report is one request as listen saw and answered it.
type Report struct {
	Kind     Kind
	Received time.Time
	Method   string // MethodReceive for a broker message
	Target   string // path and query, access_token hidden; a broker message's metadata
	Proto    string
	Remote   string // the sender's address; none for a broker message
	Header   http.Header
	Mode     binding.Mode
	// Status is the answer sent.
	Status int
	// Reason is why the request was refused (KindRejected), or which option made the answer
	// to events non-2xx (KindEvents).
	Reason string
	// Events are the selected events of the request, in order.
	Events []Arrival
	// Total is the number of events the request carried, selected or not.
	Total int
	// Forwards are the outcomes of relaying the request.
	Forwards []Forwarded
	// Reply is the event sent back, if any.
	Reply     *event.Event
	ReplyMode binding.Mode
	// Origin is the WebHook-Request-Origin of a handshake; empty when it had none.
	Origin string
}

// Arrival is one selected event.
type Arrival struct {
	Event *event.Event
	// Index is its position in a batch.
	Index int
	// Duplicate is set when an event with the same source and id was accepted before.
	Duplicate bool
	// Warnings are SHOULD violations (spec v1.0.2 Notational Conventions) found in it.
	Warnings []validate.Finding
}

// Handler is the receiver. It is safe for concurrent use.
type Handler struct {
	cfg        Config
	tokenSum   [32]byte
	budget     *budget
	seen       *seenSet
	validators sync.Pool
	bufs       sync.Pool
	exchanges  sync.Pool
	// bigBodies keeps a few large body buffers for reuse; a fixed number, so that what is
	// kept stays bounded (sync.Pool could keep one per request in flight).
	bigBodies chan []byte

	counted  atomic.Int64
	reached  chan struct{}
	reachOne sync.Once
	stopping chan struct{}
	stopOne  sync.Once
	failed   chan error
	failOne  sync.Once

	stats statsCounter
}

// Default limits.
const (
	DefaultMaxBody = 4 << 20
	minMemory      = 8 << 20
	// budgetWait is how long a request waits for memory before it is answered 503 with
	// Retry-After: a flood is told to back off rather than queued up.
	budgetWait = 2 * time.Second
	// firstRead is what a body of unknown length may use before it must ask for more.
	firstRead = 16 << 10
	// pooledBuffer is the largest body buffer kept for reuse.
	pooledBuffer = 64 << 10
)

// MemoryBudget is the most bytes of bodies a handler for cfg holds at once: cfg.Memory, or
// its default of twice the largest body (at least 8 MiB), and always room for one body.
func MemoryBudget(cfg Config) int64 {
	maxBody := cfg.MaxBody
	if maxBody <= 0 {
		maxBody = DefaultMaxBody
	}
	m := cfg.Memory
	if m <= 0 {
		m = max(2*maxBody, minMemory)
	}
	return max(m, maxBody+1)
}

// NewHandler returns a handler for cfg.
func NewHandler(cfg Config) *Handler {
	if cfg.Path == "" {
		cfg.Path = "/"
	}
	if cfg.Status == 0 {
		cfg.Status = http.StatusAccepted
	}
	if cfg.MaxBody <= 0 {
		cfg.MaxBody = DefaultMaxBody
	}
	cfg.Memory = MemoryBudget(cfg)
	if cfg.ForwardTimeout <= 0 {
		cfg.ForwardTimeout = 30 * time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Rand == nil {
		cfg.Rand = rand.Float64
	}
	if cfg.Report == nil {
		cfg.Report = func(*Report) {}
	}
	h := &Handler{
		cfg:      cfg,
		budget:   newBudget(cfg.Memory),
		reached:  make(chan struct{}),
		stopping: make(chan struct{}),
		failed:   make(chan error, 1),
	}
	if cfg.Token != "" {
		h.tokenSum = sha256.Sum256([]byte(cfg.Token))
	}
	if cfg.Dedupe {
		h.seen = newSeenSet(DedupeWindow)
	}
	h.bigBodies = make(chan []byte, 2)
	h.validators.New = func() any { return binding.NewDecoder(validate.Options{}) }
	h.bufs.New = func() any { b := make([]byte, 0, 4<<10); return &b }
	h.stats.byType = map[string]int64{}
	h.stats.rejected = map[int]int64{}
	return h
}

func (h *Handler) validator() *binding.Decoder { return h.validators.Get().(*binding.Decoder) }

// Reached is closed once Count events have been handled.
func (h *Handler) Reached() <-chan struct{} { return h.reached }

// Failed delivers the first error that makes listening pointless (the record cannot be
// written).
func (h *Handler) Failed() <-chan error { return h.failed }

// Stop makes the handler turn new requests away with 503 and cut delays short, so a graceful
// shutdown finishes quickly and acknowledges nothing it cannot finish.
func (h *Handler) Stop() { h.stopOne.Do(func() { close(h.stopping) }) }

func (h *Handler) isStopping() bool {
	select {
	case <-h.stopping:
		return true
	default:
		return false
	}
}

// exchange is what one request needs, kept for reuse: a flood of small events then costs
// little garbage.
type exchange struct {
	rep      Report
	body     []byte // the body buffer, owned while the request runs
	reserved int64  // bytes taken from the budget
	events   [1]event.Event
	warnings [1][]validate.Finding
	arrivals [1]Arrival
	answer   answer // what a broker message is answered (Deliver)
}

func (h *Handler) getExchange() *exchange {
	if x, ok := h.exchanges.Get().(*exchange); ok {
		return x
	}
	return &exchange{}
}

// putExchange gives the memory back and keeps the exchange for the next request, without
// references to this one's events.
func (h *Handler) putExchange(x *exchange) {
	h.budget.release(x.reserved)
	x.reserved = 0
	if cap(x.body) > pooledBuffer {
		select {
		case h.bigBodies <- x.body[:0]:
		default:
		}
		x.body = nil
	}
	x.body = x.body[:0]
	x.rep = Report{}
	x.events = [1]event.Event{}
	x.warnings = [1][]validate.Finding{}
	x.arrivals = [1]Arrival{}
	h.exchanges.Put(x)
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	x := h.getExchange()
	defer h.putExchange(x)
	rep := &x.rep
	*rep = Report{
		Received: h.cfg.Now(),
		Method:   r.Method,
		Target:   redactTarget(r),
		Proto:    r.Proto,
		Remote:   r.RemoteAddr,
		Header:   r.Header,
	}
	if r.URL.Path != h.cfg.Path {
		h.reject(w, rep, http.StatusNotFound, fmt.Sprintf("no events are taken at %s; listen takes them at %s", r.URL.Path, h.cfg.Path))
		return
	}
	switch r.Method {
	case http.MethodOptions:
		h.handshake(w, r, rep)
		return
	case http.MethodPost, http.MethodPut:
		// The webhook spec (§2.1) wants POST; the HTTP binding does not constrain the
		// method (§1.2) and its batch example uses PUT.
	default:
		w.Header().Set("Allow", allowed)
		h.reject(w, rep, http.StatusMethodNotAllowed, fmt.Sprintf("method %s is not allowed: send events with POST", r.Method))
		return
	}
	if !h.authorized(r) {
		// The bearer token scheme of webhook §3 (RFC 6750 §3 for the challenge).
		w.Header().Set("WWW-Authenticate", `Bearer realm="cectl listen"`)
		h.reject(w, rep, http.StatusUnauthorized, "missing or wrong bearer token (Authorization: Bearer <token>, or ?access_token=<token>)")
		return
	}
	if h.isStopping() || h.countDone() {
		h.turnAway(w)
		return
	}

	body, p := h.readBody(w, r, x)
	if p != nil {
		if p.status == http.StatusServiceUnavailable {
			w.Header().Set("Retry-After", "1")
		}
		h.reject(w, rep, p.status, p.reason)
		return
	}
	d := decoded{events: x.events[:0], warnings: x.warnings[:0]}
	if p := h.decode(r.Header, body, &d); p != nil {
		rep.Mode = d.mode
		h.reject(w, rep, p.status, p.reason)
		return
	}
	rep.Events = x.arrivals[:0]
	h.handleEvents(r.Context(), w, r.Header, rep, d, body)
}

const allowed = "OPTIONS, POST, PUT"

// turnAway answers a request that came after the end: 503, so the sender keeps the event.
func (h *Handler) turnAway(w http.ResponseWriter) {
	w.Header().Set("Connection", "close")
	w.Header().Set("Retry-After", "1")
	http.Error(w, "listener is stopping", http.StatusServiceUnavailable)
	h.stats.turnedAway()
}

func (h *Handler) countDone() bool {
	return h.cfg.Count > 0 && h.counted.Load() >= int64(h.cfg.Count)
}

// handshake answers the webhook validation request (webhook §4.2): listen agrees to receive
// from any origin at any rate.
func (h *Handler) handshake(w http.ResponseWriter, r *http.Request, rep *Report) {
	hdr := w.Header()
	hdr.Set("Allow", allowed)
	rep.Kind = KindHandshake
	rep.Origin = r.Header.Get("WebHook-Request-Origin")
	if rep.Origin != "" {
		// §4.2.1: the origin asked for; §4.2.2: "*" is no rate limit.
		hdr.Set("WebHook-Allowed-Origin", rep.Origin)
		hdr.Set("WebHook-Allowed-Rate", "*")
	}
	rep.Status = http.StatusOK
	h.cfg.Report(rep)
	w.WriteHeader(http.StatusOK)
}

// authorized checks the bearer token in the Authorization header (webhook §3.1) or the
// access_token query parameter (§3.2). Hashes are compared so that neither the content nor
// the length of the token leaks through timing.
func (h *Handler) authorized(r *http.Request) bool {
	if h.cfg.Token == "" {
		return true
	}
	var got string
	if a := r.Header.Get("Authorization"); len(a) > 7 && strings.EqualFold(a[:7], "bearer ") {
		got = strings.TrimSpace(a[7:])
	} else if a == "" && r.URL.RawQuery != "" {
		got = r.URL.Query().Get("access_token")
	}
	sum := sha256.Sum256([]byte(got))
	return subtle.ConstantTimeCompare(sum[:], h.tokenSum[:]) == 1
}

// redactTarget is the request target to show, with an access_token hidden.
func redactTarget(r *http.Request) string {
	u := r.URL
	if u.RawQuery == "" || !strings.Contains(u.RawQuery, "access_token") {
		if r.RequestURI != "" {
			return r.RequestURI
		}
		return u.RequestURI()
	}
	q := u.Query()
	if q.Has("access_token") {
		q.Set("access_token", "REDACTED")
	}
	c := *u
	c.RawQuery = q.Encode()
	return c.RequestURI()
}

func (h *Handler) reject(w http.ResponseWriter, rep *Report, status int, reason string) {
	rep.Kind = KindRejected
	rep.Status = status
	rep.Reason = reason
	h.stats.reject(status)
	h.cfg.Report(rep)
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	io.WriteString(w, reason+"\n")
}

// readBody reads the body into x's buffer within --max-body and the memory budget; the
// memory is given back with x.
func (h *Handler) readBody(w http.ResponseWriter, r *http.Request, x *exchange) ([]byte, *problem) {
	limit := h.cfg.MaxBody
	if r.ContentLength > limit {
		return nil, &problem{http.StatusRequestEntityTooLarge, fmt.Sprintf("the body is %d bytes; listen takes at most %d (--max-body)", r.ContentLength, limit)}
	}
	want := int64(firstRead)
	if r.ContentLength >= 0 {
		want = r.ContentLength + 1 // one more byte to see the end without growing
	}
	want = min(want, limit+1)
	if !h.budget.tryAcquire(want) {
		ctx, cancel := context.WithTimeout(r.Context(), budgetWait)
		err := h.budget.acquire(ctx, want)
		cancel()
		if err != nil {
			return nil, &problem{http.StatusServiceUnavailable, "too many requests at once: try again"}
		}
	}
	x.reserved = want
	buf := x.body[:0]
	if int64(cap(buf)) < want && want > pooledBuffer {
		select {
		case big := <-h.bigBodies:
			buf = big
		default:
		}
	}
	if int64(cap(buf)) < want {
		buf = make([]byte, 0, want)
	}
	defer func() { x.body = buf }()
	// A declared length was checked above and the server reads no further than it; a body of
	// unknown length is cut at the limit.
	rd := r.Body
	if r.ContentLength < 0 {
		rd = http.MaxBytesReader(w, r.Body, limit)
	}
	for {
		if len(buf) == cap(buf) {
			grow := max(min(int64(cap(buf)), limit+1-int64(cap(buf))), 1)
			if !h.budget.tryAcquire(grow) {
				return nil, &problem{http.StatusServiceUnavailable, "too many requests at once: try again"}
			}
			x.reserved += grow
			nb := make([]byte, len(buf), int64(cap(buf))+grow)
			copy(nb, buf)
			buf = nb
		}
		n, err := rd.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if errors.Is(err, io.EOF) {
			return buf, nil
		}
		if err != nil {
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				return nil, &problem{http.StatusRequestEntityTooLarge, fmt.Sprintf("the body is larger than %d bytes (--max-body)", limit)}
			}
			return nil, &problem{http.StatusBadRequest, "reading the body: " + err.Error()}
		}
	}
}

// handleEvents selects, records, relays and answers the events of a well-formed request;
// header and body are the request's, for relaying.
func (h *Handler) handleEvents(ctx context.Context, w http.ResponseWriter, header http.Header, rep *Report, d decoded, body []byte) {
	rep.Kind = KindEvents
	rep.Mode = d.mode
	rep.Total = len(d.events)
	for i := range d.events {
		e := &d.events[i]
		if !h.cfg.Filter.Match(e) {
			continue
		}
		rep.Events = append(rep.Events, Arrival{Event: e, Index: i, Warnings: d.warnings[i]})
	}

	status := h.cfg.Status
	switch {
	case h.cfg.FailRate > 0 && h.cfg.Rand() < h.cfg.FailRate:
		status = http.StatusServiceUnavailable
		rep.Reason = "--fail-rate"
	case !is2xx(status):
		rep.Reason = "--status"
	}
	accepted := is2xx(status)

	// Only accepted events are remembered: a refused one will come again, and rightly so.
	fresh := 0
	var added []string
	for i := range rep.Events {
		a := &rep.Events[i]
		if h.seen != nil {
			key := seenKey(a.Event.Source(), a.Event.ID())
			if accepted {
				a.Duplicate = h.seen.add(key)
				if !a.Duplicate {
					added = append(added, key)
				}
			} else {
				a.Duplicate = h.seen.has(key)
			}
		}
		if !a.Duplicate {
			fresh++
		}
	}

	reached := false
	if h.cfg.Count > 0 && fresh > 0 {
		n := h.counted.Add(int64(fresh))
		if n-int64(fresh) >= int64(h.cfg.Count) {
			// Others got there first: this request is beyond the count.
			h.forget(added)
			h.turnAway(w)
			return
		}
		reached = n >= int64(h.cfg.Count)
	}

	if accepted && fresh > 0 && h.cfg.Recorder != nil {
		if err := h.record(rep.Events); err != nil {
			h.forget(added)
			h.fail(err)
			h.reject(w, rep, http.StatusInternalServerError, "the event could not be recorded: "+err.Error())
			return
		}
	}
	if accepted && fresh > 0 && h.cfg.Forwarder != nil {
		rep.Forwards = h.cfg.Forwarder.Forward(context.WithoutCancel(ctx), header, body, h.cfg.ForwardTimeout)
	}
	var reply []byte
	if accepted && len(rep.Events) > 0 && h.cfg.Replies != nil {
		rep.Reply = h.cfg.Replies.Next(rep.Received)
		rep.ReplyMode = h.cfg.ReplyMode
		msg, err := binding.Encode(h.cfg.ReplyMode, rep.Reply)
		if err == nil {
			for k, v := range msg.Header {
				w.Header()[k] = v
			}
			reply = msg.Body
		}
	}
	rep.Status = status
	h.stats.events(rep, d, fresh)
	if len(rep.Events) > 0 || rep.Total == 0 {
		h.cfg.Report(rep)
	}

	if h.cfg.Delay > 0 {
		t := time.NewTimer(h.cfg.Delay)
		select {
		case <-t.C:
		case <-ctx.Done():
		case <-h.stopping:
		}
		t.Stop()
	}
	hdr := w.Header()
	if !accepted {
		if h.cfg.RetryAfter != "" {
			hdr.Set("Retry-After", h.cfg.RetryAfter)
		}
		hdr.Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(status)
		fmt.Fprintf(w, "refused on purpose (%s)\n", rep.Reason)
	} else {
		if len(reply) > 0 {
			hdr.Set("Content-Length", strconv.Itoa(len(reply)))
		}
		w.WriteHeader(status)
		if len(reply) > 0 && status != http.StatusNoContent {
			w.Write(reply)
		}
	}
	if reached {
		h.reachOne.Do(func() { close(h.reached) })
	}
}

func (h *Handler) forget(keys []string) {
	for _, k := range keys {
		h.seen.forget(k)
	}
}

func (h *Handler) fail(err error) {
	h.failOne.Do(func() { h.failed <- err })
}

// record appends the new events of a request to the record in one write.
func (h *Handler) record(events []Arrival) error {
	bp := h.bufs.Get().(*[]byte)
	buf := (*bp)[:0]
	n := 0
	for _, a := range events {
		if a.Duplicate {
			continue
		}
		buf = ce.AppendJSON(buf, a.Event)
		buf = append(buf, '\n')
		n++
	}
	err := h.cfg.Recorder.Append(buf)
	if cap(buf) <= pooledBuffer {
		*bp = buf[:0]
		h.bufs.Put(bp)
	}
	if err == nil {
		h.stats.recorded(n)
	}
	return err
}

func is2xx(s int) bool { return s >= 200 && s <= 299 }
