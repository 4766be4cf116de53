package validate

import (
	"strings"
	"testing"
)

func TestReverseDNS(t *testing.T) {
	for typ, want := range map[string]bool{
		"com.example.order.created":  true,
		"io.k8s-cluster.pod.started": true,
		"com.example.v2.order":       true,
		"OrderCreated":               false,
		"order.created":              false,
		"com.example":                false,
		"com.example.":               false,
		"c.example.order":            false, // a TLD has at least two letters
		"123.example.order":          false,
		"com.-example.order":         false,
		"com.exa_mple.order":         false,
		"":                           false,
	} {
		if got := reverseDNS([]byte(typ)); got != want {
			t.Errorf("reverseDNS(%q) = %v, want %v", typ, got, want)
		}
	}
}

func TestTypeFamily(t *testing.T) {
	for typ, want := range map[string]struct {
		family    string
		versioned bool
	}{
		"com.example.order.created.v2":      {"com.example.order.created", true},
		"com.example.v1beta1.order.created": {"com.example.order.created", true},
		"com.example.order.created":         {"com.example.order.created", false},
		"com.example.version.created":       {"com.example.version.created", false},
		"com.example.v.created":             {"com.example.v.created", false},
	} {
		f, v := typeFamily(nil, []byte(typ))
		if string(f) != want.family || v != want.versioned {
			t.Errorf("typeFamily(%q) = %q, %v; want %q, %v", typ, f, v, want.family, want.versioned)
		}
	}
}

func TestSchemaFamily(t *testing.T) {
	for uri, want := range map[string]struct {
		family    string
		versioned bool
	}{
		"https://example.com/schemas/order/v2.json":    {"https://example.com/schemas/order.json", true},
		"https://example.com/schemas/order-1.0.json":   {"https://example.com/schemas/order.json", true},
		"https://example.com/schemas/1.2.0/order.json": {"https://example.com/schemas/order.json", true},
		"https://example.com/schemas/order.v3":         {"https://example.com/schemas/order", true},
		"https://example.com/schemas/order.json":       {"https://example.com/schemas/order.json", false},
		"https://example.com/orders/42/schema.json":    {"https://example.com/orders/42/schema.json", false},
		"https://api2.example.com/order.json":          {"https://api2.example.com/order.json", false},
		"https://example.com":                          {"https://example.com", false},
		"urn:example:order:v2":                         {"urn:example:order", true},
		"https://example.com/v2x/order.json":           {"https://example.com/v2x/order.json", false},
	} {
		f, v := schemaFamily(nil, []byte(uri))
		if string(f) != want.family || v != want.versioned {
			t.Errorf("schemaFamily(%q) = %q, %v; want %q, %v", uri, f, v, want.family, want.versioned)
		}
	}
}

func lintLines(t *testing.T, in string, enable, ignore []string) []Finding {
	t.Helper()
	rs, err := NewRuleSet(enable, ignore)
	if err != nil {
		t.Fatal(err)
	}
	s := NewScanner(strings.NewReader(in), Options{Rules: rs})
	var out []Finding
	for s.Scan() {
		out = append(out, s.Result().Findings...)
	}
	return out
}

func TestLintNeedsRuleSet(t *testing.T) {
	in := `{"specversion":"1.0","id":"1","source":"/s","type":"t"}` + "\n" + `{"specversion":"1.0","id":"1","source":"/s","type":"t"}` + "\n"
	s := NewScanner(strings.NewReader(in), Options{})
	for s.Scan() {
		if f := s.Result().Findings; len(f) != 0 {
			t.Fatalf("without Options.Rules no lint rule runs, got %s", dump(f))
		}
	}
	got := lintLines(t, in, nil, nil)
	// Findings of one event stay in position order: the duplicate id (column 27) comes
	// before the type (column 52) although it is found later.
	if len(got) != 3 || got[0].Rule != RuleTypeReverseDNS || got[1].Rule != RuleDuplicateID || got[2].Rule != RuleTypeReverseDNS {
		t.Fatalf("got %s", dump(got))
	}
	if got[1].Line != 2 || got[1].Column != 27 || got[1].Pointer != "/id" || got[1].Offset != 82 {
		t.Errorf("duplicate at %d:%d @%d %s", got[1].Line, got[1].Column, got[1].Offset, got[1].Pointer)
	}
}

func TestLintIgnoreCoreRule(t *testing.T) {
	in := `{"specversion":"1.0","id":"1","source":"/s","type":"com.example.t","abcdefghijklmnopqrstuvwxyz":"x"}`
	if got := lintLines(t, in, nil, nil); len(got) != 1 || got[0].Rule != RuleNameLength {
		t.Fatalf("got %s", dump(got))
	}
	if got := lintLines(t, in, nil, []string{RuleNameLength}); len(got) != 0 {
		t.Fatalf("ignored, got %s", dump(got))
	}
}

func TestNewRuleSetUnknown(t *testing.T) {
	if _, err := NewRuleSet([]string{"nope"}, nil); err == nil || err.Error() != `unknown rule "nope"` {
		t.Fatalf("err = %v", err)
	}
}

func TestFingerprintSet(t *testing.T) {
	var s fpSet
	x := uint64(88172645463325252)
	var keys []uint64
	for i := 0; i < 200000; i++ {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		keys = append(keys, x)
		if s.add(x) {
			t.Fatalf("key %d reported as seen", i)
		}
	}
	for i, k := range keys {
		if !s.add(k) {
			t.Fatalf("key %d lost", i)
		}
	}
	if s.add(0) || !s.add(0) || !s.add(1) {
		t.Fatal("0 is stored as 1")
	}
	slots := 0
	for i := range s.tabs {
		slots += len(s.tabs[i].slots)
	}
	if per := float64(slots*8) / float64(len(keys)); per > 13 {
		t.Errorf("%.1f bytes per fingerprint", per)
	}
}

