package binding

import (
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/cectl/cectl/internal/ce"
	"github.com/cloudevents/sdk-go/v2/event"
)

func TestEncodeBinaryPercentEncodes(t *testing.T) {
	msg, err := Encode(Binary, testEvent(t))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"Ce-Specversion": "1.0",
		"Ce-Id":          "abc",
		"Ce-Source":      "/src",
		"Ce-Type":        "com.example.test",
		"Ce-Subject":     "h%C3%A9llo%20w%C3%B6rld%20%22q%22%20100%25",
		"Ce-Count":       "5",
		"Content-Type":   "application/json",
	}
	for k, v := range want {
		if got := msg.Header.Get(k); got != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
	if _, ok := msg.Header["Ce-Datacontenttype"]; ok {
		t.Error("binary mode must not send ce-datacontenttype")
	}
	if len(msg.Header) != len(want) {
		t.Errorf("headers %v", msg.Header)
	}
	if string(msg.Body) != `{"k":"v"}` {
		t.Errorf("body %q", msg.Body)
	}
}

func TestPercentEncodeCRLF(t *testing.T) {
	if got := PercentEncode("a\r\nb\x00\x7f"); got != "a%0D%0Ab%00%7F" {
		t.Errorf("got %q", got)
	}
	if got := PercentEncode("plain-value_1.0"); got != "plain-value_1.0" {
		t.Errorf("got %q", got)
	}
}

func TestEncodeStructuredAndBatch(t *testing.T) {
	e := testEvent(t)
	msg, err := Encode(Structured, e)
	if err != nil {
		t.Fatal(err)
	}
	if ct := msg.Header.Get("Content-Type"); ct != ContentTypeStructured {
		t.Errorf("content type %q", ct)
	}
	if !strings.Contains(string(msg.Body), `"data":{"k":"v"}`) {
		t.Errorf("body %s", msg.Body)
	}
	msg, err = Encode(Batch, e, e)
	if err != nil {
		t.Fatal(err)
	}
	if ct := msg.Header.Get("Content-Type"); ct != ContentTypeBatch {
		t.Errorf("content type %q", ct)
	}
	one := string(ce.Marshal(e))
	if string(msg.Body) != "["+one+","+one+"]" {
		t.Errorf("batch body %s", msg.Body)
	}
	if _, err := Encode(Binary, e, e); err == nil {
		t.Error("binary mode took two events")
	}
}

func TestDecodeRoundTrip(t *testing.T) {
	e := testEvent(t)
	want := string(ce.Marshal(e))
	for _, mode := range []Mode{Binary, Structured, Batch} {
		msg, err := Encode(mode, e)
		if err != nil {
			t.Fatal(err)
		}
		events, got, err := Decode(msg.Header, msg.Body)
		if err != nil {
			t.Fatalf("%v: %v", mode, err)
		}
		if got != mode || len(events) != 1 {
			t.Fatalf("%v: decoded as %v with %d events", mode, got, len(events))
		}
		if mode == Binary {
			// Binary mode carries every extension as a string (http binding §3.1.3.1).
			want := strings.Replace(want, `"count":5`, `"count":"5"`, 1)
			if s := string(ce.Marshal(&events[0])); s != want {
				t.Errorf("%v:\n got %s\nwant %s", mode, s, want)
			}
			continue
		}
		if s := string(ce.Marshal(&events[0])); s != want {
			t.Errorf("%v:\n got %s\nwant %s", mode, s, want)
		}
	}
}

