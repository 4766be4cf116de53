package validate_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"testing"

	"github.com/cectl/cectl/internal/validate"
	"github.com/cectl/cectl/internal/validate/validatetest"
	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/santhosh-tekuri/jsonschema/v6"
)

// The benchmarks validate the same JSON lines three ways: with this
// package, with sdk-go (json.Unmarshal into event.Event plus Validate, which
// checks far less) and with the official JSON Schema. scripts/bench/validate.sh
// compares the real binary the same way and prints the ratios.

func benchInput(b *testing.B) []byte {
	b.Helper()
	var buf bytes.Buffer
	if _, err := validatetest.New(42).WriteLines(&buf, 10000); err != nil {
		b.Fatal(err)
	}
	return buf.Bytes()
}

func lines(b *testing.B, in []byte, fn func([]byte)) {
	sc := bufio.NewScanner(bytes.NewReader(in))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		fn(sc.Bytes())
	}
	if err := sc.Err(); err != nil {
		b.Fatal(err)
	}
}

func BenchmarkValidate(b *testing.B) {
	in := benchInput(b)
	b.Run("cectl", func(b *testing.B) {
		b.SetBytes(int64(len(in)))
		b.ReportAllocs()
		for b.Loop() {
			s := validate.NewScanner(bytes.NewReader(in), validate.Options{})
			for s.Scan() {
			}
			if st := s.Stats(); st.Errors != 0 || st.Events != 10000 {
				b.Fatalf("%+v", st)
			}
		}
	})
	b.Run("sdk-go", func(b *testing.B) {
		b.SetBytes(int64(len(in)))
		b.ReportAllocs()
		for b.Loop() {
			lines(b, in, func(line []byte) {
				var e event.Event
				if err := json.Unmarshal(line, &e); err != nil {
					b.Fatal(err)
				}
				if err := e.Validate(); err != nil {
					b.Fatal(err)
				}
			})
		}
	})
	b.Run("jsonschema", func(b *testing.B) {
		c := jsonschema.NewCompiler()
		sch, err := c.Compile("testdata/cloudevents-1.0.json")
		if err != nil {
			b.Fatal(err)
		}
		b.SetBytes(int64(len(in)))
		b.ReportAllocs()
		for b.Loop() {
			lines(b, in, func(line []byte) {
				v, err := jsonschema.UnmarshalJSON(bytes.NewReader(line))
				if err != nil {
					b.Fatal(err)
				}
				if err := sch.Validate(v); err != nil {
					b.Fatal(err)
				}
			})
		}
	})
}

// The generated events are all valid, about 300 bytes each, and the same
// for the same seed.
func TestGeneratedEventsAreValid(t *testing.T) {
	var buf bytes.Buffer
	n, err := validatetest.New(1).WriteLines(&buf, 2000)
	if err != nil {
		t.Fatal(err)
	}
	s := validate.NewScanner(&buf, validate.Options{Strict: true})
	for s.Scan() {
		if len(s.Result().Findings) > 0 {
			t.Fatalf("event %d: %+v", s.Result().Index, s.Result().Findings)
		}
	}
	if st := s.Stats(); st.Events != 2000 || st.Layout != validate.LayoutLines {
		t.Fatalf("stats %+v", st)
	}
	if avg := n / 2000; avg < 250 || avg > 350 {
		t.Errorf("average event size %d bytes, want about 300", avg)
	}
	if a, b := validatetest.New(7).Next(), validatetest.New(7).Next(); !bytes.Equal(a, b) {
		t.Error("the generator is not deterministic")
	}
}
