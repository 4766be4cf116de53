package format

import (
	"net/http"
	"testing"
)

func TestHideCredentialsEveryCredentialHeader(t *testing.T) {
	h := http.Header{
		"Authorization":       {"Bearer tok3n"},
		"Proxy-Authorization": {"Basic cHJveHk6cHc="},
		"Cookie":              {"session=abc123"},
		"X-Api-Key":           {"k3y"},
		"x-api-key":           {"k3y-lower"}, // broker headers keep their case
		"User-Agent":          {"curl/8"},
	}
	got := HideCredentials(h)
	want := map[string]string{
		"Authorization": "Bearer (hidden)", "Proxy-Authorization": "Basic (hidden)",
		"Cookie": "(hidden)", "X-Api-Key": "(hidden)", "x-api-key": "(hidden)", "User-Agent": "curl/8",
	}
	for k, v := range want {
		if got[k][0] != v {
			t.Errorf("%s: %q, want %q", k, got[k][0], v)
		}
	}
	if h["Cookie"][0] != "session=abc123" {
		t.Error("the original header was changed")
	}
	dump := "POST / HTTP/1.1\r\nHost: h\r\nCookie: a=b\r\nX-Api-Key: k3y\r\nProxy-Authorization: Basic eHg=\r\n\r\nCookie: body"
	wantDump := "POST / HTTP/1.1\r\nHost: h\r\nCookie: (hidden)\r\nX-Api-Key: (hidden)\r\nProxy-Authorization: Basic (hidden)\r\n\r\nCookie: body"
	if got := string(HideDumpCredentials([]byte(dump))); got != wantDump {
		t.Errorf("dump: %q", got)
	}
}

func TestHideFieldCredentials(t *testing.T) {
	fields := [][2]string{{"host", "h"}, {"authorization", "Bearer tok3n"}, {"COOKIE", "a=b"}, {"x-note", "n"}}
	got := HideFieldCredentials(fields)
	want := [][2]string{{"host", "h"}, {"authorization", "Bearer (hidden)"}, {"COOKIE", "(hidden)"}, {"x-note", "n"}}
	if len(got) != len(want) {
		t.Fatalf("%q", got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("field %d: %q, want %q", i, got[i], want[i])
		}
	}
	if fields[1][1] != "Bearer tok3n" {
		t.Error("the original fields were changed")
	}
	plain := fields[3:]
	if got := HideFieldCredentials(plain); &got[0] != &plain[0] {
		t.Error("fields without a credential were copied")
	}
}

func TestShownURLAndMaskURLs(t *testing.T) {
	tests := []struct{ in, shown string }{
		{"nats://s3cr3t@127.0.0.1:4222/s", "nats://xxxxx@127.0.0.1:4222/s"},
		{"jetstream://s3cr3t@h/S/s", "jetstream://xxxxx@h/S/s"},
		{"nats://u:PASS@h/s?zz=1", "nats://u:xxxxx@h/s?zz=1"},
		{"amqp://u:p%40ss@h/q", "amqp://u:xxxxx@h/q"},
		{"http://user@h/", "http://user@h/"},
		{"not a url", "not a url"},
		// URLs url.Parse refuses keep no secret either.
		{"https://bob:cli-s3cret@ho st/", "https://bob:xxxxx@ho st/"},
		{"https://bob:pa@ss@ho st/p", "https://bob:xxxxx@ho st/p"},
		{"https://t0ken@ho st/", "https://xxxxx@ho st/"},
		{"https://ho st/", "https://ho st/"},
	}
	for _, tt := range tests {
		if got := ShownURL(tt.in); got != tt.shown {
			t.Errorf("ShownURL(%q) = %q, want %q", tt.in, got, tt.shown)
		}
	}
	raw := "nats://u:PASS@h/s?zz=1"
	msg := `--from "nats://u:PASS@h/s?zz=1": unknown query parameter "zz"; ` + raw
	if got, want := MaskURLs(msg, []string{"x", raw}), `--from "nats://u:xxxxx@h/s?zz=1": unknown query parameter "zz"; nats://u:xxxxx@h/s?zz=1`; got != want {
		t.Errorf("MaskURLs: %q", got)
	}
}
