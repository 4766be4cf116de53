// Package evtemplate prints events through a Go text/template (listen --template, request
// --template): one line per event, like kcat -f or natscli --translate.
//
// The template sees the event in the CloudEvents JSON format (json-format §3): its
// attributes and extensions by name (.id, .type, .myext), data parsed when it is JSON
// (.data.orderId), a string when it is text, and data_base64 when its content type is not
// text (json-format §3.1). A key the event does not have prints nothing. Numbers are int64
// when they are whole and fit, float64 otherwise, so that printf and the comparisons take
// them; a whole number beyond 64 bits stays exact as a *big.Int.
package evtemplate

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"
	"text/template"
	"text/template/parse"
	"unicode/utf8"

	"github.com/cectl/cectl/internal/ce"
	"github.com/cectl/cectl/internal/format"
	"github.com/cloudevents/sdk-go/v2/event"
)

// showFunc is appended to every printing action, so that what is printed is what a person
// wants to read: nothing for a missing key (not "<no value>"), objects and arrays as JSON,
// numbers as JSON writes them, strings escaped for the terminal.
const showFunc = "_show"

// getFunc replaces every field chain (.data.orderId): a key missing anywhere along the chain,
// or a step into a value that is not an object, is nothing rather than an error.
const getFunc = "_get"

// Template is a parsed --template.
type Template struct {
	t    *template.Template
	text string
}

// Error is a template that does not parse, with the position of the action that broke it.
type Error struct {
	Line, Col int // Col is 0 when only the line is known
	Msg       string
}

func (e *Error) Error() string {
	if e.Col > 0 {
		return fmt.Sprintf("line %d, column %d: %s", e.Line, e.Col, e.Msg)
	}
	return fmt.Sprintf("line %d: %s", e.Line, e.Msg)
}

// Funcs are the functions a template may call besides text/template's own.
func funcs() template.FuncMap {
	return template.FuncMap{
		// json writes a value as compact JSON: {{json .data}}.
		"json":   marshal,
		"upper":  strings.ToUpper,
		"lower":  strings.ToLower,
		showFunc: show,
		getFunc:  get,
	}
}

// Parse parses a template. A template that does not parse returns an *Error.
func Parse(text string) (*Template, error) {
	t, err := template.New("template").Option("missingkey=zero").Funcs(funcs()).Parse(text)
	if err != nil {
		return nil, parseError(text, err)
	}
	for _, tt := range t.Templates() {
		if tt.Tree != nil {
			wrapActions(tt.Tree.Root)
		}
	}
	return &Template{t: t, text: text}, nil
}

// wrapActions pipes the value of every printing action through showFunc and turns every
// field chain into a call of getFunc.
func wrapActions(n parse.Node) {
	switch n := n.(type) {
	case *parse.ListNode:
		if n == nil {
			return
		}
		for _, c := range n.Nodes {
			wrapActions(c)
		}
	case *parse.ActionNode:
		wrapPipe(n.Pipe)
		if len(n.Pipe.Decl) == 0 {
			n.Pipe.Cmds = append(n.Pipe.Cmds, &parse.CommandNode{
				NodeType: parse.NodeCommand, Pos: n.Pos,
				Args: []parse.Node{parse.NewIdentifier(showFunc).SetPos(n.Pos)},
			})
		}
	case *parse.IfNode:
		wrapBranch(&n.BranchNode)
	case *parse.RangeNode:
		wrapBranch(&n.BranchNode)
	case *parse.WithNode:
		wrapBranch(&n.BranchNode)
	case *parse.TemplateNode:
		wrapPipe(n.Pipe)
	}
}

func wrapBranch(b *parse.BranchNode) {
	wrapPipe(b.Pipe)
	wrapActions(b.List)
	wrapActions(b.ElseList)
}

