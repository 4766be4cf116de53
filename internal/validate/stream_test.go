package validate

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

type streamFinding struct {
	index int
	rule  string
	ptr   string
	line  int
	col   int
}

func scanAll(t *testing.T, r io.Reader, opts Options) ([]streamFinding, []int, Stats) {
	t.Helper()
	s := NewScanner(r, opts)
	var fs []streamFinding
	var idx []int
	for s.Scan() {
		res := s.Result()
		idx = append(idx, res.Index)
		for _, f := range res.Findings {
			fs = append(fs, streamFinding{res.Index, f.Rule, f.Pointer, f.Line, f.Column})
		}
	}
	if err := s.Err(); err != nil {
		t.Fatalf("scan: %v", err)
	}
	return fs, idx, s.Stats()
}

func TestScannerLayouts(t *testing.T) {
	good := ev1("")
	bad := ev1(`,"time":"x"`)
	badCol := strings.Index(bad, `x"`) + 1 // the finding points at the first character of the value
	tests := []struct {
		name   string
		input  string
		layout Layout
		events int
		want   []streamFinding
	}{
		{"single", good, LayoutSingle, 1, nil},
		{"single pretty with newline", "\n  {\n \"specversion\":\"1.0\",\"id\":\"1\",\"source\":\"/s\",\"type\":\"t\"}\n\n", LayoutSingle, 1, nil},
		{"single bad", "\n" + bad, LayoutSingle, 1, []streamFinding{{0, RuleTimeFormat, "/time", 2, badCol}}},
		{"lines", good + "\n" + bad + "\r\n\n" + good + "\n", LayoutLines, 3, []streamFinding{{1, RuleTimeFormat, "/time", 2, badCol}}},
		{"lines without final newline", good + "\n" + bad, LayoutLines, 2, []streamFinding{{1, RuleTimeFormat, "/time", 2, badCol}}},
		{"lines resync after syntax error", good + "\n{\"id\":\n" + bad + "\n", LayoutLines, 3, []streamFinding{
			{1, RuleJSONSyntax, "/id", 2, 6}, {2, RuleTimeFormat, "/time", 3, badCol}}},
		{"lines two on one line", good + "\n" + good + " " + good + "\n", LayoutLines, 2, []streamFinding{
			{1, RuleTrailingData, "", 2, len(good) + 2}}},
		{"lines array element", good + "\n[" + good + "]\n", LayoutLines, 2, []streamFinding{{1, RuleEventObject, "", 2, 1}}},
		{"sequence of pretty events", "{\n\"specversion\":\"1.0\",\"id\":\"1\",\"source\":\"/s\",\"type\":\"t\"}\n{\n\"specversion\":\"1.0\",\"id\":\"\",\"source\":\"/s\",\"type\":\"t\"}\n",
			LayoutSequence, 2, []streamFinding{{1, RuleEmptyValue, "/id", 4, 26}}},
		{"single then garbage", good + "\n]", LayoutSingle, 1, []streamFinding{{-1, RuleTrailingData, "", 2, 1}}},
		{"batch", "[\n" + good + ",\n  " + bad + "\n]\n", LayoutBatch, 2, []streamFinding{{1, RuleTimeFormat, "/1/time", 3, badCol + 2}}},
		{"batch on one line", "[" + good + "," + bad + "]", LayoutBatch, 2, []streamFinding{{1, RuleTimeFormat, "/1/time", 1, len(good) + 2 + badCol}}},
		{"empty batch", " [ ] ", LayoutBatch, 0, nil},
		{"batch specversion", "[" + good + "," + ev03("") + "]", LayoutBatch, 2, []streamFinding{{1, RuleBatchSpecVersion, "/1/specversion", 1, len(good) + 18}}},
		{"batch specversion from first that has one", "[{}," + good + "," + ev03("") + "]", LayoutBatch, 3, []streamFinding{
			{0, RuleRequired, "/0/specversion", 1, 2}, {0, RuleRequired, "/0/id", 1, 2}, {0, RuleRequired, "/0/source", 1, 2}, {0, RuleRequired, "/0/type", 1, 2},
			{2, RuleBatchSpecVersion, "/2/specversion", 1, len(good) + 21}}},
		{"batch element not object", "[" + good + ",1]", LayoutBatch, 2, []streamFinding{{1, RuleEventObject, "/1", 1, len(good) + 3}}},
		{"batch element syntax", "[" + good + ",{\"a\" 1}," + good + "]", LayoutBatch, 3, []streamFinding{{1, RuleJSONSyntax, "/1/a", 1, len(good) + 8}}},
		{"batch trailing data", "[" + good + "] x", LayoutBatch, 1, []streamFinding{{-1, RuleTrailingData, "", 1, len(good) + 4}}},
		{"batch trailing comma", "[" + good + ",]", LayoutBatch, 1, []streamFinding{{-1, RuleJSONSyntax, "", 1, len(good) + 3}}},
		{"batch missing comma", "[" + good + " " + good + "]", LayoutBatch, 1, []streamFinding{{-1, RuleJSONSyntax, "", 1, len(good) + 3}}},
		{"batch not closed", "[" + good + ",\n\n", LayoutBatch, 1, []streamFinding{{-1, RuleJSONSyntax, "", 1, len(good) + 2}}},
		{"batch not closed after element", "[" + good + "\n", LayoutBatch, 1, []streamFinding{{-1, RuleJSONSyntax, "", 1, len(good) + 1}}},
		{"batch element truncated", "[" + good[:20], LayoutBatch, 1, []streamFinding{{0, RuleJSONSyntax, "/0", 1, 21}}},
		{"empty input", "", LayoutUnknown, 0, []streamFinding{{-1, RuleJSONSyntax, "", 1, 1}}},
		{"blank input", " \n\t", LayoutUnknown, 0, []streamFinding{{-1, RuleJSONSyntax, "", 1, 1}}},
		{"byte order mark", "\xef\xbb\xbf" + good, LayoutSingle, 1, []streamFinding{{-1, RuleJSONSyntax, "", 1, 1}}},
		{"scalar document", "42", LayoutSingle, 1, []streamFinding{{0, RuleEventObject, "", 1, 1}}},

		// A binary file is said once to be no JSON text, at its first offending byte.
		{"png", "\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", LayoutUnknown, 0, []streamFinding{{-1, RuleJSONSyntax, "", 1, 1}}},
		{"gzip", "\x1f\x8b\x08\x00\x00\x00", LayoutUnknown, 0, []streamFinding{{-1, RuleJSONSyntax, "", 1, 1}}},
		{"utf-16 with byte order mark", "\xff\xfe{\x00\"\x00", LayoutUnknown, 0, []streamFinding{{-1, RuleJSONSyntax, "", 1, 1}}},
		{"utf-16 without byte order mark", "{\x00\"\x00}\x00", LayoutUnknown, 0, []streamFinding{{-1, RuleJSONSyntax, "", 1, 2}}},
		{"blanks before binary", " \t\x89PNG", LayoutUnknown, 0, []streamFinding{{-1, RuleJSONSyntax, "", 1, 3}}},
		{"NUL after an event on the first line", good + "\x00\x00", LayoutUnknown, 0, []streamFinding{{-1, RuleJSONSyntax, "", 1, len(good) + 1}}},
		{"NUL after a non-ASCII character", `{"é":` + "\x00", LayoutUnknown, 0, []streamFinding{{-1, RuleJSONSyntax, "", 1, 6}}},
		{"byte order mark then binary", "\xef\xbb\xbf\x00", LayoutUnknown, 0, []streamFinding{{-1, RuleJSONSyntax, "", 1, 1}, {-1, RuleJSONSyntax, "", 1, 2}}},
		// Text with a stray byte gets the ordinary findings, and so do bytes after the first line.
		{"NUL after the first line", good + "\n\x00", LayoutSingle, 1, []streamFinding{{-1, RuleTrailingData, "", 2, 1}}},
		{"control byte in the first line", `{"a":` + "\x01}", LayoutSingle, 1, []streamFinding{{0, RuleJSONSyntax, "/a", 1, 6}}},
		{"UTF-8 text that is not JSON", "é", LayoutSingle, 1, []streamFinding{{0, RuleJSONSyntax, "", 1, 1}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, mode := range []string{"whole", "one byte at a time"} {
				var r io.Reader = strings.NewReader(tt.input)
				if mode != "whole" {
					r = iotest.OneByteReader(r)
				}
				got, _, st := scanAll(t, r, Options{})
				if fmt.Sprint(got) != fmt.Sprint(tt.want) {
					t.Errorf("%s: findings\n got %v\nwant %v", mode, got, tt.want)
				}
				if st.Layout != tt.layout || st.Events != tt.events {
					t.Errorf("%s: layout %v with %d events, want %v with %d", mode, st.Layout, st.Events, tt.layout, tt.events)
				}
				stopped := len(tt.want) > 0 && tt.want[len(tt.want)-1].index < 0
				if st.Bytes > int64(len(tt.input)) || !stopped && st.Bytes != int64(len(tt.input)) {
					t.Errorf("%s: read %d bytes, want %d", mode, st.Bytes, len(tt.input))
				}
			}
		})
	}
}

