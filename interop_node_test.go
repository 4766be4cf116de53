package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

// The event every interop request carries: every context attribute of spec v1.0.2 and
// extensions of each CloudEvents type (Boolean, Integer, String, URI, Timestamp, Binary —
// the last three as their canonical strings, JSON format v1.0.2 §2.2). The time has
// millisecond precision in UTC because the JavaScript SDK stores times as Date.
var interopEvent = map[string]any{
	"specversion":     "1.0",
	"id":              "interop-1",
	"source":          "https://example.com/interop",
	"type":            "com.example.interop",
	"subject":         "order/42",
	"time":            "2026-11-25T10:00:00.123Z",
	"datacontenttype": "application/json",
	"dataschema":      "https://example.com/schemas/order.json",
	"data":            map[string]any{"id": float64(42), "ok": true},
	"flag":            true,
	"count":           float64(-42),
	"region":          "eu-west",
	"dataref":         "https://example.com/ref/42",
	"expirytime":      "2026-11-26T10:00:00Z",
	"blob":            "AAEC/w==",
}

// TestInteropJavaScriptSDK sends with cectl, in binary, structured and batch mode, to an HTTP
// receiver built on the CloudEvents JavaScript SDK (testdata/interop/js), and checks the SDK
// took every event and parsed the attribute values cectl sent. It needs node and the SDK
// installed by `npm ci` in that directory; with CECTL_REQUIRE_NODE=1 (CI) their absence fails
// the test instead of skipping it.
func TestInteropJavaScriptSDK(t *testing.T) {
	dir := filepath.Join("testdata", "interop", "js")
	node, err := exec.LookPath("node")
	if err == nil {
		_, err = os.Stat(filepath.Join(dir, "node_modules", "cloudevents", "package.json"))
	}
	if err != nil {
		if os.Getenv("CECTL_REQUIRE_NODE") == "1" {
			t.Fatalf("node and the CloudEvents JavaScript SDK are required (run npm ci in %s): %v", dir, err)
		}
		t.Skipf("node or the CloudEvents JavaScript SDK is missing (npm ci in %s): %v", dir, err)
	}

	lines := startJSReceiver(t, node, dir)
	var port struct{ Port int }
	if err := json.Unmarshal([]byte(nextLine(t, lines)), &port); err != nil || port.Port == 0 {
		t.Fatalf("the receiver did not say its port: %v", err)
	}
	to := fmt.Sprintf("http://127.0.0.1:%d/", port.Port)

	flags := []string{"--to", to, "--specversion", "1.0", "--id", "interop-1",
		"--source", "https://example.com/interop", "--type", "com.example.interop",
		"--subject", "order/42", "--time", "2026-11-25T10:00:00.123Z",
		"--datacontenttype", "application/json", "--dataschema", "https://example.com/schemas/order.json",
		"--data", `{"id":42,"ok":true}`,
		"-e", "flag:=true", "-e", "count:=-42", "-e", "region=eu-west", "-e", "dataref=https://example.com/ref/42",
		"-e", "expirytime=2026-11-26T10:00:00Z", "-e", "blob=AAEC/w=="}

	// Binary mode: headers carry no types, so the SDK sees every extension as a String
	// (http binding §3.1.3); the values are the canonical string forms.
	binaryWant := map[string]any{}
	for k, v := range interopEvent {
		binaryWant[k] = v
	}
	binaryWant["flag"], binaryWant["count"] = "true", "-42"

	batchFile := filepath.Join(t.TempDir(), "batch.jsonl")
	second := map[string]any{"specversion": "1.0", "id": "interop-2", "source": "/s", "type": "com.example.interop.bytes",
		"time": "2026-11-25T10:00:01.000Z", "datacontenttype": "application/octet-stream", "data_base64": "AAEC/w==",
		"flag": false, "count": float64(2147483647)}
	var batch strings.Builder
	for _, e := range []map[string]any{interopEvent, second} {
		b, _ := json.Marshal(e)
		batch.Write(b)
		batch.WriteByte('\n')
	}
	if err := os.WriteFile(batchFile, []byte(batch.String()), 0o644); err != nil {
		t.Fatal(err)
	}

	cases := []struct {
		mode string
		args []string
		want []map[string]any
	}{
		{"binary", slices.Concat(flags, []string{"--mode", "binary"}), []map[string]any{binaryWant}},
		{"structured", slices.Concat(flags, []string{"--mode", "structured"}), []map[string]any{interopEvent}},
		{"batch", []string{"--to", to, "--from", batchFile, "--mode", "batch"}, []map[string]any{interopEvent, second}},
	}
	for _, c := range cases {
		out, err := exec.Command("cectl", append([]string{"send"}, c.args...)...).CombinedOutput()
		if err != nil {
			t.Errorf("%s: cectl send failed: %v\n%s", c.mode, err, out)
		}
		var got struct {
			ContentType string
			Error       string
			Events      []map[string]any
		}
		line := nextLine(t, lines)
		if err := json.Unmarshal([]byte(line), &got); err != nil {
			t.Fatalf("%s: the receiver printed %q: %v", c.mode, line, err)
		}
		if got.Error != "" {
			t.Errorf("%s: the JavaScript SDK rejected the request (Content-Type %q): %s", c.mode, got.ContentType, got.Error)
			continue
		}
		if len(got.Events) != len(c.want) {
			t.Errorf("%s: the SDK parsed %d events, want %d: %s", c.mode, len(got.Events), len(c.want), line)
			continue
		}
		for i, want := range c.want {
			if !reflect.DeepEqual(got.Events[i], want) {
				t.Errorf("%s: event %d as the SDK parsed it differs from what was sent:\n got %v\nwant %v", c.mode, i, got.Events[i], want)
			}
		}
	}
}

// startJSReceiver starts receiver.js on a free port and returns the lines it prints.
func startJSReceiver(t *testing.T, node, dir string) <-chan string {
	t.Helper()
	cmd := exec.Command(node, "receiver.js", "0")
	cmd.Dir = dir
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	lines := make(chan string, 16)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(out)
		sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
		for sc.Scan() {
			lines <- sc.Text()
		}
		_, _ = io.Copy(io.Discard, out)
	}()
	return lines
}

func nextLine(t *testing.T, lines <-chan string) string {
	t.Helper()
	select {
	case l, ok := <-lines:
		if !ok {
			t.Fatal("the JavaScript receiver ended")
		}
		return l
	case <-time.After(20 * time.Second):
		t.Fatal("no line from the JavaScript receiver within 20s")
	}
	return ""
}
