package ce

import (
	"net/url"
)

// appendURI appends u as a JSON string, as AppendString(dst, u.String()) does. The common
// forms of a source or dataschema (a path such as /orders, or scheme://host/path) made of
// characters that neither url.URL.String escapes nor JSON needs escaped are written from their
// parts without building the string: this is the hot path of listen -o json and --record.
// Anything else goes through url.URL.String, the one definition of the text.
func appendURI(dst []byte, u *url.URL) []byte {
	if u.Opaque != "" || u.User != nil || u.RawPath != "" || u.RawQuery != "" || u.ForceQuery ||
		u.Fragment != "" || u.RawFragment != "" || u.OmitHost || !plainURIPart(u.Path, false) {
		return AppendString(dst, u.String())
	}
	switch {
	case u.Scheme == "" && u.Host == "":
		// A relative reference (RFC 3986 §4.2); without ':' no "./" is needed before it.
	case u.Scheme != "" && u.Host != "" && plainURIPart(u.Scheme, false) && plainURIPart(u.Host, true) &&
		(u.Path == "" || u.Path[0] == '/'):
	default:
		return AppendString(dst, u.String())
	}
	dst = append(dst, '"')
	if u.Scheme != "" {
		dst = append(dst, u.Scheme...)
		dst = append(dst, "://"...)
		dst = append(dst, u.Host...)
	}
	dst = append(dst, u.Path...)
	return append(dst, '"')
}

// plainURIPart reports whether s holds only letters, digits and "-._~/" (and ':' for a host
// with a port): unreserved characters (RFC 3986 §2.3) and delimiters that url.URL.String
// writes as they are and JSON does not escape. A path with '*' alone or '*' at all is left to
// url.URL.String.
func plainURIPart(s string, host bool) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case c == '-', c == '.', c == '_', c == '~':
		case c == '/' && !host:
		case c == ':' && host:
		default:
			return false
		}
	}
	return true
}
