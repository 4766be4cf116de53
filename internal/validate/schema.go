package validate

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sort"
	"strconv"
	"strings"

	"github.com/cectl/cectl/internal/jsonschema"
	"golang.org/x/text/language"
	"golang.org/x/text/message"
)

// Schemas checks the data of events against JSON Schemas: one for all
// events, and one per dataschema URI (spec v1.0.2 dataschema: the schema
// that data adheres to). It implements DataChecker.
type Schemas struct {
	all     *jsonschema.Schema
	byURI   map[string]*jsonschema.Schema
	printer *message.Printer
}

// SchemaError says which schema could not be loaded: the one for every event (URI is "") or
// the one mapped from the dataschema URI.
type SchemaError struct {
	File string
	URI  string
	Err  error
}

func (e *SchemaError) Error() string {
	if e.URI != "" {
		return fmt.Sprintf("schema %s for %s: %v", e.File, e.URI, e.Err)
	}
	return fmt.Sprintf("schema %s: %v", e.File, e.Err)
}

func (e *SchemaError) Unwrap() error { return e.Err }

// compileFile compiles the schema in file; a file that cannot be opened is said so plainly,
// not as the compiler's "failing loading file:///…".
func compileFile(c *jsonschema.Compiler, file, uri string) (*jsonschema.Schema, error) {
	if !strings.Contains(file, "://") {
		if _, err := os.Stat(file); err != nil {
			var pe *fs.PathError
			if errors.As(err, &pe) {
				err = pe.Err
			}
			return nil, &SchemaError{File: file, URI: uri, Err: fmt.Errorf("cannot read the file: %w", err)}
		}
	}
	sch, err := c.Compile(file)
	if err != nil {
		return nil, &SchemaError{File: file, URI: uri, Err: err}
	}
	return sch, nil
}

// LoadSchemas compiles the schema in file (if not "") for every event's
// data, and the schemas mapped from dataschema URIs to files. An event whose
// dataschema is mapped uses that schema, any other uses the one in file.
// The "format" keyword is asserted, not only annotated.
func LoadSchemas(file string, mapping map[string]string) (*Schemas, error) {
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	s := &Schemas{byURI: map[string]*jsonschema.Schema{}, printer: message.NewPrinter(language.English)}
	var err error
	if file != "" {
		if s.all, err = compileFile(c, file, ""); err != nil {
			return nil, err
		}
	}
	uris := make([]string, 0, len(mapping))
	for uri := range mapping {
		uris = append(uris, uri)
	}
	sort.Strings(uris)
	for _, uri := range uris {
		sch, err := compileFile(c, mapping[uri], uri)
		if err != nil {
			return nil, err
		}
		s.byURI[uri] = sch
	}
	return s, nil
}

// CheckData validates data (a JSON value) against the schema for dataschema.
func (s *Schemas) CheckData(data []byte, dataschema string, report func(offset int, pointer, message string)) {
	sch := s.all
	if m, ok := s.byURI[dataschema]; ok && dataschema != "" {
		sch = m
	}
	if sch == nil {
		return
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		return // the JSON syntax has been reported already
	}
	var ve *jsonschema.ValidationError
	if err := sch.Validate(inst); !errors.As(err, &ve) {
		return
	}
	type leaf struct {
		off int
		ptr string
		msg string
	}
	var leaves []leaf
	var walk func(e *jsonschema.ValidationError)
	walk = func(e *jsonschema.ValidationError) {
		if len(e.Causes) == 0 {
			ptr := pointerOf(e.InstanceLocation)
			where := "data"
			if ptr != "" {
				where = "data" + ptr
			}
			msg := where + " does not match the schema: " + e.ErrorKind.LocalizedString(s.printer)
			leaves = append(leaves, leaf{locate(data, e.InstanceLocation), ptr, msg})
			return
		}
		for _, c := range e.Causes {
			walk(c)
		}
	}
	walk(ve)
	sort.SliceStable(leaves, func(i, j int) bool {
		if leaves[i].off != leaves[j].off {
			return leaves[i].off < leaves[j].off
		}
		return leaves[i].msg < leaves[j].msg
	})
	for _, l := range leaves {
		report(l.off, l.ptr, l.msg)
	}
}

func pointerOf(tokens []string) string {
	var b strings.Builder
	for _, t := range tokens {
		b.WriteByte('/')
		b.WriteString(escapePointer([]byte(t)))
	}
	return b.String()
}

// locate returns the offset of the value at the path tokens inside the
// syntactically valid JSON text data, or 0 when it is not found.
func locate(data []byte, tokens []string) int {
	c := checker{doc: data}
	i := c.ws(0)
	for _, tok := range tokens {
		if i >= len(data) {
			return 0
		}
		switch data[i] {
		case '{':
			i = c.ws(i + 1)
			found := false
			for !found && i < len(data) && data[i] == '"' {
				end, esc, ok := c.str(i)
				if !ok {
					return 0
				}
				name := data[i+1 : end-1]
				if esc {
					name = appendUnquoted(nil, name)
				}
				found = string(name) == tok
				i = c.ws(c.ws(end) + 1) // past ':'
				if found {
					break
				}
				if i, ok = c.value(i); !ok {
					return 0
				}
				if i = c.ws(i); i < len(data) && data[i] == ',' {
					i = c.ws(i + 1)
				}
			}
			if !found {
				return 0
			}
		case '[':
			n, err := strconv.Atoi(tok)
			if err != nil {
				return 0
			}
			i = c.ws(i + 1)
			for k := 0; k < n; k++ {
				var ok bool
				if i, ok = c.value(i); !ok {
					return 0
				}
				if i = c.ws(i); i >= len(data) || data[i] != ',' {
					return 0
				}
				i = c.ws(i + 1)
			}
		default:
			return 0
		}
	}
	return i
}
