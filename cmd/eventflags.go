package cmd

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"mime"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/cectl/cectl/internal/binding"
	"github.com/cectl/cectl/internal/ce"
	"github.com/cectl/cectl/internal/validate"
	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/google/uuid"
	"github.com/spf13/pflag"
)

// eventFlags are the event attribute flags that send and request share.
type eventFlags struct {
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

	flags *pflag.FlagSet
	// data is --data once read: a file or stdin is read only once however many events use it.
	data *flagData
}

type flagData struct {
	bytes []byte
	file  string
}

func (ef *eventFlags) register(fs *pflag.FlagSet) {
	ef.flags = fs
	fs.StringVar(&ef.Type, "type", "", "event type, e.g. com.example.user.created (required unless --from)")
	fs.StringVar(&ef.Source, "source", "cectl", "event source, a URI-reference")
	fs.StringVar(&ef.ID, "id", "", "event id (default a fresh UUID)")
	fs.StringVar(&ef.Time, "time", "", "event time, RFC 3339 (default now; --time '' leaves it out)")
	fs.StringVar(&ef.Subject, "subject", "", "event subject")
	fs.StringVar(&ef.DataSchema, "dataschema", "", "URI of the schema the data adheres to")
	fs.StringVar(&ef.DataContentType, "datacontenttype", "", "content type of the data (default inferred from the data)")
	fs.StringVar(&ef.SpecVersion, "specversion", "1.0", "CloudEvents spec version: 1.0 or 0.3")
	fs.StringArrayVarP(&ef.Extensions, "ext", "e", nil, "extension attribute `name=value`, or name:=json for a typed value (repeatable)")
	fs.StringVarP(&ef.Data, "data", "d", "", "event data: literal text, @file, or - / @- for stdin")
}

func (ef *eventFlags) changed(name string) bool { return ef.flags.Changed(name) }

// dataSource reads the --data value: @file, - or @- for stdin, otherwise the literal text.
// It returns the bytes and the file name when it came from a file.
func readData(arg string, stdin io.Reader) ([]byte, string, error) {
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
			return nil, "", &FlagError{Err: fmt.Errorf("--data: %w", err)}
		}
		return b, name, nil
	}
	return []byte(arg), "", nil
}

// inferContentType guesses the content type of data that came without one: by the file's
// extension when it has a known one, else JSON if it parses as JSON, text/plain if it is
// UTF-8 text, application/octet-stream otherwise.
func inferContentType(data []byte, file string) string {
	if ext := strings.ToLower(filepath.Ext(file)); ext != "" {
		switch ext {
		case ".json":
			return "application/json"
		case ".txt", ".text", ".log":
			return "text/plain"
		}
		if t := mime.TypeByExtension(ext); t != "" {
			return t
		}
	}
	switch {
	case json.Valid(data):
		return "application/json"
	case utf8.Valid(data) && !bytes.ContainsRune(data, 0):
		return "text/plain"
	}
	return "application/octet-stream"
}

