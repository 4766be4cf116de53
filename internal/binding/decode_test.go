package binding

import (
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/cectl/cectl/internal/ce"
	"github.com/cectl/cectl/internal/validate"
)

// Decode is strict: a reply that listen would refuse with 400 is refused, with the reason and
// the rules, in every mode; a message without ce- headers is ErrNoEvent.
func TestDecodeIsStrict(t *testing.T) {
	structured := http.Header{"Content-Type": {"application/cloudevents+json"}}
	batch := http.Header{"Content-Type": {"application/cloudevents-batch+json"}}
	binary := http.Header{"Ce-Specversion": {"1.0"}, "Ce-Id": {"1"}, "Ce-Source": {"/s"}, "Ce-Type": {"t"}}
	with := func(h http.Header, k, v string) http.Header { h = h.Clone(); h.Set(k, v); return h }
	tests := []struct {
		name   string
		header http.Header
		body   string
		status int
		rules  []string
	}{
		{"float extension", structured, `{"specversion":"1.0","id":"1","source":"/s","type":"t","ext":42.42}`, 400, []string{validate.RuleExtensionType}},
		{"upper-case name", structured, `{"specversion":"1.0","id":"1","source":"/s","type":"t","MyExt":"x"}`, 400, []string{validate.RuleExtensionName}},
		{"duplicate member", structured, `{"specversion":"1.0","id":"1","id":"2","source":"/s","type":"t"}`, 400, []string{validate.RuleDuplicateMember}},
		{"data and data_base64", structured, `{"specversion":"1.0","id":"1","source":"/s","type":"t","data":1,"data_base64":"AA=="}`, 400, []string{validate.RuleDataExclusive}},
		{"other event format", with(structured, "Content-Type", "application/cloudevents+avro"), `x`, 415, nil},
		{"batch element", batch, `[{"specversion":"1.0","id":"1","source":"/s","type":"t"},{"specversion":"1.0","id":"","source":"/s","type":"t"}]`, 400, []string{validate.RuleEmptyValue}},
		{"batch of another kind", batch, `{"specversion":"1.0"}`, 400, []string{validate.RuleEventObject}},
		{"binary time", with(binary, "Ce-Time", "yesterday"), ``, 400, []string{validate.RuleTimeFormat}},
		{"binary name", with(binary, "Ce-My_ext", "x"), ``, 400, []string{validate.RuleExtensionName}},
		{"binary not UTF-8", with(binary, "Ce-Subject", "%FF"), ``, 400, []string{validate.RuleUTF8}},
		{"binary datacontenttype header", with(binary, "Ce-Datacontenttype", "text/plain"), ``, 400, nil},
		{"binary documented integer", with(binary, "Ce-Sampledrate", "1.5"), ``, 400, []string{validate.RuleExtensionType}},
	}
	for _, tt := range tests {
		events, _, err := Decode(tt.header, []byte(tt.body))
		var p *Problem
		if !errors.As(err, &p) {
			t.Errorf("%s: decoded %d events, error %v", tt.name, len(events), err)
			continue
		}
		if p.Status != tt.status || !slices.Equal(p.Rules, tt.rules) || errors.Is(err, ErrNoEvent) {
			t.Errorf("%s: %d %v, want %d %v\n%s", tt.name, p.Status, p.Rules, tt.status, tt.rules, p.Reason)
		}
	}
	_, _, err := Decode(http.Header{"Content-Type": {"application/json"}}, []byte(`{}`))
	if !errors.Is(err, ErrNoEvent) {
		t.Errorf("no ce- headers: %v, want ErrNoEvent", err)
	}
}

