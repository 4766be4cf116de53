package format

import (
	"bytes"
	"fmt"
	"io"
	"runtime"
	"strings"
	"testing"

	"github.com/cloudevents/sdk-go/v2/event"
)

// allocated returns the bytes f allocates.
func allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// Showing a 4 MiB payload costs memory for what is shown, not for the payload: JSON is laid
// out up to ShowData and the rest counted, as binary data is.
func TestDataShownBounded(t *testing.T) {
	var js bytes.Buffer
	js.WriteString(`{"items":[`)
	for i := 0; js.Len() < 4<<20; i++ {
		fmt.Fprintf(&js, `{"n":%d,"name":"item \"%d\"","tags":["a","b"]},`, i, i)
	}
	js.WriteString(`{"n":-1}]}`)
	text := strings.Repeat("line of text é\n", (4<<20)/16)
	tests := []struct {
		name, ct string
		data     []byte
	}{
		{"json", "application/json", js.Bytes()},
		{"text", "text/plain", []byte(text)},
		{"one long string", "application/json", []byte(`{"s":"` + strings.Repeat("x", 4<<20) + `"}`)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := event.New()
			e.SetID("1")
			e.SetSource("/s")
			e.SetType("com.example.t")
			e.SetDataContentType(tt.ct)
			e.DataEncoded = tt.data
			var out string
			n := allocated(func() {
				var b strings.Builder
				if err := Event(&b, NewStyles(false), &e, EventInfo{}, false); err != nil {
					t.Fatal(err)
				}
				out = b.String()
			})
			if n > 1<<20 {
				t.Errorf("showing %d bytes allocated %d bytes", len(tt.data), n)
			}
			last := out[strings.LastIndex(strings.TrimSuffix(out, "\n"), "\n")+1:]
			var more int
			if _, err := fmt.Sscanf(strings.TrimSpace(last), "… %d more bytes", &more); err != nil {
				t.Fatalf("last line %q: %v", last, err)
			}
			if shown := len(tt.data) - more; shown <= 0 || shown > ShowData {
				t.Errorf("%d bytes shown", shown)
			}
			if tt.name == "json" && !strings.Contains(out, `
          "name": "item \"1\"",
`) {
				t.Errorf("the JSON is not laid out:\n%.300s", out)
			}
		})
	}
	// Short data is shown whole, with no count.
	var b strings.Builder
	e := event.New()
	e.SetID("1")
	e.SetSource("/s")
	e.SetType("t")
	e.SetDataContentType("application/json")
	e.DataEncoded = []byte(`{"a":1}`)
	_ = Event(io.Writer(&b), NewStyles(false), &e, EventInfo{}, false)
	if strings.Contains(b.String(), "more byte") || !strings.Contains(b.String(), `"a": 1`) {
		t.Errorf("short data: %q", b.String())
	}
}

func TestCutJSON(t *testing.T) {
	for _, tt := range []struct {
		in    string
		limit int
		want  string
	}{
		{`[1,2,3]`, 100, `[1,2,3]`},
		{`[1,2,true,4]`, 8, `[1,2]`},
		{`{"a,b":"c[d","e":1}`, 15, `{"a,b":"c[d"}`},
		{`{"a\",":1,"b":2}`, 11, `{"a\",":1}`},
		{`{"a":[[1],{"b":[2`, 16, `{"a":[[1],{"b":[]}]}`},
	} {
		cut, closers := cutJSON([]byte(tt.in), tt.limit)
		if got := tt.in[:cut] + string(closers); got != tt.want {
			t.Errorf("cutJSON(%s, %d) = %s, want %s", tt.in, tt.limit, got, tt.want)
		}
	}
}
