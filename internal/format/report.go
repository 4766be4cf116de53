package format

import (
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/cectl/cectl/internal/validate"
)

// Validation reports of `cectl validate`, in five formats: text for a
// person, JSON lines for a program, and GitHub workflow annotations, JUnit
// XML and SARIF for CI systems. All of them stream except JUnit, whose
// counts come before its test cases.

// RuleRead names the finding for an input that cannot be read.
const RuleRead = "read"

// Report formats.
const (
	ReportText   = "text"
	ReportJSON   = "json"
	ReportGitHub = "github"
	ReportJUnit  = "junit"
	ReportSARIF  = "sarif"
)

// ReportFormats lists the formats NewReport knows.
func ReportFormats() []string {
	return []string{ReportText, ReportJSON, ReportGitHub, ReportJUnit, ReportSARIF}
}

// ReportOptions tune a report.
type ReportOptions struct {
	Styles  *Styles // colours of the text format; nil is no colour
	Quiet   bool    // text: only the summary
	Version string  // cectl's version, for SARIF
}

// ReportSummary counts what was validated.
type ReportSummary struct {
	Files      int // inputs opened, including the unreadable ones
	Unreadable int // inputs that could not be read (wholly or in part)
	Events     int
	Invalid    int // events with an error
	Errors     int // error findings, including those about a file as a whole
	Warnings   int
}

// OK reports whether everything was read and nothing had an error.
func (s ReportSummary) OK() bool { return s.Unreadable == 0 && s.Errors == 0 }

// Reporter renders the findings of a validation run.
type Reporter interface {
	// Event reports the result of one event of file, or (Index -1) the
	// findings about file as a whole. Valid events are reported too.
	Event(file string, r *validate.Result) error
	// Unreadable reports a file that could not be read.
	Unreadable(file string, err error) error
	// Close ends the report with the summary.
	Close(sum ReportSummary) error
}

// NewReport returns the Reporter for a format (see ReportFormats).
func NewReport(format string, w io.Writer, opts ReportOptions) (Reporter, error) {
	if opts.Styles == nil {
		opts.Styles = NewStyles(false)
	}
	switch format {
	case ReportText:
		return &textReport{w: w, o: opts}, nil
	case ReportJSON:
		return &jsonReport{w: w}, nil
	case ReportGitHub:
		return &githubReport{w: w}, nil
	case ReportJUnit:
		return &junitReport{w: w}, nil
	case ReportSARIF:
		return newSARIFReport(w, opts), nil
	}
	return nil, fmt.Errorf("unknown report format %q (want %s)", format, strings.Join(ReportFormats(), ", "))
}

// SummaryLine is the one-line summary shared by the text formats.
func SummaryLine(s ReportSummary) string {
	var b strings.Builder
	b.WriteString(Plural(s.Files, "file"))
	b.WriteString(", ")
	b.WriteString(Plural(s.Events, "event"))
	switch {
	case s.Errors == 0 && s.Warnings == 0 && s.Events == 0:
	case s.Errors == 0 && s.Warnings == 0:
		b.WriteString(": all valid")
	case s.Errors == 0:
		b.WriteString(": all valid, " + Plural(s.Warnings, "warning"))
	default:
		b.WriteString(": " + strconv.Itoa(s.Invalid) + " invalid (" + Plural(s.Errors, "error") + ", " + Plural(s.Warnings, "warning") + ")")
	}
	if s.Unreadable > 0 {
		b.WriteString("; " + Plural(s.Unreadable, "file") + " could not be read")
	}
	return b.String()
}

// Plural says n of a thing in English: "1 byte", "2 bytes".
func Plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return strconv.Itoa(n) + " " + word + "s"
}

// --- text ---

type textReport struct {
	w io.Writer
	o ReportOptions
}

func (r *textReport) Event(file string, res *validate.Result) error {
	if r.o.Quiet || len(res.Findings) == 0 {
		return nil
	}
	st := r.o.Styles
	var b strings.Builder
	for _, f := range res.Findings {
		b.WriteString(st.paint(st.Bold, Sanitize(file)+":"+strconv.Itoa(f.Line)+":"+strconv.Itoa(f.Column)+":"))
		b.WriteByte(' ')
		b.WriteString(r.level(f.Level))
		b.WriteByte(' ')
		b.WriteString(Sanitize(f.Message))
		b.WriteByte(' ')
		b.WriteString(st.paint(st.Dim, "["+f.Rule+"]"))
		b.WriteByte('\n')
	}
	_, err := io.WriteString(r.w, b.String())
	return err
}

