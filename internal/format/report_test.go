package format

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"errors"
	"strings"
	"testing"

	"github.com/cectl/cectl/internal/validate"
)

// reportInputs are real validation runs over small files: a valid event, a
// batch with errors and a warning, JSON lines with a broken line, a file
// with a bad structure, and a file that cannot be read.
var reportInputs = []struct {
	name, content string
	readErr       error
}{
	{"events/ok.json", `{"specversion":"1.0","id":"1","source":"/s","type":"com.example.ok"}`, nil},
	{"events/batch.json", `[
  {"specversion":"1.0","id":"a-1","source":"/s","type":"t","time":"2018-04-05T17:31Z"},
  {"specversion":"1.0","id":"a-2","source":"/s","type":"t","MyExt":"x","datacontenttype":"text/plain","data":{"k":1}},
  {"specversion":"0.3","id":"a-3","source":"/s","type":"t"}
]`, nil},
	{"events/stream.jsonl", `{"specversion":"1.0","id":"l-1","source":"/s","type":"t"}
{"specversion":"1.0","id":"l-2","source":"/s","type":"t","abcdefghijklmnopqrstuvwxyz":1}
{"specversion":"1.0","id":"l-3","source":"a b","type":"t","data":"x","data_base64":"eA=="}
{"specversion":"1.0","id":
`, nil},
	{"weird name, with: \x1b[31mcolour.json", `[{"specversion":"1.0","id":"x","source":"/s","type":"t"}] ]`, nil},
	{"events/missing.json", "", errors.New("open events/missing.json: no such file or directory")},
}

func renderReport(t *testing.T, format string, opts ReportOptions) []byte {
	t.Helper()
	var out bytes.Buffer
	r, err := NewReport(format, &out, opts)
	if err != nil {
		t.Fatal(err)
	}
	var sum ReportSummary
	for _, in := range reportInputs {
		sum.Files++
		if in.readErr != nil {
			sum.Unreadable++
			if err := r.Unreadable(in.name, in.readErr); err != nil {
				t.Fatal(err)
			}
			continue
		}
		s := validate.NewScanner(strings.NewReader(in.content), validate.Options{})
		for s.Scan() {
			if err := r.Event(in.name, s.Result()); err != nil {
				t.Fatal(err)
			}
		}
		st := s.Stats()
		sum.Events += st.Events
		sum.Invalid += st.Invalid
		sum.Errors += st.Errors
		sum.Warnings += st.Warnings
	}
	if err := r.Close(sum); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

func TestReportGolden(t *testing.T) {
	tests := []struct {
		file   string
		format string
		opts   ReportOptions
	}{
		{"report/text.txt", ReportText, ReportOptions{}},
		{"report/text-color.txt", ReportText, ReportOptions{Styles: NewStyles(true)}},
		{"report/quiet.txt", ReportText, ReportOptions{Quiet: true}},
		{"report/json.jsonl", ReportJSON, ReportOptions{}},
		{"report/github.txt", ReportGitHub, ReportOptions{}},
		{"report/junit.xml", ReportJUnit, ReportOptions{}},
		{"report/sarif.json", ReportSARIF, ReportOptions{Version: "v1.2.3"}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			golden(t, tt.file, renderReport(t, tt.format, tt.opts))
		})
	}
}

func TestReportJSONLines(t *testing.T) {
	out := renderReport(t, ReportJSON, ReportOptions{})
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	var findings int
	for i, line := range lines {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("line %d is not JSON: %v", i+1, err)
		}
		if i == len(lines)-1 {
			if m["kind"] != "summary" || m["ok"] != false || m["files"] != 5.0 || m["unreadable"] != 1.0 {
				t.Errorf("summary %v", m)
			}
			continue
		}
		findings++
		for _, k := range []string{"file", "line", "column", "pointer", "rule", "level", "message"} {
			if _, ok := m[k]; !ok || m["kind"] != "finding" {
				t.Errorf("line %d lacks %q: %s", i+1, k, line)
			}
		}
	}
	if findings < 8 {
		t.Errorf("only %d findings", findings)
	}
}