// wrapPipe replaces the field chains among the arguments of a pipeline's commands.
func wrapPipe(p *parse.PipeNode) {
	if p == nil {
		return
	}
	for _, c := range p.Cmds {
		for i, arg := range c.Args {
			switch a := arg.(type) {
			case *parse.FieldNode:
				c.Args[i] = getCall(a.Pos, &parse.DotNode{NodeType: parse.NodeDot, Pos: a.Pos}, a.Ident)
			case *parse.VariableNode:
				if len(a.Ident) > 1 {
					v := &parse.VariableNode{NodeType: parse.NodeVariable, Pos: a.Pos, Ident: a.Ident[:1]}
					c.Args[i] = getCall(a.Pos, v, a.Ident[1:])
				}
			case *parse.PipeNode:
				wrapPipe(a)
			case *parse.ChainNode:
				if inner, ok := a.Node.(*parse.PipeNode); ok {
					wrapPipe(inner)
					c.Args[i] = getCall(a.Pos, inner, a.Field)
				}
			}
		}
	}
}

// getCall is the pipeline (_get FROM "key1" "key2" …).
func getCall(pos parse.Pos, from parse.Node, keys []string) *parse.PipeNode {
	args := []parse.Node{parse.NewIdentifier(getFunc).SetPos(pos), from}
	for _, k := range keys {
		args = append(args, &parse.StringNode{NodeType: parse.NodeString, Pos: pos, Quoted: strconv.Quote(k), Text: k})
	}
	return &parse.PipeNode{NodeType: parse.NodePipe, Pos: pos, Cmds: []*parse.CommandNode{{NodeType: parse.NodeCommand, Pos: pos, Args: args}}}
}

// get follows keys from v through JSON objects; nil where one is missing.
func get(v any, keys ...string) any {
	for _, k := range keys {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

// show is what an action prints.
func show(v any) string {
	switch v := v.(type) {
	case nil:
		return ""
	case string:
		return format.Sanitize(v)
	case float64, map[string]any, []any:
		// As JSON writes them: 9.5, 1e+21; objects and arrays compact.
		b, err := marshal(v)
		if err != nil {
			return fmt.Sprint(v)
		}
		return format.Sanitize(b)
	}
	return format.Sanitize(fmt.Sprint(v))
}

// marshal writes v as compact JSON, leaving <, > and & as they are: it is shown, not put in
// HTML.
func marshal(v any) (string, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return "", err
	}
	return strings.TrimSuffix(b.String(), "\n"), nil
}

// numbers replaces the json.Numbers in v (decoded with UseNumber) by what text/template's
// printf and comparisons take: int64 for a whole number in its range (42, 1.0), uint64 up to
// 2^64-1, a *big.Int for a larger integer written without fraction or exponent (exact), and
// float64 for the rest.
func numbers(v any) any {
	switch v := v.(type) {
	case json.Number:
		return number(v)
	case map[string]any:
		for k, x := range v {
			v[k] = numbers(x)
		}
	case []any:
		for i, x := range v {
			v[i] = numbers(x)
		}
	}
	return v
}

func number(n json.Number) any {
	if i, err := n.Int64(); err == nil {
		return i
	}
	if u, err := strconv.ParseUint(string(n), 10, 64); err == nil {
		return u
	}
	if !strings.ContainsAny(string(n), ".eE") {
		if b, ok := new(big.Int).SetString(string(n), 10); ok {
			return b
		}
	}
	f, err := n.Float64()
	if err != nil {
		return string(n) // beyond float64: as written
	}
	if f == math.Trunc(f) && f >= -(1<<53) && f <= 1<<53 {
		return int64(f) // whole, and exactly a float64: 1.0, 2e3
	}
	return f
}

// parseError finds the action that made the template fail to parse: the first one after
// which the text so far fails for another reason than being unfinished.
func parseError(text string, err error) error {
	msg := err.Error()
	line := 1
	// "template: template:3: unexpected ..."
	if rest, ok := strings.CutPrefix(msg, "template: template:"); ok {
		if n, tail, ok := strings.Cut(rest, ": "); ok {
			fmt.Sscanf(n, "%d", &line)
			msg = tail
		}
	}
	from := 0
	for {
		i := strings.Index(text[from:], "{{")
		if i < 0 {
			break
		}
		start := from + i
		end := len(text)
		if j := strings.Index(text[start+2:], "}}"); j >= 0 {
			end = start + 2 + j + 2
		}
		_, perr := template.New("template").Funcs(funcs()).Parse(text[:end])
		if perr != nil && !strings.HasSuffix(perr.Error(), "unexpected EOF") {
			l := 1 + strings.Count(text[:start], "\n")
			col := 1 + utf8.RuneCountInString(text[strings.LastIndex(text[:start], "\n")+1:start])
			return &Error{Line: l, Col: col, Msg: msg}
		}
		from = end
	}
	return &Error{Line: line, Msg: msg}
}

// Execute renders e through the template; it may be called concurrently. The line ends with a newline, added when the
// template has none at its end.
func (t *Template) Execute(e *event.Event) ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(ce.AppendJSON(nil, e)))
	dec.UseNumber()
	var v map[string]any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("the event cannot be read as JSON: %w", err)
	}
	numbers(v)
	if _, text := v["data"].(string); text && e.SpecVersion() == event.CloudEventsVersionV1 && !ce.IsTextContentType(e.DataContentType()) {
		// Data that is not text by its content type is binary, even when its bytes happen
		// to be UTF-8: data_base64, as a receiver of the JSON format would see it.
		delete(v, "data")
		v["data_base64"] = base64.StdEncoding.EncodeToString(e.DataEncoded)
	}
	var out bytes.Buffer
	if err := t.t.Execute(&out, v); err != nil {
		return nil, t.execError(err)
	}
	if b := out.Bytes(); len(b) == 0 || b[len(b)-1] != '\n' {
		out.WriteByte('\n')
	}
	return out.Bytes(), nil
}

