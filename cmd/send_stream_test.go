package cmd

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"testing"

	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
)

// bigFile writes a file of size bytes that does not compress to nothing.
func bigFile(t *testing.T, name string, size int) (string, [32]byte) {
	t.Helper()
	chunk := make([]byte, 1<<20)
	for i := range chunk {
		chunk[i] = byte(i*7 + i/251)
	}
	var b bytes.Buffer
	for b.Len() < size {
		chunk[0]++
		b.Write(chunk[:min(len(chunk), size-b.Len())])
	}
	return writeFile(t, name, b.Bytes()), sha256.Sum256(b.Bytes())
}

func writeFile(t *testing.T, name string, data []byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// jsonData is a JSON array of about size bytes, indented, with strings that need escapes
// and characters of every UTF-8 length, some cut by the pieces a file is read in.
func jsonData(size int) []byte {
	var b bytes.Buffer
	b.WriteString("[\n")
	for i := 0; b.Len() < size; i++ {
		if i > 0 {
			b.WriteString(",\n")
		}
		fmt.Fprintf(&b, "  {\n    \"id\": %d,\n    \"name\": \"user %d é€😀 \\\"q\\\" \\u00e9\\n\",\n    \"tags\": [ \"a\", \"b b\" ],\n    \"ok\": true, \"n\": null, \"x\": -1.5e3\n  }", i, i)
	}
	b.WriteString("\n]\n")
	return b.Bytes()
}

// textData is about size bytes of text with what a JSON string escapes (quotes, control
// characters, DEL, C1 controls, U+2028) and characters of every UTF-8 length.
func textData(size int) []byte {
	var b bytes.Buffer
	for i := 0; b.Len() < size; i++ {
		fmt.Fprintf(&b, "line %d: \"quoted\" \\ tab\there é€😀 \u2028 \x7f \u0085 \u202e\r\n", i)
	}
	return b.Bytes()
}

// received is one request as a receiver got it.
type received struct {
	header  http.Header
	chunked bool
	raw     [32]byte // the body as it came, compressed or not
	head    []byte   // its first bytes, uncompressed
	body    [32]byte // uncompressed
	n       int64
}

// recorder is a receiver that keeps every request.
type recorder struct {
	*httptest.Server
	mu  sync.Mutex
	got []received
}

func newRecorder(t *testing.T) *recorder {
	r := &recorder{}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		// Read as it comes, so that what the receiver holds does not count as the sender's.
		raw := sha256.New()
		body := io.TeeReader(req.Body, raw)
		if req.Header.Get("Content-Encoding") == "gzip" {
			zr, err := gzip.NewReader(body)
			if err != nil {
				t.Errorf("receiver: %v", err)
				return
			}
			body = zr
		}
		head := make([]byte, 4096)
		k, _ := io.ReadFull(body, head)
		h := sha256.New()
		h.Write(head[:k])
		n, err := io.Copy(h, body)
		if err != nil {
			t.Errorf("receiver: %v", err)
		}
		rec := received{header: req.Header.Clone(), chunked: len(req.TransferEncoding) > 0, head: head[:k], n: int64(k) + n}
		copy(rec.body[:], h.Sum(nil))
		copy(rec.raw[:], raw.Sum(nil))
		r.mu.Lock()
		r.got = append(r.got, rec)
		r.mu.Unlock()
		w.WriteHeader(202)
	}))
	t.Cleanup(r.Close)
	return r
}

func (r *recorder) take() []received {
	r.mu.Lock()
	defer r.mu.Unlock()
	got := r.got
	r.got = nil
	return got
}

// sendArgs runs cectl send with args and env, and returns its exit code and output.
func sendArgs(env map[string]string, args ...string) (int, string) {
	var out, errOut bytes.Buffer
	code := Run(context.Background(), &IOStreams{In: strings.NewReader(""), Out: &out, ErrOut: &errOut}, BuildInfo{Version: "v0"},
		append([]string{"send"}, args...), func(k string) string { return env[k] })
	return code, out.String() + errOut.String()
}