func TestReportSARIFAndJUnitAreWellFormed(t *testing.T) {
	var log struct {
		Version string `json:"version"`
		Runs    []struct {
			Tool struct {
				Driver struct {
					Rules []struct {
						ID string `json:"id"`
					} `json:"rules"`
				} `json:"driver"`
			} `json:"tool"`
			Results []struct {
				RuleID    string `json:"ruleId"`
				RuleIndex int    `json:"ruleIndex"`
			} `json:"results"`
		} `json:"runs"`
	}
	if err := json.Unmarshal(renderReport(t, ReportSARIF, ReportOptions{}), &log); err != nil {
		t.Fatalf("SARIF is not JSON: %v", err)
	}
	run := log.Runs[0]
	if log.Version != "2.1.0" || len(run.Results) == 0 {
		t.Fatalf("unexpected SARIF: %+v", log)
	}
	for _, r := range run.Results {
		if run.Tool.Driver.Rules[r.RuleIndex].ID != r.RuleID {
			t.Errorf("result %s points at rule %d", r.RuleID, r.RuleIndex)
		}
	}
	// An empty run is still a complete document.
	var empty bytes.Buffer
	r, _ := NewReport(ReportSARIF, &empty, ReportOptions{})
	if err := r.Close(ReportSummary{}); err != nil || !json.Valid(empty.Bytes()) {
		t.Errorf("empty SARIF: %v %s", err, empty.Bytes())
	}

	var suites struct {
		Tests    int `xml:"tests,attr"`
		Failures int `xml:"failures,attr"`
		Errors   int `xml:"errors,attr"`
		Suites   []struct {
			Name  string `xml:"name,attr"`
			Cases []struct {
				Name    string    `xml:"name,attr"`
				Failure *struct{} `xml:"failure"`
			} `xml:"testcase"`
		} `xml:"testsuite"`
	}
	if err := xml.Unmarshal(renderReport(t, ReportJUnit, ReportOptions{}), &suites); err != nil {
		t.Fatalf("JUnit is not XML: %v", err)
	}
	// 1 + 3 + 4 events + 1 file-structure case + 1 event + 1 unreadable.
	if suites.Tests != 11 || suites.Failures != 6 || suites.Errors != 1 || len(suites.Suites) != 5 {
		t.Errorf("junit counts: tests %d failures %d errors %d suites %d", suites.Tests, suites.Failures, suites.Errors, len(suites.Suites))
	}
}

func TestReportUnknownFormat(t *testing.T) {
	if _, err := NewReport("yaml", &bytes.Buffer{}, ReportOptions{}); err == nil || !strings.Contains(err.Error(), "sarif") {
		t.Errorf("err = %v", err)
	}
}

func TestSummaryLine(t *testing.T) {
	tests := []struct {
		s    ReportSummary
		want string
	}{
		{ReportSummary{Files: 1, Events: 1}, "1 file, 1 event: all valid"},
		{ReportSummary{Files: 2, Events: 3, Warnings: 1}, "2 files, 3 events: all valid, 1 warning"},
		{ReportSummary{Files: 2, Events: 3, Invalid: 1, Errors: 2}, "2 files, 3 events: 1 invalid (2 errors, 0 warnings)"},
		{ReportSummary{Files: 1, Unreadable: 1}, "1 file, 0 events; 1 file could not be read"},
		{ReportSummary{Files: 1, Errors: 1}, "1 file, 0 events: 0 invalid (1 error, 0 warnings)"},
	}
	for _, tt := range tests {
		if got := SummaryLine(tt.s); got != tt.want {
			t.Errorf("%+v: %q, want %q", tt.s, got, tt.want)
		}
	}
}
