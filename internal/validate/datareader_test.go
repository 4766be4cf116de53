package validate

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"testing/iotest"
)

// chunkReader returns data in pieces of random sizes, some of one byte, so that every place
// where a token may be cut is cut in some run.
type chunkReader struct {
	data []byte
	rnd  *rand.Rand
}

func (r *chunkReader) Read(p []byte) (int, error) {
	if len(r.data) == 0 {
		return 0, io.EOF
	}
	n := min(len(p), len(r.data), 1+r.rnd.IntN(7))
	if r.rnd.IntN(4) == 0 {
		n = min(len(p), len(r.data))
	}
	copy(p, r.data[:n])
	r.data = r.data[n:]
	return n, nil
}

// sameAsData checks that DataReader finds what Data finds, reading data whole, byte by byte
// and in pieces of random sizes.
func sameAsData(t *testing.T, opts Options, data []byte) {
	t.Helper()
	want := append([]Finding(nil), New(opts).Data(data)...)
	readers := map[string]io.Reader{
		"whole":        bytes.NewReader(data),
		"byte by byte": iotest.OneByteReader(bytes.NewReader(data)),
		"pieces":       &chunkReader{data, rand.New(rand.NewPCG(uint64(len(data)), 7))},
	}
	for name, r := range readers {
		got, err := New(opts).DataReader(r)
		if err != nil {
			t.Fatalf("%q read %s: %v", data, name, err)
		}
		if len(got) == 0 && len(want) == 0 {
			continue
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("%q read %s:\n got %+v\nwant %+v", data, name, got, want)
		}
	}
}

func TestDataReaderIsData(t *testing.T) {
	deep := strings.Repeat("[", 10001) + strings.Repeat("]", 10001)
	long := `{"` + strings.Repeat("k", 200<<10) + `":` + `"` + strings.Repeat("é", 100<<10) + `"}`
	for _, in := range []string{
		`{"a":[1,"é",null]}`, " 42 \n", `"s"`, "", " \n\t ", "\n\n  \n",
		strings.Repeat("[", 10000) + strings.Repeat("]", 10000), deep,
		`{"a":[1,}`, "\"caf\xe9\"", `{} []`, `hello`, `{"a":1,"a":2}`, `{"a":{"b":[1,2,{"c":`,
		`{"a\u00e9":1,"aé":2,"a~/b":{"x":tru}}`, `[1,2,]`, `{"a":1,}`, `{,}`, `{"a" 1}`, `{"a":1 "b"}`,
		`[1 2]`, `-`, `-x`, `01`, `1.`, `1.x`, `1e`, `1e+`, `1ex`, `-0.5e-7`, `nul`, `nulx`, `t`,
		"\"a\\", "\"a\\u12", "\"a\\u12g4\"", "\"a\\x\"", "\"a\x01\"", "\"\xff\xfe\" x", "[\"\xc3\"]",
		"\"\xe2\x82\xac\xe2\x82\"", "\xe2\x82\xac", "{\"\xff\":1,\"\xff\":2", "[\x7f]", `{"a":"b"}` + "\n\n  \t",
		"{\n \"a\": [\n  1,\n  2\n ],\n \"b\": \"é\n", "[1,\n\n\n" + strings.Repeat(" ", 70000),
		`{"` + strings.Repeat(`a`, 40) + `":1}`, long, long[:len(long)-3], `"` + strings.Repeat("\\u00e9", 30000),
		strings.Repeat(`{"k":`, 50) + "[" + strings.Repeat(`"x",`, 20000) + "}",
		manyMembers(100, true), manyMembers(100, false), "  [1]  \n\x00",
	} {
		sameAsData(t, Options{}, []byte(in))
	}
	sameAsData(t, Options{Strict: true}, []byte(`{"a":1,"a":2}`))
}

// manyMembers is an object of n members, the last a duplicate of the first when dup.
func manyMembers(n int, dup bool) string {
	var b strings.Builder
	b.WriteString("{")
	for i := range n {
		b.WriteString(`"m` + string(rune('a'+i%26)) + string(rune('a'+i/26)) + `":1,`)
	}
	if dup {
		b.WriteString(`"maa":2,`)
	}
	b.WriteString(`"z":0}`)
	return b.String()
}

func TestDataReaderReadError(t *testing.T) {
	broken := errors.New("disk on fire")
	r := io.MultiReader(strings.NewReader(`{"a":[1,2`), iotest.ErrReader(broken))
	if fs, err := New(Options{}).DataReader(r); !errors.Is(err, broken) || fs != nil {
		t.Fatalf("DataReader = %v, %v; want the read error", fs, err)
	}
}

// FuzzDataReader: DataReader finds what Data finds, however the data arrives.
func FuzzDataReader(f *testing.F) {
	fuzzSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		sameAsData(t, Options{}, data)
	})
}
