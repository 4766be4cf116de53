// Package eventspec builds a CloudEvent from what a command line says about it: the attribute
// values, extensions as name=value or name:=json, and data as text, @file or stdin. It knows
// nothing of Cobra; cmd fills a Spec from its flags and says which flags were given.
package eventspec

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"mime"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/cectl/cectl/internal/ce"
	"github.com/cectl/cectl/internal/validate"
	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/google/uuid"
)

// Spec is an event as the command line describes it. Each field is the value of the flag of
// the same name (--type, --source, --id, --time, --subject, --dataschema, --datacontenttype,
// --specversion, --ext, --data).
type Spec struct {
	Type            string
	Source          string
	ID              string
	Time            string
	Subject         string
	DataSchema      string
	DataContentType string
	SpecVersion     string
	Extensions      []string
	Data            string

	// Given says whether the user gave the flag of that name; a flag not given keeps its
	// default in Build and leaves the event alone in Apply. Nil means none was given.
	Given func(flag string) bool
	// Warn, when not nil, is told of what is sent but is probably not what the user meant:
	// data that looks like JSON but does not parse, sent as text because no --datacontenttype
	// said what it is. It may be called for every event built; callers show it once.
	Warn func(msg string)
	// Payload is --data once read: a file or stdin is read only once however many events
	// use it. Nil until Build or Apply reads it.
	Payload *Payload
	// Open, when not nil, opens the file of --data @file (instead of reading it with
	// os.ReadFile): the command reads /dev/stdin as stdin, and a terminal so that Ctrl-C
	// ends the read. done releases what it opened.
	Open func(name string) (r io.Reader, done func(), err error)
}

// Payload is the data of --data and the file it came from, if any.
type Payload struct {
	Bytes []byte
	File  string
}

// UsageError is a value the command line got wrong; commands report it as a usage error.
type UsageError struct{ Err error }

func (e *UsageError) Error() string { return e.Err.Error() }
func (e *UsageError) Unwrap() error { return e.Err }

func usagef(format string, args ...any) error {
	return &UsageError{Err: fmt.Errorf(format, args...)}
}

// flags are the names of the flags a Spec is made of.
var flags = [...]string{"type", "source", "id", "time", "subject", "dataschema", "datacontenttype", "specversion", "ext", "data"}

func (s *Spec) given(flag string) bool { return s.Given != nil && s.Given(flag) }

// AnyGiven reports whether any attribute flag was given.
func (s *Spec) AnyGiven() bool {
	for _, name := range flags {
		if s.given(name) {
			return true
		}
	}
	return false
}

// Build makes an event from the spec alone: a fresh UUID unless an id was given, now as the
// time unless a time was given.
func (s *Spec) Build(stdin io.Reader, now time.Time) (*event.Event, error) {
	if s.Type == "" {
		return nil, usagef("--type is required (or give events with --from)")
	}
	e, err := ce.NewEvent(s.SpecVersion)
	if err != nil {
		return nil, &UsageError{Err: fmt.Errorf("--specversion: %w", err)}
	}
	id := s.ID
	if !s.given("id") {
		id = uuid.NewString()
	}
	if err := ce.SetAttribute(&e, "id", id); err != nil {
		return nil, &UsageError{Err: fmt.Errorf("--id: %w", err)}
	}
	if err := checkValue("source", "source", s.Source); err != nil {
		return nil, err
	}
	if err := ce.SetAttribute(&e, "source", s.Source); err != nil {
		return nil, &UsageError{Err: fmt.Errorf("--source: %w", err)}
	}
	if err := ce.SetAttribute(&e, "type", s.Type); err != nil {
		return nil, &UsageError{Err: fmt.Errorf("--type: %w", err)}
	}
	if !s.given("time") {
		if err := ce.SetAttribute(&e, "time", ce.FormatTime(now.UTC())); err != nil {
			return nil, err
		}
	}
	if err := s.Apply(&e, stdin); err != nil {
		return nil, err
	}
	return &e, nil
}

