package cmd

import (
	"bytes"
	"context"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/cectl/cectl/internal/format"
	"github.com/spf13/cobra"
)

var update = flag.Bool("update", false, "rewrite golden files")

func TestValidateFlags(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		want    ValidateOptions
		wantErr string
	}{
		{"files", []string{"a.json", "dir"}, ValidateOptions{Args: []string{"a.json", "dir"}}, ""},
		{"all flags", []string{"--strict", "--specversion", "1.0,0.3", "--schema", "s.json", "--schema-map", "https://x/a=a.json",
			"--schema-map", "urn:b=b.json", "--format", "sarif", "-q", "--allow-empty", "-"},
			ValidateOptions{Args: []string{"-"}, Strict: true, SpecVersions: []string{"1.0", "0.3"}, Schema: "s.json",
				SchemaMap: []string{"https://x/a=a.json", "urn:b=b.json"}, Format: "sarif", Quiet: true, AllowEmpty: true}, ""},
		{"no arguments", nil, ValidateOptions{}, "validate needs at least one file"},
		{"unknown flag", []string{"--nope", "x"}, ValidateOptions{}, "unknown flag"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, _, _ := testFactory("", nil)
			var got *ValidateOptions
			err := runCmd(t, f, func(f *Factory) *cobra.Command {
				return NewCmdValidate(f, func(_ context.Context, o *ValidateOptions) error { got = o; return nil })
			}, tt.args...)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || ExitCode(context.Background(), err) != ExitUsage {
					t.Fatalf("err = %v, want usage error with %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got.F = nil
			if !reflect.DeepEqual(*got, tt.want) {
				t.Errorf("options %+v, want %+v", *got, tt.want)
			}
		})
	}
}

func writeFiles(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

const (
	okEvent   = `{"specversion":"1.0","id":"1","source":"/s","type":"com.example.t"}`
	badEvent  = `{"specversion":"1.0","id":"2","source":"/s","type":"com.example.t","time":"yesterday"}`
	warnEvent = `{"specversion":"1.0","id":"1","source":"/s","type":"com.example.t","abcdefghijklmnopqrstuvwxyz":1}`
)

// The exit codes of validate, in one table.
func TestValidateExitCodes(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"ok.json":          okEvent,
		"bad.jsonl":        okEvent + "\n" + badEvent + "\n",
		"warn.json":        warnEvent,
		"schema.txt":       `{"type":"object"}`,
		"broken.json.txt":  `{"type":12}`,
		"dir/a/b.ndjson":   okEvent + "\n",
		"dir/.git/x.json":  "not json",
		"dir/readme.md":    "not an event file",
		"empty/notes.text": "",
	})
	tests := []struct {
		name  string
		args  []string
		stdin string
		code  int
		out   string
	}{
		{"valid file", []string{"ok.json"}, "", ExitOK, "1 file, 1 event: all valid\n"},
		{"invalid file", []string{"ok.json", "bad.jsonl"}, "", ExitFailure, "bad.jsonl:2:76: error: time \"yesterday\""},
		{"warning passes", []string{"warn.json"}, "", ExitOK, "all valid, 1 warning"},
		{"strict warning fails", []string{"--strict", "warn.json"}, "", ExitFailure, "error: attribute name"},
		{"directory skips hidden and other files", []string{"dir"}, "", ExitOK, "1 file, 1 event: all valid\n"},
		{"empty directory", []string{"empty"}, "", ExitFailure, "empty: error: no *.json, *.jsonl or *.ndjson files in the directory (--allow-empty accepts this) [read]\n"},
		{"empty directory allowed", []string{"--allow-empty", "empty"}, "", ExitOK, "0 files, 0 events\n"},
		{"empty directory among others", []string{"ok.json", "empty"}, "", ExitFailure, "2 files, 1 event: all valid; 1 file could not be read\n"},
		{"glob without match allowed", []string{"--allow-empty", "nothing/*.json", "ok.json"}, "", ExitOK, "1 file, 1 event: all valid\n"},
		{"glob of directories without event files", []string{"empt*"}, "", ExitFailure, "empt*: error: no files match the pattern (--allow-empty accepts this) [read]"},
		{"glob", []string{"*.json"}, "", ExitOK, "2 files, 2 events: all valid, 1 warning\n"},
		{"double star glob", []string{"**/*.ndjson"}, "", ExitOK, "1 file, 1 event: all valid\n"},
		{"duplicates are read once", []string{"ok.json", "ok.json", "*.json"}, "", ExitOK, "2 files, 2 events"},
		{"stdin", []string{"-"}, badEvent, ExitFailure, "<stdin>:1:76: error:"},
		{"missing file", []string{"ok.json", "missing.json"}, "", ExitFailure, "missing.json: error: cannot read: no such file or directory [read]"},
		{"glob without match", []string{"nothing/*.json"}, "", ExitFailure, "nothing/*.json: error: no files match the pattern (--allow-empty accepts this) [read]"},
		{"quiet", []string{"-q", "bad.jsonl"}, "", ExitFailure, "1 file, 2 events: 1 invalid (1 error, 0 warnings)\n"},
		{"quiet json", []string{"-q", "-o", "json", "bad.jsonl"}, "", ExitFailure, `{"kind":"summary","files":1,"unreadable":0,"events":2,"valid":1,"invalid":1,"errors":1,"warnings":0,"ok":false}` + "\n"},
		{"schema", []string{"--schema", "schema.txt", "ok.json"}, "", ExitOK, "all valid"},
		{"no arguments", nil, "", ExitUsage, ""},
		{"two stdins", []string{"-", "-"}, "", ExitUsage, ""},
		{"bad specversion", []string{"--specversion", "2.0", "ok.json"}, "", ExitUsage, ""},
		{"bad format", []string{"--format", "xml", "ok.json"}, "", ExitUsage, ""},
		{"format conflicts with -o json", []string{"-o", "json", "--format", "github", "ok.json"}, "", ExitUsage, ""},
		{"bad schema", []string{"--schema", "broken.json.txt", "ok.json"}, "", ExitUsage, ""},
		{"bad schema map", []string{"--schema-map", "=x", "ok.json"}, "", ExitUsage, ""},
		{"bad pattern", []string{"[x"}, "", ExitUsage, ""},
	}
	t.Chdir(dir)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			streams := &IOStreams{In: strings.NewReader(tt.stdin), Out: &out, ErrOut: &errOut}
			code := Run(context.Background(), streams, BuildInfo{Version: "v1.2.3"}, append([]string{"validate"}, tt.args...), func(string) string { return "" })
			if code != tt.code {
				t.Errorf("exit code %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tt.code, out.String(), errOut.String())
			}
			if !strings.Contains(out.String(), tt.out) {
				t.Errorf("stdout does not contain %q:\n%s", tt.out, out.String())
			}
			if tt.code == ExitUsage && !strings.Contains(errOut.String(), "cectl validate --help") {
				t.Errorf("usage error without a hint: %s", errOut.String())
			}
		})
	}
}