// allocated runs fn and returns how many bytes the process allocated meanwhile.
func allocated(fn func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	fn()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// A large --data @file is streamed, in binary and structured mode, gzipped or not, whatever
// its content type and however that is known (flag, extension, or read from the data): the
// process allocates a small part of the file's size (the usual path holds it several times
// over), and the receiver gets exactly the request, headers and body, that the usual path
// sends. Gzipped, the body goes in chunks rather than with a Content-Length: the bytes are
// the same.
func TestSendStreamsLargeDataFile(t *testing.T) {
	const size = 5 << 20
	bin, _ := bigFile(t, "photo.bin", size)
	js := jsonData(size)
	text := textData(size)
	notUTF8 := append(bytes.Clone(text[:size/2]), append([]byte{0xff, 0xfe}, text[size/2:]...)...)
	files := map[string]string{
		"bin":      bin,
		"json":     writeFile(t, "data.json", js),
		"json.dat": writeFile(t, "data.dat", js),
		"text.dat": writeFile(t, "text.dat", text),
		"bin.dat":  writeFile(t, "blob.dat", bytes.Repeat([]byte("\x00\x01\xfe\xff"), size/4)),
		"txt":      writeFile(t, "notes.txt", notUTF8),
	}
	rcv := newRecorder(t)
	for _, c := range []struct {
		file  string
		extra []string
	}{
		{"bin", []string{"--datacontenttype", "application/octet-stream"}},
		{"bin", []string{"--datacontenttype", "application/octet-stream", "--gzip"}},
		{"bin", []string{"--datacontenttype", "image/png", "--specversion", "0.3"}},
		{"json", nil},
		{"json", []string{"--gzip"}},
		{"json.dat", nil},
		{"text.dat", nil},
		{"text.dat", []string{"--gzip"}},
		{"bin.dat", nil},
		{"bin.dat", []string{"--gzip"}},
		{"txt", nil},
		{"json", []string{"--datacontenttype", "application/vnd.example+json; charset=utf-8"}},
		{"text.dat", []string{"--datacontenttype", "text/csv"}},
	} {
		for _, mode := range []string{"binary", "structured"} {
			name := fmt.Sprintf("%s/%s/%s", c.file, mode, strings.Join(c.extra, " "))
			args := append([]string{"--to", rcv.URL, "--type", "com.example.upload", "--id", "1", "--time", "2026-11-25T10:00:00Z",
				"--data", "@" + files[c.file], "--mode", mode}, c.extra...)
			var code int
			var out string
			streamed := allocated(func() { code, out = sendArgs(nil, args...) })
			if code != 0 || !strings.HasPrefix(out, "ACK  202 Accepted") {
				t.Fatalf("%s: exit %d: %s", name, code, out)
			}
			if streamed > size/2 { // the usual path holds the data at least once
				t.Errorf("%s: streaming a %d MiB file allocated %d MiB", name, size>>20, streamed>>20)
			}
			// The usual path (taken here because of --dead-letter) holds the data in memory.
			code, usual := sendArgs(nil, append(args, "--dead-letter", filepath.Join(t.TempDir(), "dl.jsonl"))...)
			if code != 0 || withoutLatency(usual) != withoutLatency(out) {
				t.Fatalf("%s: exit %d: %s\nstreamed: %s", name, code, usual, out)
			}
			got := rcv.take()
			if len(got) != 2 {
				t.Fatalf("%s: %d requests", name, len(got))
			}
			s, u := got[0], got[1]
			if s.body != u.body || s.n != u.n {
				t.Errorf("%s: streamed body (%d bytes) differs from the usual one (%d bytes)", name, s.n, u.n)
			}
			gz := u.header.Get("Content-Encoding") == "gzip"
			if gz != slicesContains(c.extra, "--gzip") || s.chunked != gz || gz && s.raw != u.raw {
				t.Errorf("%s: gzip %v, streamed in chunks %v, same compressed bytes %v", name, gz, s.chunked, s.raw == u.raw)
			}
			if gz {
				u.header.Del("Content-Length") // it goes in chunks
			}
			for k := range u.header {
				if s.header.Get(k) != u.header.Get(k) {
					t.Errorf("%s: header %s: streamed %q, usual %q", name, k, s.header.Get(k), u.header.Get(k))
				}
			}
			if len(s.header) != len(u.header) {
				t.Errorf("%s: streamed headers %v, usual %v", name, s.header, u.header)
			}
		}
	}
}

// withoutLatency is the output of send without the latencies of its result lines.
func withoutLatency(out string) string {
	return regexp.MustCompile(`  [0-9.]+(µs|ms|s)\n`).ReplaceAllString(out, "\n")
}

func slicesContains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// Streaming a 64 MiB file takes a few MiB however it goes: binary or structured, gzipped,
// JSON checked and compacted, or text escaped as it is read.
func TestSendStreamMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("writes and sends 64 MiB files")
	}
	const size = 64 << 20
	rcv := newRecorder(t)
	js := writeFile(t, "big.json", jsonData(size))
	text := writeFile(t, "big.log", textData(size))
	blob, _ := bigFile(t, "big.dat", size)
	for _, args := range [][]string{
		{"--data", "@" + js, "--mode", "structured", "--gzip"},
		{"--data", "@" + js, "--mode", "binary"},
		{"--data", "@" + text, "--mode", "structured"},
		{"--data", "@" + blob, "--mode", "binary", "--gzip"},
		{"--data", "@" + blob, "--mode", "structured"},
	} {
		var code int
		var out string
		n := allocated(func() {
			code, out = sendArgs(nil, append([]string{"--to", rcv.URL, "--type", "com.example.upload"}, args...)...)
		})
		if code != 0 {
			t.Fatalf("%v: exit %d: %s", args, code, out)
		}
		t.Logf("%v: allocated %.1f MiB", args, float64(n)/(1<<20))
		if n > 8<<20 {
			t.Errorf("%v: sending a 64 MiB file allocated %d MiB", args, n>>20)
		}
	}
	if got := rcv.take(); len(got) != 5 {
		t.Fatalf("%d requests", len(got))
	}
}

