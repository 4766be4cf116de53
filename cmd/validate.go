package cmd

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"

	"github.com/cectl/cectl/internal/format"
	"github.com/cectl/cectl/internal/validate"
	"github.com/spf13/cobra"
)

// ValidateOptions are the options of cectl validate.
type ValidateOptions struct {
	F            *Factory
	Args         []string
	Strict       bool
	SpecVersions []string
	Schema       string
	SchemaMap    []string
	Format       string
	Quiet        bool
	AllowEmpty   bool
	Enable       []string
	Ignore       []string
	ListRules    bool
}

// NewCmdValidate builds `cectl validate`. runF, when not nil, replaces the run for tests of
// flag parsing.
func NewCmdValidate(f *Factory, runF func(context.Context, *ValidateOptions) error) *cobra.Command {
	opts := &ValidateOptions{F: f}
	cmd := &cobra.Command{
		Use:   "validate <file|dir|glob|->... [flags]",
		Short: "Check CloudEvents JSON against every rule of the specification",
		Long: `Check event files against every rule of the CloudEvents 1.0.2 (and 0.3) JSON format:
structure, duplicate members, UTF-8, required attributes and their types, URI, timestamp and
media type syntax, string characters, extension names and types, data and data_base64, and
batch specversion agreement. Each finding names its rule and points at file:line:column
(columns count characters) and at the member's JSON pointer.

Arguments are files, directories (searched recursively for *.json, *.jsonl and *.ndjson,
skipping hidden directories), glob patterns (expanded by cectl, ** matches any depth), or -
for stdin. Each input may hold one event, a JSON array of events (a batch) or JSON lines;
the layout is detected, and inputs of any size are streamed. An input that is not JSON text
(a binary file or UTF-16: it starts with a control byte or a byte that is not UTF-8, or its
first line holds a NUL byte) gets one json-syntax finding at that byte and nothing else.

Findings are errors (a MUST of the spec) or warnings (a SHOULD); --strict makes warnings
errors. --schema checks the data of every event whose data is JSON against a JSON Schema;
--schema-map uses the schema mapped to the event's dataschema instead.

Lint rules add warnings for the naming and versioning guidance: type-reverse-dns (type not
prefixed with a reverse-DNS name), duplicate-id (source and id of an earlier event of the
same input), datacontenttype-data (datacontenttype that does not match the data), and, off
by default, type-version and dataschema-version (an input mixing versioned and unversioned
forms). --ignore RULE drops any rule, --enable RULE turns one on, --rules lists them all
with level and spec reference.

Output formats: text (default; -q prints only the summary), json (-o json or --format json:
one object per finding, then a summary object), github (workflow annotations), junit (one
test case per event) and sarif (for code-scanning upload).

A directory without event files or a glob pattern that matches nothing is an error naming
the argument, as an unreadable input is: there is nothing to check. --allow-empty accepts
both (for CI jobs whose event directories may be empty).

Exit codes:
  0    every event is valid (warnings allowed unless --strict)
  1    an event is invalid, an input cannot be read, or a directory or pattern holds no
       event files (unless --allow-empty)
  2    usage error: no arguments, unknown flag, bad flag value, or a schema file that is
       missing or does not compile
  130  interrupted`,
		Example: `  $ cectl validate event.json
  $ cectl validate events/ 'more/**/*.jsonl'
  $ cectl listen -o json | cectl validate -
  $ cectl validate --strict --specversion 1.0 events/
  $ cectl validate --schema order.schema.json orders.jsonl
  $ cectl validate --schema-map https://example.com/order.json=schemas/order.json events/
  $ cectl validate --format github events/
  $ cectl validate --enable type-version --ignore type-reverse-dns events/
  $ cectl validate --rules
  $ cectl validate --format sarif events/ > cectl.sarif`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if opts.ListRules {
				if len(args) > 0 {
					return flagErrorf("--rules takes no arguments")
				}
				if runF != nil {
					return runF(cmd.Context(), opts)
				}
				return listRules(opts)
			}
			if len(args) == 0 {
				return flagErrorf("validate needs at least one file, directory, glob pattern or - for stdin")
			}
			opts.Args = args
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return validateRun(cmd.Context(), opts)
		},
	}
	fl := cmd.Flags()
	fl.BoolVar(&opts.Strict, "strict", false, "treat warnings (SHOULD rules) as errors")
	fl.StringSliceVar(&opts.SpecVersions, "specversion", nil, "accept only these specversions: 1.0, 0.3 (repeatable; default both)")
	fl.StringVar(&opts.Schema, "schema", "", "check each event's JSON data against the JSON Schema in `FILE`")
	fl.StringArrayVar(&opts.SchemaMap, "schema-map", nil, "check the data of events whose dataschema is `URI=FILE`'s URI against FILE (repeatable)")
	fl.StringVar(&opts.Format, "format", "", "report format: text, json, github, junit or sarif (default: from -o)")
	enumValues(fl, "format", "text", "json", "github", "junit", "sarif")
	enumValues(fl, "specversion", "1.0", "0.3")
	fl.BoolVarP(&opts.Quiet, "quiet", "q", false, "print only the summary (text and json)")
	fl.BoolVar(&opts.AllowEmpty, "allow-empty", false, "accept a directory without event files and a pattern that matches nothing")
	fl.StringSliceVar(&opts.Enable, "enable", nil, "turn on a `RULE` that is off by default, such as type-version (repeatable)")
	fl.StringSliceVar(&opts.Ignore, "ignore", nil, "do not report `RULE`, such as type-reverse-dns (repeatable)")
	fl.BoolVar(&opts.ListRules, "rules", false, "list every rule with its level, whether it is on, and its spec reference, then exit")
	return cmd
}

