package format

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"unicode/utf8"
)

// Sanitize makes a string that came off the network safe to print on one terminal line:
// control characters (C0, DEL, C1: the ESC of ANSI sequences and the CSI of their 8-bit form
// among them), bidirectional overrides and invalid UTF-8 are shown as Go-style escapes instead
// of being sent to the terminal.
func Sanitize(s string) string { return sanitize(s, false) }

// SanitizeBlock is Sanitize for multi-line text: newlines and tabs are kept.
func SanitizeBlock(s string) string { return sanitize(s, true) }

func sanitize(s string, block bool) string {
	if isClean(s, block) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 16)
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case block && (r == '\n' || r == '\t'):
			b.WriteRune(r)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case unsafeRune(r):
			if r < 0x100 {
				fmt.Fprintf(&b, `\x%02x`, r)
			} else {
				fmt.Fprintf(&b, `\u%04x`, r)
			}
		default:
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	return b.String()
}

func isClean(s string, block bool) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c < 0x7f {
			continue
		}
		if block && (c == '\n' || c == '\t') {
			continue
		}
		if c < utf8.RuneSelf {
			return false
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if (r == utf8.RuneError && size == 1) || unsafeRune(r) {
			return false
		}
		i += size - 1
	}
	return true
}

func unsafeRune(r rune) bool {
	switch {
	case r < 0x20, r == 0x7f, r >= 0x80 && r <= 0x9f:
		return true
	case r >= 0x200e && r <= 0x200f, r >= 0x202a && r <= 0x202e, r >= 0x2066 && r <= 0x2069:
		// Bidirectional controls can make a terminal line read differently from its bytes.
		return true
	}
	return false
}

// marshalLine is json.Marshal for a line of `-o json`: besides what encoding/json escapes, it
// escapes DEL, the C1 controls and the bidirectional controls (as ce.AppendString does), which
// are valid JSON (RFC 8259 §7) but act on the terminal the line is printed to. Such runes can
// only appear inside JSON strings, where \uXXXX stands for them.
func marshalLine(v any) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return escapeUnsafeJSON(b), nil
}

func escapeUnsafeJSON(b []byte) []byte {
	var out []byte
	start := 0
	for i := 0; i < len(b); {
		c := b[i]
		if c < utf8.RuneSelf && c != 0x7f {
			i++
			continue
		}
		r, size := utf8.DecodeRune(b[i:])
		if !unsafeRune(r) {
			i += size
			continue
		}
		if out == nil {
			out = make([]byte, 0, len(b)+16)
		}
		out = append(out, b[start:i]...)
		out = fmt.Appendf(out, `\u%04x`, r)
		i += size
		start = i
	}
	if out == nil {
		return b
	}
	return append(out, b[start:]...)
}

// HideDumpCredentials is HideCredentials for an HTTP request as it goes on the wire (a
// --dry-run): the value of each credential field of its header section is hidden.
func HideDumpCredentials(msg []byte) []byte {
	end := bytes.Index(msg, []byte("\r\n\r\n"))
	if end < 0 {
		end = len(msg)
	}
	var out []byte
	for start := 0; start < end; {
		eol := bytes.Index(msg[start:end], []byte("\r\n"))
		if eol < 0 {
			eol = end - start
		}
		line := msg[start : start+eol]
		name, value, ok := bytes.Cut(line, []byte(":"))
		if ok && isSecretHeader(string(name)) {
			if out == nil {
				out = append(make([]byte, 0, len(msg)), msg[:start]...)
			}
			out = append(append(append(out, name...), ": "...), hiddenValue(string(name), string(value))...)
		} else if out != nil {
			out = append(out, line...)
		}
		start += eol
		if start < end {
			start += 2
			if out != nil {
				out = append(out, "\r\n"...)
			}
		}
	}
	if out == nil {
		return msg
	}
	return append(out, msg[end:]...)
}
