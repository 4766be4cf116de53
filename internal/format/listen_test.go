package format

import (
	"bytes"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/cectl/cectl/internal/binding"
	"github.com/cectl/cectl/internal/client"
	"github.com/cectl/cectl/internal/listen"
	"github.com/cectl/cectl/internal/validate"
)

// listenReports are the reports listen shows, one of each kind and outcome.
func listenReports(t *testing.T) []*listen.Report {
	t.Helper()
	header := http.Header{
		"Ce-Specversion": {"1.0"}, "Ce-Id": {"42"}, "Ce-Source": {"/users"}, "Ce-Type": {"com.example.user.created"},
		"Content-Type": {"application/json"}, "Authorization": {"Bearer s3cret"}, "User-Agent": {"curl/8.5.0"},
	}
	base := listen.Report{Received: received, Method: "POST", Target: "/events", Proto: "HTTP/1.1", Remote: "127.0.0.1:50312", Header: header}
	user := mustDecode(t, `{"specversion":"1.0","id":"42","source":"/users","type":"com.example.user.created","subject":"user/42",
		"time":"2026-11-25T17:59:08Z","datacontenttype":"application/json","region":"eu","data":{"id":42,"name":"Ada"}}`)
	note := mustDecode(t, `{"specversion":"1.0","id":"n1","source":"/notes","type":"com.example.note","datacontenttype":"text/plain","data":"hello"}`)
	hostile := mustDecode(t, `{"specversion":"1.0","id":"\u001b[31mred","source":"/s","type":"com.example.\u001b]0;t\u0007x","averyveryverylongextensionname":"v"}`)
	pong := mustDecode(t, `{"specversion":"1.0","id":"r1","source":"/svc","type":"com.example.pong"}`)

	binary := base
	binary.Kind, binary.Mode, binary.Status, binary.Total = listen.KindEvents, binding.Binary, 202, 1
	binary.Events = []listen.Arrival{{Event: user}}

	batch := base
	batch.Kind, batch.Mode, batch.Status, batch.Total = listen.KindEvents, binding.Batch, 202, 3
	batch.Events = []listen.Arrival{{Event: note, Index: 0}, {Event: hostile, Index: 2, Duplicate: true, Warnings: []validate.Finding{{
		Rule: validate.RuleNameLength, Level: validate.Warning, Pointer: "/2/averyveryverylongextensionname",
		Message: `attribute name "averyveryverylongextensionname" is 30 characters long; names SHOULD NOT exceed 20 characters`}}}}
	batch.Forwards = []listen.Forwarded{
		{To: "http://localhost:9090/", Result: client.Result{Delivered: true, ACK: true, Status: 202, Duration: 1234 * time.Microsecond,
			Response: &client.Response{Status: "202 Accepted"}}},
		{To: "http://localhost:9091/", Result: client.Result{Delivered: true, Status: 500, Duration: 2 * time.Millisecond,
			Response: &client.Response{Status: "500 Internal Server Error"}}},
		{To: "http://localhost:1/", Result: client.Result{Err: errors.New("cannot connect to localhost:1: connection refused"), Duration: 300 * time.Microsecond}},
	}
	batch.Reply, batch.ReplyMode = pong, binding.Structured

	refused := base
	refused.Kind, refused.Mode, refused.Status, refused.Total, refused.Reason = listen.KindEvents, binding.Structured, 503, 1, "--fail-rate"
	refused.Events = []listen.Arrival{{Event: note}}

	empty := base
	empty.Kind, empty.Mode, empty.Status, empty.Total = listen.KindEvents, binding.Batch, 202, 0

	rejected := base
	rejected.Kind, rejected.Mode, rejected.Status = listen.KindRejected, binding.Binary, 400
	rejected.Reason = "invalid event (binary mode):\nce-time: time \"yesterday\" is not an RFC 3339 timestamp [time-format]\nce-my_ext: attribute name \"my_ext\" is invalid [extension-name]"

	hostileRejection := base
	hostileRejection.Kind, hostileRejection.Status, hostileRejection.Method, hostileRejection.Target = listen.KindRejected, 404, "POST", "/\x1b[2Jx"
	hostileRejection.Reason = "no events are taken at /\x1b[2Jx; listen takes them at /events"

	handshake := base
	handshake.Kind, handshake.Method, handshake.Origin, handshake.Status = listen.KindHandshake, "OPTIONS", "eventemitter.example.com", 200
	options := base
	options.Kind, options.Method, options.Status = listen.KindHandshake, "OPTIONS", 200

	// A Kafka record: its headers under their own names, a credential among them.
	kafka := listen.Report{Kind: listen.KindEvents, Received: received, Method: listen.MethodReceive, Target: "offset=7 partition=0 topic=orders",
		Proto: "KAFKA", Mode: binding.Binary, Status: 200, Total: 1, Events: []listen.Arrival{{Event: user}},
		Header: http.Header{"ce_id": {"42"}, "ce_specversion": {"1.0"}, "content-type": {"application/json"}, "authorization": {"Bearer s3cret"}}}
	kafkaRejected := kafka
	kafkaRejected.Kind, kafkaRejected.Status, kafkaRejected.Events = listen.KindRejected, 400, nil
	kafkaRejected.Reason = "not a CloudEvent: the record carries no CloudEvent (no ce_specversion header and not a structured content type)"

	// A request listen read itself: its fields as they came, in order and case, a credential
	// and a control character among them.
	wire := binary
	wire.Wire = [][2]string{{"host", "localhost:8080"}, {"ce-specversion", "1.0"}, {"ce-id", "42"}, {"ce-source", "/users"},
		{"ce-type", "com.example.user.created"}, {"authorization", "Bearer s3cret"}, {"x-note", "a\x1b[2Jb"}, {"content-type", "application/json"}}

	return []*listen.Report{&binary, &batch, &refused, &empty, &rejected, &hostileRejection, &handshake, &options, &kafka, &kafkaRejected, &wire}
}

