package validate

import (
	"bytes"
	"encoding/binary"
	"strconv"
	"unicode/utf8"
)

// This file holds the JSON scanner (RFC 8259). It never builds values: it
// walks the bytes once, reports the first syntax error of a document, and
// records where the members of the event object are.

// kind is the JSON type of a value.
type kind uint8

const (
	kNone kind = iota // absent
	kString
	kNumber
	kTrue
	kFalse
	kNull
	kObject
	kArray
)

func (k kind) String() string {
	switch k {
	case kString:
		return "a string"
	case kNumber:
		return "a number"
	case kTrue, kFalse:
		return "a boolean"
	case kNull:
		return "null"
	case kObject:
		return "an object"
	case kArray:
		return "an array"
	}
	return "nothing"
}

// maxDepth bounds nesting so that hostile input cannot grow the stacks
// without limit (encoding/json uses the same bound).
const maxDepth = 10000

// strPlain marks bytes that need no attention inside a JSON string.
var strPlain = func() (t [256]bool) {
	for c := 0x20; c < 0x80; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// nameRef locates a decoded member name: in the document when the name has
// no escapes, else in the arena.
type nameRef struct {
	start, end int32
	arena      bool
}

// frame is one open object or array in value().
type frame struct {
	obj        bool
	namesStart int // index into checker.nested of this object's first name
	cur        nameRef
	index      int
	set        map[string]struct{} // built when an object has many members
}

func (c *checker) ws(i int) int {
	doc := c.doc
	for i < len(doc) {
		switch doc[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

// lastByte is where an "unexpected end of input" is reported: the last
// non-blank byte, so that the position lies inside the input.
func (c *checker) lastByte() int {
	i := len(c.doc) - 1
	for i > 0 {
		switch c.doc[i] {
		case ' ', '\t', '\n', '\r':
			i--
			continue
		}
		break
	}
	return max(i, 0)
}

func (c *checker) syntax(off int, msg string) {
	if c.fatal {
		return
	}
	c.fatal = true
	c.add(RuleJSONSyntax, Error, off, c.syntaxPointer(), "invalid JSON: "+msg)
}

func (c *checker) eof(expected string) {
	c.syntax(c.lastByte(), "unexpected end of input, expected "+expected)
}

// found describes the byte at i for a syntax message.
func (c *checker) found(i int) string {
	if i >= len(c.doc) {
		return "end of input"
	}
	b := c.doc[i]
	if b >= 0x80 {
		r, _ := utf8.DecodeRune(c.doc[i:])
		if r == utf8.RuneError {
			return "byte 0x" + strconv.FormatUint(uint64(b), 16)
		}
		return strconv.QuoteRune(r)
	}
	if b < 0x20 || b == 0x7f {
		return "control byte 0x" + strconv.FormatUint(uint64(b), 16)
	}
	return "'" + string(rune(b)) + "'"
}

// str scans the string whose opening quote is at i. It returns the index
// after the closing quote and whether the string holds escapes.
func (c *checker) str(i int) (int, bool, bool) {
	doc := c.doc
	i++
	esc := false
	for {
		i += plainRun(doc[i:])
		for i < len(doc) && strPlain[doc[i]] {
			i++
		}
		if i >= len(doc) {
			c.eof("'\"' closing the string")
			return i, esc, false
		}
		switch b := doc[i]; {
		case b == '"':
			return i + 1, esc, true
		case b == '\\':
			esc = true
			if i+1 >= len(doc) {
				c.eof("an escape sequence")
				return i, esc, false
			}
			switch doc[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				for k := i + 2; k < i+6; k++ {
					if k >= len(doc) {
						c.eof("4 hex digits after \\u")
						return k, esc, false
					}
					if classes[doc[k]]&cHex == 0 {
						c.syntax(k, "expected 4 hex digits after \\u, found "+c.found(k))
						return k, esc, false
					}
				}
				i += 6
			default:
				c.syntax(i, "invalid escape: '\\' followed by "+c.found(i+1)+" (valid: \\\" \\\\ \\/ \\b \\f \\n \\r \\t \\uXXXX)")
				return i, esc, false
			}
		case b < 0x20:
			c.syntax(i, "unescaped control character U+"+hex4(rune(b))+" in a string (write it as an escape such as \\n or \\u00XX)")
			return i, esc, false
		default: // non-ASCII
			r, size := utf8.DecodeRune(doc[i:])
			if r == utf8.RuneError && size <= 1 {
				c.invalidUTF8(i)
				size = 1
			}
			i += size
		}
	}
}

func (c *checker) invalidUTF8(i int) {
	if c.badUTF8 {
		return
	}
	c.badUTF8 = true
	c.add(RuleUTF8, Error, i, c.syntaxPointer(),
		"invalid UTF-8: byte 0x"+strconv.FormatUint(uint64(c.doc[i]), 16)+" does not start a valid UTF-8 sequence; the document must be UTF-8 (RFC 8259 §8.1)")
}

func hex4(r rune) string {
	const digits = "0123456789ABCDEF"
	return string([]byte{digits[r>>12&15], digits[r>>8&15], digits[r>>4&15], digits[r&15]})
}

// number scans a number starting at i and reports whether it has neither
// fraction nor exponent.
func (c *checker) number(i int) (int, bool, bool) {
	doc := c.doc
	j := i
	if doc[j] == '-' {
		j++
	}
	switch {
	case j >= len(doc):
		c.eof("a digit")
		return j, false, false
	case doc[j] == '0':
		j++
		if j < len(doc) && doc[j] >= '0' && doc[j] <= '9' {
			c.syntax(j, "a number must not have a leading zero")
			return j, false, false
		}
	case doc[j] >= '1' && doc[j] <= '9':
		for j < len(doc) && doc[j] >= '0' && doc[j] <= '9' {
			j++
		}
	default:
		c.syntax(j, "expected a digit, found "+c.found(j))
		return j, false, false
	}
	isInt := true
	if j < len(doc) && doc[j] == '.' {
		isInt = false
		j++
		k := j
		for j < len(doc) && doc[j] >= '0' && doc[j] <= '9' {
			j++
		}
		if j == k {
			if j >= len(doc) {
				c.eof("a digit after '.'")
			} else {
				c.syntax(j, "expected a digit after '.', found "+c.found(j))
			}
			return j, false, false
		}
	}
	if j < len(doc) && (doc[j] == 'e' || doc[j] == 'E') {
		isInt = false
		j++
		if j < len(doc) && (doc[j] == '+' || doc[j] == '-') {
			j++
		}
		k := j
		for j < len(doc) && doc[j] >= '0' && doc[j] <= '9' {
			j++
		}
		if j == k {
			if j >= len(doc) {
				c.eof("a digit in the exponent")
			} else {
				c.syntax(j, "expected a digit in the exponent, found "+c.found(j))
			}
			return j, false, false
		}
	}
	return j, isInt, true
}

func (c *checker) literal(i int, lit string) (int, bool) {
	doc := c.doc
	for k := 0; k < len(lit); k++ {
		if i+k >= len(doc) {
			c.eof(strconv.Quote(lit))
			return i + k, false
		}
		if doc[i+k] != lit[k] {
			c.syntax(i, "invalid literal, expected "+lit)
			return i, false
		}
	}
	return i + len(lit), true
}

// scalar scans a string, number or literal at i.
func (c *checker) scalar(i int) (end int, k kind, esc, isInt, ok bool) {
	switch b := c.doc[i]; {
	case b == '"':
		end, esc, ok = c.str(i)
		return end, kString, esc, false, ok
	case b == 't':
		end, ok = c.literal(i, "true")
		return end, kTrue, false, false, ok
	case b == 'f':
		end, ok = c.literal(i, "false")
		return end, kFalse, false, false, ok
	case b == 'n':
		end, ok = c.literal(i, "null")
		return end, kNull, false, false, ok
	case b == '-' || b >= '0' && b <= '9':
		end, isInt, ok = c.number(i)
		return end, kNumber, false, isInt, ok
	}
	c.syntax(i, "expected a value, found "+c.found(i))
	return i, kNone, false, false, false
}

// value checks the syntax of any JSON value at i (after white space) and
// returns its end. Duplicate member names inside it are warnings: RFC 8259
// §4 says names SHOULD be unique, and decoders disagree on which one wins.
func (c *checker) value(i int) (int, bool) {
	doc := c.doc
	c.frames = c.frames[:0]
	c.nested = c.nested[:0]
	for {
		// A value starts at i.
		i = c.ws(i)
		if i >= len(doc) {
			c.eof("a value")
			return i, false
		}
		switch doc[i] {
		case '{', '[':
			if len(c.frames) >= maxDepth {
				c.syntax(i, "nesting deeper than "+strconv.Itoa(maxDepth)+" levels")
				return i, false
			}
			obj := doc[i] == '{'
			c.frames = append(c.frames, frame{obj: obj, namesStart: len(c.nested)})
			i = c.ws(i + 1)
			if i < len(doc) && (obj && doc[i] == '}' || !obj && doc[i] == ']') {
				c.frames = c.frames[:len(c.frames)-1]
				i++
				break
			}
			if obj {
				var ok bool
				if i, ok = c.nestedName(i); !ok {
					return i, false
				}
			}
			continue
		default:
			var ok bool
			if i, _, _, _, ok = c.scalar(i); !ok {
				return i, false
			}
		}
		// A value ended at i: close containers until one continues.
		for {
			if len(c.frames) == 0 {
				return i, true
			}
			i = c.ws(i)
			f := &c.frames[len(c.frames)-1]
			if i >= len(doc) {
				if f.obj {
					c.eof("',' or '}'")
				} else {
					c.eof("',' or ']'")
				}
				return i, false
			}
			b := doc[i]
			if b == ',' {
				i = c.ws(i + 1)
				if f.obj {
					var ok bool
					if i, ok = c.nestedName(i); !ok {
						return i, false
					}
				} else {
					f.index++
					if i < len(doc) && doc[i] == ']' {
						c.syntax(i, "trailing comma before ']'")
						return i, false
					}
				}
				break
			}
			if f.obj && b == '}' || !f.obj && b == ']' {
				c.nested = c.nested[:f.namesStart]
				c.frames = c.frames[:len(c.frames)-1]
				i++
				continue
			}
			if f.obj {
				c.syntax(i, "expected ',' or '}' after an object member, found "+c.found(i))
			} else {
				c.syntax(i, "expected ',' or ']' after an array element, found "+c.found(i))
			}
			return i, false
		}
	}
}

// nestedName scans `"name" :` inside value() and checks it is unique in
// its object.
func (c *checker) nestedName(i int) (int, bool) {
	doc := c.doc
	if !c.atMemberName(i) {
		return i, false
	}
	end, esc, ok := c.str(i)
	if !ok {
		return end, false
	}
	ref := c.nameRef(i, end, esc)
	name := c.bytesOf(ref)
	f := &c.frames[len(c.frames)-1]
	dup := false
	if f.set != nil {
		_, dup = f.set[string(name)]
		if !dup {
			f.set[string(name)] = struct{}{}
		}
	} else {
		for _, r := range c.nested[f.namesStart:] {
			if bytes.Equal(c.bytesOf(r), name) {
				dup = true
				break
			}
		}
		if len(c.nested)-f.namesStart >= 32 {
			f.set = make(map[string]struct{}, 64)
			for _, r := range c.nested[f.namesStart:] {
				f.set[string(c.bytesOf(r))] = struct{}{}
			}
			f.set[string(name)] = struct{}{}
		}
	}
	f.cur = ref
	if dup {
		c.add(RuleDuplicateMember, Warning, i, c.nestedPointer(),
			"member "+quote(name)+" appears more than once in this object; decoders disagree on which value wins (RFC 8259 §4)")
	} else {
		c.nested = append(c.nested, ref)
	}
	i = c.ws(end)
	if i >= len(doc) {
		c.eof("':'")
		return i, false
	}
	if doc[i] != ':' {
		c.syntax(i, "expected ':' after the member name, found "+c.found(i))
		return i, false
	}
	return i + 1, true
}

// nameRef returns a reference to the decoded content of the string token
// doc[start:end].
func (c *checker) nameRef(start, end int, esc bool) nameRef {
	if !esc {
		return nameRef{int32(start + 1), int32(end - 1), false}
	}
	s := len(c.arena)
	c.arena = appendUnquoted(c.arena, c.doc[start+1:end-1])
	return nameRef{int32(s), int32(len(c.arena)), true}
}

func (c *checker) bytesOf(r nameRef) []byte {
	if r.arena {
		return c.arena[r.start:r.end]
	}
	return c.doc[r.start:r.end]
}

// appendUnquoted appends the decoded content of a syntactically valid JSON
// string body. Unpaired surrogates become U+FFFD (they are reported by the
// character rules, not here).
func appendUnquoted(dst, s []byte) []byte {
	for i := 0; i < len(s); {
		b := s[i]
		if b != '\\' {
			j := i + 1
			for j < len(s) && s[j] != '\\' {
				j++
			}
			dst = append(dst, s[i:j]...)
			i = j
			continue
		}
		switch s[i+1] {
		case 'b':
			dst = append(dst, '\b')
		case 'f':
			dst = append(dst, '\f')
		case 'n':
			dst = append(dst, '\n')
		case 'r':
			dst = append(dst, '\r')
		case 't':
			dst = append(dst, '\t')
		case 'u':
			r := hexRune(s[i+2 : i+6])
			if r >= 0xD800 && r < 0xDC00 && i+11 < len(s) && s[i+6] == '\\' && s[i+7] == 'u' {
				if r2 := hexRune(s[i+8 : i+12]); r2 >= 0xDC00 && r2 < 0xE000 {
					dst = utf8.AppendRune(dst, (r-0xD800)<<10+(r2-0xDC00)+0x10000)
					i += 12
					continue
				}
			}
			dst = utf8.AppendRune(dst, r) // surrogates encode as U+FFFD
			i += 6
			continue
		default: // '"', '\\', '/'
			dst = append(dst, s[i+1])
		}
		i += 2
	}
	return dst
}

func hexRune(h []byte) rune {
	var r rune
	for _, c := range h[:4] {
		switch {
		case c >= '0' && c <= '9':
			r = r<<4 | rune(c-'0')
		case c >= 'a' && c <= 'f':
			r = r<<4 | rune(c-'a'+10)
		default:
			r = r<<4 | rune(c-'A'+10)
		}
	}
	return r
}

// quote renders a value for a message: Go-quoted (so control characters
// and terminal escapes are escaped), shortened when long.
func quote(b []byte) string {
	const limit = 60
	if utf8.RuneCount(b) > limit {
		n, i := 0, 0
		for i < len(b) && n < limit {
			_, size := utf8.DecodeRune(b[i:])
			i += size
			n++
		}
		return strconv.Quote(string(b[:i])) + "…"
	}
	return strconv.Quote(string(b))
}

// SWAR helpers: test 8 bytes at a time.
const (
	ones  = 0x0101010101010101
	highs = 0x8080808080808080
)

// special has the high bit set in each byte of v that is below 0x20, '"',
// '\\' or non-ASCII; it may also flag some bytes next to those, which only
// makes the caller fall back to the byte loop early.
func special(v uint64) uint64 {
	const quote, backslash = '"' * ones, '\\' * ones
	lt := (v - 0x20*ones) & ^v
	q := v ^ quote
	q = (q - ones) & ^q
	b := v ^ backslash
	b = (b - ones) & ^b
	return (lt | q | b | v) & highs
}

// plainRun returns how many leading bytes of s, in whole 8-byte words, need
// no attention inside a JSON string.
func plainRun(s []byte) int {
	n := 0
	for n+8 <= len(s) && special(binary.LittleEndian.Uint64(s[n:])) == 0 {
		n += 8
	}
	return n
}

// printableASCII reports whether s holds only bytes 0x20-0x7e.
func printableASCII(s []byte) bool {
	n := 0
	for ; n+8 <= len(s); n += 8 {
		v := binary.LittleEndian.Uint64(s[n:])
		del := v ^ 0x7f*ones
		del = (del - ones) & ^del
		if ((v-0x20*ones)&^v|v|del)&highs != 0 {
			return false
		}
	}
	for _, b := range s[n:] {
		if b < 0x20 || b >= 0x7f {
			return false
		}
	}
	return true
}
