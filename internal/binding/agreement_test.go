package binding_test

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/cectl/cectl/internal/binding"
	"github.com/cectl/cectl/internal/ce"
	"github.com/cectl/cectl/internal/listen"
	"github.com/cectl/cectl/internal/validate"
	"github.com/cloudevents/sdk-go/v2/event"
)

// corpusEntry is an event as a sender may hold it: decoded leniently from doc (ce.Decode keeps
// what the validator refuses: bad names, empty values, control characters …), then changed by
// edit for what JSON cannot hold. lost lists the modes that cannot carry the fault at all, with
// the reason: there the receiver sees a different, valid event.
type corpusEntry struct {
	name string
	doc  string
	edit func(*event.Event)
	lost map[binding.Mode]string
}

const base = `"specversion":"1.0","id":"1","source":"/s","type":"com.example.t"`

var corpus = []corpusEntry{
	// Good events.
	{name: "minimal", doc: `{` + base + `}`},
	{name: "all optional attributes", doc: `{` + base + `,"subject":"s","time":"2026-11-25T10:00:00.5+01:00","datacontenttype":"application/json","dataschema":"https://example.com/s.json","data":{"a":1}}`},
	{name: "typed extensions", doc: `{` + base + `,"region":"eu west","count":5,"flag":true,"sampledrate":7,"severitynumber":-3,"deprecated":false}`},
	{name: "documented integer as its string", doc: `{` + base + `,"sampledrate":"7"}`},
	{name: "text data", doc: `{` + base + `,"datacontenttype":"text/plain; charset=utf-8","data":"héllo \"x\""}`},
	{name: "binary data", doc: `{` + base + `,"datacontenttype":"application/octet-stream","data_base64":"AAEC/w=="}`},
	{name: "v0.3", doc: `{"specversion":"0.3","id":"1","source":"/s","type":"t","schemaurl":"rel/schema","data":"x"}`},
	{name: "v0.3 base64", doc: `{"specversion":"0.3","id":"1","source":"/s","type":"t","datacontentencoding":"base64","datacontenttype":"application/octet-stream","data":"AAE="}`},
	{name: "unicode line separators", doc: `{` + base + `,"subject":"a\u2028b\u2029c"}`},
	{name: "blank id", doc: `{"specversion":"1.0","id":" ","source":"/s","type":"t"}`},
	{name: "percent in values", doc: `{` + base + `,"subject":"100% \"sure\"","region":"a%20b"}`},
	// Warnings only.
	{name: "long extension name", doc: `{` + base + `,"averyveryverylongextensionname":"x"}`},
	{name: "v0.3 boolean extension", doc: `{"specversion":"0.3","id":"1","source":"/s","type":"t","flag":true}`},
	{name: "non-string data for text", doc: `{` + base + `,"datacontenttype":"text/plain","data":{"a":1}}`},
	// Errors.
	{name: "empty id", doc: `{"specversion":"1.0","id":"","source":"/s","type":"t"}`},
	{name: "empty type and source", doc: `{"specversion":"1.0","id":"1","source":"","type":""}`},
	{name: "empty subject", doc: `{` + base + `,"subject":""}`},
	{name: "control character in type", doc: `{"specversion":"1.0","id":"1","source":"/s","type":"a\u0001b"}`},
	{name: "DEL in subject", doc: `{` + base + `,"subject":"a\u007fb"}`},
	{name: "C1 control in extension", doc: `{` + base + `,"region":"a\u0085b"}`},
	{name: "noncharacter", doc: `{` + base + `,"subject":"a\ufffeb"}`},
	{name: "media type", doc: `{` + base + `,"datacontenttype":"xyz"}`},
	{name: "relative dataschema", doc: `{` + base + `,"dataschema":"schemas/s.json"}`},
	{name: "extension name with underscore", doc: `{` + base + `,"my_ext":"x"}`},
	{name: "extension name with a dot", doc: `{` + base + `,"my.ext":"x"}`},
	{name: "upper-case extension name", doc: `{` + base + `,"MyExt":"x"}`, lost: map[binding.Mode]string{
		binding.Binary: "header names are case-insensitive (http binding §3.1.3.1): the receiver sees myext"}},
	{name: "documented integer not an integer", doc: `{` + base + `,"sampledrate":"many"}`},
	{name: "documented boolean not a boolean", doc: `{` + base + `,"deprecated":"yes"}`},
	{name: "documented timestamp not a timestamp", doc: `{` + base + `,"expirytime":"soon"}`},
	{name: "empty datacontenttype", doc: `{` + base + `,"datacontenttype":""}`, lost: map[binding.Mode]string{
		binding.Binary: "an empty Content-Type header is no content type (RFC 9110 §8.3)"}},
	{name: "invalid UTF-8", doc: `{` + base + `}`, edit: func(e *event.Event) { e.SetSubject("a\xffb") }, lost: map[binding.Mode]string{
		binding.Structured: "the JSON format cannot hold it: the encoder writes U+FFFD (RFC 8259 §8.1)",
		binding.Batch:      "the JSON format cannot hold it: the encoder writes U+FFFD (RFC 8259 §8.1)"}},
	{name: "v0.3 name starting with a digit", doc: `{"specversion":"0.3","id":"1","source":"/s","type":"t","1ext":"x"}`},
	{name: "v0.3 relative schemaurl", doc: `{"specversion":"0.3","id":"1","source":"/s","type":"t","schemaurl":"rel"}`},
	{name: "v0.3 dataschema is an extension", doc: `{"specversion":"0.3","id":"1","source":"/s","type":"t","dataschema":"rel"}`},
	{name: "empty extension value", doc: `{` + base + `,"region":""}`},
	{name: "source with a space", doc: `{"specversion":"1.0","id":"1","source":"a b","type":"t"}`},
	{name: "source with a fragment", doc: `{"specversion":"1.0","id":"1","source":"/s#f","type":"t"}`},
	{name: "upper-case time designators", doc: `{` + base + `,"time":"2026-11-25t10:00:00z"}`},
	{name: "control character in extension set directly", doc: `{` + base + `}`, edit: func(e *event.Event) { _ = ce.SetExtension(e, "trace", "x\ny") }},
}