// The stream's absolute offsets, lines and columns agree with the input.
func TestScannerPositionsMatchInput(t *testing.T) {
	input := "[\n" + ev1(`,"time":"é"`) + ",\n  " + ev1(`,"ü":1`) + ",\n" + ev1(`,"x":1.5`) + "]"
	s := NewScanner(strings.NewReader(input), Options{})
	n := 0
	for s.Scan() {
		res := s.Result()
		line, col := refPosition(input, res.Offset)
		if res.Line != line || res.Column != col || input[res.Offset] != '{' {
			t.Errorf("event %d at %d:%d @%d, want %d:%d at '{'", res.Index, res.Line, res.Column, res.Offset, line, col)
		}
		for _, f := range res.Findings {
			n++
			line, col := refPosition(input, f.Offset)
			if f.Line != line || f.Column != col {
				t.Errorf("%s at %d:%d, want %d:%d", f.Rule, f.Line, f.Column, line, col)
			}
		}
	}
	if n != 3 {
		t.Errorf("got %d findings, want 3", n)
	}
}

func TestScannerStats(t *testing.T) {
	input := ev1("") + "\n" + ev1(`,"time":"x","MyExt":1`) + "\n" + ev1(`,"abcdefghijklmnopqrstuv":1`) + "\n"
	_, _, st := scanAll(t, strings.NewReader(input), Options{})
	want := Stats{Layout: LayoutLines, Events: 3, Invalid: 1, Errors: 2, Warnings: 1, Bytes: int64(len(input))}
	if st != want {
		t.Errorf("stats %+v, want %+v", st, want)
	}
	_, _, st = scanAll(t, strings.NewReader(input), Options{Strict: true})
	want.Invalid, want.Errors, want.Warnings = 2, 3, 0
	if st != want {
		t.Errorf("strict stats %+v, want %+v", st, want)
	}
}