// Apply sets the attributes that were given, overriding what e has. Only flags the user
// typed count, except for data, whose content type is inferred.
func (s *Spec) Apply(e *event.Event, stdin io.Reader) error {
	set := func(flag, attr, value string) error {
		if !s.given(flag) {
			return nil
		}
		// An optional attribute that is present is not empty (spec v1.0.2, OPTIONAL
		// Attributes): an empty value leaves it out.
		if value == "" && (attr == "time" || attr == "subject" || attr == "dataschema" || attr == "datacontenttype") {
			ce.DeleteAttribute(e, attr)
			return nil
		}
		if err := checkValue(flag, attr, value); err != nil {
			return err
		}
		if err := ce.SetAttribute(e, attr, value); err != nil {
			return &UsageError{Err: fmt.Errorf("--%s: %w", flag, err)}
		}
		return nil
	}
	if s.given("specversion") && e.SpecVersion() != s.SpecVersion {
		converted, err := ConvertSpecVersion(e, s.SpecVersion)
		if err != nil {
			return &UsageError{Err: fmt.Errorf("--specversion: %w", err)}
		}
		*e = converted
	}
	schemaAttr := "dataschema"
	if e.SpecVersion() == ce.V03 {
		schemaAttr = "schemaurl"
	}
	for _, a := range []struct{ flag, attr, value string }{
		{"id", "id", s.ID},
		{"source", "source", s.Source},
		{"type", "type", s.Type},
		{"time", "time", s.Time},
		{"subject", "subject", s.Subject},
		{"dataschema", schemaAttr, s.DataSchema},
	} {
		if err := set(a.flag, a.attr, a.value); err != nil {
			return err
		}
	}
	for _, arg := range s.Extensions {
		name, value, err := ParseExtension(arg)
		if err != nil {
			return &UsageError{Err: err}
		}
		if err := ce.SetExtension(e, name, value); err != nil {
			return &UsageError{Err: fmt.Errorf("--ext: %w", err)}
		}
	}
	if s.given("data") {
		p, err := s.Load(stdin)
		if err != nil {
			return err
		}
		ct := s.DataContentType
		if ct == "" {
			ct = InferContentType(p.Bytes, p.File)
			if s.Warn != nil && ct != "application/json" && byExtension(p.File) == "" && looksLikeJSON(p.Bytes) {
				name := "--data"
				if p.File != "" {
					name = p.File
				}
				s.Warn(notJSONWarning(name, JSONError(p.Bytes), ct))
			}
		}
		if err := SetData(e, p.Bytes, ct); err != nil {
			return &UsageError{Err: fmt.Errorf("--data: %w", err)}
		}
	} else if s.given("datacontenttype") {
		if err := set("datacontenttype", "datacontenttype", s.DataContentType); err != nil {
			return err
		}
	}
	return nil
}

// notJSONWarning is the warning about the data of --data (name) that looks like JSON but does
// not parse (where and why: JSONError), sent as ct.
func notJSONWarning(name, where, ct string) string {
	return fmt.Sprintf("%s looks like JSON but does not parse: %s; sending it as %s (--datacontenttype says what it is)", name, where, ct)
}

// Load reads --data once and keeps it in Payload.
func (s *Spec) Load(stdin io.Reader) (*Payload, error) {
	if s.Payload == nil {
		data, file, err := s.read(stdin)
		if err != nil {
			return nil, err
		}
		s.Payload = &Payload{Bytes: data, File: file}
	}
	return s.Payload, nil
}

func (s *Spec) read(stdin io.Reader) ([]byte, string, error) {
	name, isFile := strings.CutPrefix(s.Data, "@")
	if s.Open == nil || !isFile || name == "-" {
		return ReadData(s.Data, stdin)
	}
	r, done, err := s.Open(name)
	var pe *fs.PathError
	if err != nil && !errors.As(err, &pe) {
		return nil, "", fmt.Errorf("--data: %w", err) // not the file's fault: interrupted, as a read may be
	} else if err != nil {
		return nil, "", &UsageError{Err: fmt.Errorf("--data: %w", err)}
	}
	defer done()
	b, err := io.ReadAll(r)
	if err != nil {
		return nil, "", fmt.Errorf("--data: reading %s: %w", name, err)
	}
	return b, name, nil
}

// ReadData reads a --data value: @file, - or @- for stdin, otherwise the literal text. It
// returns the bytes and the file name when it came from a file.
func ReadData(arg string, stdin io.Reader) ([]byte, string, error) {
	switch {
	case arg == "-" || arg == "@-":
		b, err := io.ReadAll(stdin)
		if err != nil {
			return nil, "", fmt.Errorf("--data: reading stdin: %w", err)
		}
		return b, "", nil
	case strings.HasPrefix(arg, "@"):
		name := arg[1:]
		b, err := os.ReadFile(name)
		if err != nil {
			return nil, "", &UsageError{Err: fmt.Errorf("--data: %w", err)}
		}
		return b, name, nil
	}
	return []byte(arg), "", nil
}

