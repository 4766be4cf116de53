package format

import (
	"net/http"
	"strings"
	"testing"

	"github.com/cectl/cectl/internal/client"
)

func TestResponseTextCutsAndEscapes(t *testing.T) {
	st := NewStyles(false)
	long := strings.Repeat("é", 1500) // 3000 bytes
	resp := &client.Response{Header: http.Header{"Content-Type": {"text/plain"}}, Body: []byte("\x1b[31mred\n" + long)}
	got := ResponseText(st, 500, resp)
	if strings.Contains(got, "\x1b") || !strings.Contains(got, `\x1b[31mred`) {
		t.Errorf("escape sequence not escaped: %q", got[:40])
	}
	if !strings.HasSuffix(got, "… response body cut: 2047 of 3009 bytes shown\n") {
		t.Errorf("no cut note: %q", got[len(got)-80:])
	}
	if strings.Count(got, "é") >= 1500 {
		t.Error("the body was not cut")
	}

	redirect := &client.Response{Header: http.Header{"Location": {"https://example.com/new\x1b[2J"}}}
	if got := ResponseText(st, 308, redirect); got != "Location: https://example.com/new\\x1b[2J  (not followed)\n" {
		t.Errorf("redirect: %q", got)
	}
	if got := ResponseText(st, 201, redirect); got != "" {
		t.Errorf("a Location outside 3xx is no redirect: %q", got)
	}
}

func TestBodyPreview(t *testing.T) {
	tests := []struct {
		body, ct, want string
	}{
		{"OK", "text/plain", `text/plain, "OK"`},
		{"<b>\x1b]0;x\x07</b>", "", `"<b>\x1b]0;x\a</b>"`},
		{strings.Repeat("a", 30), "", `"aaaaaaaaaaaaaaaa"… (30 bytes in all)`},
		{"\xff\xfe", "application/octet-stream", "application/octet-stream, binary, 2 bytes"},
	}
	for _, tt := range tests {
		if got := BodyPreview([]byte(tt.body), tt.ct, 16); got != tt.want {
			t.Errorf("BodyPreview(%q) = %s, want %s", tt.body, got, tt.want)
		}
	}
}
