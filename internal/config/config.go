// Package config reads cectl's configuration file: named targets, so that a command line can
// say --to @staging instead of a URL, headers and a token. The file is read only when a
// command names a target, so commands that do not cost nothing.
//
//	targets:
//	  staging:
//	    url: https://staging.example.com/events
//	    headers:
//	      X-Team: payments
//	    token_env: STAGING_TOKEN     # sent as Authorization: Bearer <token>
//	  local:
//	    url: http://localhost:8080
//	    token_file: ~/.config/cectl/local.token
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/cectl/cectl/internal/format"
	"gopkg.in/yaml.v3"
)

// Target is a named target as the file describes it, before its token is read.
type Target struct {
	Name    string
	URL     string
	Headers http.Header
	// TokenEnv and TokenFile say where the token is: an environment variable, or a file (a
	// relative path is relative to the config file; ~/ is the home directory).
	TokenEnv, TokenFile string
	// Line is where the target is defined, for errors.
	Line int
}

// File is a config file read.
type File struct {
	Path    string
	Targets map[string]*Target
}

// Error is a config file that cannot be used: it names the file and, when it can, the line.
type Error struct {
	Path string
	Line int
	Msg  string
	Err  error
}

func (e *Error) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", e.Path, e.Line, e.Msg)
	}
	return fmt.Sprintf("%s: %s", e.Path, e.Msg)
}

func (e *Error) Unwrap() error { return e.Err }

// DefaultPath is where the config file is looked for: $XDG_CONFIG_HOME/cectl/config.yaml,
// else ~/.config/cectl/config.yaml (the XDG Base Directory default).
func DefaultPath(getenv func(string) string) string {
	if dir := getenv("XDG_CONFIG_HOME"); dir != "" && filepath.IsAbs(dir) {
		return filepath.Join(dir, "cectl", "config.yaml")
	}
	home := getenv("HOME")
	if home == "" {
		home, _ = os.UserHomeDir()
	}
	return filepath.Join(home, ".config", "cectl", "config.yaml")
}

// Load reads and checks the config file at path.
func Load(path string) (*File, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Parse(path, b)
}

// Parse checks the text of a config file; path names it in errors.
func Parse(path string, b []byte) (*File, error) {
	cf := &File{Path: path, Targets: map[string]*Target{}}
	bad := func(n *yaml.Node, format string, args ...any) error {
		line := 0
		if n != nil {
			line = n.Line
		}
		return &Error{Path: path, Line: line, Msg: fmt.Sprintf(format, args...)}
	}
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return cf, nil // an empty file has no targets
		}
		return nil, yamlError(path, err)
	}
	if len(doc.Content) == 0 {
		return cf, nil
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		return nil, bad(root, "want a mapping with a targets key at the top")
	}
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		if k.Value != "targets" {
			return nil, bad(k, "unknown key %q (known: targets)", k.Value)
		}
		if v.Kind == yaml.ScalarNode && v.Tag == "!!null" {
			continue
		}
		if v.Kind != yaml.MappingNode {
			return nil, bad(v, "targets: want a mapping of target names to targets")
		}
		for j := 0; j+1 < len(v.Content); j += 2 {
			t, err := parseTarget(v.Content[j], v.Content[j+1], bad)
			if err != nil {
				return nil, err
			}
			if _, dup := cf.Targets[t.Name]; dup {
				return nil, bad(v.Content[j], "target %q is defined twice", t.Name)
			}
			cf.Targets[t.Name] = t
		}
	}
	return cf, nil
}

func parseTarget(k, v *yaml.Node, bad func(*yaml.Node, string, ...any) error) (*Target, error) {
	name := k.Value
	if k.Kind != yaml.ScalarNode || !validName(name) {
		return nil, bad(k, "target name %q: want letters, digits, '-', '_' or '.'", name)
	}
	if v.Kind != yaml.MappingNode {
		return nil, bad(v, "target %s: want a mapping with url, headers, token_env or token_file", name)
	}
	t := &Target{Name: name, Line: k.Line}
	var urlNode *yaml.Node
	for i := 0; i+1 < len(v.Content); i += 2 {
		key, val := v.Content[i], v.Content[i+1]
		scalar := func() (string, error) {
			if val.Kind != yaml.ScalarNode {
				return "", bad(val, "target %s: %s: want a string", name, key.Value)
			}
			return val.Value, nil
		}
		var err error
		switch key.Value {
		case "url":
			urlNode = val
			t.URL, err = scalar()
		case "token_env":
			t.TokenEnv, err = scalar()
		case "token_file":
			t.TokenFile, err = scalar()
		case "headers":
			t.Headers, err = parseHeaders(name, val, bad)
		default:
			err = bad(key, "target %s: unknown key %q (known: url, headers, token_env, token_file)", name, key.Value)
		}
		if err != nil {
			return nil, err
		}
	}
	switch {
	case t.URL == "":
		return nil, bad(k, "target %s: url is missing", name)
	case t.TokenEnv != "" && t.TokenFile != "":
		return nil, bad(k, "target %s: give token_env or token_file, not both", name)
	}
	u, err := url.Parse(t.URL)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return nil, bad(urlNode, "target %s: url %q is not an absolute URL", name, format.ShownURL(t.URL))
	}
	if (len(t.Headers) > 0 || t.TokenEnv != "" || t.TokenFile != "") && u.Scheme != "http" && u.Scheme != "https" {
		return nil, bad(k, "target %s: headers and tokens are sent over http(s) only; a %s:// URL carries its credentials itself", name, u.Scheme)
	}
	return t, nil
}