func TestDecodeHeaders(t *testing.T) {
	h := http.Header{}
	h.Set("Ce-Specversion", "1.0")
	h.Set("Ce-Id", `"quoted \"id\""`)
	h.Set("Ce-Source", "/a%2520b")
	h.Set("Ce-Type", "t")
	h.Set("Content-Type", "text/plain; charset=utf-8")
	events, mode, err := Decode(h, []byte("hi"))
	if err != nil || mode != Binary {
		t.Fatal(mode, err)
	}
	e := events[0]
	if e.ID() != `quoted "id"` || e.Source() != "/a%20b" || e.DataContentType() != "text/plain; charset=utf-8" || string(e.Data()) != "hi" {
		t.Errorf("decoded %s", ce.Marshal(&e))
	}
	// Percent-decoding happens exactly once.
	h.Set("Ce-Subject", "100%2525")
	events, _, err = Decode(h, nil)
	if err != nil || events[0].Subject() != "100%25" {
		t.Errorf("subject %q, %v", events[0].Subject(), err)
	}
	h.Set("Ce-Subject", "%FF")
	if _, _, err := Decode(h, nil); err == nil {
		t.Error("invalid UTF-8 after decoding was accepted")
	}
	h.Set("Ce-Subject", "%G1")
	if _, _, err := Decode(h, nil); err == nil {
		t.Error("a broken percent-escape was accepted")
	}
}

func TestModeOf(t *testing.T) {
	tests := map[string]Mode{
		"application/cloudevents+json":                      Structured,
		"Application/CloudEvents+JSON; charset=utf-8":       Structured,
		"application/cloudevents-batch+json; charset=UTF-8": Batch,
		"application/json":                                  Binary,
		"":                                                  Binary,
	}
	for ct, want := range tests {
		if got := ModeOf(ct); got != want {
			t.Errorf("ModeOf(%q) = %v, want %v", ct, got, want)
		}
	}
}

func TestDecodeNoEvent(t *testing.T) {
	h := http.Header{"Content-Type": {"text/plain"}}
	if _, _, err := Decode(h, []byte("ok")); !errors.Is(err, ErrNoEvent) {
		t.Errorf("err %v, want ErrNoEvent", err)
	}
	h = http.Header{"Content-Type": {"application/cloudevents-batch+json"}}
	if _, _, err := Decode(h, []byte(`{"specversion":"1.0"}`)); err == nil {
		t.Error("a batch that is not an array was accepted")
	}
	h = http.Header{"Content-Type": {"application/cloudevents+xml"}}
	if _, _, err := Decode(h, []byte(`<e/>`)); err == nil {
		t.Error("an unknown structured format was accepted")
	}
}

func FuzzPercentDecode(f *testing.F) {
	for _, s := range []string{"", "a%20b", "%", "%2", "%zz", "%C3%A9", "%FF", "100%25"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		dec, err := PercentDecode(s)
		if err != nil {
			return
		}
		// Encoding what decoded and decoding again gives the same value.
		again, err := PercentDecode(PercentEncode(dec))
		if err != nil || again != dec {
			t.Fatalf("%q: decode(encode(%q)) = %q, %v", s, dec, again, err)
		}
	})
}

func testEvent(t testing.TB) *event.Event {
	t.Helper()
	e, err := ce.Decode([]byte(`{"specversion":"1.0","id":"abc","source":"/src","type":"com.example.test",
		"subject":"héllo wörld \"q\" 100%","datacontenttype":"application/json","count":5,"data":{"k":"v"}}`))
	if err != nil {
		t.Fatal(err)
	}
	return &e
}

// The structured and batch content types are sent byte for byte as the reference SDKs send
// them, since some receivers match the whole header value.
func TestContentTypesAsTheSDKsSendThem(t *testing.T) {
	e := testEvent(t)
	for mode, want := range map[Mode]string{
		Structured: "application/cloudevents+json; charset=utf-8",
		Batch:      "application/cloudevents-batch+json; charset=utf-8",
	} {
		msg, err := Encode(mode, e)
		if err != nil {
			t.Fatal(err)
		}
		if got := msg.Header["Content-Type"]; len(got) != 1 || got[0] != want {
			t.Errorf("%v: Content-Type %q, want %q", mode, got, want)
		}
	}
}