// InferContentType guesses the content type of data that came without one: by the file's
// extension when it has a known one, else JSON if it parses as JSON, text/plain if it is
// UTF-8 text, application/octet-stream otherwise.
func InferContentType(data []byte, file string) string {
	if t := byExtension(file); t != "" {
		return t
	}
	switch {
	case json.Valid(data):
		return "application/json"
	case IsText(data):
		return "text/plain"
	}
	return "application/octet-stream"
}

// byExtension is the content type a file's extension names, or "".
func byExtension(file string) string {
	ext := strings.ToLower(filepath.Ext(file))
	switch ext {
	case "":
		return ""
	case ".json":
		return "application/json"
	case ".txt", ".text", ".log":
		return "text/plain"
	}
	return mime.TypeByExtension(ext)
}

// looksLikeJSON reports whether data begins, after white space, as a JSON object or array
// does (RFC 8259 §2) but is not JSON.
func looksLikeJSON(data []byte) bool {
	t := bytes.TrimLeft(data, " \t\r\n")
	return len(t) > 0 && (t[0] == '{' || t[0] == '[') && !json.Valid(data)
}

// JSONError says where and why data is not JSON text (RFC 8259 §2): "line L, column C: why",
// the column counted in characters from 1; "" when data is JSON.
func JSONError(data []byte) string {
	var v any
	err := json.Unmarshal(data, &v)
	if err == nil {
		return ""
	}
	var se *json.SyntaxError
	if !errors.As(err, &se) {
		return err.Error()
	}
	// Offset counts the bytes read, the offending one included; input that ends too early
	// is wrong just past its last byte.
	at := int(se.Offset) - 1
	if strings.HasSuffix(se.Error(), "end of JSON input") {
		at = len(data)
	}
	at = max(0, min(at, len(data)))
	line := 1 + bytes.Count(data[:at], []byte{'\n'})
	col := 1 + utf8.RuneCount(data[bytes.LastIndexByte(data[:at], '\n')+1:at])
	return fmt.Sprintf("line %d, column %d: %s", line, col, se.Error())
}

// IsText reports whether data is UTF-8 text without NUL bytes.
func IsText(data []byte) bool { return utf8.Valid(data) && !bytes.ContainsRune(data, 0) }

// SetData stores data with its content type: JSON stays JSON text, text stays text, anything
// else is flagged binary so that the structured and batched modes carry it as data_base64
// (json-format §3.1.1), or in v0.3 as base64 data with datacontentencoding (json-format v0.3
// §3.1).
func SetData(e *event.Event, data []byte, contentType string) error {
	if err := ce.SetAttribute(e, "datacontenttype", contentType); err != nil {
		return err
	}
	// Data that replaces an event's binary data is binary only if it is itself.
	e.DataEncoded, e.DataBase64 = data, false
	ce.DeleteAttribute(e, "datacontentencoding")
	isText := ce.IsTextContentType(contentType) && utf8.Valid(data)
	if ce.IsJSONContentType(contentType) && !json.Valid(data) {
		isText = utf8.Valid(data)
	}
	if !isText {
		if e.SpecVersion() == ce.V03 {
			return ce.SetAttribute(e, "datacontentencoding", "base64")
		}
		e.DataBase64 = true
	}
	return nil
}

// ParseExtension parses name=value (a string) or name:=json (a boolean, an integer or a JSON
// string; the JSON format's extension types, json-format §2.2).
func ParseExtension(arg string) (string, any, error) {
	i := strings.IndexByte(arg, '=')
	if i <= 0 || (i == 1 && arg[0] == ':') {
		return "", nil, fmt.Errorf("--ext %q: want name=value or name:=json", arg)
	}
	name, value := arg[:i], arg[i+1:]
	if bare := strings.TrimSuffix(name, ":"); isDataMember(bare) {
		// data and data_base64 are the members that carry the data in the JSON format
		// (json-format §3.1), not attributes.
		return "", nil, fmt.Errorf("--ext %s: %[1]s is the event's data, not an extension: use --data", bare)
	} else if attributeFlag(bare) != "" {
		// A context attribute set as an extension would stand twice in the event, once
		// checked and once not: the attribute has its own flag.
		return "", nil, fmt.Errorf("--ext %s: %[1]s is a context attribute, not an extension: use %s", bare, attributeFlag(bare))
	}
	if !strings.HasSuffix(name, ":") {
		return name, value, nil
	}
	name = strings.TrimSuffix(name, ":")
	raw := strings.TrimSpace(value)
	switch raw {
	case "true":
		return name, true, nil
	case "false":
		return name, false, nil
	}
	if strings.HasPrefix(raw, `"`) {
		var s string
		if err := json.Unmarshal([]byte(raw), &s); err != nil {
			return "", nil, fmt.Errorf("--ext %s: %s is not a valid JSON string", name, raw)
		}
		return name, s, nil
	}
	n, err := strconv.ParseInt(raw, 10, 64)
	if err != nil {
		return "", nil, fmt.Errorf("--ext %s:=%s: a typed extension is true, false, an integer or a JSON string", name, raw)
	}
	// An Integer is a signed 32-bit value (spec v1.0.2, Type System).
	if n < math.MinInt32 || n > math.MaxInt32 {
		return "", nil, fmt.Errorf("--ext %s: integer %d is outside the signed 32-bit range extensions allow", name, n)
	}
	return name, int32(n), nil
}