func TestScannerResultID(t *testing.T) {
	input := `[{"id":"a\u0062c"},{"id":7},{"id":"plain"}]`
	s := NewScanner(strings.NewReader(input), Options{})
	var ids []string
	var ptrs []string
	for s.Scan() {
		ids = append(ids, s.Result().ID())
		ptrs = append(ptrs, s.Result().Pointer())
	}
	if fmt.Sprint(ids) != "[abc  plain]" || fmt.Sprint(ptrs) != "[/0 /1 /2]" {
		t.Errorf("ids %q pointers %q", ids, ptrs)
	}
}

// Memory stays flat: the buffer does not grow on a long JSON-lines input
// of small events, and grows only to fit one large event.
func TestScannerMemoryIsFlat(t *testing.T) {
	line := ev1(`,"data":{"k":"0123456789012345678901234567890123456789"}`) + "\n"
	r := io.LimitReader(repeatReader(line), int64(len(line))*20000)
	s := NewScanner(r, Options{})
	n := 0
	for s.Scan() {
		if len(s.Result().Findings) != 0 {
			t.Fatalf("unexpected findings: %s", dump(s.Result().Findings))
		}
		n++
	}
	if n != 20000 || len(s.buf) != initialBuffer {
		t.Errorf("%d events, buffer %d bytes; want 20000 and %d", n, len(s.buf), initialBuffer)
	}

	big := ev1(`,"data":"` + strings.Repeat("x", 3*initialBuffer) + `","time":"x"`)
	_, _, st := scanAll(t, strings.NewReader(good3(big)), Options{})
	if st.Events != 3 || st.Errors != 1 {
		t.Errorf("large event: %+v", st)
	}
}

func good3(mid string) string { return ev1("") + "\n" + mid + "\n" + ev1("") + "\n" }

func repeatReader(s string) io.Reader {
	return &repeater{s: s}
}

type repeater struct {
	s string
	i int
}

func (r *repeater) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		c := copy(p[n:], r.s[r.i:])
		n += c
		r.i = (r.i + c) % len(r.s)
	}
	return n, nil
}

func TestScannerReadError(t *testing.T) {
	boom := errors.New("boom")
	r := io.MultiReader(strings.NewReader(ev1("")+"\n"), iotest.ErrReader(boom))
	s := NewScanner(r, Options{})
	for s.Scan() {
	}
	if !errors.Is(s.Err(), boom) {
		t.Errorf("Err() = %v, want %v", s.Err(), boom)
	}
}

