package listen

import (
	"net/http"
	"strings"
	"testing"
)

// With --token, a stranger learns nothing about the served path: without the token every path
// gets the same 401, and the handshake is answered on every path alike.
func TestTokenHidesPath(t *testing.T) {
	h, _ := newTestHandler(Config{Path: "/s3cret-path", Token: "s3cret"})
	for _, path := range []string{"/", "/s3cret-path", "/guess"} {
		w := serve(h, request("POST", path, "", binaryHeaders...))
		if w.Code != http.StatusUnauthorized || strings.Contains(w.Body.String(), "s3cret-path") {
			t.Errorf("POST %s without token: %d %q", path, w.Code, w.Body)
		}
		w = serve(h, request("OPTIONS", path, "", "WebHook-Request-Origin: o.example"))
		if w.Code != http.StatusOK || w.Header().Get("WebHook-Allowed-Origin") != "o.example" {
			t.Errorf("OPTIONS %s: %d %v", path, w.Code, w.Header())
		}
	}
	auth := append([]string{"Authorization: Bearer s3cret"}, binaryHeaders...)
	if w := serve(h, request("POST", "/guess", "", auth...)); w.Code != http.StatusNotFound || strings.Contains(w.Body.String(), "s3cret-path") {
		t.Errorf("POST /guess with token: %d %q", w.Code, w.Body)
	}
	if w := serve(h, request("POST", "/s3cret-path", "", auth...)); w.Code != http.StatusAccepted {
		t.Errorf("POST /s3cret-path with token: %d %q", w.Code, w.Body)
	}
}

// access_token is hidden however its name is percent-encoded: the handler takes the token
// under either name, so it must hide it under either.
func TestTargetHidesEncodedToken(t *testing.T) {
	h, rs := newTestHandler(Config{Token: "s3cret"})
	for _, target := range []string{"/?access%5Ftoken=s3cret&x=1", "/?access%5ftoken=s3cret", "/?%61ccess_token=s3cret"} {
		w := serve(h, request("POST", target, "", binaryHeaders...))
		if w.Code != http.StatusAccepted {
			t.Fatalf("%s: %d %s", target, w.Code, w.Body)
		}
		if got := rs.last(t).Target; strings.Contains(got, "s3cret") || !strings.Contains(got, "access_token=REDACTED") {
			t.Errorf("%s shown as %q", target, got)
		}
	}
	// A wrong token under an encoded name is refused and hidden too.
	serve(h, request("POST", "/?access%5Ftoken=guess", "", binaryHeaders...))
	if got := rs.last(t).Target; strings.Contains(got, "guess") {
		t.Errorf("refused target shown as %q", got)
	}
	// A query without the token is shown as it came.
	h2, rs2 := newTestHandler(Config{})
	serve(h2, request("POST", "/?q=a%20b&z=1", "", binaryHeaders...))
	if got := rs2.last(t).Target; got != "/?q=a%20b&z=1" {
		t.Errorf("plain query shown as %q", got)
	}
}
