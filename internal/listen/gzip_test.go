package listen

import (
	"bytes"
	"compress/gzip"
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/cectl/cectl/internal/testutil"
)

func gzipBytes(t *testing.T, b []byte) string {
	t.Helper()
	var out bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&out, gzip.BestCompression)
	zw.Write(b)
	zw.Close()
	return out.String()
}

// A gzip body is inflated within --max-body, and a compression bomb within a ratio; what is
// decoded and recorded is the inflated event, never the gzip bytes.
func TestGzipBodies(t *testing.T) {
	var file bytes.Buffer
	h, rs := newTestHandler(Config{MaxBody: 4 << 20, Recorder: NewRecorder(&file, "buffer")})
	gz := append([]string{"Content-Type: application/json", "Content-Encoding: gzip"}, binaryHeaders...)

	w := serve(h, request("POST", "/", gzipBytes(t, []byte(`{"zipped":true}`)), gz...))
	if w.Code != http.StatusAccepted {
		t.Fatalf("gzip: %d %s", w.Code, w.Body)
	}
	if !strings.Contains(file.String(), `"data":{"zipped":true}`) {
		t.Errorf("recorded %q", file.String())
	}
	if rep := rs.last(t); string(rep.Events[0].Event.DataEncoded) != `{"zipped":true}` {
		t.Errorf("shown %q", rep.Events[0].Event.DataEncoded)
	}

	// About 1 MB that inflates to 1 GB (64 gzip members of 16 MiB of zeros each, RFC 1952
	// §2.2): refused when it passes --max-body, not after.
	member := gzipBytes(t, make([]byte, 16<<20))
	bomb := strings.Repeat(member, 64)
	if len(bomb) < 900<<10 || len(bomb) > 1200<<10 {
		t.Fatalf("bomb of %d bytes", len(bomb))
	}
	w = serve(h, request("POST", "/", bomb, gz...))
	if w.Code != http.StatusRequestEntityTooLarge || !strings.Contains(w.Body.String(), "at most 4194304 (--max-body)") {
		t.Errorf("bomb: %d %s", w.Code, w.Body)
	}

	// Within --max-body, but a thousandfold: refused for the ratio.
	h2, _ := newTestHandler(Config{MaxBody: 64 << 20})
	w = serve(h2, request("POST", "/", gzipBytes(t, make([]byte, 8<<20)), gz...))
	if w.Code != http.StatusRequestEntityTooLarge || !strings.Contains(w.Body.String(), "compression bomb") {
		t.Errorf("ratio: %d %s", w.Code, w.Body)
	}

	// Not gzip at all, or an encoding listen does not take.
	w = serve(h, request("POST", "/", `{"a":1}`, gz...))
	if w.Code != http.StatusBadRequest || !strings.Contains(w.Body.String(), "not gzip") {
		t.Errorf("not gzip: %d %s", w.Code, w.Body)
	}
	for _, enc := range []string{"br", "deflate", "gzip, gzip"} {
		hdr := append([]string{"Content-Type: application/json", "Content-Encoding: " + enc}, binaryHeaders...)
		w = serve(h, request("POST", "/", `{"a":1}`, hdr...))
		if w.Code != http.StatusUnsupportedMediaType || w.Header().Get("Accept-Encoding") != "gzip" {
			t.Errorf("%s: %d %v %s", enc, w.Code, w.Header(), w.Body)
		}
	}
	// identity is no encoding.
	hdr := append([]string{"Content-Type: application/json", "Content-Encoding: identity"}, binaryHeaders...)
	if w = serve(h, request("POST", "/", `{"a":1}`, hdr...)); w.Code != http.StatusAccepted {
		t.Errorf("identity: %d %s", w.Code, w.Body)
	}
	// The memory of the inflated bodies went back to the budget.
	if !h.budget.tryAcquire(MemoryBudget(h.cfg)) {
		t.Error("the budget was not given back")
	}
}

// A broker message without a content type is taken to be JSON only when it is JSON; other
// bytes are kept as they are (data_base64), not refused for a type nobody declared.
func TestDeliverUndeclaredData(t *testing.T) {
	for _, tt := range []struct{ data, want string }{
		{`{"a":1}`, `"datacontenttype":"application/json","data":{"a":1},`},
		{"hello \xff", `"type":"t","data_base64":"aGVsbG8g/w==",`},
	} {
		file := &testutil.Buffer{}
		h, _ := newTestHandler(Config{Recorder: NewRecorder(file, "buffer")})
		d := undecodedBinary(t, `{"specversion":"1.0","id":"1","source":"/s","type":"t"}`)
		d.Raw = []byte(tt.data)
		if err := h.Deliver(context.Background(), d); err != nil {
			t.Fatalf("%q: %v", tt.data, err)
		}
		if !strings.Contains(file.String(), tt.want) {
			t.Errorf("%q recorded as %s", tt.data, file.String())
		}
	}
}
