package validate

import (
	"net/netip"
	"strconv"
)

// text is what the syntax checkers accept without copying.
type text interface{ ~string | ~[]byte }

// Character classes of RFC 3986 §2 and of RFC 2045 §5.1 tokens.
const (
	cUnreserved = 1 << iota // ALPHA / DIGIT / "-" / "." / "_" / "~"
	cSubDelim               // "!" / "$" / "&" / "'" / "(" / ")" / "*" / "+" / "," / ";" / "="
	cScheme                 // ALPHA / DIGIT / "+" / "-" / "."
	cHex                    // HEXDIG
	cToken                  // RFC 2045 token character
	cB64                    // RFC 4648 §4 alphabet
	cName                   // a-z / 0-9
)

// classes is built by a pure function and never written after; it acts as a
// constant table.
var classes = func() (t [256]uint8) {
	for c := 0; c < 256; c++ {
		b := byte(c)
		alpha := b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z'
		digit := b >= '0' && b <= '9'
		if alpha || digit || b == '-' || b == '.' || b == '_' || b == '~' {
			t[c] |= cUnreserved
		}
		switch b {
		case '!', '$', '&', '\'', '(', ')', '*', '+', ',', ';', '=':
			t[c] |= cSubDelim
		}
		if alpha || digit || b == '+' || b == '-' || b == '.' {
			t[c] |= cScheme
		}
		if digit || b >= 'a' && b <= 'f' || b >= 'A' && b <= 'F' {
			t[c] |= cHex
		}
		if b > 0x20 && b < 0x7f {
			switch b {
			case '(', ')', '<', '>', '@', ',', ';', ':', '\\', '"', '/', '[', ']', '?', '=':
			default:
				t[c] |= cToken
			}
		}
		if alpha || digit || b == '+' || b == '/' {
			t[c] |= cB64
		}
		if b >= 'a' && b <= 'z' || digit {
			t[c] |= cName
		}
	}
	return t
}()

// syntaxError locates a problem inside a checked value: At is the byte
// index into the value, Reason says what is wrong.
type syntaxError struct {
	At     int
	Reason string
}

func describeByte(b byte) string {
	switch {
	case b == ' ':
		return "a space"
	case b < 0x20 || b == 0x7f:
		return "control byte 0x" + strconv.FormatUint(uint64(b), 16)
	case b >= 0x80:
		return "non-ASCII character"
	case b == '\'':
		return `"'"`
	}
	return "'" + string(rune(b)) + "'"
}

// IsURIReference reports whether s is a URI-reference (RFC 3986 §4.1).
func IsURIReference(s string) bool { _, ok := checkURI(s, false, true); return ok }

// IsAbsoluteURI reports whether s is an absolute URI (RFC 3986 §4.3): a
// scheme, no fragment.
func IsAbsoluteURI(s string) bool { _, ok := checkURI(s, true, false); return ok }

