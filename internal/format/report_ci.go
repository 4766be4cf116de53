package format

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/cectl/cectl/internal/validate"
)

// --- JUnit XML ---

// junitReport writes one <testsuite> per file and one <testcase> per event
// (plus one for findings about the file as a whole), the shape CI test
// report viewers understand. The document is written on Close, because the
// counts are attributes that come first.
type junitReport struct {
	w      io.Writer
	suites []junitSuite
}

type junitSuite struct {
	name            string
	tests, failures int
	errors          int
	cases           bytes.Buffer
}

func (r *junitReport) suite(file string) *junitSuite {
	if n := len(r.suites); n > 0 && r.suites[n-1].name == file {
		return &r.suites[n-1]
	}
	r.suites = append(r.suites, junitSuite{name: file})
	return &r.suites[len(r.suites)-1]
}

func xmlText(s string) string {
	var b strings.Builder
	_ = xml.EscapeText(&b, []byte(Sanitize(s)))
	return b.String()
}

func (r *junitReport) Event(file string, res *validate.Result) error {
	s := r.suite(file)
	s.tests++
	name := "event " + strconv.Itoa(res.Index+1) + " at line " + strconv.Itoa(res.Line)
	if p := res.Pointer(); p != "" {
		name += " (" + p + ")"
	}
	if id := res.ID(); id != "" {
		name += " id " + strconv.Quote(id)
	}
	if res.Index < 0 {
		name = "file structure"
	}
	fmt.Fprintf(&s.cases, "    <testcase classname=\"%s\" name=\"%s\">\n", xmlText(file), xmlText(name))
	var errs, warns []validate.Finding
	for _, f := range res.Findings {
		if f.Level == validate.Error {
			errs = append(errs, f)
		} else {
			warns = append(warns, f)
		}
	}
	if len(errs) > 0 {
		s.failures++
		fmt.Fprintf(&s.cases, "      <failure type=\"%s\" message=\"%s\">", xmlText(errs[0].Rule), xmlText(errs[0].Message))
		for _, f := range errs {
			s.cases.WriteString(xmlText(fmt.Sprintf("%s:%d:%d: %s [%s]", file, f.Line, f.Column, f.Message, f.Rule)) + "\n")
		}
		s.cases.WriteString("</failure>\n")
	}
	if len(warns) > 0 {
		s.cases.WriteString("      <system-out>")
		for _, f := range warns {
			s.cases.WriteString(xmlText(fmt.Sprintf("%s:%d:%d: warning: %s [%s]", file, f.Line, f.Column, f.Message, f.Rule)) + "\n")
		}
		s.cases.WriteString("</system-out>\n")
	}
	s.cases.WriteString("    </testcase>\n")
	return nil
}

func (r *junitReport) Unreadable(file string, err error) error {
	s := r.suite(file)
	s.tests++
	s.errors++
	fmt.Fprintf(&s.cases, "    <testcase classname=\"%s\" name=\"read\">\n      <error type=\"%s\" message=\"%s\"></error>\n    </testcase>\n",
		xmlText(file), RuleRead, xmlText(err.Error()))
	return nil
}

func (r *junitReport) Close(sum ReportSummary) error {
	var tests, failures, errors int
	for i := range r.suites {
		tests += r.suites[i].tests
		failures += r.suites[i].failures
		errors += r.suites[i].errors
	}
	var b bytes.Buffer
	b.WriteString(xml.Header)
	fmt.Fprintf(&b, "<testsuites name=\"cectl validate\" tests=\"%d\" failures=\"%d\" errors=\"%d\">\n", tests, failures, errors)
	for i := range r.suites {
		s := &r.suites[i]
		fmt.Fprintf(&b, "  <testsuite name=\"%s\" tests=\"%d\" failures=\"%d\" errors=\"%d\">\n", xmlText(s.name), s.tests, s.failures, s.errors)
		b.Write(s.cases.Bytes())
		b.WriteString("  </testsuite>\n")
	}
	b.WriteString("</testsuites>\n")
	_, err := r.w.Write(b.Bytes())
	return err
}

// --- SARIF 2.1.0 ---

// sarifReport streams a SARIF log (OASIS SARIF 2.1.0) with one run whose
// results are written as they come, for code-scanning upload.
type sarifReport struct {
	w       io.Writer
	o       ReportOptions
	started bool
	n       int
	index   map[string]int
	err     error
}

func newSARIFReport(w io.Writer, o ReportOptions) *sarifReport {
	return &sarifReport{w: w, o: o, index: map[string]int{}}
}

