package validate

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"strings"
	"testing"
	"testing/iotest"
)

// seen is what a caller can see of one result.
type seen struct {
	Index, Offset, Line, Column int
	Pointer, ID, Raw            string
	Findings                    []Finding
}

func collect(res *Result) seen {
	return seen{res.Index, res.Offset, res.Line, res.Column, res.Pointer(), res.ID(), string(res.Raw()),
		append([]Finding(nil), res.Findings...)}
}

// sequential is the reference: one Scanner.
func sequential(t *testing.T, in []byte, r io.Reader, opts Options) ([]seen, Stats, error) {
	t.Helper()
	s := NewScanner(r, opts)
	var out []seen
	for s.Scan() {
		out = append(out, collect(s.Result()))
	}
	return out, s.Stats(), s.Err()
}

func pipelined(t *testing.T, r io.Reader, opts Options, workers, chunk int) ([]seen, Stats, error) {
	t.Helper()
	p := NewPipeline(opts, workers)
	p.SetChunkSize(chunk)
	var out []seen
	if err := p.Run(context.Background(), r, func(res *Result) error {
		out = append(out, collect(res))
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return out, p.Stats(), p.Err()
}

// linesInput mixes valid and invalid events, blank lines, indented and CRLF lines,
// multi-byte characters, duplicates and mixed versions, a line longer than the small chunk
// sizes, and a last line without a line break.
func linesInput() []byte {
	var b bytes.Buffer
	for i := 0; i < 400; i++ {
		switch i % 9 {
		case 0:
			fmt.Fprintf(&b, `{"specversion":"1.0","id":"%d","source":"/s","type":"com.example.order.created.v2"}`+"\n", i)
		case 1:
			fmt.Fprintf(&b, `{"specversion":"1.0","id":"%d","source":"/é/ü","type":"com.example.order.created","time":"yesterday"}`+"\n", i%50)
		case 2:
			b.WriteString("\n   \n")
		case 3:
			fmt.Fprintf(&b, `   {"specversion":"1.0","id":"ö%d","source":"/s","type":"OrderCreated","datacontenttype":"text/plain","data":"{\"a\":1}"}`+"\r\n", i)
		case 4:
			fmt.Fprintf(&b, `{"specversion":"1.0","id":"%d","source":"/s","type":"com.example.x","dataschema":"https://example.com/x/v%d.json"}`+"\n", i%7, i%3)
		case 5:
			fmt.Fprintf(&b, `{"specversion":"1.0","id":"%d", "source":"/s",`+"\n", i) // broken
		case 6:
			fmt.Fprintf(&b, `{"specversion":"0.3","id":"%d","source":"/s","type":"com.example.x","MyExt":1,"data":"%s"}`+"\n", i, strings.Repeat("é", 100))
		case 7:
			fmt.Fprintf(&b, `{"specversion":"1.0","id":"%d","source":"/s","type":"com.example.y","dataschema":"https://example.com/y.json"}`+"\n", i)
		default:
			b.WriteString("not json at all\n")
		}
	}
	b.WriteString(`{"specversion":"1.0","id":"last","source":"/s","type":"com.example.last"}`)
	return b.Bytes()
}

func TestPipelineMatchesScanner(t *testing.T) {
	in := linesInput()
	rs, err := NewRuleSet([]string{RuleTypeVersion, RuleDataSchemaVersion}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, opts := range []Options{{}, {Rules: rs}, {Rules: rs, Strict: true}} {
		want, wantStats, _ := sequential(t, in, bytes.NewReader(in), opts)
		if len(want) < 300 {
			t.Fatalf("only %d results", len(want))
		}
		var cross int
		for _, w := range want {
			for _, f := range w.Findings {
				if f.Rule == RuleDuplicateID || f.Rule == RuleTypeVersion || f.Rule == RuleDataSchemaVersion {
					cross++
				}
			}
		}
		if opts.Rules != nil && cross < 50 {
			t.Fatalf("the input should exercise the rules across events: %d findings", cross)
		}
		for _, workers := range []int{1, 2, 4} {
			// Chunks smaller than a line, a few lines, and many lines; iotest.OneByteReader
			// makes the reader cut at every possible place.
			for _, chunk := range []int{1, 50, 333, 4096, DefaultChunkSize} {
				for _, oneByte := range []bool{false, true} {
					var r io.Reader = bytes.NewReader(in)
					if oneByte {
						r = iotest.OneByteReader(r)
					}
					got, gotStats, err := pipelined(t, r, opts, workers, chunk)
					name := fmt.Sprintf("rules=%v strict=%v workers=%d chunk=%d onebyte=%v", opts.Rules != nil, opts.Strict, workers, chunk, oneByte)
					if err != nil {
						t.Fatalf("%s: %v", name, err)
					}
					if !reflect.DeepEqual(got, want) {
						for i := range min(len(got), len(want)) {
							if !reflect.DeepEqual(got[i], want[i]) {
								t.Fatalf("%s: result %d differs:\n got %+v\nwant %+v", name, i, got[i], want[i])
							}
						}
						t.Fatalf("%s: %d results, want %d", name, len(got), len(want))
					}
					if gotStats != wantStats {
						t.Fatalf("%s: stats %+v, want %+v", name, gotStats, wantStats)
					}
				}
			}
		}
	}
}

func TestPipelineReadError(t *testing.T) {
	in := linesInput()[:5000]
	boom := errors.New("boom")
	mk := func() io.Reader { return io.MultiReader(bytes.NewReader(in), iotest.ErrReader(boom)) }
	want, wantStats, wantErr := sequential(t, in, mk(), Options{})
	got, gotStats, gotErr := pipelined(t, mk(), Options{}, 3, 100)
	if !errors.Is(gotErr, boom) || gotErr.Error() != wantErr.Error() {
		t.Fatalf("err %v, want %v", gotErr, wantErr)
	}
	if !reflect.DeepEqual(got, want) || gotStats != wantStats {
		t.Fatalf("results differ: %d vs %d, %+v vs %+v", len(got), len(want), gotStats, wantStats)
	}
}

func TestPipelineStopsOnEmitError(t *testing.T) {
	in := linesInput()
	p := NewPipeline(Options{}, 4)
	p.SetChunkSize(100)
	stop := errors.New("stop")
	n := 0
	err := p.Run(context.Background(), bytes.NewReader(in), func(*Result) error {
		if n++; n == 50 {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) || n != 50 {
		t.Fatalf("err %v after %d results", err, n)
	}
	// The Pipeline is usable again: the next input runs in full.
	got := 0
	if err := p.Run(context.Background(), bytes.NewReader(in), func(*Result) error { got++; return nil }); err != nil {
		t.Fatal(err)
	}
	if want, _, _ := sequential(t, in, bytes.NewReader(in), Options{}); got != len(want) {
		t.Fatalf("%d results, want %d", got, len(want))
	}
}

func TestPipelineOtherLayoutsStaySequential(t *testing.T) {
	batch := []byte(`[{"specversion":"1.0","id":"1","source":"/s","type":"com.example.a"},
{"specversion":"1.0","id":"1","source":"/s","type":"b"}]`)
	rs, _ := NewRuleSet(nil, nil)
	want, wantStats, _ := sequential(t, batch, bytes.NewReader(batch), Options{Rules: rs})
	got, gotStats, _ := pipelined(t, bytes.NewReader(batch), Options{Rules: rs}, 4, 1)
	if !reflect.DeepEqual(got, want) || gotStats != wantStats || len(want) != 2 || len(want[1].Findings) != 2 {
		t.Fatalf("got %+v\nwant %+v", got, want)
	}
}

// TestPipelineWithSchema runs the workers' data checks at once (run with -race): the
// compiled schema is shared by every worker.
func TestPipelineWithSchema(t *testing.T) {
	schema := t.TempDir() + "/order.json"
	if err := os.WriteFile(schema, []byte(`{"type":"object","properties":{"n":{"type":"integer","maximum":100}},"required":["n"]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := LoadSchemas(schema, nil)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	for i := 0; i < 3000; i++ {
		fmt.Fprintf(&b, `{"specversion":"1.0","id":"%d","source":"/s","type":"com.example.x","data":{"n":%d}}`+"\n", i, i%150)
	}
	in := b.Bytes()
	opts := Options{Data: s}
	want, wantStats, _ := sequential(t, in, bytes.NewReader(in), opts)
	got, gotStats, _ := pipelined(t, bytes.NewReader(in), opts, 4, 2048)
	if !reflect.DeepEqual(got, want) || gotStats != wantStats || wantStats.Errors != 3000/150*49 {
		t.Fatalf("stats %+v, want %+v", gotStats, wantStats)
	}
}