// checkValue checks a value by the syntax of its attribute before it is stored: sdk-go keeps
// URIs as parsed URLs, which would quietly re-escape a value that is not a URI-reference
// instead of letting the validator see it.
func checkValue(flag, attr, value string) error {
	var ok bool
	var want string
	switch attr {
	case "source", "schemaurl":
		ok, want = validate.IsURIReference(value), "a URI-reference (RFC 3986)"
	case "dataschema":
		ok, want = validate.IsAbsoluteURI(value), "an absolute URI (RFC 3986 §4.3)"
	case "time":
		ok, want = validate.IsTimestamp(value), "an RFC 3339 timestamp such as 2026-11-25T10:00:00Z"
	default:
		return nil
	}
	if !ok {
		return usagef("--%s %q is not %s", flag, value, want)
	}
	return nil
}

// ConvertSpecVersion moves an event's attributes to another spec version: dataschema and
// schemaurl are one attribute under two names (spec v1.0.2 dataschema, v0.3 schemaurl), and the data
// keeps being binary where it was (data_base64 in 1.0, datacontentencoding in 0.3: spec v0.3,
// Context Attributes).
func ConvertSpecVersion(e *event.Event, sv string) (event.Event, error) {
	out, err := ce.NewEvent(sv)
	if err != nil {
		return out, err
	}
	for _, a := range ce.Attributes(e) {
		name := a.Name
		switch {
		case name == "dataschema" && sv == ce.V03:
			name = "schemaurl"
		case name == "schemaurl" && sv == ce.V1:
			name = "dataschema"
		case name == "datacontentencoding":
			continue
		}
		if a.Extension {
			if err := ce.SetExtension(&out, name, e.Extensions()[name]); err != nil {
				return out, err
			}
			continue
		}
		if err := ce.SetAttribute(&out, name, a.Value); err != nil {
			return out, err
		}
	}
	out.DataEncoded = e.DataEncoded
	if ce.IsBase64(e) {
		if sv == ce.V03 {
			if err := ce.SetAttribute(&out, "datacontentencoding", "base64"); err != nil {
				return out, err
			}
		} else {
			out.DataBase64 = true
		}
	}
	return out, nil
}

// FlagFor names the flag that sets the attribute a JSON pointer points at, for messages about
// an event built from flags.
func FlagFor(pointer string) string {
	name := strings.TrimPrefix(pointer, "/")
	if i := strings.IndexByte(name, '/'); i >= 0 {
		name = name[:i]
	}
	switch name {
	case "id", "source", "type", "time", "subject", "dataschema", "datacontenttype", "specversion":
		return "--" + name
	case "schemaurl":
		return "--dataschema"
	case "data", "data_base64", "datacontentencoding":
		return "--data"
	case "":
		return "the event"
	}
	return "--ext " + name
}

// isDataMember reports whether name is a member of the JSON format that holds the data
// (json-format §3.1), not an attribute.
func isDataMember(name string) bool { return name == "data" || name == "data_base64" }

// SettingFlag is what to give on the command line instead of an attribute set some other way
// (a ce- header in binary mode, http binding §3.1.3): the flag of a context attribute
// ("--type"), --data for the data members, else "--ext name=…" for an extension.
func SettingFlag(name string) string {
	switch {
	case isDataMember(name):
		return "--data"
	case attributeFlag(name) != "":
		return attributeFlag(name)
	}
	return "--ext " + name + "=…"
}

// attributeFlag is the flag that sets a context attribute of either spec version (spec v1.0.2
// §3.1, v0.3 §2), "" for a name that is no context attribute.
func attributeFlag(name string) string {
	if ce.IsContextAttribute(ce.V1, name) || ce.IsContextAttribute(ce.V03, name) {
		return FlagFor(name)
	}
	return ""
}

// ContentTypeByExtension is the content type the extension of file names, as --data @file
// infers it, or "" when the extension names none.
func ContentTypeByExtension(file string) string { return byExtension(file) }