// renderListen shows every report the way listen does: events with ListenEvents (or, for the
// JSON mode's stderr, ListenEventNotes), the rest with their own function.
func renderListen(t *testing.T, st *Styles, opts ListenOptions, notes bool) []byte {
	t.Helper()
	var out bytes.Buffer
	for _, rep := range listenReports(t) {
		var err error
		switch rep.Kind {
		case listen.KindEvents:
			if notes {
				err = ListenEventNotes(&out, st, rep, opts)
			} else {
				err = ListenEvents(&out, st, rep, opts)
			}
		case listen.KindRejected:
			err = ListenRejected(&out, st, rep, opts)
		case listen.KindHandshake:
			err = ListenHandshake(&out, st, rep, opts)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	return out.Bytes()
}

func TestListenGolden(t *testing.T) {
	tests := []struct {
		name  string
		color bool
		opts  ListenOptions
		notes bool
	}{
		{"text.txt", false, ListenOptions{}, false},
		{"text-color.txt", true, ListenOptions{}, false},
		{"quiet.txt", false, ListenOptions{Quiet: true}, false},
		{"verbose.txt", false, ListenOptions{Verbose: true}, false},
		{"json-notes.txt", false, ListenOptions{}, true},
		{"json-notes-quiet.txt", false, ListenOptions{Quiet: true}, true},
		{"json-notes-verbose.txt", false, ListenOptions{Verbose: true}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := renderListen(t, NewStyles(tt.color), tt.opts, tt.notes)
			golden(t, "listen/"+tt.name, got)
			if !tt.color && bytes.ContainsAny(got, "\x1b\x07") {
				t.Error("control characters reached the output")
			}
			if bytes.Contains(got, []byte("s3cret")) {
				t.Error("the bearer token was shown")
			}
		})
	}
}

func TestListenNotesOnlyWhenNoteworthy(t *testing.T) {
	rep := listenReports(t)[0] // a plain accepted event
	var out bytes.Buffer
	if err := ListenEventNotes(&out, NewStyles(false), rep, ListenOptions{}); err != nil {
		t.Fatal(err)
	}
	if out.Len() != 0 {
		t.Errorf("notes for a plain event: %q", out.String())
	}
}

func TestListenSummaryGolden(t *testing.T) {
	var out bytes.Buffer
	st := NewStyles(false)
	full := listen.Summary{
		Requests: 12, Events: 16, Selected: 14, Duplicates: 1, Refused: 2, Recorded: 11,
		Modes: [3]int64{9, 2, 1},
		Types: []listen.TypeCount{{Type: "com.example.user.created", Count: 9}, {Type: "com.example.order.placed", Count: 4},
			{Type: "com.example.\x1b[31mx", Count: 1}},
		Rejected:   []listen.StatusCount{{Status: 400, Count: 2}, {Status: 415, Count: 1}},
		TurnedAway: 3,
	}
	if err := ListenSummary(&out, st, full, ListenSummaryOptions{Elapsed: 83*time.Second + 420*time.Millisecond, Record: "events.jsonl"}); err != nil {
		t.Fatal(err)
	}
	if err := ListenSummary(&out, st, listen.Summary{}, ListenSummaryOptions{}); err != nil {
		t.Fatal(err)
	}
	many := listen.Summary{Requests: 5, Events: 5, Selected: 5, Modes: [3]int64{5}}
	for i := range 5 {
		many.Types = append(many.Types, listen.TypeCount{Type: "t" + strings.Repeat("x", i), Count: int64(10 - i)})
	}
	if err := ListenSummary(&out, st, many, ListenSummaryOptions{Types: 3}); err != nil {
		t.Fatal(err)
	}
	if err := ListenBanner(&out, st, "http://127.0.0.1:8080/", []string{"recording to events.jsonl", "answering 503 to 30% of event requests"}); err != nil {
		t.Fatal(err)
	}
	golden(t, "listen/summary.txt", out.Bytes())
}
