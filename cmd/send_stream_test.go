package cmd

import (
	"bytes"
	"context"
	"crypto/sha256"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
)

// bigFile writes a file of size bytes that does not compress to nothing.
func bigFile(t *testing.T, name string, size int) (string, [32]byte) {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.New()
	chunk := make([]byte, 1<<20)
	for i := range chunk {
		chunk[i] = byte(i*7 + i/251)
	}
	for written := 0; written < size; written += len(chunk) {
		chunk[0]++
		w := io.MultiWriter(f, h)
		if _, err := w.Write(chunk[:min(len(chunk), size-written)]); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	var sum [32]byte
	copy(sum[:], h.Sum(nil))
	return path, sum
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

// A large --data @file is streamed: in binary mode as the body, in structured mode base64
// encoded as it is read into data_base64. The process allocates a small part of the file's
// size (the usual path holds it several times over), and the receiver gets exactly the
// request, headers and body, that the usual path sends.
func TestSendStreamsLargeDataFile(t *testing.T) {
	const size = 24 << 20
	path, fileSum := bigFile(t, "photo.bin", size)
	type request struct {
		header http.Header
		sum    [32]byte
		n      int64
	}
	var mu sync.Mutex
	var got []request
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := sha256.New()
		n, _ := io.Copy(h, r.Body)
		var sum [32]byte
		copy(sum[:], h.Sum(nil))
		mu.Lock()
		got = append(got, request{r.Header.Clone(), sum, n})
		mu.Unlock()
		w.WriteHeader(202)
	}))
	defer srv.Close()
	for _, mode := range []string{"binary", "structured"} {
		t.Run(mode, func(t *testing.T) {
			got = nil
			run := func(extra ...string) (int, string) {
				var out, errOut bytes.Buffer
				args := append([]string{"send", "--to", srv.URL, "--type", "com.example.upload", "--id", "1", "--time", "2026-11-25T10:00:00Z",
					"--data", "@" + path, "--datacontenttype", "application/octet-stream", "--mode", mode}, extra...)
				code := Run(context.Background(), &IOStreams{In: strings.NewReader(""), Out: &out, ErrOut: &errOut}, BuildInfo{Version: "v0"}, args, func(string) string { return "" })
				return code, out.String() + errOut.String()
			}
			var code int
			var out string
			streamed := allocated(func() { code, out = run() })
			if code != 0 || !strings.HasPrefix(out, "ACK  202 Accepted") {
				t.Fatalf("exit %d: %s", code, out)
			}
			if streamed > size/8 {
				t.Errorf("streaming a %d MiB file allocated %d MiB", size>>20, streamed>>20)
			}
			// The usual path (taken here because of --dead-letter) holds the data in memory.
			inMemory := allocated(func() { code, out = run("--dead-letter", filepath.Join(t.TempDir(), "dl.jsonl")) })
			if code != 0 {
				t.Fatalf("exit %d: %s", code, out)
			}
			t.Logf("allocated: streamed %d MiB, in memory %d MiB, for a %d MiB file", streamed>>20, inMemory>>20, size>>20)
			if len(got) != 2 {
				t.Fatalf("%d requests", len(got))
			}
			if mode == "binary" && (got[0].n != size || got[0].sum != fileSum) {
				t.Errorf("the receiver got %d bytes, not the file", got[0].n)
			}
			if got[0].sum != got[1].sum || got[0].n != got[1].n {
				t.Errorf("streamed body (%d bytes) differs from the usual one (%d bytes)", got[0].n, got[1].n)
			}
			for k := range got[1].header {
				if got[0].header.Get(k) != got[1].header.Get(k) {
					t.Errorf("header %s: streamed %q, usual %q", k, got[0].header.Get(k), got[1].header.Get(k))
				}
			}
			if len(got[0].header) != len(got[1].header) {
				t.Errorf("streamed headers %v, usual %v", got[0].header, got[1].header)
			}
		})
	}
}
