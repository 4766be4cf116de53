package format

import (
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// hidden stands for a secret that is not shown.
const hidden = "(hidden)"

// secretHeaders are the header fields that carry credentials: the credentials of RFC 9110
// §11.6.2 and §11.7.2, session cookies (RFC 6265 §5.4, §4.1) and the API-key header many
// services take.
var secretHeaders = []string{"Authorization", "Proxy-Authorization", "Cookie", "Set-Cookie", "X-Api-Key"}

func isSecretHeader(name string) bool {
	name = strings.TrimSpace(name)
	for _, s := range secretHeaders {
		if strings.EqualFold(name, s) {
			return true
		}
	}
	return false
}

// hiddenValue is what is shown of a credential field: the scheme of an Authorization or
// Proxy-Authorization value ("Basic (hidden)"), nothing of the others.
func hiddenValue(name, v string) string {
	name = strings.TrimSpace(name)
	if strings.EqualFold(name, "Authorization") || strings.EqualFold(name, "Proxy-Authorization") {
		scheme, _, _ := strings.Cut(strings.TrimSpace(v), " ")
		return scheme + " " + hidden
	}
	return hidden
}

// HideCredentials returns h with the values of its credential fields (Authorization,
// Proxy-Authorization, Cookie, Set-Cookie, X-Api-Key) replaced by "(hidden)"; the scheme of
// an authorization is kept: "Basic (hidden)". h itself is not changed. Broker headers keep
// their own case, so names match in any.
func HideCredentials(h http.Header) http.Header {
	cloned := false
	for k, vs := range h {
		if len(vs) == 0 || !isSecretHeader(k) {
			continue
		}
		if !cloned {
			h, cloned = h.Clone(), true
		}
		out := make([]string, len(vs))
		for i, v := range vs {
			out[i] = hiddenValue(k, v)
		}
		h[k] = out
	}
	return h
}

// HideFieldCredentials is HideCredentials for header fields as they came, name and value in
// the sender's order and case: fields itself when none is a credential, else a copy.
func HideFieldCredentials(fields [][2]string) [][2]string {
	var out [][2]string
	for i, f := range fields {
		if !isSecretHeader(f[0]) {
			continue
		}
		if out == nil {
			out = slices.Clone(fields)
		}
		out[i][1] = hiddenValue(f[0], f[1])
	}
	if out == nil {
		return fields
	}
	return out
}

// ShownURL is a URL as cectl prints it, with its credentials masked: the password of
// user:password (RFC 3986 §3.2.1 deprecates it for this reason), and a NATS token, which
// stands alone where a user name would (nats://TOKEN@host). Output can then be shared.
// A URL that does not parse (a space in the host) is masked all the same: whatever stands
// between "://" and the last "@" is user information.
func ShownURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return shownUnparsed(raw)
	}
	if u.User == nil {
		return raw
	}
	if _, ok := u.User.Password(); ok {
		return u.Redacted()
	}
	if isNATS(u.Scheme) && u.User.Username() != "" {
		c := *u
		c.User = url.User("xxxxx")
		return c.String()
	}
	return raw
}

// shownUnparsed masks the user information of a URL url.Parse refused. Not knowing where
// the authority ends, it takes all up to the last "@" for it: "user:password" shows as
// "user:xxxxx", and one without a colon, which may be a token, as "xxxxx".
func shownUnparsed(raw string) string {
	scheme, rest, ok := strings.Cut(raw, "://")
	at := strings.LastIndexByte(rest, '@')
	if !ok || at < 0 {
		return raw
	}
	user, _, hasPass := strings.Cut(rest[:at], ":")
	if !hasPass {
		user = "xxxxx"
	} else {
		user += ":xxxxx"
	}
	return scheme + "://" + user + rest[at:]
}

func isNATS(scheme string) bool {
	switch strings.ToLower(scheme) {
	case "nats", "tls", "jetstream", "jetstreams", "natss", "ws", "wss":
		return true
	}
	return false
}

// MaskURLs replaces each of urls that carries credentials, as it is and as Go quotes it
// (%q), by its ShownURL in text: an error message that quotes a URL shows no secret.
func MaskURLs(text string, urls []string) string {
	// Longest first, so that a URL that contains another is replaced whole.
	urls = slices.Clone(urls)
	slices.SortFunc(urls, func(a, b string) int { return len(b) - len(a) })
	for _, raw := range urls {
		shown := ShownURL(raw)
		if shown == raw || raw == "" {
			continue
		}
		text = strings.ReplaceAll(text, strconv.Quote(raw), strconv.Quote(shown))
		text = strings.ReplaceAll(text, raw, shown)
	}
	return text
}
