package eventspec

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestParseItems(t *testing.T) {
	for _, tc := range []struct {
		items []string
		want  string
	}{
		{[]string{"name=Ada", "age:=42", `tags:=["a","b"]`}, `{"name":"Ada","age":42,"tags":["a","b"]}`},
		{[]string{"user[name]=Ada", "user[age]:=36"}, `{"user":{"name":"Ada","age":36}}`},
		{[]string{"a[b][c]=x"}, `{"a":{"b":{"c":"x"}}}`},
		{[]string{"tags[]=a", "tags[]=b"}, `{"tags":["a","b"]}`},
		{[]string{"list[2]=c", "list[0]=a"}, `{"list":["a",null,"c"]}`},
		{[]string{"people[0][name]=Ada", "people[1][name]=Bob"}, `{"people":[{"name":"Ada"},{"name":"Bob"}]}`},
		{[]string{"a=1", "a=2", "a=3"}, `{"a":["1","2","3"]}`},
		{[]string{"url=http://x/?q=1&r=<2>"}, `{"url":"http://x/?q=1&r=<2>"}`},
		{[]string{`a\[b\]=1`}, `{"a[b]":"1"}`},
		{[]string{`k\=x=1`}, `{"k=x":"1"}`},
		{[]string{"empty=", "n:=null", "o:={ \"x\" : 1 }"}, `{"empty":"","n":null,"o":{"x":1}}`},
		{[]string{"[]:=1", "[]=b"}, `[1,"b"]`},
	} {
		got, err := ParseItems(tc.items)
		if err != nil {
			t.Errorf("%q: %v", tc.items, err)
			continue
		}
		if string(got) != tc.want {
			t.Errorf("%q:\n got %s\nwant %s", tc.items, got, tc.want)
		}
	}
}

func TestParseItemsErrors(t *testing.T) {
	for _, tc := range []struct {
		items    []string
		bad      string // the item the error names
		contains string
	}{
		{[]string{"age:=4x"}, "age:=4x", "the value after := is not JSON"},
		{[]string{"age:="}, "age:=", "the value after := is not JSON"},
		{[]string{"noseparator"}, "noseparator", "want key=value or key:=json"},
		{[]string{"Accept: x"}, "Accept: x", "-H"},
		{[]string{"=x"}, "=x", "empty key"},
		{[]string{"a=1", "a[b]=2"}, "a[b]=2", "a is a value already"},
		{[]string{"a[b]=1", "a[]=2"}, "a[]=2", "a is an object, so a[] cannot index it"},
		{[]string{"a[]=1", "a[b]=2"}, "a[b]=2", "a is an array, so a[b] cannot be a member of it"},
		{[]string{"a[b]=1", "a=2"}, "a=2", "a is an object already"},
		{[]string{"a[0]=1", "a[0]=2"}, "a[0]=2", "a[0] is given twice"},
		{[]string{"a[b=1"}, "a[b=1", "not closed"},
		{[]string{"a]=1"}, "a]=1", "unexpected ']'"},
		{[]string{"a[99999999]=1"}, "a[99999999]=1", "too large"},
		{[]string{"x=1", "[]=2"}, "[]=2", "the data is an object"},
	} {
		_, err := ParseItems(tc.items)
		var ie *ItemError
		if !errors.As(err, &ie) {
			t.Errorf("%q: got %v, want an ItemError", tc.items, err)
			continue
		}
		if ie.Item != tc.bad || !strings.Contains(err.Error(), tc.contains) {
			t.Errorf("%q: got %q (item %q), want item %q and %q", tc.items, err, ie.Item, tc.bad, tc.contains)
		}
	}
}

func TestUseItems(t *testing.T) {
	s := Spec{Type: "t", Source: "/s", SpecVersion: "1.0"}
	if err := s.UseItems([]string{"name=Ada", "age:=42"}); err != nil {
		t.Fatal(err)
	}
	e, err := s.Build(nil, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if e.DataContentType() != "application/json" || string(e.Data()) != `{"name":"Ada","age":42}` {
		t.Errorf("got %s %s", e.DataContentType(), e.Data())
	}

	given := func(names ...string) func(string) bool {
		return func(f string) bool {
			for _, n := range names {
				if n == f {
					return true
				}
			}
			return false
		}
	}
	s = Spec{Type: "t", Data: "x", Given: given("data")}
	var ue *UsageError
	if err := s.UseItems([]string{"a=1"}); !errors.As(err, &ue) || !strings.Contains(err.Error(), "--data") {
		t.Errorf("items with --data: got %v", err)
	}
	s = Spec{Type: "t", DataContentType: "text/plain", Given: given("datacontenttype")}
	if err := s.UseItems([]string{"a=1"}); !errors.As(err, &ue) || !strings.Contains(err.Error(), "text/plain") {
		t.Errorf("items with a text content type: got %v", err)
	}
	s = Spec{Type: "t", Source: "/s", SpecVersion: "1.0", DataContentType: "application/vnd.x+json", Given: given("datacontenttype")}
	if err := s.UseItems([]string{"a=1"}); err != nil {
		t.Errorf("items with a +json content type: %v", err)
	}
}

// Whatever the items, ParseItems either says which one is wrong or makes valid JSON.
func FuzzParseItems(f *testing.F) {
	for _, seed := range [][2]string{
		{"name=Ada", "age:=42"}, {"a[b][c]=x", "a[b][d]:=[1]"}, {"t[]=a", "t[3]=b"}, {`k\[=1`, "k=2"},
		{"[]:=1", "[1]=x"}, {"a=1", "a[b]=2"}, {"a:={", "b"},
	} {
		f.Add(seed[0], seed[1])
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		out, err := ParseItems([]string{a, b})
		if err != nil {
			var ie *ItemError
			if !errors.As(err, &ie) || (ie.Item != a && ie.Item != b) {
				t.Fatalf("error %v does not name an item", err)
			}
			return
		}
		if !json.Valid(out) {
			t.Fatalf("invalid JSON %q from %q %q", out, a, b)
		}
	})
}
