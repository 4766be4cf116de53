// Package evtemplate prints events through a Go text/template (listen --template, request
// --template): one line per event, like kcat -f or natscli --translate.
//
// The template sees the event in the CloudEvents JSON format (json-format §3): its
// attributes and extensions by name (.id, .type, .myext), data parsed when it is JSON
// (.data.orderId), a string when it is text, and data_base64 when it is binary
// (json-format §3.1). A key the event does not have prints nothing.
package evtemplate

import (
	"bytes"
	"encoding/json"
	"fmt"
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
// numbers as they were written, strings escaped for the terminal.
const showFunc = "_show"

// getFunc replaces every field chain (.data.orderId): a key missing anywhere along the chain,
// or a step into a value that is not an object, is nothing rather than an error.
const getFunc = "_get"

// Template is a parsed --template.
type Template struct {
	t *template.Template
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
		"json": func(v any) (string, error) {
			b, err := json.Marshal(v)
			return string(b), err
		},
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
	return &Template{t: t}, nil
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
	case json.Number:
		return string(v)
	case map[string]any, []any:
		b, err := json.Marshal(v)
		if err != nil {
			return fmt.Sprint(v)
		}
		return format.Sanitize(string(b))
	}
	return format.Sanitize(fmt.Sprint(v))
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
	var out bytes.Buffer
	if err := t.t.Execute(&out, v); err != nil {
		return nil, execError(err)
	}
	if b := out.Bytes(); len(b) == 0 || b[len(b)-1] != '\n' {
		out.WriteByte('\n')
	}
	return out.Bytes(), nil
}

// execError drops text/template's name for the template from its message.
func execError(err error) error {
	msg := strings.TrimPrefix(err.Error(), "template: ")
	msg = strings.TrimPrefix(msg, "template:")
	return fmt.Errorf("%s", msg)
}