func parseHeaders(name string, v *yaml.Node, bad func(*yaml.Node, string, ...any) error) (http.Header, error) {
	if v.Kind != yaml.MappingNode {
		return nil, bad(v, "target %s: headers: want a mapping of header names to values", name)
	}
	h := http.Header{}
	for i := 0; i+1 < len(v.Content); i += 2 {
		k, val := v.Content[i], v.Content[i+1]
		if val.Kind != yaml.ScalarNode {
			return nil, bad(val, "target %s: header %s: want a string", name, k.Value)
		}
		if err := checkHeader(k.Value, val.Value); err != nil {
			return nil, bad(k, "target %s: %v", name, err)
		}
		h.Add(k.Value, val.Value)
	}
	return h, nil
}

// checkHeader checks a header of the file the way -H is checked: an RFC 9110 token as the
// name, no line breaks in the value, no ce- header (those are the event's attributes, HTTP
// binding §3.1.3).
func checkHeader(name, value string) error {
	if name == "" {
		return fmt.Errorf("empty header name")
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0) {
			return fmt.Errorf("header %q: %q is not allowed in a header name", name, c)
		}
	}
	if len(name) > 3 && strings.EqualFold(name[:3], "ce-") {
		return fmt.Errorf("header %s: ce- headers carry the event's attributes; set them with their flags", name)
	}
	if strings.ContainsAny(value, "\r\n\x00") {
		return fmt.Errorf("header %s: the value holds a line break or NUL", name)
	}
	return nil
}

func validName(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

// Names are the target names, sorted.
func (cf *File) Names() []string {
	names := make([]string, 0, len(cf.Targets))
	for n := range cf.Targets {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// Resolved is a target ready to use: its URL and the headers to send, the token among them.
type Resolved struct {
	URL    string
	Header http.Header
}

// Resolve looks a target up by name (without the @) and reads its token. Errors never hold
// the token.
func (cf *File) Resolve(name string, getenv func(string) string) (*Resolved, error) {
	t, ok := cf.Targets[name]
	if !ok {
		known := "it defines no targets"
		if names := cf.Names(); len(names) > 0 {
			known = "known: @" + strings.Join(names, ", @")
		}
		return nil, &Error{Path: cf.Path, Msg: fmt.Sprintf("no target named %q (%s)", name, known)}
	}
	h := t.Headers.Clone()
	if h == nil {
		h = http.Header{}
	}
	token, err := t.token(cf.Path, getenv)
	if err != nil {
		return nil, err
	}
	if token != "" {
		h.Set("Authorization", "Bearer "+token)
	}
	return &Resolved{URL: t.URL, Header: h}, nil
}

func (t *Target) token(cfgPath string, getenv func(string) string) (string, error) {
	fail := func(format string, args ...any) error {
		return &Error{Path: cfgPath, Line: t.Line, Msg: fmt.Sprintf("target %s: ", t.Name) + fmt.Sprintf(format, args...)}
	}
	var token string
	switch {
	case t.TokenEnv != "":
		token = getenv(t.TokenEnv)
		if token == "" {
			return "", fail("token_env: the environment variable %s is not set", t.TokenEnv)
		}
	case t.TokenFile != "":
		path := t.TokenFile
		if rest, ok := strings.CutPrefix(path, "~/"); ok {
			home := getenv("HOME")
			if home == "" {
				home, _ = os.UserHomeDir()
			}
			path = filepath.Join(home, rest)
		} else if !filepath.IsAbs(path) {
			path = filepath.Join(filepath.Dir(cfgPath), path)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			var pe *fs.PathError
			if errors.As(err, &pe) {
				err = pe.Err // the path is named once, below
			}
			return "", fail("token_file %s: %v", path, err)
		}
		token = strings.TrimRight(string(b), "\r\n \t")
		if token == "" {
			return "", fail("token_file %s is empty", path)
		}
	default:
		return "", nil
	}
	// The value is a secret: say what is wrong with it without showing it.
	if strings.ContainsAny(token, "\r\n\x00") {
		return "", fail("the token holds a line break or NUL, which cannot go in a header")
	}
	return token, nil
}

// yamlError turns an error of the YAML parser ("yaml: line 3: mapping values are not
// allowed in this context") into file:line: message.
func yamlError(path string, err error) error {
	msg := err.Error()
	// Compiled here, not at start-up: only a broken file needs it.
	yamlLine := regexp.MustCompile(`^(?:yaml: )?line ([0-9]+): `)
	if m := yamlLine.FindStringSubmatchIndex(msg); m != nil {
		line, _ := strconv.Atoi(msg[m[2]:m[3]])
		return &Error{Path: path, Line: line, Msg: "invalid YAML: " + msg[m[1]:], Err: err}
	}
	return &Error{Path: path, Msg: "invalid YAML: " + strings.TrimPrefix(msg, "yaml: "), Err: err}
}