// checkURI checks s against RFC 3986: a URI-reference (§4.1), or, with
// absolute set, an absolute-URI (§4.3). fragment allows a "#" part.
func checkURI[T text](s T, absolute, fragment bool) (syntaxError, bool) {
	n := len(s)
	i := 0
	hasScheme := false
	if n > 0 && isAlpha(s[0]) {
		j := 1
		for j < n && classes[s[j]]&cScheme != 0 {
			j++
		}
		if j < n && s[j] == ':' {
			hasScheme = true
			i = j + 1
		}
	}
	if absolute && !hasScheme {
		if n > 0 && !isAlpha(s[0]) {
			return syntaxError{0, "a scheme is required (it starts with a letter, like \"https:\")"}, false
		}
		return syntaxError{0, "a scheme is required (like \"https:\")"}, false
	}
	if i+1 < n && s[i] == '/' && s[i+1] == '/' {
		// "//" authority (§3.2), up to the next "/", "?" or "#".
		a := i + 2
		b := a
		for b < n && s[b] != '/' && s[b] != '?' && s[b] != '#' {
			b++
		}
		if e, ok := checkAuthority(s[a:b]); !ok {
			e.At += a
			return e, false
		}
		i = b
	} else if !hasScheme {
		// path-noscheme (§4.2): the first segment holds no ":".
		for j := i; j < n && s[j] != '/' && s[j] != '?' && s[j] != '#'; j++ {
			if s[j] == ':' {
				return syntaxError{j, "':' in the first path segment of a relative reference (a scheme must start with a letter and use only letters, digits, '+', '-', '.')"}, false
			}
		}
	}
	part := "path"
	for i < n {
		c := s[i]
		switch {
		case classes[c]&(cUnreserved|cSubDelim) != 0 || c == ':' || c == '@' || c == '/':
			i++
		case c == '%':
			if i+2 >= n || classes[s[i+1]]&cHex == 0 || classes[s[i+2]]&cHex == 0 {
				return syntaxError{i, "'%' not followed by two hex digits"}, false
			}
			i += 3
		case c == '?' && part != "fragment":
			if part == "path" {
				part = "query"
			}
			i++
		case c == '?':
			i++
		case c == '#' && part != "fragment":
			if !fragment {
				return syntaxError{i, "a fragment ('#') is not allowed in an absolute URI"}, false
			}
			part = "fragment"
			i++
		default:
			return syntaxError{i, describeByte(c) + " is not allowed in the " + part}, false
		}
	}
	return syntaxError{}, true
}

func isAlpha(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }

// checkAuthority checks [ userinfo "@" ] host [ ":" port ] (RFC 3986 §3.2).
func checkAuthority[T text](s T) (syntaxError, bool) {
	n := len(s)
	i := 0
	for j := 0; j < n; j++ {
		if s[j] == '@' {
			// userinfo (§3.2.1)
			if e, ok := checkChars(s[:j], ":", "user info"); !ok {
				return e, false
			}
			i = j + 1
			break
		}
	}
	if i < n && s[i] == '[' {
		// IP-literal (§3.2.2)
		j := i + 1
		for j < n && s[j] != ']' {
			j++
		}
		if j == n {
			return syntaxError{i, "'[' of an IP literal is not closed by ']'"}, false
		}
		if !ipLiteral(s[i+1 : j]) {
			return syntaxError{i + 1, "invalid IPv6 address or IPvFuture in the host"}, false
		}
		i = j + 1
		if i < n && s[i] != ':' {
			return syntaxError{i, describeByte(s[i]) + " after the IP literal (expected ':' and a port)"}, false
		}
	} else {
		j := i
		for j < n && s[j] != ':' {
			j++
		}
		if e, ok := checkChars(s[i:j], "", "host"); !ok {
			e.At += i
			return e, false
		}
		i = j
	}
	if i < n { // ":" port (§3.2.3)
		for j := i + 1; j < n; j++ {
			if s[j] < '0' || s[j] > '9' {
				return syntaxError{j, describeByte(s[j]) + " in the port (only digits are allowed)"}, false
			}
		}
	}
	return syntaxError{}, true
}

// checkChars allows unreserved, pct-encoded, sub-delims and the extra bytes.
func checkChars[T text](s T, extra, part string) (syntaxError, bool) {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if classes[c]&(cUnreserved|cSubDelim) != 0 {
			continue
		}
		if c == '%' {
			if i+2 >= len(s) || classes[s[i+1]]&cHex == 0 || classes[s[i+2]]&cHex == 0 {
				return syntaxError{i, "'%' not followed by two hex digits"}, false
			}
			i += 2
			continue
		}
		if len(extra) > 0 && c == extra[0] {
			continue
		}
		return syntaxError{i, describeByte(c) + " is not allowed in the " + part}, false
	}
	return syntaxError{}, true
}

