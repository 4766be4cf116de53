package validate

import (
	"bytes"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"
)

// DataReader is Data for data read from r as it comes: the findings are those Data returns
// for the same bytes (rule, level, pointer, offset, line, column and message), in the same
// order. It holds a few kilobytes of the data at a time, and besides that only what a
// pointer or a duplicate member needs: the member names of the objects open at the point
// reached, and a name, number or literal while it is read. It is for data too large to hold
// in memory, a file sent as an event's data; an error reading r ends it with that error.
func (v *Validator) DataReader(r io.Reader) ([]Finding, error) {
	d := &dataReader{opts: v.c.opts, r: r, buf: make([]byte, 0, 64<<10), lastNB: -1, line: 1, col: 1}
	i := d.ws(0)
	if !d.has(i) {
		if d.err != nil {
			return nil, d.err
		}
		d.syntax(d.lastByte(), "the data is empty or white space, which is no JSON value")
		return d.finish()
	}
	end, ok := d.value(i)
	if ok {
		if j := d.ws(end); d.has(j) {
			d.add(RuleTrailingData, Error, j, "", "unexpected "+d.found(j)+" after the end of the JSON value; expected nothing but white space")
		}
	}
	return d.finish()
}

// dataReader is the checker of scan.go, for one value read from a stream: the same grammar,
// the same messages and pointers, offsets into the whole stream.
type dataReader struct {
	opts Options
	r    io.Reader
	buf  []byte // the bytes from offset base on that were read
	base int
	end  bool  // r is at its end: base+len(buf) is the length of the data
	err  error // reading r failed
	// keep is the first offset that may be read again or be the offset of a finding: fill
	// drops the bytes before it.
	keep int
	// lastNB is the offset of the last byte read that is not white space, -1 before one.
	lastNB int
	// line and col are the position of offset pos, the bytes before which are counted;
	// nbLine and nbCol that of lastNB once pos is past it.
	pos, line, col int
	nbLine, nbCol  int

	fatal, badUTF8 bool
	frames         []streamFrame
	names          []nameSpan // the member names of the open objects, a name once
	arena          []byte     // the names, decoded
	out            []Finding
}

// streamFrame is one open object or array.
type streamFrame struct {
	obj        bool
	cur        nameSpan // the name of the member being read
	index      int
	namesStart int                 // index into dataReader.names of this object's first name
	arenaStart int                 // where its names start in dataReader.arena
	set        map[string]struct{} // its names, once there are many
}

// nameSpan is a member name in dataReader.arena.
type nameSpan struct{ start, end int }

// has reports whether the data has a byte at offset i, reading as far as that.
func (d *dataReader) has(i int) bool {
	for i >= d.base+len(d.buf) {
		if d.end || d.err != nil {
			return false
		}
		d.fill()
	}
	return true
}

// at is the byte at offset i, which has(i) said there is.
func (d *dataReader) at(i int) byte { return d.buf[i-d.base] }

// fill drops what is no longer needed and reads more.
func (d *dataReader) fill() {
	if k := d.count(d.keep); k > d.base {
		n := copy(d.buf, d.buf[k-d.base:])
		d.buf, d.base = d.buf[:n], k
	}
	if len(d.buf) == cap(d.buf) {
		d.buf = append(d.buf, make([]byte, cap(d.buf))...)[:len(d.buf)]
	}
	old := len(d.buf)
	n, err := d.r.Read(d.buf[old:cap(d.buf)])
	d.buf = d.buf[:old+n]
	for j := old + n - 1; j >= old; j-- {
		if !isWS(d.buf[j]) {
			d.lastNB = d.base + j
			break
		}
	}
	switch {
	case err == io.EOF:
		d.end = true
	case err != nil:
		d.err = err
	}
}

func isWS(b byte) bool { return b == ' ' || b == '\t' || b == '\n' || b == '\r' }

// count counts the lines and columns of the bytes up to offset to, or a little less so as to
// stop between two characters, and returns where it stopped.
func (d *dataReader) count(to int) int {
	for k := 1; k <= utf8.UTFMax-1 && to-k >= d.pos; k++ {
		if d.at(to-k) >= 0xc0 { // starts a character that may go on past to
			to -= k
			break
		}
	}
	if to <= d.pos {
		return d.pos
	}
	if d.lastNB >= d.pos && d.lastNB < to {
		d.nbLine, d.nbCol = d.lineCol(d.lastNB)
	}
	d.line, d.col = d.lineCol(to)
	d.pos = to
	return to
}

