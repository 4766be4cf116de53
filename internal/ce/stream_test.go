package ce

import (
	"bytes"
	"io"
	"testing"
)

// writeInPieces writes data to a writer made by newW in pieces of the sizes given, over and
// over, and returns what reached w.
func writeInPieces(t *testing.T, newW func(io.Writer) io.WriteCloser, data []byte, sizes ...int) []byte {
	t.Helper()
	var out bytes.Buffer
	w := newW(&out)
	for i := 0; len(data) > 0; i++ {
		n := min(len(data), sizes[i%len(sizes)])
		if _, err := w.Write(data[:n]); err != nil {
			t.Fatal(err)
		}
		data = data[n:]
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

// sameAsAppendJSON checks that the writers write what AppendJSON writes of data, however it
// is cut: AppendString's string, and compactJSON's JSON when data is JSON.
func sameAsAppendJSON(t *testing.T, data []byte) {
	t.Helper()
	str := AppendString(nil, string(data))
	want := str[1 : len(str)-1]
	compact, isJSON := compactJSON(nil, data)
	for _, sizes := range [][]int{{len(data) + 1}, {1}, {2, 3}, {5, 1, 7}} {
		if got := writeInPieces(t, NewStringWriter, data, sizes...); !bytes.Equal(got, want) {
			t.Fatalf("string of %q in pieces of %v:\n got %q\nwant %q", data, sizes, got, want)
		}
		if !isJSON {
			continue
		}
		if got := writeInPieces(t, NewCompactWriter, data, sizes...); !bytes.Equal(got, compact) {
			t.Fatalf("JSON %q in pieces of %v:\n got %q\nwant %q", data, sizes, got, compact)
		}
	}
}

func TestStreamWritersAreAppendJSON(t *testing.T) {
	for _, in := range []string{
		"", "x", "héllo wörld", "€😀\u2028\u2029\u202e\u0085\x7f\x00\t\n\r\"\\", "\xff\xfe\xc3", "a\xe2\x82", "\xe2\x82\xac\xe2\x82",
		`{ "a" : [ 1 , "b c" , "\" x \\" ] ,` + "\n\t" + `"é €" : { } }`, " [ ] ", `"\\"`, `" \" "`,
	} {
		sameAsAppendJSON(t, []byte(in))
	}
}

// FuzzStreamWriters: the writers write what AppendJSON writes, however the data is cut.
func FuzzStreamWriters(f *testing.F) {
	for _, s := range []string{"€😀\u2028", "\xe2\x82", `{ "a" : [ 1 , "b\"" ] }`} {
		f.Add([]byte(s))
	}
	f.Fuzz(sameAsAppendJSON)
}
