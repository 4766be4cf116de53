package ce

import (
	"net/url"
	"testing"
)

// appendURI writes what url.URL.String gives, whichever way it takes.
func TestAppendURIAsString(t *testing.T) {
	for _, s := range []string{
		"", "/bench", "/orders/eu-1", "relative/path", "a:b", "this:that/x", "*", "/a b", "/ä",
		"https://example.com", "https://example.com/", "https://example.com:8443/x_y~z", "HTTP://EXAMPLE.com/A",
		"https://user@example.com/x", "https://example.com/x?q=1", "https://example.com/x#f", "https://example.com/x?",
		"urn:uuid:6e8bc430-9c3a-11d9-9669-0800200c9a66", "mailto:a@example.com", "file:///etc/x", "//host/x",
		"/a%2Fb", "/a%20b", `/q"uote`, "/back\\slash", "https://[::1]:80/x", "https://ex%41mple.com/", "/x/../y", "/~",
		"tag:example.com,2026:x", "https://example.com/a:b", "a/b:c", "./a:b",
	} {
		u, err := url.Parse(s)
		if err != nil {
			continue
		}
		got := string(appendURI(nil, u))
		want := string(AppendString(nil, u.String()))
		if got != want {
			t.Errorf("%q: appendURI %s, url.URL.String %s", s, got, want)
		}
	}
}

func FuzzAppendURI(f *testing.F) {
	f.Add("/bench")
	f.Add("https://example.com:1/x")
	f.Fuzz(func(t *testing.T, s string) {
		u, err := url.Parse(s)
		if err != nil {
			return
		}
		if got, want := string(appendURI(nil, u)), string(AppendString(nil, u.String())); got != want {
			t.Errorf("%q: appendURI %s, url.URL.String %s", s, got, want)
		}
	})
}