// lineCol is checker.lineCol for an offset not before pos, or lastNB.
func (d *dataReader) lineCol(off int) (int, int) {
	if off < d.pos {
		if off == 0 {
			return 1, 1
		}
		return d.nbLine, d.nbCol // off is lastNB: see count
	}
	pre := d.buf[d.pos-d.base : off-d.base]
	nl := bytes.Count(pre, newline)
	if nl == 0 {
		return d.line, d.col + utf8.RuneCount(pre)
	}
	return d.line + nl, 1 + utf8.RuneCount(pre[bytes.LastIndexByte(pre, '\n')+1:])
}

func (d *dataReader) add(rule string, level Level, off int, pointer, msg string) {
	if d.opts.Rules.ignored(rule) {
		return
	}
	if level == Warning && d.opts.Strict {
		level = Error
	}
	line, col := d.lineCol(off)
	d.out = append(d.out, Finding{Rule: rule, Level: level, Pointer: pointer, Offset: off, Line: line, Column: col, Message: msg})
}

// finish sorts the findings by offset as checker.finish does.
func (d *dataReader) finish() ([]Finding, error) {
	if d.err != nil {
		return nil, d.err
	}
	out := d.out
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && out[j].Offset < out[j-1].Offset; j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out, nil
}

func (d *dataReader) ws(i int) int {
	for {
		d.keep = i
		if !d.has(i) {
			return i
		}
		s := d.buf[i-d.base:]
		n := 0
		for n < len(s) && isWS(s[n]) {
			n++
		}
		i += n
		if n < len(s) {
			return i
		}
	}
}

func (d *dataReader) lastByte() int { return max(d.lastNB, 0) }

func (d *dataReader) pointer() string {
	var b strings.Builder
	for k := range d.frames {
		f := &d.frames[k]
		b.WriteByte('/')
		if f.obj {
			b.WriteString(escapePointer(d.arena[f.cur.start:f.cur.end]))
		} else {
			b.WriteString(strconv.Itoa(f.index))
		}
	}
	return b.String()
}

func (d *dataReader) syntax(off int, msg string) {
	if d.fatal {
		return
	}
	d.fatal = true
	d.add(RuleJSONSyntax, Error, off, d.pointer(), "invalid JSON: "+msg)
}

func (d *dataReader) eof(expected string) {
	if d.err != nil {
		return // not the end of the data: finish reports the read error
	}
	d.syntax(d.lastByte(), "unexpected end of input, expected "+expected)
}