func BenchmarkScannerLines(b *testing.B) {
	var buf bytes.Buffer
	for i := 0; i < 1000; i++ {
		fmt.Fprintf(&buf, `{"specversion":"1.0","id":"evt-%06d","source":"https://orders.example.com/shop/%d","type":"com.example.order.created","time":"2024-03-%02dT10:%02d:00.%03dZ","subject":"order/%d","datacontenttype":"application/json","tenant":"t%d","data":{"orderId":%d,"amount":%d.5,"items":[{"sku":"A-%d","qty":%d}],"note":"ok"}}`+"\n",
			i, i%7, 1+i%28, i%60, i%1000, i, i%5, i, i*3, i%100, 1+i%4)
	}
	in := buf.Bytes()
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	for b.Loop() {
		s := NewScanner(bytes.NewReader(in), Options{})
		for s.Scan() {
		}
		if s.Stats().Errors != 0 {
			b.Fatal("unexpected errors")
		}
	}
}

// Small inputs, such as the batch bodies listen decodes, measure what the Scanner costs per
// input rather than per byte (the not-JSON-text sniff, resetting state).
func BenchmarkScannerSmallInputs(b *testing.B) {
	body := []byte("[" + ev1(`,"time":"2024-03-01T10:00:00Z","data":{"orderId":1}`) + "," + ev1(`,"subject":"order/2"`) + "]")
	s := NewScanner(nil, Options{})
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		s.ResetBytes(body)
		for s.Scan() {
		}
		if s.Stats().Errors != 0 {
			b.Fatal("unexpected errors")
		}
	}
}

func TestScannerReset(t *testing.T) {
	s := NewScanner(strings.NewReader("["+ev1("")+","+ev03("")+"]"), Options{})
	for s.Scan() {
	}
	if st := s.Stats(); st.Errors != 1 || st.Layout != LayoutBatch {
		t.Fatalf("first input: %+v", st)
	}
	s.Reset(strings.NewReader("\n" + ev1(`,"time":"x"`)))
	var got []Finding
	for s.Scan() {
		got = append(got, s.Result().Findings...)
	}
	st := s.Stats()
	if st.Layout != LayoutSingle || st.Events != 1 || len(got) != 1 || got[0].Line != 2 || got[0].Offset != 1+strings.Index(ev1(`,"time":"x"`), `x"`) {
		t.Errorf("after Reset: %+v %s", st, dump(got))
	}
}

// ResetBytes reads a body already in memory as Reset reads a reader, without copying it, and
// a later Reset does not keep the borrowed bytes.
func TestScannerResetBytes(t *testing.T) {
	in := []byte("[{\"specversion\":\"1.0\",\"id\":\"1\",\"source\":\"/s\",\"type\":\"t\"},\n {\"specversion\":\"1.0\",\"id\":\"\",\"source\":\"/s\",\"type\":\"t\"}]")
	orig := append([]byte(nil), in...)
	want := describeScan(NewScanner(bytes.NewReader(in), Options{}))
	s := NewScanner(nil, Options{})
	s.ResetBytes(in)
	got := describeScan(s)
	if len(got) != len(want) || len(got) != 2 {
		t.Fatalf("%d results, want %d", len(got), len(want))
	}
	for i := range got {
		if got[i] != want[i] {
			t.Errorf("result %d: %s, want %s", i, got[i], want[i])
		}
	}
	if !bytes.Equal(in, orig) {
		t.Error("ResetBytes changed its input")
	}
	s.Reset(strings.NewReader(`{"specversion":"1.0","id":"1","source":"/s","type":"t"}`))
	if s.buf != nil {
		t.Error("Reset kept the borrowed bytes as its buffer")
	}
	if r := describeScan(s); len(r) != 1 {
		t.Errorf("after Reset: %v", r)
	}
}

func TestScannerEmpty(t *testing.T) {
	for in, empty := range map[string]bool{"": true, " \n\t": true, "{}": false, "\xef\xbb\xbf{}": false} {
		s := NewScanner(strings.NewReader(in), Options{})
		for s.Scan() {
		}
		if s.Empty() != empty {
			t.Errorf("Empty() on %q = %v", in, s.Empty())
		}
	}
}

// scanAll describes every result of a scan: position, raw bytes and rules.
func describeScan(s *Scanner) []string {
	var out []string
	for s.Scan() {
		r := s.Result()
		desc := fmt.Sprintf("%d@%d:%d %s", r.Index, r.Line, r.Column, r.Raw())
		for _, f := range r.Findings {
			desc += " " + f.Rule + f.Pointer
		}
		out = append(out, desc)
	}
	return out
}