func TestContentTypeData(t *testing.T) {
	ev := func(ct, data string) string {
		return `{"specversion":"1.0","id":"1","source":"/s","type":"com.example.t","datacontenttype":"` + ct + `",` + data + `}`
	}
	for _, c := range []struct {
		doc  string
		want string // the start of the message, "" for none
	}{
		{ev("text/plain", `"data":"{\"a\":1}"`), "data holds JSON text"},
		{ev("text/plain", `"data":"[1,2]"`), "data holds JSON text"},
		{ev("text/plain", `"data":"{not json"`), ""},
		{ev("text/plain", `"data":"hello"`), ""},
		{ev("application/json", `"data":"{\"a\":1}"`), "data is a string holding JSON text"},
		{ev("application/cloudevents+json", `"data":" [1] "`), "data is a string holding JSON text"},
		{ev("application/json", `"data":"hello"`), ""},
		{ev("application/xml", `"data":"hello"`), `datacontenttype "application/xml" says XML`},
		{ev("application/atom+XML", `"data":"{\"a\":1}"`), `datacontenttype "application/atom+XML" says XML`},
		{ev("text/xml; charset=utf-8", `"data":"  <a/>"`), ""},
		{ev("application/json", `"data_base64":"aGVsbG8="`), "data_base64 does not decode to JSON"},
		{ev("application/json", `"data_base64":"eyJhIjoxfQ=="`), ""},
		{ev("application/octet-stream", `"data_base64":"aGVsbG8="`), ""},
		{ev("xyz", `"data":"{\"a\":1}"`), ""}, // the media-type rule's
		// JSON data labelled as another type: a JSON value, or JSON text in data_base64.
		{ev("text/plain", `"data":{"a":1}`), `data is an object but datacontenttype "text/plain" is not JSON`},
		{ev("application/xml", `"data":5`), `data is a number but datacontenttype "application/xml" is not JSON`},
		{ev("application/json", `"data":{"a":1}`), ""},
		{ev("text/plain", `"data_base64":"eyJhIjoxfQ=="`), `data_base64 decodes to JSON text but datacontenttype is "text/plain"`},
		{ev("application/octet-stream", `"data_base64":"IFsxLDJdCg=="`), "data_base64 decodes to JSON text"},
		{ev("text/plain", `"data_base64":"ICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIHsiYSI6MX0="`), "data_base64 decodes to JSON text"},
		{ev("text/plain", `"data_base64":"e25vdCBqc29u"`), ""},
		{ev("text/plain", `"data_base64":"aGVsbG8geyJhIjoxfQ=="`), ""},
	} {
		var got string
		for _, f := range lintLines(t, c.doc, nil, nil) {
			if f.Rule == RuleContentTypeData {
				got = f.Message
			}
		}
		if !strings.HasPrefix(got, c.want) || (c.want == "") != (got == "") {
			t.Errorf("%s:\n got %q\nwant %q…", c.doc, got, c.want)
		}
	}
}

// TestContentTypeDataIgnored: JSON data labelled text/plain is one finding, of
// datacontenttype-data, which --ignore datacontenttype-data silences; without the lint rules
// (send's check, listen) it is data-string's.
func TestContentTypeDataIgnored(t *testing.T) {
	doc := `{"specversion":"1.0","id":"1","source":"/s","type":"com.example.t","datacontenttype":"text/plain","data":{"a":1}}`
	rules := func(fs []Finding) []string {
		var out []string
		for _, f := range fs {
			out = append(out, f.Rule)
		}
		return out
	}
	if got := rules(lintLines(t, doc, nil, nil)); len(got) != 1 || got[0] != RuleContentTypeData {
		t.Errorf("validate: %v, want [%s]", got, RuleContentTypeData)
	}
	if got := lintLines(t, doc, nil, []string{RuleContentTypeData}); len(got) != 0 {
		t.Errorf("--ignore %s: %v", RuleContentTypeData, got)
	}
	s := NewScanner(strings.NewReader(doc), Options{})
	var got []string
	for s.Scan() {
		got = append(got, rules(s.Result().Findings)...)
	}
	if len(got) != 1 || got[0] != RuleDataString {
		t.Errorf("without lint rules: %v, want [%s]", got, RuleDataString)
	}
}

// The duplicate check remembers the last dupWindow events at least and 2×dupWindow at most,
// whatever the length of the input: memory stays bounded.
func TestFingerprintWindow(t *testing.T) {
	var w fpWindow
	key := func(i int) uint64 { return uint64(i)*0x9e3779b97f4a7c15 + 1 }
	for i := range 3 * dupWindow {
		if w.add(key(i)) {
			t.Fatalf("key %d reported as seen", i)
		}
		// An event dupWindow-1 back is always remembered.
		if i >= dupWindow-1 && !w.has(key(i-dupWindow+1)) {
			t.Fatalf("key %d forgotten at %d", i-dupWindow+1, i)
		}
	}
	if w.has(key(0)) {
		t.Error("key 0 remembered after 3×dupWindow events")
	}
	if n := w.cur.len() + w.prev.len(); n > 2*dupWindow {
		t.Errorf("%d fingerprints kept, want at most %d", n, 2*dupWindow)
	}
}