// input is one thing to validate: a file, or stdin.
type input struct {
	name  string // as shown in reports
	path  string // "" for stdin
	stdin bool
	err   error // why it cannot be read, found while expanding the arguments
}

// prepare checks the flags and returns the report format and the validation options.
func (opts *ValidateOptions) prepare() (string, validate.Options, error) {
	vo := validate.Options{Strict: opts.Strict}
	rules, err := ruleSet(opts.Enable, opts.Ignore)
	if err != nil {
		return "", vo, err
	}
	vo.Rules = rules
	for _, v := range opts.SpecVersions {
		if v != "1.0" && v != "0.3" {
			return "", vo, flagErrorf("invalid --specversion %q: want 1.0 or 0.3", v)
		}
		vo.SpecVersions = append(vo.SpecVersions, v)
	}
	kind := strings.ToLower(opts.Format)
	switch {
	case kind == "":
		kind = opts.F.Output
	case opts.F.JSON() && kind != format.ReportJSON:
		return "", vo, flagErrorf("--format %s conflicts with -o json", kind)
	}
	if !slices.Contains(format.ReportFormats(), kind) {
		return "", vo, flagErrorf("invalid --format %q: want %s", opts.Format, strings.Join(format.ReportFormats(), ", "))
	}
	mapping := map[string]string{}
	for _, m := range opts.SchemaMap {
		i := strings.LastIndexByte(m, '=')
		if i <= 0 || i == len(m)-1 {
			return "", vo, flagErrorf("invalid --schema-map %q: want URI=FILE", m)
		}
		mapping[m[:i]] = m[i+1:]
	}
	if opts.Schema != "" || len(mapping) > 0 {
		schemas, err := validate.LoadSchemas(opts.Schema, mapping)
		if err != nil {
			// Name the flag and the file as the user typed them.
			var se *validate.SchemaError
			switch {
			case errors.As(err, &se) && se.URI != "":
				err = fmt.Errorf("--schema-map %s=%s: %w", se.URI, se.File, se.Err)
			case errors.As(err, &se):
				err = fmt.Errorf("--schema %s: %w", se.File, se.Err)
			default:
				err = fmt.Errorf("--schema: %w", err)
			}
			return "", vo, &FlagError{Err: err}
		}
		vo.Data = schemas
	}
	stdin := 0
	for _, a := range opts.Args {
		if a == "-" {
			stdin++
		}
	}
	if stdin > 1 {
		return "", vo, flagErrorf("- (stdin) can be given only once")
	}
	return kind, vo, nil
}

