package listen

import (
	"strings"
	"testing"

	"github.com/cectl/cectl/internal/ce"
)

func TestGlob(t *testing.T) {
	tests := []struct {
		pattern, s string
		want       bool
	}{
		{"com.example.*", "com.example.user.created", true},
		{"com.example.*", "com.example.", true},
		{"com.example.*", "com.example", false},
		{"*.created", "com.example.user.created", true},
		{"*.created", "com.example.user.deleted", false},
		{"com.*.user.*", "com.example.user.created", true},
		{"com.?xample.*", "com.éxample.x", true},
		{"com.?xample.*", "com.xample.x", false},
		{"*", "", true},
		{"", "", true},
		{"", "x", false},
		{"a*b*c", "aXbYbZc", true},
		{"a*b*c", "aXbYbZ", false},
		{"exact", "exact", true},
		{"exact", "exactly", false},
		{"**", "anything", true},
	}
	for _, tt := range tests {
		if got := Glob(tt.pattern, tt.s); got != tt.want {
			t.Errorf("Glob(%q, %q) = %v", tt.pattern, tt.s, got)
		}
	}
}

func TestFilter(t *testing.T) {
	e, err := ce.Decode([]byte(`{"specversion":"1.0","id":"1","source":"/orders/7","type":"com.example.order.placed","subject":"s","region":"eu","prio":5,"flag":true}`))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		expr  string
		types []string
		want  bool
	}{
		{"", nil, true},
		{"type = 'com.example.order.placed'", nil, true},
		{"type = 'x'", nil, false},
		{"source LIKE '/orders/%' AND region = 'eu'", nil, true},
		{"prio > 3", nil, true},
		{"prio > 7", nil, false},
		{"EXISTS region", nil, true},
		{"EXISTS missing", nil, false},
		{"missing = 'x'", nil, false}, // a missing attribute fails the evaluation: no match
		{"flag", nil, true},
		{"", []string{"com.example.*"}, true},
		{"", []string{"org.*", "*.placed"}, true},
		{"", []string{"org.*"}, false},
		{"region = 'eu'", []string{"org.*"}, false},
	}
	for _, tt := range tests {
		f, err := NewFilter(tt.expr, tt.types)
		if err != nil {
			t.Errorf("NewFilter(%q): %v", tt.expr, err)
			continue
		}
		if got := f.Match(&e); got != tt.want {
			t.Errorf("%q %v: match %v", tt.expr, tt.types, got)
		}
	}
	var none *Filter
	if !none.Match(&e) {
		t.Error("a nil filter does not match")
	}
}

func TestFilterErrors(t *testing.T) {
	tests := []struct {
		expr  string
		types []string
		want  string
	}{
		{"type = ", nil, "syntax error"}, // the v2.16.2 parser panics on this one
		{"type = 'x' AND", nil, "syntax error"},
		{"(((", nil, "syntax error"},
		{"subject", nil, "gives a string, not a boolean"},
		{"1 + 1", nil, "gives an integer, not a boolean"},
		{"NOTAFUNC(type)", nil, "unknown function NOTAFUNC"},
		{"", []string{""}, "empty type pattern"},
	}
	for _, tt := range tests {
		_, err := NewFilter(tt.expr, tt.types)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("NewFilter(%q) = %v, want %q", tt.expr, err, tt.want)
		}
	}
}

// Syntax errors point at where the expression goes wrong and name the keyword a misspelt word
// was probably meant to be.
func TestFilterSyntaxError(t *testing.T) {
	tests := []struct{ expr, want string }{
		{"EXSTS region", "syntax error at column 1: EXSTS is not a keyword: did you mean EXISTS?\n  EXSTS region\n  ^"},
		{"type = 'a' ANDD x = 1", "syntax error at column 12: ANDD is not a keyword: did you mean AND?\n  type = 'a' ANDD x = 1\n             ^"},
		{"type = ", "syntax error at column 8: the expression ends too early\n  type = \n         ^"},
		{"region = 'eu' AND", "syntax error at column 18: the expression ends too early\n  region = 'eu' AND\n                   ^"},
		{"(a = 1", "syntax error at column 7: missing ')'\n  (a = 1\n        ^"},
		{"a == 1", "syntax error at column 4: unexpected '='\n  a == 1\n     ^"},
		{"a = 1 OR\n\tb LIKE", "syntax error at line 2, column 8: the expression ends too early\n   b LIKE\n         ^"},
		{"a = 'x", "syntax error at column 5: a string is not closed with \"'\"\n  a = 'x\n      ^"},
		{"a = 1 # b", "syntax error at column 7: unexpected character '#'\n  a = 1 # b\n        ^"},
		{"id = 1 region", "syntax error at column 8: unexpected 'region'\n  id = 1 region\n         ^"},
	}
	for _, tt := range tests {
		_, err := NewFilter(tt.expr, nil)
		if err == nil || err.Error() != tt.want {
			t.Errorf("NewFilter(%q) error:\n%v\nwant:\n%s", tt.expr, err, tt.want)
		}
	}
}

func TestNearestKeyword(t *testing.T) {
	for w, want := range map[string]string{"EXSTS": "EXISTS", "EXISTS": "", "ADN": "AND", "NTO": "NOT", "LIEK": "LIKE", "FLASE": "FALSE", "REGION": "", "I": "", "ID": "IN", "SOURCE": ""} {
		if got := nearestKeyword(w); got != want {
			t.Errorf("nearestKeyword(%q) = %q, want %q", w, got, want)
		}
	}
}
