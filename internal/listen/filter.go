package listen

import (
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/cectl/cectl/internal/ce"
	cesql "github.com/cloudevents/sdk-go/sql/v2"
	sqlerrors "github.com/cloudevents/sdk-go/sql/v2/errors"
	"github.com/cloudevents/sdk-go/sql/v2/parser"
	"github.com/cloudevents/sdk-go/v2/event"
)

// Filter selects the events listen handles: those matching a CESQL expression and, when type
// patterns are given, whose type matches one of them.
type Filter struct {
	expr  cesql.Expression
	types []string
}

// NewFilter parses a CESQL v1 expression (empty: none) and type glob patterns.
func NewFilter(expr string, types []string) (*Filter, error) {
	f := &Filter{types: types}
	for _, t := range types {
		if t == "" {
			return nil, errors.New("empty type pattern")
		}
	}
	if strings.TrimSpace(expr) != "" {
		e, err := parseCESQL(expr)
		if err != nil {
			return nil, err
		}
		if err := checkBoolean(e); err != nil {
			return nil, err
		}
		f.expr = e
	}
	return f, nil
}

// parseCESQL parses under recover: the v2.16.2 parser panics on much incomplete input, such
// as "type = " (a nil exception in its error listener), and often has no message to give.
func parseCESQL(expr string) (e cesql.Expression, err error) {
	const malformed = "syntax error: the expression is incomplete or malformed"
	defer func() {
		if r := recover(); r != nil {
			e, err = nil, errors.New(malformed)
		}
	}()
	if err := diagnoseCESQL(expr); err != nil {
		return nil, err
	}
	e, err = parser.Parse(expr)
	if err != nil {
		var msgs []string
		for _, m := range strings.Split(strings.TrimPrefix(err.Error(), "parse error: "), "|") {
			if m = strings.TrimSpace(m); m != "" && m != "syntax error:" {
				msgs = append(msgs, m)
			}
		}
		if len(msgs) == 0 {
			return nil, errors.New(malformed)
		}
		return nil, errors.New(strings.Join(msgs, "; "))
	}
	if e == nil {
		return nil, errors.New(malformed)
	}
	return e, nil
}

// checkBoolean evaluates the expression on an event that has every context attribute, so that
// an expression whose value is a string or an integer ("subject", "1 + 1") is refused when it
// is given rather than silently matching nothing.
func checkBoolean(e cesql.Expression) error {
	probe, _ := ce.NewEvent(ce.V1)
	for _, kv := range [][2]string{{"id", "1"}, {"source", "/"}, {"type", "t"}, {"subject", "s"},
		{"datacontenttype", "text/plain"}, {"dataschema", "urn:x"}} {
		_ = ce.SetAttribute(&probe, kv[0], kv[1])
	}
	probe.SetTime(time.Unix(0, 0))
	v, err := evaluate(e, &probe)
	if sqlerrors.IsMissingFunctionError(err) {
		return fmt.Errorf("unknown function %s", strings.TrimPrefix(err.Error(), "missing function error: "))
	}
	if err != nil {
		// Missing extensions and cast errors depend on the event; they are judged per event.
		return nil
	}
	if _, ok := v.(bool); !ok {
		return fmt.Errorf("the expression gives %s, not a boolean (compare it, e.g. subject = 'x')", kindOf(v))
	}
	return nil
}

func kindOf(v any) string {
	switch v.(type) {
	case string:
		return "a string"
	case int32:
		return "an integer"
	}
	return fmt.Sprintf("a %T", v)
}

func evaluate(e cesql.Expression, ev *event.Event) (v any, err error) {
	defer func() {
		if r := recover(); r != nil {
			v, err = nil, fmt.Errorf("evaluation failed: %v", r)
		}
	}()
	return e.Evaluate(*ev)
}

// Match reports whether the event is selected. An expression whose evaluation fails on an
// event (a missing extension, a failed cast) does not select it.
func (f *Filter) Match(e *event.Event) bool {
	if f == nil {
		return true
	}
	if len(f.types) > 0 {
		ok := false
		for _, p := range f.types {
			if Glob(p, e.Type()) {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	if f.expr == nil {
		return true
	}
	v, err := evaluate(f.expr, e)
	b, ok := v.(bool)
	return err == nil && ok && b
}

// Glob matches s against a pattern where * stands for any run of characters (dots
// included) and ? for exactly one character; everything else stands for itself.
func Glob(pattern, s string) bool {
	// Iterative matching with a single backtrack point: linear for patterns without
	// pathological nesting, and never recursive.
	p, i := 0, 0
	star, mark := -1, 0
	for i < len(s) {
		switch {
		case p < len(pattern) && pattern[p] == '*':
			star, mark = p, i
			p++
		case p < len(pattern) && pattern[p] == '?':
			_, n := utf8.DecodeRuneInString(s[i:])
			p++
			i += n
		case p < len(pattern) && pattern[p] == s[i]:
			p++
			i++
		case star >= 0:
			_, n := utf8.DecodeRuneInString(s[mark:])
			mark += n
			p, i = star+1, mark
		default:
			return false
		}
	}
	for p < len(pattern) && pattern[p] == '*' {
		p++
	}
	return p == len(pattern)
}