func validateRun(ctx context.Context, opts *ValidateOptions) error {
	kind, vo, err := opts.prepare()
	if err != nil {
		return err
	}
	inputs, err := expandInputs(opts.Args, opts.AllowEmpty)
	if err != nil {
		return err
	}
	st := opts.F.Styles()
	quiet := opts.Quiet
	if kind != format.ReportText {
		st = format.NewStyles(false)
	}
	rep, err := format.NewReport(kind, opts.F.IO.Out, format.ReportOptions{Styles: st, Quiet: quiet, Version: opts.F.Build.version()})
	if err != nil {
		return &FlagError{Err: err}
	}
	if quiet && kind == format.ReportJSON {
		rep = summaryOnly{rep}
	}

	var sum format.ReportSummary
	defer tuneProcess(opts.F.Getenv, processTuning{memoryLimit: validateMemoryLimit})()
	// Large JSON-lines inputs are validated on every core, with findings in input order.
	s := validate.NewPipeline(vo, runtime.GOMAXPROCS(0))
	werr := func() error {
		for _, in := range inputs {
			if ctx.Err() != nil {
				return context.Cause(ctx)
			}
			sum.Files++
			if in.err != nil {
				sum.Unreadable++
				if err := rep.Unreadable(in.name, in.err); err != nil {
					return err
				}
				continue
			}
			if err := validateInput(ctx, s, in, opts.F, rep, &sum); err != nil {
				return err
			}
		}
		return rep.Close(sum)
	}()
	switch {
	case errors.Is(werr, syscall.EPIPE):
		// The reader of stdout went away (| head): end quietly.
	case werr != nil:
		return werr
	}
	if !sum.OK() {
		return &SilentError{Code: ExitFailure}
	}
	return nil
}

// validateMemoryLimit keeps validate's heap in check on inputs of millions of events (see
// processTuning.memoryLimit): the chunks in flight and the fingerprints of source+id, about
// 11 bytes per event, fit under it up to about three million events.
const validateMemoryLimit = 48 << 20

// validateInput streams one input through the scanner into the report.
func validateInput(ctx context.Context, s *validate.Pipeline, in input, f *Factory, rep format.Reporter, sum *format.ReportSummary) error {
	r := f.IO.In
	if !in.stdin {
		// /dev/stdin is read as - is, a terminal or a FIFO so that Ctrl-C ends the read.
		file, done, err := f.openInput(ctx, in.path)
		if err != nil {
			if ctx.Err() != nil {
				return context.Cause(ctx) // interrupted while a FIFO waited for its writer
			}
			sum.Unreadable++
			return rep.Unreadable(in.name, fmt.Errorf("cannot read: %w", errors.Unwrap(err)))
		}
		defer done()
		r = file
	}
	if err := s.Run(ctx, r, func(res *validate.Result) error { return rep.Event(in.name, res) }); err != nil {
		return err
	}
	st := s.Stats()
	sum.Events += st.Events
	sum.Invalid += st.Invalid
	sum.Errors += st.Errors
	sum.Warnings += st.Warnings
	if err := s.Err(); err != nil {
		if ctx.Err() != nil {
			// Interrupted while reading (Ctrl-C at a terminal): not an unreadable input.
			return context.Cause(ctx)
		}
		sum.Unreadable++
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return rep.Unreadable(in.name, fmt.Errorf("cannot read: %w", err))
	}
	return nil
}

// summaryOnly is the JSON report of -q: the summary object alone.
type summaryOnly struct{ format.Reporter }

func (summaryOnly) Event(string, *validate.Result) error { return nil }
func (summaryOnly) Unreadable(string, error) error       { return nil }