// Data whose content type declares JSON must be JSON whatever the size of its file: a large
// file that is not is refused before anything is sent, with the usual path's message (where
// the data breaks, as the validator says it) and exit code, in binary mode as in structured.
func TestSendStreamRefusesDataThatIsNotJSON(t *testing.T) {
	js := jsonData(5 << 20)
	truncated := writeFile(t, "bad.json", js[:len(js)-10])
	broken := writeFile(t, "broken.dat", bytes.Replace(js, []byte(`"ok": true`), []byte(`"ok": tru`), 1))
	rcv := newRecorder(t)
	for _, c := range []struct{ file, ct string }{{truncated, ""}, {broken, "application/json"}} {
		for _, mode := range []string{"binary", "structured"} {
			args := []string{"--to", rcv.URL, "--type", "com.example.upload", "--data", "@" + c.file, "--mode", mode}
			if c.ct != "" {
				args = append(args, "--datacontenttype", c.ct)
			}
			code, out := sendArgs(nil, args...)
			if code != 2 || !strings.Contains(out, "declares JSON, but the data is not: invalid JSON: ") {
				t.Errorf("%s %s: exit %d: %s", filepath.Base(c.file), mode, code, out)
			}
			usualCode, usual := sendArgs(nil, append(args, "--dead-letter", filepath.Join(t.TempDir(), "dl.jsonl"))...)
			if usualCode != code || withoutLatency(usual) != withoutLatency(out) {
				t.Errorf("%s %s: streamed exit %d %q, usual exit %d %q", filepath.Base(c.file), mode, code, out, usualCode, usual)
			}
		}
	}
	if got := rcv.take(); len(got) != 0 {
		t.Errorf("%d requests sent", len(got))
	}
}