func ipLiteral[T text](s T) bool {
	if len(s) > 0 && (s[0] == 'v' || s[0] == 'V') {
		// IPvFuture = "v" 1*HEXDIG "." 1*( unreserved / sub-delims / ":" )
		i := 1
		for i < len(s) && classes[s[i]]&cHex != 0 {
			i++
		}
		if i == 1 || i >= len(s) || s[i] != '.' || i+1 == len(s) {
			return false
		}
		_, ok := checkChars(s[i+1:], ":", "")
		return ok
	}
	colon := false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == ':':
			colon = true
		case c == '.' || classes[c]&cHex != 0:
		default:
			return false // also rules out zones ("%"), which RFC 3986 has not
		}
	}
	if !colon {
		return false
	}
	a, err := netip.ParseAddr(string(s))
	return err == nil && a.Is6()
}

// IsTimestamp reports whether s is an RFC 3339 date-time (§5.6).
func IsTimestamp(s string) bool { _, ok := checkTime(s); return ok }

func digits[T text](s T, i, n int) (int, bool) {
	v := 0
	for k := i; k < i+n; k++ {
		if k >= len(s) || s[k] < '0' || s[k] > '9' {
			return 0, false
		}
		v = v*10 + int(s[k]-'0')
	}
	return v, true
}

// checkTime checks RFC 3339 §5.6 date-time: full-date "T" full-time, with
// "t"/"z" allowed in lower case (§5.6 note) and range checks of §5.7.
func checkTime[T text](s T) (syntaxError, bool) {
	const example = ` (expected like "2018-04-05T17:31:00Z")`
	year, ok := digits(s, 0, 4)
	if !ok || len(s) < 5 || s[4] != '-' {
		return syntaxError{0, "the date does not start with a 4-digit year and '-'" + example}, false
	}
	month, ok := digits(s, 5, 2)
	if !ok || len(s) < 8 || s[7] != '-' {
		return syntaxError{5, "expected a 2-digit month and '-'" + example}, false
	}
	if month < 1 || month > 12 {
		return syntaxError{5, "month " + strconv.Itoa(month) + " is out of range 01-12"}, false
	}
	day, ok := digits(s, 8, 2)
	if !ok {
		return syntaxError{8, "expected a 2-digit day" + example}, false
	}
	if day < 1 || day > daysIn(month, year) {
		return syntaxError{8, "day " + strconv.Itoa(day) + " does not exist in " + strconv.Itoa(year) + "-" + pad2(month)}, false
	}
	if len(s) < 11 || s[10] != 'T' && s[10] != 't' {
		if len(s) == 10 {
			return syntaxError{9, "the time of day is missing" + example}, false
		}
		return syntaxError{10, "expected 'T' between date and time" + example}, false
	}
	hour, ok := digits(s, 11, 2)
	if !ok || len(s) < 14 || s[13] != ':' {
		return syntaxError{11, "expected a 2-digit hour and ':'" + example}, false
	}
	if hour > 23 {
		return syntaxError{11, "hour " + strconv.Itoa(hour) + " is out of range 00-23"}, false
	}
	minute, ok := digits(s, 14, 2)
	if !ok {
		return syntaxError{14, "expected 2-digit minutes" + example}, false
	}
	if minute > 59 {
		return syntaxError{14, "minute " + strconv.Itoa(minute) + " is out of range 00-59"}, false
	}
	if len(s) < 17 || s[16] != ':' {
		return syntaxError{min(16, len(s)-1), "seconds are missing" + example}, false
	}
	sec, ok := digits(s, 17, 2)
	if !ok {
		return syntaxError{17, "expected 2-digit seconds" + example}, false
	}
	if sec > 60 { // 60 is a leap second (§5.7)
		return syntaxError{17, "second " + strconv.Itoa(sec) + " is out of range 00-60"}, false
	}
	i := 19
	if i < len(s) && s[i] == '.' {
		j := i + 1
		for j < len(s) && s[j] >= '0' && s[j] <= '9' {
			j++
		}
		if j == i+1 {
			return syntaxError{i, "'.' is not followed by fraction digits"}, false
		}
		i = j
	}
	if i >= len(s) {
		return syntaxError{len(s) - 1, "the time zone offset is missing (expected 'Z' or like \"+01:00\")"}, false
	}
	switch s[i] {
	case 'Z', 'z':
		i++
	case '+', '-':
		oh, ok := digits(s, i+1, 2)
		if !ok || i+3 >= len(s) || s[i+3] != ':' {
			return syntaxError{i, "the offset must be +hh:mm or -hh:mm"}, false
		}
		om, ok := digits(s, i+4, 2)
		if !ok {
			return syntaxError{i, "the offset must be +hh:mm or -hh:mm"}, false
		}
		if oh > 23 || om > 59 {
			return syntaxError{i + 1, "the offset " + string(s[i:i+6]) + " is out of range"}, false
		}
		i += 6
	default:
		return syntaxError{i, describeByte(s[i]) + " where the time zone offset belongs (expected 'Z' or like \"+01:00\")"}, false
	}
	if i < len(s) {
		return syntaxError{i, "unexpected text after the time zone offset"}, false
	}
	return syntaxError{}, true
}