// expandInputs turns the arguments into inputs: - is stdin, a directory gives its event
// files, a name that does not exist but holds glob characters is a pattern. Inputs that
// cannot be found become unreadable inputs, reported with the results; so do a directory
// without event files and a pattern that matches none, unless allowEmpty: either way there
// is nothing to check. A malformed pattern is a usage error.
func expandInputs(args []string, allowEmpty bool) ([]input, error) {
	var out []input
	seen := map[string]bool{}
	found := 0 // files the current argument gave, duplicates included
	add := func(name string) {
		found++
		if !seen[name] {
			seen[name] = true
			out = append(out, input{name: name, path: name})
		}
	}
	empty := func(name, why string) {
		if !allowEmpty {
			out = append(out, input{name: name, err: errors.New(why + " (--allow-empty accepts this)")})
		}
	}
	for _, a := range args {
		if a == "-" {
			out = append(out, input{name: "<stdin>", stdin: true})
			continue
		}
		found = 0
		info, err := os.Stat(a)
		switch {
		case err == nil && info.IsDir():
			files, err := eventFiles(a)
			if err != nil {
				out = append(out, input{name: a, err: fmt.Errorf("cannot read directory: %w", unwrapPath(err))})
				continue
			}
			for _, f := range files {
				add(f)
			}
			if found == 0 {
				empty(a, "no *.json, *.jsonl or *.ndjson files in the directory")
			}
		case err == nil:
			add(a)
		case strings.ContainsAny(a, "*?["):
			matches, err := glob(a)
			if err != nil {
				return nil, flagErrorf("invalid pattern %q: %v", a, err)
			}
			for _, m := range matches {
				if info, err := os.Stat(m); err == nil && info.IsDir() {
					files, _ := eventFiles(m)
					for _, f := range files {
						add(f)
					}
					continue
				}
				add(m)
			}
			if found == 0 {
				empty(a, "no files match the pattern")
			}
		default:
			out = append(out, input{name: a, err: fmt.Errorf("cannot read: %w", unwrapPath(err))})
		}
	}
	return out, nil
}

func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// isEventFile says which files a directory search picks up.
func isEventFile(name string) bool {
	switch strings.ToLower(filepath.Ext(name)) {
	case ".json", ".jsonl", ".ndjson":
		return true
	}
	return false
}

// eventFiles lists the event files under dir in lexical order, skipping hidden directories.
func eventFiles(dir string) ([]string, error) {
	var files []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if p != dir && strings.HasPrefix(d.Name(), ".") {
				return filepath.SkipDir
			}
			return nil
		}
		if isEventFile(d.Name()) {
			files = append(files, p)
		}
		return nil
	})
	return files, err
}

// glob expands a pattern like filepath.Glob, and also lets a ** segment match any number of
// directories (including none).
func glob(pattern string) ([]string, error) {
	if _, err := filepath.Match(pattern, ""); err != nil {
		return nil, err
	}
	if !strings.Contains(pattern, "**") {
		return filepath.Glob(pattern)
	}
	pattern = filepath.ToSlash(pattern)
	segs := strings.Split(pattern, "/")
	// Walk from the longest prefix without glob characters.
	k := 0
	for k < len(segs) && !strings.ContainsAny(segs[k], "*?[") {
		k++
	}
	root := strings.Join(segs[:k], "/")
	switch {
	case root == "" && strings.HasPrefix(pattern, "/"):
		root = "/"
	case root == "":
		root = "."
	}
	rest := segs[k:]
	var matches []string
	err := filepath.WalkDir(filepath.FromSlash(root), func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if p == filepath.FromSlash(root) {
				return fs.SkipAll // like filepath.Glob: a missing root matches nothing
			}
			return nil
		}
		rel, _ := filepath.Rel(filepath.FromSlash(root), p)
		if rel == "." {
			return nil
		}
		if d.IsDir() && strings.HasPrefix(d.Name(), ".") && !strings.HasPrefix(rest[0], ".") {
			return filepath.SkipDir
		}
		if matchSegments(rest, strings.Split(filepath.ToSlash(rel), "/")) {
			matches = append(matches, p)
		}
		return nil
	})
	return matches, err
}

// matchSegments matches path segments against pattern segments, ** matching zero or more.
func matchSegments(pat, name []string) bool {
	if len(pat) == 0 {
		return len(name) == 0
	}
	if pat[0] == "**" {
		for i := 0; i <= len(name); i++ {
			if matchSegments(pat[1:], name[i:]) {
				return true
			}
		}
		return false
	}
	if len(name) == 0 {
		return false
	}
	if ok, _ := path.Match(pat[0], name[0]); !ok {
		return false
	}
	return matchSegments(pat[1:], name[1:])
}