// Broker properties and HTTP headers follow one typing rule: context attributes are strings
// whatever their native type, native Boolean and Integer extensions keep their type, and the
// documented ones are typed from their canonical string.
func TestDecodeBinaryTyping(t *testing.T) {
	d := NewDecoder(validate.Options{})
	attrs := []Attr{{Name: "specversion", Value: "1.0"}, {Name: "source", Value: "/s"}, {Name: "type", Value: "t"},
		{Name: "datacontenttype", Value: "application/xml"}}
	for _, v := range []struct {
		name string
		v    any
	}{{"id", int64(7)}, {"n", int64(7)}, {"b", true}, {"sampledrate", "10"}, {"region", "5"}, {"deprecated", "true"}} {
		a, err := NativeAttr(v.name, v.v)
		if err != nil {
			t.Fatal(err)
		}
		attrs = append(attrs, a)
	}
	var out Decoded
	if p := d.DecodeBinary(attrs, "text/plain", []byte("hi"), &out); p != nil {
		t.Fatal(p)
	}
	want := `{"specversion":"1.0","id":"7","source":"/s","type":"t","datacontenttype":"text/plain","b":true,"deprecated":true,"n":7,"region":"5","sampledrate":10,"data":"hi"}`
	if got := string(ce.Marshal(&out.Events[0])); got != want {
		t.Errorf("event\n got %s\nwant %s", got, want)
	}
	big, _ := NativeAttr("n", int64(1<<40))
	out = Decoded{}
	if p := d.DecodeBinary(append(attrs[:4:4], big), "", nil, &out); p == nil || !slices.Equal(p.Rules, []string{validate.RuleRequired, validate.RuleIntegerRange}) {
		t.Errorf("out of range: %v", p)
	}
	if _, err := NativeAttr("x", 1.5); err == nil {
		t.Error("a float attribute was taken")
	}
}

// Check names the rules of an event about to be sent, errors apart from warnings.
func TestCheck(t *testing.T) {
	e, err := ce.Decode([]byte(`{"specversion":"1.0","id":"","source":"/s","type":"t","averyveryverylongextensionname":"x"}`))
	if err != nil {
		t.Fatal(err)
	}
	e.SetSubject("a\xffb")
	errs, warnings := Check(&e)
	var rules []string
	for _, f := range errs {
		rules = append(rules, f.Rule+" "+f.Pointer)
	}
	slices.Sort(rules)
	if want := []string{"empty-value /id", "utf8 /subject"}; !slices.Equal(rules, want) {
		t.Errorf("errors %v, want %v", rules, want)
	}
	if len(warnings) != 1 || warnings[0].Rule != validate.RuleNameLength {
		t.Errorf("warnings %v", warnings)
	}
	if !strings.Contains(errs[len(errs)-1].Message+errs[0].Message, "UTF-8") {
		t.Errorf("messages %v", errs)
	}
}

// FuzzDecoder: whatever a message holds, the strict decoder answers with events or a refusal,
// never both, and what it takes survives being encoded and decoded again.
func FuzzDecoder(f *testing.F) {
	f.Add("application/cloudevents+json", "", `{"specversion":"1.0","id":"1","source":"/s","type":"t","data":{"a":1}}`)
	f.Add("application/cloudevents-batch+json", "", `[{"specversion":"1.0","id":"1","source":"/s","type":"t"}]`)
	f.Add("text/plain", "1.0", "hi")
	f.Add("", "0.3", "")
	f.Add("application/cloudevents-batch+json", "", `[{"specversion":"1.0"},1,"x"] x`)
	d := NewDecoder(validate.Options{})
	f.Fuzz(func(t *testing.T, ct, sv, body string) {
		h := http.Header{}
		if ct != "" {
			h.Set("Content-Type", ct)
		}
		if sv != "" {
			h.Set("Ce-Specversion", sv)
			h.Set("Ce-Id", "1")
			h.Set("Ce-Source", "/s")
			h.Set("Ce-Type", "t")
		}
		var out Decoded
		p := d.DecodeHTTP(h, []byte(body), &out)
		if p != nil {
			if len(out.Events) != 0 || p.Reason == "" {
				t.Fatalf("refused (%v) with %d events", p, len(out.Events))
			}
			return
		}
		for i := range out.Events {
			msg, err := Encode(Structured, &out.Events[i])
			if err != nil {
				t.Fatal(err)
			}
			if _, _, err := Decode(msg.Header, msg.Body); err != nil {
				t.Fatalf("%s does not decode again: %v", msg.Body, err)
			}
		}
	})
}