func pad2(v int) string {
	if v < 10 {
		return "0" + strconv.Itoa(v)
	}
	return strconv.Itoa(v)
}

func daysIn(month, year int) int {
	switch month {
	case 2:
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// IsMediaType reports whether s is a media type: type "/" subtype with
// optional parameters (RFC 2046 §1, RFC 2045 §5.1; optional white space
// around ";" as in RFC 7231 §3.1.1.1).
func IsMediaType(s string) bool { _, ok := checkMediaType(s); return ok }

func checkMediaType[T text](s T) (syntaxError, bool) {
	n := len(s)
	i := 0
	for i < n && classes[s[i]]&cToken != 0 {
		i++
	}
	if i == 0 {
		if n == 0 {
			return syntaxError{0, "the media type is empty"}, false
		}
		return syntaxError{0, describeByte(s[0]) + " where the type belongs (expected like \"application/json\")"}, false
	}
	if i == n || s[i] != '/' {
		if i == n {
			return syntaxError{n - 1, "'/' and a subtype are missing (expected like \"application/json\")"}, false
		}
		return syntaxError{i, describeByte(s[i]) + " after the type (expected '/' and a subtype)"}, false
	}
	i++
	j := i
	for j < n && classes[s[j]]&cToken != 0 {
		j++
	}
	if j == i {
		if j == n {
			return syntaxError{n - 1, "the subtype is missing"}, false
		}
		return syntaxError{j, describeByte(s[j]) + " where the subtype belongs"}, false
	}
	i = j
	for i < n {
		for i < n && (s[i] == ' ' || s[i] == '\t') {
			i++
		}
		if i == n {
			return syntaxError{n - 1, "trailing white space"}, false
		}
		if s[i] != ';' {
			return syntaxError{i, describeByte(s[i]) + " after the media type (expected ';' and a parameter)"}, false
		}
		i++
		for i < n && (s[i] == ' ' || s[i] == '\t') {
			i++
		}
		j := i
		for j < n && classes[s[j]]&cToken != 0 {
			j++
		}
		if j == i {
			if j == n {
				return syntaxError{n - 1, "a parameter is missing after ';'"}, false
			}
			return syntaxError{j, describeByte(s[j]) + " where a parameter name belongs"}, false
		}
		if j == n || s[j] != '=' {
			if j == n {
				return syntaxError{n - 1, "parameter without '=' and a value"}, false
			}
			return syntaxError{j, describeByte(s[j]) + " after the parameter name (expected '=')"}, false
		}
		i = j + 1
		if i < n && s[i] == '"' { // quoted-string (RFC 822 §3.3)
			k := i + 1
			for ; k < n && s[k] != '"'; k++ {
				if s[k] == '\\' {
					k++
					continue
				}
				if (s[k] < 0x20 && s[k] != '\t') || s[k] >= 0x7f {
					return syntaxError{k, describeByte(s[k]) + " inside a quoted parameter value"}, false
				}
			}
			if k >= n {
				return syntaxError{i, "the quoted parameter value is not closed"}, false
			}
			i = k + 1
			continue
		}
		k := i
		for k < n && classes[s[k]]&cToken != 0 {
			k++
		}
		if k == i {
			if k == n {
				return syntaxError{n - 1, "the parameter value is missing"}, false
			}
			return syntaxError{k, describeByte(s[k]) + " where the parameter value belongs"}, false
		}
		i = k
	}
	return syntaxError{}, true
}

// isJSONMediaType reports whether a media type declares JSON data: subtype
// "json" or a "+json" suffix, parameters ignored, case-insensitive (JSON
// format v1.0.2 §3.1.1; v0.3 §3.1).
func isJSONMediaType[T text](s T) bool {
	end := 0
	slash := -1
	for end < len(s) && s[end] != ';' && s[end] != ' ' && s[end] != '\t' {
		if s[end] == '/' && slash < 0 {
			slash = end
		}
		end++
	}
	if slash < 0 {
		return false
	}
	sub := s[slash+1 : end]
	if len(sub) < 4 {
		return false
	}
	tail := sub[len(sub)-4:]
	if !equalFold4(tail, "json") {
		return false
	}
	return len(sub) == 4 || sub[len(sub)-5] == '+'
}

func equalFold4[T text](a T, b string) bool {
	for i := 0; i < 4; i++ {
		c := a[i]
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != b[i] {
			return false
		}
	}
	return true
}

// IsExtensionName reports whether name is a valid attribute name for the
// given specversion: only a-z and 0-9 (spec v1.0.2 Attribute Naming
// Convention); v0.3 also requires a leading letter (v0.3 Attribute Naming
// Convention).
func IsExtensionName(name, specversion string) bool {
	_, ok := checkName(name, specversion == "0.3")
	return ok
}

func checkName[T text](s T, v03 bool) (syntaxError, bool) {
	if len(s) == 0 {
		return syntaxError{0, "the name is empty"}, false
	}
	for i := 0; i < len(s); i++ {
		if classes[s[i]]&cName == 0 {
			c := s[i]
			hint := ""
			if c >= 'A' && c <= 'Z' {
				hint = " (names are lower case)"
			}
			return syntaxError{i, describeByte(c) + " is not allowed; names use only a-z and 0-9" + hint}, false
		}
	}
	if v03 && (s[0] < 'a' || s[0] > 'z') {
		return syntaxError{0, "v0.3 names must start with a letter a-z"}, false
	}
	return syntaxError{}, true
}

// IsBase64 reports whether s is standard base64 with padding (RFC 4648 §4).
func IsBase64(s string) bool { _, ok := checkBase64(s); return ok }

func checkBase64[T text](s T) (syntaxError, bool) {
	n := len(s)
	for i := 0; i < n; i++ {
		c := s[i]
		if classes[c]&cB64 != 0 {
			continue
		}
		if c == '=' {
			if i < n-2 || n%4 != 0 || (i == n-2 && s[n-1] != '=') {
				return syntaxError{i, "'=' padding is only allowed as the last one or two characters of a length that is a multiple of 4"}, false
			}
			continue
		}
		hint := ""
		if c == '-' || c == '_' {
			hint = " (that is the URL-safe alphabet; the standard one uses '+' and '/')"
		}
		return syntaxError{i, describeByte(c) + " is not in the standard base64 alphabet" + hint}, false
	}
	if n%4 != 0 {
		return syntaxError{max(n-1, 0), "the length " + strconv.Itoa(n) + " is not a multiple of 4 (padding '=' missing?)"}, false
	}
	return syntaxError{}, true
}