// TestPreCheckAgreesWithListen proves that what send and request check before sending
// (binding.Check, cmd's checkEvent) is what listen checks when the event arrives, in every
// content mode: an event the pre-check passes is taken, and an event it refuses is refused
// by listen for the same rules — except where a mode cannot carry the fault (corpusEntry.lost).
func TestPreCheckAgreesWithListen(t *testing.T) {
	h := listen.NewHandler(listen.Config{})
	for _, c := range corpus {
		e, err := ce.Decode([]byte(c.doc))
		if err != nil {
			t.Fatalf("%s: corpus event does not decode: %v", c.name, err)
		}
		if c.edit != nil {
			c.edit(&e)
		}
		errs, _ := binding.Check(&e)
		want := ruleSet(errs)
		for _, mode := range []binding.Mode{binding.Binary, binding.Structured, binding.Batch} {
			msg, err := binding.Encode(mode, &e)
			if err != nil {
				t.Errorf("%s, %v: not encoded: %v", c.name, mode, err)
				continue
			}
			status, got := post(h, msg)
			if why, ok := c.lost[mode]; ok {
				if len(want) == 0 {
					t.Errorf("%s, %v: listed as lost (%s) but the pre-check passes it", c.name, mode, why)
				}
				continue
			}
			switch {
			case len(want) == 0 && status != http.StatusAccepted:
				t.Errorf("%s, %v: the pre-check passes it, listen answers %d:\n%s", c.name, mode, status, got.reason)
			case len(want) > 0 && status == http.StatusAccepted:
				t.Errorf("%s, %v: the pre-check refuses it %v, listen takes it", c.name, mode, want)
			case len(want) > 0 && !slices.Equal(want, got.rules):
				t.Errorf("%s, %v: the pre-check refuses it for %v, listen for %v:\n%s", c.name, mode, want, got.rules, got.reason)
			}
		}
	}
}

// A batch carries events of one specversion (http binding §3.3.2): Encode refuses to mix them,
// as listen would refuse the batch.
func TestBatchOfMixedSpecVersions(t *testing.T) {
	a, err := ce.Decode([]byte(`{` + base + `}`))
	if err != nil {
		t.Fatal(err)
	}
	b, err := ce.Decode([]byte(`{"specversion":"0.3","id":"2","source":"/s","type":"t"}`))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := binding.Encode(binding.Batch, &a, &b); err == nil || !strings.Contains(err.Error(), "specversion") {
		t.Errorf("Encode of a mixed batch: %v", err)
	}
	body := []byte("[" + string(ce.Marshal(&a)) + "," + string(ce.Marshal(&b)) + "]")
	status, got := post(listen.NewHandler(listen.Config{}), binding.Message{Header: http.Header{"Content-Type": {binding.ContentTypeBatch}}, Body: body})
	if status != http.StatusBadRequest || !slices.Equal(got.rules, []string{validate.RuleBatchSpecVersion}) {
		t.Errorf("listen: %d %v\n%s", status, got.rules, got.reason)
	}
}

// An event whose datacontenttype is a CloudEvents format cannot go in binary mode: the
// receiver would take the Content-Type for structured mode (http binding §3.1.1, §3).
func TestBinaryModeRefusesEventFormatContentType(t *testing.T) {
	e, err := ce.Decode([]byte(`{` + base + `,"datacontenttype":"application/cloudevents+json","data":{"specversion":"1.0"}}`))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := binding.Encode(binding.Binary, &e); err == nil {
		t.Error("binary mode took datacontenttype application/cloudevents+json")
	}
	for _, mode := range []binding.Mode{binding.Structured, binding.Batch} {
		msg, err := binding.Encode(mode, &e)
		if err != nil {
			t.Fatal(err)
		}
		if status, got := post(listen.NewHandler(listen.Config{}), msg); status != http.StatusAccepted {
			t.Errorf("%v: %d %s", mode, status, got.reason)
		}
	}
}

type refusal struct {
	reason string
	rules  []string
}

var ruleSuffix = regexp.MustCompile(`\[([a-z0-9-]+)\]$`)

// post sends msg through listen's handler and returns the status and the rules its reason
// names.
func post(h http.Handler, msg binding.Message) (int, refusal) {
	r := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(msg.Body))
	for k, vs := range msg.Header {
		r.Header[k] = vs
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	var rf refusal
	if w.Code != http.StatusAccepted {
		rf.reason = w.Body.String()
		var rules []string
		for _, line := range strings.Split(strings.TrimSpace(rf.reason), "\n") {
			switch m := ruleSuffix.FindStringSubmatch(line); {
			case m != nil:
				rules = append(rules, m[1])
			case strings.Contains(line, "all events of a batch share one specversion"):
				// The one line that keeps the wording listen has always given, without
				// the rule's name.
				rules = append(rules, validate.RuleBatchSpecVersion)
			}
		}
		rf.rules = uniq(rules)
	}
	return w.Code, rf
}

func ruleSet(findings []validate.Finding) []string {
	var rules []string
	for _, f := range findings {
		rules = append(rules, f.Rule)
	}
	return uniq(rules)
}

func uniq(s []string) []string {
	slices.Sort(s)
	return slices.Compact(s)
}