func (r *textReport) level(l validate.Level) string {
	st := r.o.Styles
	if l == validate.Warning {
		return st.paint(st.Warn, "warning:")
	}
	return st.paint(st.Fail, "error:")
}

func (r *textReport) Unreadable(file string, err error) error {
	if r.o.Quiet {
		return nil
	}
	st := r.o.Styles
	_, werr := fmt.Fprintf(r.w, "%s %s %s %s\n", st.paint(st.Bold, Sanitize(file)+":"), r.level(validate.Error),
		Sanitize(err.Error()), st.paint(st.Dim, "["+RuleRead+"]"))
	return werr
}

func (r *textReport) Close(sum ReportSummary) error {
	st := r.o.Styles
	line := SummaryLine(sum)
	switch {
	case !sum.OK():
		line = st.paint(st.Fail, line)
	case sum.Warnings > 0:
		line = st.paint(st.Warn, line)
	default:
		line = st.paint(st.OK, line)
	}
	_, err := io.WriteString(r.w, line+"\n")
	return err
}

// --- JSON lines ---

// ReportFinding is one line of `validate -o json`. Field names are stable.
type ReportFinding struct {
	Kind    string `json:"kind"` // "finding"
	File    string `json:"file"`
	Line    int    `json:"line"`   // 1-based; 0 for an unreadable file
	Column  int    `json:"column"` // 1-based, in characters
	Offset  int    `json:"offset"` // byte offset into the file
	Event   int    `json:"event"`  // index of the event in the file; -1 for the file as a whole
	Pointer string `json:"pointer"`
	Rule    string `json:"rule"`
	Level   string `json:"level"`
	Message string `json:"message"`
}

// ReportTotals is the last line of `validate -o json`.
type ReportTotals struct {
	Kind       string `json:"kind"` // "summary"
	Files      int    `json:"files"`
	Unreadable int    `json:"unreadable"`
	Events     int    `json:"events"`
	Valid      int    `json:"valid"`
	Invalid    int    `json:"invalid"`
	Errors     int    `json:"errors"`
	Warnings   int    `json:"warnings"`
	OK         bool   `json:"ok"`
}

type jsonReport struct {
	w io.Writer
}

func (r *jsonReport) write(v any) error {
	b, err := marshalLine(v)
	if err != nil {
		return err
	}
	_, err = r.w.Write(append(b, '\n'))
	return err
}

func (r *jsonReport) Event(file string, res *validate.Result) error {
	for _, f := range res.Findings {
		if err := r.write(ReportFinding{"finding", file, f.Line, f.Column, f.Offset, res.Index, f.Pointer, f.Rule, f.Level.String(), f.Message}); err != nil {
			return err
		}
	}
	return nil
}

func (r *jsonReport) Unreadable(file string, err error) error {
	return r.write(ReportFinding{Kind: "finding", File: file, Event: -1, Rule: RuleRead, Level: "error", Message: err.Error()})
}

func (r *jsonReport) Close(s ReportSummary) error {
	return r.write(ReportTotals{"summary", s.Files, s.Unreadable, s.Events, s.Events - s.Invalid, s.Invalid, s.Errors, s.Warnings, s.OK()})
}

// --- GitHub workflow commands ---

type githubReport struct {
	w io.Writer
}

// ghData escapes the message of a workflow command; ghProp also a property
// value (GitHub Actions workflow commands, "Escaping").
func ghData(s string) string {
	return strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A").Replace(s)
}

func ghProp(s string) string {
	return strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A", ":", "%3A", ",", "%2C").Replace(s)
}

func (r *githubReport) Event(file string, res *validate.Result) error {
	var b strings.Builder
	for _, f := range res.Findings {
		cmd := "error"
		if f.Level == validate.Warning {
			cmd = "warning"
		}
		fmt.Fprintf(&b, "::%s file=%s,line=%d,col=%d,title=%s::%s\n", cmd, ghProp(Sanitize(file)), f.Line, f.Column,
			ghProp("cectl validate ["+f.Rule+"]"), ghData(Sanitize(f.Message)))
	}
	_, err := io.WriteString(r.w, b.String())
	return err
}

func (r *githubReport) Unreadable(file string, err error) error {
	_, werr := fmt.Fprintf(r.w, "::error file=%s,title=%s::%s\n", ghProp(Sanitize(file)), ghProp("cectl validate ["+RuleRead+"]"), ghData(Sanitize(err.Error())))
	return werr
}

func (r *githubReport) Close(sum ReportSummary) error {
	_, err := io.WriteString(r.w, "cectl validate: "+SummaryLine(sum)+"\n")
	return err
}
