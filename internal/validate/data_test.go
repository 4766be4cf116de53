package validate

import (
	"strings"
	"testing"
)

func TestData(t *testing.T) {
	v := New(Options{})
	for _, tt := range []struct {
		in   string
		rule string // "" for valid
		ptr  string
	}{
		{`{"a":[1,"é",null]}`, "", ""},
		{" 42 \n", "", ""},
		{`"s"`, "", ""},
		{strings.Repeat("[", 10000) + strings.Repeat("]", 10000), "", ""},
		{strings.Repeat("[", 10001) + strings.Repeat("]", 10001), RuleJSONSyntax, ""},
		{`{"a":[1,}`, RuleJSONSyntax, "/a/1"},
		{"\"caf\xe9\"", RuleUTF8, ""},
		{`{} []`, RuleTrailingData, ""},
		{``, RuleJSONSyntax, ""},
		{`hello`, RuleJSONSyntax, ""},
	} {
		var errs []Finding
		for _, f := range v.Data([]byte(tt.in)) {
			if f.Level == Error {
				errs = append(errs, f)
			}
		}
		switch {
		case tt.rule == "" && len(errs) > 0:
			t.Errorf("%.40q: %v", tt.in, errs)
		case tt.rule != "" && (len(errs) == 0 || errs[0].Rule != tt.rule):
			t.Errorf("%.40q: %v, want %s", tt.in, errs, tt.rule)
		case tt.ptr != "" && errs[0].Pointer != tt.ptr:
			t.Errorf("%.40q: pointer %q, want %q", tt.in, errs[0].Pointer, tt.ptr)
		}
	}
}