// setData stores data with its content type: JSON stays JSON text, text stays text, anything
// else is flagged binary so that the structured and batched modes carry it as data_base64.
func setData(e *event.Event, data []byte, contentType string) error {
	if err := ce.SetAttribute(e, "datacontenttype", contentType); err != nil {
		return err
	}
	e.DataEncoded = data
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

// parseExtension parses -e name=value (a string) or name:=json (a boolean, an integer or a
// JSON string; the JSON format's extension types, json-format §2.2).
func parseExtension(arg string) (string, any, error) {
	i := strings.IndexByte(arg, '=')
	if i <= 0 || (i == 1 && arg[0] == ':') {
		return "", nil, fmt.Errorf("--ext %q: want name=value or name:=json", arg)
	}
	name, value := arg[:i], arg[i+1:]
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
	if n < math.MinInt32 || n > math.MaxInt32 {
		return "", nil, fmt.Errorf("--ext %s: integer %d is outside the signed 32-bit range extensions allow", name, n)
	}
	return name, int32(n), nil
}

// build makes an event from the flags alone.
func (ef *eventFlags) build(stdin io.Reader, now time.Time) (*event.Event, error) {
	if ef.Type == "" {
		return nil, flagErrorf("--type is required (or give events with --from)")
	}
	e, err := ce.NewEvent(ef.SpecVersion)
	if err != nil {
		return nil, &FlagError{Err: fmt.Errorf("--specversion: %w", err)}
	}
	id := ef.ID
	if !ef.changed("id") {
		id = uuid.NewString()
	}
	if err := ce.SetAttribute(&e, "id", id); err != nil {
		return nil, &FlagError{Err: fmt.Errorf("--id: %w", err)}
	}
	if err := checkFlagValue("source", "source", ef.Source); err != nil {
		return nil, err
	}
	if err := ce.SetAttribute(&e, "source", ef.Source); err != nil {
		return nil, &FlagError{Err: fmt.Errorf("--source: %w", err)}
	}
	if err := ce.SetAttribute(&e, "type", ef.Type); err != nil {
		return nil, &FlagError{Err: fmt.Errorf("--type: %w", err)}
	}
	if !ef.changed("time") {
		if err := ce.SetAttribute(&e, "time", ce.FormatTime(now.UTC())); err != nil {
			return nil, err
		}
	}
	if err := ef.apply(&e, stdin); err != nil {
		return nil, err
	}
	return &e, nil
}

// apply sets the attributes given on the command line, overriding what e has. Only flags the
// user typed count, except for data, whose content type is inferred.
func (ef *eventFlags) apply(e *event.Event, stdin io.Reader) error {
	set := func(flag, attr, value string) error {
		if !ef.changed(flag) {
			return nil
		}
		if value == "" && (attr == "time" || attr == "subject" || attr == "dataschema" || attr == "datacontenttype") {
			ce.DeleteAttribute(e, attr)
			return nil
		}
		if err := checkFlagValue(flag, attr, value); err != nil {
			return err
		}
		if err := ce.SetAttribute(e, attr, value); err != nil {
			return &FlagError{Err: fmt.Errorf("--%s: %w", flag, err)}
		}
		return nil
	}
	if ef.changed("specversion") && e.SpecVersion() != ef.SpecVersion {
		converted, err := convertSpecVersion(e, ef.SpecVersion)
		if err != nil {
			return &FlagError{Err: fmt.Errorf("--specversion: %w", err)}
		}
		*e = converted
	}
	schemaAttr := "dataschema"
	if e.SpecVersion() == ce.V03 {
		schemaAttr = "schemaurl"
	}
	for _, s := range []struct{ flag, attr, value string }{
		{"id", "id", ef.ID},
		{"source", "source", ef.Source},
		{"type", "type", ef.Type},
		{"time", "time", ef.Time},
		{"subject", "subject", ef.Subject},
		{"dataschema", schemaAttr, ef.DataSchema},
	} {
		if err := set(s.flag, s.attr, s.value); err != nil {
			return err
		}
	}
	for _, arg := range ef.Extensions {
		name, value, err := parseExtension(arg)
		if err != nil {
			return &FlagError{Err: err}
		}
		if err := ce.SetExtension(e, name, value); err != nil {
			return &FlagError{Err: fmt.Errorf("--ext: %w", err)}
		}
	}
	if ef.changed("data") {
		if ef.data == nil {
			data, file, err := readData(ef.Data, stdin)
			if err != nil {
				return err
			}
			ef.data = &flagData{bytes: data, file: file}
		}
		data, file := ef.data.bytes, ef.data.file
		ct := ef.DataContentType
		if ct == "" {
			ct = inferContentType(data, file)
		}
		if err := setData(e, data, ct); err != nil {
			return &FlagError{Err: fmt.Errorf("--data: %w", err)}
		}
	} else if ef.changed("datacontenttype") {
		if err := set("datacontenttype", "datacontenttype", ef.DataContentType); err != nil {
			return err
		}
	}
	return nil
}

// checkFlagValue checks a flag's value by the syntax of its attribute before it is stored:
// sdk-go keeps URIs as parsed URLs, which would quietly re-escape a value that is not a
// URI-reference instead of letting the validator see it.
func checkFlagValue(flag, attr, value string) error {
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
		return flagErrorf("--%s %q is not %s", flag, value, want)
	}
	return nil
}

// convertSpecVersion moves an event's attributes to another spec version.
func convertSpecVersion(e *event.Event, sv string) (event.Event, error) {
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
			if err := ce.SetExtension(&out, name, extensionValue(e, name)); err != nil {
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

func extensionValue(e *event.Event, name string) any {
	return e.Extensions()[name]
}

// flagFor names the flag that sets the attribute a JSON pointer points at.
func flagFor(pointer string) string {
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

// checkEvent checks an event before it is sent with the check listen applies to what arrives
// (binding.Check). Errors come back; warnings are returned for the caller to show.
func checkEvent(e *event.Event) (errs, warnings []validate.Finding) {
	return binding.Check(e)
}