// execError says where the template failed as the user wrote it: "line 1, column 3: at
// <index .data.items 5>: error calling index: …", without text/template's name for the
// template and without the calls Parse put in.
func (t *Template) execError(err error) error {
	msg := strings.TrimPrefix(err.Error(), "template: ")
	msg = strings.TrimPrefix(msg, "template:")
	// "1:2: executing \"template\" at <…>: …", the column a byte offset from 0.
	var line, col int
	if pos, rest, ok := strings.Cut(msg, ": "); ok {
		if _, serr := fmt.Sscanf(pos, "%d:%d", &line, &col); serr == nil && line >= 1 {
			rest = strings.TrimPrefix(rest, `executing "template" `)
			msg = fmt.Sprintf("line %d, column %d: %s", line, t.column(line, col), rest)
		}
	}
	return errors.New(unwrapped(msg))
}

// column turns a byte offset in a line of the template into a column counted in characters
// from 1.
func (t *Template) column(line, off int) int {
	lines := strings.Split(t.text, "\n")
	if line > len(lines) {
		return off + 1
	}
	l := lines[line-1]
	if off > len(l) {
		return off + 1
	}
	return 1 + utf8.RuneCountInString(l[:off])
}

// unwrapped undoes, in text/template's rendering of a node, what wrapActions did:
// (_get X "a" "b") is X.a.b again and the appended | _show goes.
func unwrapped(s string) string {
	s = strings.ReplaceAll(s, " | "+showFunc, "")
	const call = "(" + getFunc + " "
	from := 0
	for {
		i := strings.Index(s[from:], call)
		if i < 0 {
			return s
		}
		i += from
		j := i + len(call)
		end := operandEnd(s, j)
		x := s[j:end]
		var keys []string
		k := end
		for k+1 < len(s) && s[k] == ' ' && s[k+1] == '"' {
			q, err := strconv.QuotedPrefix(s[k+1:])
			if err != nil {
				break
			}
			key, _ := strconv.Unquote(q)
			keys = append(keys, key)
			k += 1 + len(q)
		}
		if k >= len(s) || s[k] != ')' || len(keys) == 0 {
			from = j // not a call of ours after all
			continue
		}
		chain := "." + strings.Join(keys, ".")
		if x != "." {
			chain = x + chain
		}
		s = s[:i] + chain + s[k+1:]
		from = i
	}
}

// operandEnd is where the operand starting at s[i] ends: a parenthesised pipeline (strings
// in it may hold parentheses), or a word up to a space or ')'.
func operandEnd(s string, i int) int {
	if i >= len(s) || s[i] != '(' {
		for i < len(s) && s[i] != ' ' && s[i] != ')' {
			i++
		}
		return i
	}
	depth := 0
	for i < len(s) {
		switch s[i] {
		case '(':
			depth++
		case ')':
			depth--
			if depth == 0 {
				return i + 1
			}
		case '"', '`', '\'':
			if q, err := strconv.QuotedPrefix(s[i:]); err == nil {
				i += len(q)
				continue
			}
		}
		i++
	}
	return i
}