func (d *dataReader) found(i int) string {
	if !d.has(i) {
		return "end of input"
	}
	d.has(i + utf8.UTFMax - 1)
	b := d.at(i)
	if b >= 0x80 {
		r, _ := utf8.DecodeRune(d.buf[i-d.base : min(i+utf8.UTFMax, d.base+len(d.buf))-d.base])
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

// str is checker.str. With name, it keeps the string's bytes and returns them, with whether
// they hold escapes.
func (d *dataReader) str(i int, name bool) (end int, raw []byte, esc, ok bool) {
	start := i
	i++
	for {
		if !name {
			d.keep = i
		}
		if !d.has(i) {
			d.eof("'\"' closing the string")
			return i, nil, esc, false
		}
		s := d.buf[i-d.base:]
		n := plainRun(s)
		for n < len(s) && strPlain[s[n]] {
			n++
		}
		i += n
		if n == len(s) {
			continue
		}
		switch b := d.at(i); {
		case b == '"':
			if name {
				raw = d.buf[start+1-d.base : i-d.base]
			}
			return i + 1, raw, esc, true
		case b == '\\':
			esc = true
			if !d.has(i + 1) {
				d.eof("an escape sequence")
				return i, nil, esc, false
			}
			switch d.at(i + 1) {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				for k := i + 2; k < i+6; k++ {
					if !d.has(k) {
						d.eof("4 hex digits after \\u")
						return k, nil, esc, false
					}
					if classes[d.at(k)]&cHex == 0 {
						d.syntax(k, "expected 4 hex digits after \\u, found "+d.found(k))
						return k, nil, esc, false
					}
				}
				i += 6
			default:
				d.syntax(i, "invalid escape: '\\' followed by "+d.found(i+1)+" (valid: \\\" \\\\ \\/ \\b \\f \\n \\r \\t \\uXXXX)")
				return i, nil, esc, false
			}
		case b < 0x20:
			d.syntax(i, "unescaped control character U+"+hex4(rune(b))+" in a string (write it as an escape such as \\n or \\u00XX)")
			return i, nil, esc, false
		default: // non-ASCII
			d.has(i + utf8.UTFMax - 1)
			r, size := utf8.DecodeRune(d.buf[i-d.base : min(i+utf8.UTFMax, d.base+len(d.buf))-d.base])
			if r == utf8.RuneError && size <= 1 {
				if !d.badUTF8 {
					d.badUTF8 = true
					d.add(RuleUTF8, Error, i, d.pointer(),
						"invalid UTF-8: byte 0x"+strconv.FormatUint(uint64(b), 16)+" does not start a valid UTF-8 sequence; the document must be UTF-8 (RFC 8259 §8.1)")
				}
				size = 1
			}
			i += size
		}
	}
}

// digits returns the offset after the digits from j on.
func (d *dataReader) digits(j int) int {
	for {
		d.keep = j
		if !d.has(j) {
			return j
		}
		s := d.buf[j-d.base:]
		n := 0
		for n < len(s) && s[n] >= '0' && s[n] <= '9' {
			n++
		}
		j += n
		if n < len(s) {
			return j
		}
	}
}

func (d *dataReader) isDigit(j int) bool { return d.has(j) && d.at(j) >= '0' && d.at(j) <= '9' }

func (d *dataReader) number(i int) (int, bool) {
	j := i
	if d.at(j) == '-' {
		j++
	}
	switch {
	case !d.has(j):
		d.eof("a digit")
		return j, false
	case d.at(j) == '0':
		j++
		if d.isDigit(j) {
			d.syntax(j, "a number must not have a leading zero")
			return j, false
		}
	case d.at(j) >= '1' && d.at(j) <= '9':
		j = d.digits(j)
	default:
		d.syntax(j, "expected a digit, found "+d.found(j))
		return j, false
	}
	if d.has(j) && d.at(j) == '.' {
		j++
		k := j
		j = d.digits(j)
		if j == k {
			if !d.has(j) {
				d.eof("a digit after '.'")
			} else {
				d.syntax(j, "expected a digit after '.', found "+d.found(j))
			}
			return j, false
		}
	}
	if d.has(j) && (d.at(j) == 'e' || d.at(j) == 'E') {
		j++
		if d.has(j) && (d.at(j) == '+' || d.at(j) == '-') {
			j++
		}
		k := j
		j = d.digits(j)
		if j == k {
			if !d.has(j) {
				d.eof("a digit in the exponent")
			} else {
				d.syntax(j, "expected a digit in the exponent, found "+d.found(j))
			}
			return j, false
		}
	}
	return j, true
}

func (d *dataReader) literal(i int, lit string) (int, bool) {
	for k := 0; k < len(lit); k++ {
		if !d.has(i + k) {
			d.eof(strconv.Quote(lit))
			return i + k, false
		}
		if d.at(i+k) != lit[k] {
			d.syntax(i, "invalid literal, expected "+lit)
			return i, false
		}
	}
	return i + len(lit), true
}

func (d *dataReader) scalar(i int) (int, bool) {
	d.keep = i
	switch b := d.at(i); {
	case b == '"':
		end, _, _, ok := d.str(i, false)
		return end, ok
	case b == 't':
		return d.literal(i, "true")
	case b == 'f':
		return d.literal(i, "false")
	case b == 'n':
		return d.literal(i, "null")
	case b == '-' || b >= '0' && b <= '9':
		return d.number(i)
	}
	d.syntax(i, "expected a value, found "+d.found(i))
	return i, false
}

// value is checker.value.
func (d *dataReader) value(i int) (int, bool) {
	for {
		i = d.ws(i)
		if !d.has(i) {
			d.eof("a value")
			return i, false
		}
		switch b := d.at(i); b {
		case '{', '[':
			if len(d.frames) >= maxDepth {
				d.syntax(i, "nesting deeper than "+strconv.Itoa(maxDepth)+" levels")
				return i, false
			}
			obj := b == '{'
			d.frames = append(d.frames, streamFrame{obj: obj, namesStart: len(d.names), arenaStart: len(d.arena), cur: nameSpan{len(d.arena), len(d.arena)}})
			i = d.ws(i + 1)
			if d.has(i) && (obj && d.at(i) == '}' || !obj && d.at(i) == ']') {
				d.pop()
				i++
				break
			}
			if obj {
				var ok bool
				if i, ok = d.nestedName(i); !ok {
					return i, false
				}
			}
			continue
		default:
			var ok bool
			if i, ok = d.scalar(i); !ok {
				return i, false
			}
		}
		// A value ended at i: close containers until one continues.
		for {
			if len(d.frames) == 0 {
				return i, true
			}
			i = d.ws(i)
			f := &d.frames[len(d.frames)-1]
			if !d.has(i) {
				if f.obj {
					d.eof("',' or '}'")
				} else {
					d.eof("',' or ']'")
				}
				return i, false
			}
			b := d.at(i)
			if b == ',' {
				i = d.ws(i + 1)
				if f.obj {
					var ok bool
					if i, ok = d.nestedName(i); !ok {
						return i, false
					}
				} else {
					f.index++
					if d.has(i) && d.at(i) == ']' {
						d.syntax(i, "trailing comma before ']'")
						return i, false
					}
				}
				break
			}
			if f.obj && b == '}' || !f.obj && b == ']' {
				d.pop()
				i++
				continue
			}
			if f.obj {
				d.syntax(i, "expected ',' or '}' after an object member, found "+d.found(i))
			} else {
				d.syntax(i, "expected ',' or ']' after an array element, found "+d.found(i))
			}
			return i, false
		}
	}
}

// pop closes the innermost object or array.
func (d *dataReader) pop() {
	f := &d.frames[len(d.frames)-1]
	d.names, d.arena = d.names[:f.namesStart], d.arena[:f.arenaStart]
	d.frames = d.frames[:len(d.frames)-1]
}

// nestedName is checker.nestedName.
func (d *dataReader) nestedName(i int) (int, bool) {
	switch {
	case !d.has(i):
		d.eof("a member name")
		return i, false
	case d.at(i) == '}':
		d.syntax(i, "trailing comma before '}'")
		return i, false
	case d.at(i) != '"':
		d.syntax(i, "expected a member name in double quotes, found "+d.found(i))
		return i, false
	}
	d.keep = i
	end, raw, esc, ok := d.str(i, true)
	if !ok {
		return end, false
	}
	ref := nameSpan{start: len(d.arena)}
	if esc {
		d.arena = appendUnquoted(d.arena, raw)
	} else {
		d.arena = append(d.arena, raw...)
	}
	ref.end = len(d.arena)
	name := d.arena[ref.start:ref.end]
	f := &d.frames[len(d.frames)-1]
	dup := false
	if f.set != nil {
		_, dup = f.set[string(name)]
	} else {
		for _, r := range d.names[f.namesStart:] {
			if bytes.Equal(d.arena[r.start:r.end], name) {
				dup = true
				break
			}
		}
	}
	f.cur = ref
	switch {
	case dup:
		d.add(RuleDuplicateMember, Warning, i, d.pointer(),
			"member "+quote(name)+" appears more than once in this object; decoders disagree on which value wins (RFC 8259 §4)")
	case f.set != nil:
		f.set[string(name)] = struct{}{}
	default:
		if d.names = append(d.names, ref); len(d.names)-f.namesStart > 32 {
			f.set = make(map[string]struct{}, 64)
			for _, r := range d.names[f.namesStart:] {
				f.set[string(d.arena[r.start:r.end])] = struct{}{}
			}
		}
	}
	i = d.ws(end)
	if !d.has(i) {
		d.eof("':'")
		return i, false
	}
	if d.at(i) != ':' {
		d.syntax(i, "expected ':' after the member name, found "+d.found(i))
		return i, false
	}
	return i + 1, true
}