func TestGlob(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"a.json": "", "x/b.json": "", "x/y/c.json": "", "x/y/c.txt": "", ".hidden/d.json": "", "x/.h/e.json": "",
	})
	t.Chdir(dir)
	tests := []struct {
		pattern string
		want    []string
	}{
		{"*.json", []string{"a.json"}},
		{"x/*/*.json", []string{"x/.h/e.json", "x/y/c.json"}},       // like filepath.Glob
		{"**/*.json", []string{"a.json", "x/b.json", "x/y/c.json"}}, // ** skips hidden directories
		{".hidden/**/*.json", []string{".hidden/d.json"}},
		{"x/**/c.*", []string{"x/y/c.json", "x/y/c.txt"}},
		{"x/**", []string{"x/b.json", "x/y", "x/y/c.json", "x/y/c.txt"}},
		{"nothing/**/*.json", nil},
	}
	for _, tt := range tests {
		got, err := glob(tt.pattern)
		if err != nil {
			t.Fatal(err)
		}
		for i := range got {
			got[i] = filepath.ToSlash(got[i])
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("glob(%q) = %q, want %q", tt.pattern, got, tt.want)
		}
	}
}

// Golden reports of the sample files in testdata/validate, in every format.
func TestValidateGolden(t *testing.T) {
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	t.Chdir(root)
	for _, kind := range format.ReportFormats() {
		t.Run(kind, func(t *testing.T) {
			var out bytes.Buffer
			streams := &IOStreams{In: strings.NewReader(""), Out: &out, ErrOut: &bytes.Buffer{}}
			code := Run(context.Background(), streams, BuildInfo{Version: "v1.2.3"},
				[]string{"validate", "--format", kind, "testdata/validate/valid", "testdata/validate/invalid"}, func(string) string { return "" })
			if code != ExitFailure {
				t.Errorf("exit code %d, want %d", code, ExitFailure)
			}
			ext := map[string]string{"text": "txt", "json": "jsonl", "github": "txt", "junit": "xml", "sarif": "json"}[kind]
			path := filepath.Join("testdata", "validate", "report."+kind+"."+ext)
			if *update {
				if err := os.WriteFile(path, out.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (go test -update writes it)", err)
			}
			if !bytes.Equal(out.Bytes(), want) {
				t.Errorf("%s differs (go test -update rewrites it)\n--- got\n%s", path, out.Bytes())
			}
		})
	}
}

// A binary file is one finding, at its first offending byte, and nothing else.
func TestValidateBinaryFile(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"logo.png":   "\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x10",
		"utf16.json": "{\x00\"\x00i\x00d\x00\"\x00:\x00",
	})
	t.Chdir(dir)
	var out, errOut bytes.Buffer
	streams := &IOStreams{In: strings.NewReader(""), Out: &out, ErrOut: &errOut}
	code := Run(context.Background(), streams, BuildInfo{Version: "v1.2.3"}, []string{"validate", "logo.png", "utf16.json"}, func(string) string { return "" })
	want := "logo.png:1:1: error: invalid JSON: this is not JSON text (a binary file or another encoding?): it starts with byte 0x89, which is not UTF-8 (RFC 8259 §8.1) [json-syntax]\n" +
		"utf16.json:1:2: error: invalid JSON: this is not JSON text (a binary file or UTF-16?): its first line holds a NUL byte, which JSON text never holds raw (RFC 8259 §2, §7, §8.1) [json-syntax]\n" +
		"2 files, 0 events: 0 invalid (2 errors, 0 warnings)\n"
	if code != ExitFailure || out.String() != want {
		t.Errorf("exit code %d, want %d\nstdout:\n%s\nwant:\n%s\nstderr:\n%s", code, ExitFailure, out.String(), want, errOut.String())
	}
}