type sarifRule struct {
	ID               string            `json:"id"`
	ShortDescription sarifMessage      `json:"shortDescription"`
	FullDescription  sarifMessage      `json:"fullDescription"`
	DefaultConfig    map[string]string `json:"defaultConfiguration"`
}

type sarifMessage struct {
	Text string `json:"text"`
}

type sarifResult struct {
	RuleID    string          `json:"ruleId"`
	RuleIndex int             `json:"ruleIndex"`
	Level     string          `json:"level"`
	Message   sarifMessage    `json:"message"`
	Locations []sarifLocation `json:"locations"`
}

type sarifLocation struct {
	Physical sarifPhysical  `json:"physicalLocation"`
	Logical  []sarifLogical `json:"logicalLocations,omitempty"`
}

type sarifPhysical struct {
	Artifact struct {
		URI string `json:"uri"`
	} `json:"artifactLocation"`
	Region *sarifRegion `json:"region,omitempty"`
}

type sarifRegion struct {
	StartLine   int `json:"startLine"`
	StartColumn int `json:"startColumn"`
}

type sarifLogical struct {
	FullyQualifiedName string `json:"fullyQualifiedName"`
	Kind               string `json:"kind"`
}

func (r *sarifReport) start() error {
	if r.started {
		return r.err
	}
	r.started = true
	var rules []sarifRule
	for i, rule := range validate.Rules() {
		r.index[rule.Name] = i
		level := "error"
		if rule.Level == validate.Warning {
			level = "warning"
		}
		rules = append(rules, sarifRule{rule.Name, sarifMessage{rule.Summary}, sarifMessage{rule.Summary + " (" + rule.Spec + ")"}, map[string]string{"level": level}})
	}
	r.index[RuleRead] = len(rules)
	rules = append(rules, sarifRule{RuleRead, sarifMessage{"the input can be read"}, sarifMessage{"the input can be read"}, map[string]string{"level": "error"}})
	driver := map[string]any{
		"name":           "cectl",
		"informationUri": "https://github.com/cectl/cectl",
		"version":        r.o.Version,
		"rules":          rules,
	}
	d, err := json.Marshal(driver)
	if err != nil {
		return err
	}
	_, r.err = fmt.Fprintf(r.w, `{"$schema":"https://json.schemastore.org/sarif-2.1.0.json","version":"2.1.0","runs":[{"tool":{"driver":%s},"columnKind":"unicodeCodePoints","results":[`, d)
	return r.err
}

// sarifURI turns a file name into a relative URI reference (SARIF §3.4.3).
func sarifURI(file string) string {
	file = filepath.ToSlash(file)
	parts := strings.Split(file, "/")
	for i, p := range parts {
		parts[i] = url.PathEscape(p)
	}
	u := strings.Join(parts, "/")
	if i := strings.IndexByte(u, ':'); i >= 0 && !strings.Contains(u[:i], "/") {
		u = "./" + u // a colon in the first segment would read as a scheme
	}
	return u
}

func (r *sarifReport) result(res sarifResult) error {
	if err := r.start(); err != nil {
		return err
	}
	b, err := json.Marshal(res)
	if err != nil {
		return err
	}
	sep := "\n"
	if r.n > 0 {
		sep = ",\n"
	}
	r.n++
	_, r.err = io.WriteString(r.w, sep+string(b))
	return r.err
}

func (r *sarifReport) Event(file string, ev *validate.Result) error {
	if err := r.start(); err != nil {
		return err
	}
	for _, f := range ev.Findings {
		res := sarifResult{RuleID: f.Rule, RuleIndex: r.index[f.Rule], Level: f.Level.String(), Message: sarifMessage{f.Message}}
		loc := sarifLocation{}
		loc.Physical.Artifact.URI = sarifURI(file)
		loc.Physical.Region = &sarifRegion{f.Line, f.Column}
		if f.Pointer != "" {
			loc.Logical = []sarifLogical{{f.Pointer, "member"}}
		}
		res.Locations = []sarifLocation{loc}
		if err := r.result(res); err != nil {
			return err
		}
	}
	return nil
}

func (r *sarifReport) Unreadable(file string, err error) error {
	if err := r.start(); err != nil {
		return err
	}
	res := sarifResult{RuleID: RuleRead, RuleIndex: r.index[RuleRead], Level: "error", Message: sarifMessage{err.Error()}}
	loc := sarifLocation{}
	loc.Physical.Artifact.URI = sarifURI(file)
	res.Locations = []sarifLocation{loc}
	return r.result(res)
}

func (r *sarifReport) Close(ReportSummary) error {
	if err := r.start(); err != nil {
		return err
	}
	_, err := io.WriteString(r.w, "\n]}]}\n")
	return err
}
