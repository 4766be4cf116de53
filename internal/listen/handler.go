// Package listen is cectl's CloudEvents receiver. Every message, whatever carried it, goes
// through one pipeline of small stages — decode (strictly), filter, faults, dedupe, count,
// record, forward, reply, report, delay — that returns a Verdict; the HTTP handler
// (ServeHTTP) and the broker subscription (Deliver) are thin adapters that turn the verdict
// into their own answer: a status with headers and a body, or an acknowledgement.
//
// It does not use sdk-go's receiver (v2.16.2): a malformed request can make that panic, and
// it answers 500 to what is the sender's fault, where webhook §2.2 wants 415 for a format that
// is not understood and otherwise the status codes of RFC 7231, whose 4xx tell the sender
// that the request itself is wrong.
package listen

import (
	"crypto/sha256"
	"errors"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cectl/cectl/internal/binding"
	"github.com/cectl/cectl/internal/validate"
	"github.com/cloudevents/sdk-go/v2/event"
)

// Config says what the handler accepts and how it answers.
type Config struct {
	// Path is the URL path events are taken at; other paths get 404.
	Path string
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
	// Faults make the answers wrong on purpose.
	Faults Faults
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
	// Show, when set, is called instead of Report. It returns once what it printed is
	// written, like the record: an event is acknowledged only after its line left listen
	// (Output.Commit). An error says the events could not be shown; the message is then
	// answered 503 with Retry-After and not acknowledged.
	Show func(*Report) error
	// ShowHeaders fills in Report.Target and Report.Header for the events of a broker
	// message (Deliver): laying out the transport's metadata and headers costs more than the
	// rest of the message's handling, and only -v shows them. Rejected messages always have
	// them. For HTTP requests listen reads itself it fills in Report.Wire too.
	ShowHeaders bool
	// Observer, when set, is told about every message once it is answered (listen --ui).
	Observer Observer

	// Now is the clock; nil means the real one.
	Now func() time.Time
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
	// Wire, when not nil, is the request's header fields as they came: names in the case the
	// sender wrote, in its order, Host included. Only requests listen read itself have it
	// (fastpath.go), and only when an Observer or ShowHeaders wants it.
	Wire [][2]string
	Mode binding.Mode
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
	// Settled says what became of a refused broker message, in its transport's terms
	// (client.Delivery.Refusal); empty over HTTP, where Status says it.
	Settled string
	// Payload is the start of a refused broker message's payload (at most PreviewSize
	// bytes), and PayloadSize its whole size.
	Payload     []byte
	PayloadSize int
	// Bytes is the size of the body (HTTP) or payload (broker) that was read; 0 when none was.
	Bytes int
	// Recorded is how many of the events were written to --record; RecordFailed how many
	// the write failed to keep (the message is then rejected with 500). Both are 0 when
	// nothing was written: no --record, or no new accepted event.
	Recorded, RecordFailed int
}

// PreviewSize is how much of a refused broker message's payload a Report keeps.
const PreviewSize = 200

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
	stages     []stage
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
	cfg.Faults = cfg.Faults.withDefaults(cfg.Replies != nil)
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
	if cfg.Show != nil {
		show := cfg.Show
		cfg.Report = func(r *Report) { show(r) }
	}
	if cfg.Report == nil {
		cfg.Report = func(*Report) {}
	}
	h := &Handler{
		cfg:      cfg,
		stages:   pipeline(&cfg),
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

func (h *Handler) countDone() bool {
	return h.cfg.Count > 0 && h.counted.Load() >= int64(h.cfg.Count)
}

// Taking reports whether the handler still takes messages: false once --count was reached or
// listen began to stop (client.SubscribeOptions.More).
func (h *Handler) Taking() bool { return !h.isStopping() && !h.countDone() }

func (h *Handler) isStopping() bool {
	select {
	case <-h.stopping:
		return true
	default:
		return false
	}
}

// exchange is one message on its way through the pipeline, kept for reuse: a flood of small
// events then costs little garbage.
type exchange struct {
	msg      message
	rep      Report
	verdict  Verdict
	dec      decoded
	body     []byte // the body buffer, owned while the request runs
	reserved int64  // bytes taken from the budget
	events   [1]event.Event
	warnings [1][]validate.Finding
	arrivals [1]Arrival
	// fresh is the number of selected events not seen before.
	fresh int
	// added are the dedupe keys this message added, forgotten again if it is not accepted.
	added []dedupeKey
	// reached is set when this message's events reached --count.
	reached bool
}

func (h *Handler) getExchange() *exchange {
	if x, ok := h.exchanges.Get().(*exchange); ok {
		return x
	}
	return &exchange{}
}

// putExchange gives the memory back and keeps the exchange for the next message, without
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
	x.msg = message{}
	x.rep = Report{}
	x.verdict = Verdict{}
	x.dec = decoded{}
	x.events = [1]event.Event{}
	x.warnings = [1][]validate.Finding{}
	x.arrivals = [1]Arrival{}
	x.fresh = 0
	clear(x.added)
	x.added = x.added[:0]
	x.reached = false
	h.exchanges.Put(x)
}

// show hands a report to Show, or to Report.
func (h *Handler) show(rep *Report) error {
	if h.cfg.Show != nil {
		return h.cfg.Show(rep)
	}
	h.cfg.Report(rep)
	return nil
}

// unshown makes the verdict a 503 with Retry-After for events whose lines could not be
// written: they were not kept where the user asked, so they are not acknowledged, and the
// sender (or the broker) keeps them. A blocked output may take them later; a failed one will
// not, and listen ends.
func (h *Handler) unshown(x *exchange, err error) {
	outcome := Failed
	if errors.Is(err, ErrOutputBlocked) {
		outcome = Busy
	}
	h.uncount(x)
	h.stats.reject(http.StatusServiceUnavailable)
	x.verdict = Verdict{Outcome: outcome, Status: http.StatusServiceUnavailable,
		Reason: "the event could not be written to the output: " + err.Error(), RetryAfter: "1"}
}

// uncount takes back what countStage counted for a message that is not acknowledged after
// all: its events will come again.
func (h *Handler) uncount(x *exchange) {
	if h.cfg.Count > 0 && x.fresh > 0 {
		h.counted.Add(-int64(x.fresh))
		x.reached = false
	}
}
