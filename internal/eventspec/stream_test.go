package eventspec

import (
	"bytes"
	"encoding/json"
	"io"
	"strings"
	"testing"
)

// factsOf reads the facts of data from memory, a piece of size bytes at a time.
func factsOf(t *testing.T, data []byte, size int) DataFacts {
	t.Helper()
	defer func(old int) { pieceSize = old }(pieceSize)
	pieceSize = size
	f, err := ReadDataFacts(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil })
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// sameFacts checks that the facts read as a stream are what InferContentType and Apply's
// warning find in the data held in memory.
func sameFacts(t *testing.T, data []byte) {
	t.Helper()
	want := DataFacts{JSON: json.Valid(data), Text: IsText(data), LooksLikeJSON: looksLikeJSON(data)}
	if want.LooksLikeJSON {
		want.NotJSON = JSONError(data)
	}
	for _, size := range []int{4, 5, 7, 64 << 10} {
		if got := factsOf(t, data, size); got != want {
			t.Fatalf("%q in pieces of %d:\n got %+v\nwant %+v", data, size, got, want)
		}
		if got, want := factsOf(t, data, size).ContentType("big"), InferContentType(data, "big"); got != want {
			t.Fatalf("%q: content type %q, want %q", data, got, want)
		}
	}
}

func TestDataFactsAreInferContentType(t *testing.T) {
	for _, in := range []string{
		`{"a":[1,"é",null]}`, " 42 \n", `"s"`, "", " \n\t ", "hello\n", "héllo\x00", "\xff\xfe{",
		`{"a":[1,}`, "\"caf\xe9\"", `{} []`, `{}x`, `{"a":1,"a":2}`, "{\n\"a\": {\"b\":[1,2,{\"c\":",
		`[1,2,]`, `{"a":1,}`, `{,}`, `{"a" 1}`, `{"a":1 "b"}`, `[1 2]`, `[-]`, `[-x]`, `[01]`, `[1.]`,
		`[1.x]`, `[1e]`, `[1e+]`, `[1ex]`, `[-0.5e-7]`, `[nul]`, `[nulx]`, `[t`, `[tru]`, `[fals`, `[-`,
		"[\"a\\", "[\"a\\u12", "[\"a\\u12g4\"]", "[\"a\\x\"]", "[\"a\x01\"]", "[\"\xff\xfe\"] x",
		"[\"\xe2\x82\xac\xe2\x82\"", "{\"é\xe2\x82\xac\":\n\"\xe2\x82", "[\x7f]", "[\"'\"", "['", `[""`,
		strings.Repeat("[", 10000) + strings.Repeat("]", 10000), strings.Repeat("[", 10001) + strings.Repeat("]", 10001),
		"[\n\"é€😀\",\n\"x\"\n" + strings.Repeat(" ", 100), "{\"a\":\"\xc3\"}", "[\"\xc3", "{\"a\":\"" + strings.Repeat("é", 50000) + "\"}}",
	} {
		sameFacts(t, []byte(in))
	}
}

// FuzzDataFacts: the facts read as a stream are those of the data held in memory.
func FuzzDataFacts(f *testing.F) {
	for _, s := range []string{`{"a":[1,"é",null]}`, "[\"\xe2\x82", "{\n\"a\":tru}", "x\x00", "[1e+]"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) { sameFacts(t, data) })
}