// A large file without an extension that starts like JSON but does not parse is streamed as
// the usual path sends it, with the same warning (the line and column where it breaks).
func TestSendStreamWarnsAsTheUsualPath(t *testing.T) {
	js := jsonData(5 << 20)
	path := writeFile(t, "export", js[:len(js)-3])
	rcv := newRecorder(t)
	args := []string{"--to", rcv.URL, "--type", "com.example.upload", "--id", "1", "--data", "@" + path}
	var code int
	var out string
	if n := allocated(func() { code, out = sendArgs(nil, args...) }); n > 5<<20/2 {
		t.Errorf("sending a 5 MiB file allocated %d MiB: not streamed", n>>20)
	}
	if code != 0 || !regexp.MustCompile(`(?m)^warning: \S+ looks like JSON but does not parse: line \d+, column \d+: unexpected end of JSON input; sending it as text/plain`).MatchString(out) {
		t.Fatalf("exit %d: %s", code, out)
	}
	_, usual := sendArgs(nil, append(args, "--dead-letter", filepath.Join(t.TempDir(), "dl.jsonl"))...)
	if withoutLatency(usual) != withoutLatency(out) {
		t.Errorf("streamed:\n%s\nusual:\n%s", out, usual)
	}
}

// --trace on a streamed event does what it does on any other: the traceparent extension on
// the event (a ce-traceparent header in binary mode, a member in structured mode) in the
// trace the W3C traceparent header names, and the line saying which trace; with
// OTEL_EXPORTER_OTLP_ENDPOINT set, a producer span is exported.
func TestSendStreamTraces(t *testing.T) {
	path, _ := bigFile(t, "blob.bin", 5<<20)
	rcv := newRecorder(t)
	traceLine := regexp.MustCompile(`(?m)^sending in trace ([0-9a-f]{32}) span ([0-9a-f]{16})$`)
	for _, mode := range []string{"binary", "structured"} {
		code, out := sendArgs(nil, "--to", rcv.URL, "--type", "com.example.upload", "--data", "@"+path, "--mode", mode, "--trace")
		m := traceLine.FindStringSubmatch(out)
		if code != 0 || m == nil {
			t.Fatalf("%s: exit %d: %s", mode, code, out)
		}
		got := rcv.take()
		if len(got) != 1 {
			t.Fatalf("%s: %d requests", mode, len(got))
		}
		want := "00-" + m[1] + "-" + m[2] + "-01"
		if tp := got[0].header.Get("Traceparent"); tp != want {
			t.Errorf("%s: traceparent header %q, want %q", mode, tp, want)
		}
		if mode == "binary" {
			if tp := got[0].header.Get("Ce-Traceparent"); tp != want {
				t.Errorf("ce-traceparent %q, want %q", tp, want)
			}
		} else if !bytes.Contains(got[0].head, []byte(`"traceparent":"`+want+`"`)) {
			t.Errorf("the structured event has no traceparent %s: %.300s", want, got[0].head)
		}
	}

	otlp := newOTLPReceiver(t)
	code, out := sendArgs(map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": otlp.URL}, "--to", rcv.URL, "--type", "com.example.upload", "--data", "@"+path)
	m := traceLine.FindStringSubmatch(out)
	if code != 0 || m == nil {
		t.Fatalf("exit %d: %s", code, out)
	}
	spans := otlp.byKind(tracepb.Span_SPAN_KIND_PRODUCER)
	if len(spans) != 1 || fmt.Sprintf("%x", spans[0].TraceId) != m[1] || fmt.Sprintf("%x", spans[0].SpanId) != m[2] || spans[0].Name != "send com.example.upload" {
		t.Fatalf("spans %v, said %v", spans, m)
	}
	if got := rcv.take(); len(got) != 1 || got[0].header.Get("Ce-Traceparent") != "00-"+m[1]+"-"+m[2]+"-01" {
		t.Errorf("requests %d, ce-traceparent %q", len(got), got[0].header.Get("Ce-Traceparent"))
	}
}
