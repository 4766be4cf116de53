package validate

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"unicode/utf8"
)

// Layout is how an input holds its events; the Scanner detects it.
type Layout uint8

const (
	LayoutUnknown  Layout = iota // nothing read yet, or no event found
	LayoutSingle                 // one event object
	LayoutBatch                  // a JSON array of events (JSON format §4)
	LayoutLines                  // JSON lines: one event per line
	LayoutSequence               // events one after another, not one per line
)

func (l Layout) String() string {
	switch l {
	case LayoutSingle:
		return "single"
	case LayoutBatch:
		return "batch"
	case LayoutLines:
		return "lines"
	case LayoutSequence:
		return "sequence"
	}
	return "unknown"
}

// Result is the outcome for one event of a stream, or (Index -1) for
// findings about the input as a whole, such as a malformed batch array or
// data after it.
type Result struct {
	Index    int // 0-based index of the event in the input, or -1
	Offset   int // byte offset of the event's first byte
	Line     int
	Column   int
	Findings []Finding // valid until the next call of Scan

	batch bool
	doc   []byte
	id    member
	lint  lintKeys
}

// Pointer is the JSON pointer of the event: "" for a lone event or a line,
// "/3" for the fourth element of a batch.
func (r *Result) Pointer() string {
	if r.batch && r.Index >= 0 {
		return fmt.Sprintf("/%d", r.Index)
	}
	return ""
}

// ID returns the event's id when it is a string, else "".
func (r *Result) ID() string {
	if r.id.kind != kString || r.id.end > len(r.doc) {
		return ""
	}
	raw := r.doc[r.id.off+1 : r.id.end-1]
	if !r.id.esc {
		return string(raw)
	}
	return string(appendUnquoted(nil, raw))
}

// Raw returns the bytes of the event as they stand in the input, valid until the next call
// of Scan.
func (r *Result) Raw() []byte { return r.doc }

// Valid reports whether the result holds no error.
func (r *Result) Valid() bool { return Valid(r.Findings) }

// Stats summarises a stream.
type Stats struct {
	Layout   Layout
	Events   int   // events examined (results with Index >= 0)
	Invalid  int   // events with at least one error
	Errors   int   // error findings, including those about the whole input
	Warnings int   // warning findings
	Bytes    int64 // bytes read
}

// Scanner validates a stream of events: one event, a batch array, or JSON
// lines, detected from the content. It reads through a buffer that only
// grows to the size of the largest event, so memory stays flat however
// long the stream is.
//
//	s := validate.NewScanner(r, opts)
//	for s.Scan() {
//		res := s.Result()
//		...
//	}
//	if err := s.Err(); err != nil { ... }
type Scanner struct {
	r     io.Reader
	c     checker
	buf   []byte
	pos   int // next unconsumed byte of buf
	end   int // end of the data in buf
	base  int // input offset of buf[0]
	eof   bool
	err   error
	line  int // position of buf[pos]
	col   int
	state scanState
	index int
	multi bool // the first event spans lines
	res   Result
	stats Stats
	// last non-blank byte consumed, for "unexpected end of input"
	lastOff, lastLine, lastCol int
	// specversion of the first batch element that has one
	batchSV    []byte
	batchSVSet bool
	batchSVAt  int
	docFinding []Finding
	bom        bool       // the byte order mark check is done
	borrowed   bool       // buf is the caller's (ResetBytes): not kept by Reset
	empty      bool       // the input holds nothing but white space
	cut        bool       // the input ended inside a value
	cross      *crossLint // lint rules across events, nil when none is on
}

type scanState uint8

const (
	stStart scanState = iota
	stAfterFirst
	stLines
	stSequence
	stBatchFirst
	stBatchNext
	stBatchEnd
	stDone
)

const initialBuffer = 128 << 10

// NewScanner returns a Scanner reading r.
func NewScanner(r io.Reader, opts Options) *Scanner {
	return &Scanner{r: r, c: checker{opts: opts}, line: 1, col: 1, lastLine: 1, lastCol: 1,
		cross: newCrossLint(opts.Rules, opts.Strict)}
}

// Reset makes the Scanner read a new input, keeping its buffers, so that
// one Scanner can validate many files without allocating for each.
func (s *Scanner) Reset(r io.Reader) {
	buf := s.buf
	if s.borrowed {
		buf = nil
	}
	*s = Scanner{
		r: r, c: s.c, buf: buf, line: 1, col: 1, lastLine: 1, lastCol: 1,
		batchSV: s.batchSV[:0], docFinding: s.docFinding[:0], cross: s.cross,
	}
	s.cross.reset()
}

// ResetBytes makes the Scanner read b, an input already in memory such as a request body,
// without copying it: b is the Scanner's buffer until the next Reset, and is not modified.
func (s *Scanner) ResetBytes(b []byte) {
	*s = Scanner{
		r: nil, c: s.c, buf: b, end: len(b), eof: true, line: 1, col: 1, lastLine: 1, lastCol: 1,
		batchSV: s.batchSV[:0], docFinding: s.docFinding[:0], cross: s.cross,
	}
	s.cross.reset()
	s.stats.Bytes = int64(len(b))
	s.borrowed = true
}

// Empty reports whether the input held nothing but white space (reported as a json-syntax
// finding, since a document must hold a value), for callers to whom that means "no events".
func (s *Scanner) Empty() bool { return s.empty }

// Err returns the first read error, if any (not validation problems).
func (s *Scanner) Err() error { return s.err }

// Stats returns the counts so far; after Scan returned false, the totals.
func (s *Scanner) Stats() Stats { return s.stats }

// Result returns the result produced by the last successful Scan.
func (s *Scanner) Result() *Result { return &s.res }

// fill reads more input, keeping buf[pos:end]. It reports whether new
// bytes arrived.
func (s *Scanner) fill() bool {
	if s.eof {
		return false
	}
	if s.buf == nil {
		s.buf = make([]byte, initialBuffer)
	}
	if s.pos > 0 {
		n := copy(s.buf, s.buf[s.pos:s.end])
		s.base += s.pos
		s.end = n
		s.pos = 0
	}
	if s.end == len(s.buf) {
		nb := make([]byte, 2*len(s.buf))
		copy(nb, s.buf[:s.end])
		s.buf = nb
	}
	for tries := 0; tries < 100; tries++ {
		n, err := s.r.Read(s.buf[s.end:])
		s.end += n
		s.stats.Bytes += int64(n)
		if err != nil {
			s.eof = true
			if !errors.Is(err, io.EOF) {
				s.err = fmt.Errorf("read: %w", err)
			}
			return n > 0
		}
		if n > 0 {
			return true
		}
	}
	s.eof = true
	s.err = fmt.Errorf("read: %w", io.ErrNoProgress)
	return false
}

// consume advances past n bytes, keeping line and column.
func (s *Scanner) consume(n int) {
	seg := s.buf[s.pos : s.pos+n]
	if k := bytes.Count(seg, newline); k > 0 {
		s.line += k
		s.col = 1 + utf8.RuneCount(seg[bytes.LastIndexByte(seg, '\n')+1:])
	} else {
		s.col += utf8.RuneCount(seg)
	}
	s.pos += n
}

// markLast records buf[pos] as the last non-blank byte seen.
func (s *Scanner) markLast() {
	s.lastOff, s.lastLine, s.lastCol = s.base+s.pos, s.line, s.col
}

// skipWS skips white space and reports whether a byte follows and whether
// a newline was skipped.
func (s *Scanner) skipWS() (more, sawNL bool) {
	for {
		for s.pos < s.end {
			switch s.buf[s.pos] {
			case '\n':
				sawNL = true
				s.line++
				s.col = 1
			case ' ', '\t', '\r':
				s.col++
			default:
				return true, sawNL
			}
			s.pos++
		}
		if !s.fill() {
			return false, sawNL
		}
	}
}

// frameStop marks bytes that matter when finding the end of a value.
var frameStop = func() (t [256]uint8) {
	for _, b := range []byte(`"{}[]`) {
		t[b] = 1
	}
	t['\\'] = 2
	return t
}()

// frame finds the end of the JSON value at buf[pos], reading more input as
// needed, and returns its length. It only balances brackets and strings;
// the checker then validates the value exactly. At end of input it returns
// what there is and sets s.cut.
func (s *Scanner) frame() int {
	first := s.buf[s.pos]
	k := 0
	depth := 0
	inStr := false
	switch first {
	case '{', '[', '"':
	default: // a number or literal: up to a delimiter
		for {
			for s.pos+k < s.end {
				switch s.buf[s.pos+k] {
				case ' ', '\t', '\n', '\r', ',', ']', '}', '[', '{', '"', ':':
					return max(k, 1)
				}
				k++
			}
			if !s.fill() {
				return k // a number or literal may end the input
			}
		}
	}
	for {
		buf := s.buf[:s.end]
		for s.pos+k < len(buf) {
			b := buf[s.pos+k]
			if inStr {
				switch b {
				case '\\':
					k += 2
					continue
				case '"':
					inStr = false
					if depth == 0 {
						return k + 1
					}
				}
				k++
				continue
			}
			switch b {
			case '"':
				inStr = true
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth <= 0 {
					return k + 1
				}
			}
			k++
			// Skip runs of bytes that cannot change the state.
			for s.pos+k < len(buf) && frameStop[buf[s.pos+k]] == 0 {
				k++
			}
		}
		if !s.fill() {
			s.cut = true
			return min(k, s.end-s.pos)
		}
	}
}

// check validates buf[pos:pos+n] as event index and fills s.res.
func (s *Scanner) check(n int, whole bool, batch bool) {
	doc := s.buf[s.pos : s.pos+n]
	c := &s.c
	c.reset(doc, s.base+s.pos, s.line, s.col, batch, s.index)
	c.document(whole)
	if batch {
		s.agree()
	}
	keys := c.lintEvent()
	c.finish()
	s.res = Result{
		Index: s.index, Offset: s.base + s.pos, Line: s.line, Column: s.col,
		Findings: c.out, batch: batch, doc: doc, id: c.attr[aID], lint: keys,
	}
	if s.cross != nil {
		s.cross.apply(&s.res)
		c.out = s.res.Findings // keep what append grew
	}
	s.index++
	s.count()
}

// agree checks that a batch element shares the specversion of the first
// element that has one (JSON format §4: a batch is one format's events).
func (s *Scanner) agree() {
	c := &s.c
	sv := &c.attr[aSpecversion]
	if !sv.present || sv.kind != kString || c.fatal {
		return
	}
	v := c.strBytes(sv)
	if !s.batchSVSet {
		s.batchSV = append(s.batchSV[:0], v...)
		s.batchSVSet = true
		s.batchSVAt = s.index
		return
	}
	if !bytes.Equal(v, s.batchSV) {
		c.add(RuleBatchSpecVersion, Error, sv.off, c.attrPointer("specversion"),
			fmt.Sprintf("specversion %s differs from %s of the batch's event /%d; all events of a batch share one specversion",
				quote(v), quote(s.batchSV), s.batchSVAt))
	}
}

func (s *Scanner) count() {
	if s.res.Index >= 0 {
		s.stats.Events++
		if !s.res.Valid() {
			s.stats.Invalid++
		}
	}
	for i := range s.res.Findings {
		if s.res.Findings[i].Level == Error {
			s.stats.Errors++
		} else {
			s.stats.Warnings++
		}
	}
}

// inputFinding makes a result for a finding about the whole input.
func (s *Scanner) inputFinding(rule string, off, line, col int, pointer, msg string) {
	s.docFinding = append(s.docFinding[:0], Finding{
		Rule: rule, Level: Error, Pointer: pointer, Offset: off, Line: line, Column: col, Message: msg,
	})
	s.res = Result{Index: -1, Offset: off, Line: line, Column: col, Findings: s.docFinding}
	s.state = stDone
	s.count()
}

// here reports a finding at buf[pos].
func (s *Scanner) here(rule, msg string) {
	s.inputFinding(rule, s.base+s.pos, s.line, s.col, "", msg)
}

// atLast reports an unexpected end of input at the last non-blank byte.
func (s *Scanner) atLast(msg string) {
	s.inputFinding(RuleJSONSyntax, s.lastOff, s.lastLine, s.lastCol, "", msg)
}

// sniffLen caps how much of the first line sniff looks at, as MIME sniffing does
// (WHATWG MIME Sniffing §7.1 reads a resource header of at most 1445 bytes).
const sniffLen = 512

// binaryByte marks the binary data bytes of WHATWG MIME Sniffing §3: control characters that
// no text file holds (tab, line feed, form feed, carriage return and escape are not among them).
var binaryByte = func() (t [256]bool) {
	for b := 0; b < 0x20; b++ {
		t[b] = b != '\t' && b != '\n' && b != 0x0C && b != '\r' && b != 0x1B
	}
	return t
}()

// sniff reports the input as not JSON text, in one json-syntax finding, and ends it, when it starts with a binary data
// byte or a byte that is not UTF-8, or when its first line (at most sniffLen bytes) holds a
// NUL byte, the mark of a binary file that git and grep use too. A PNG, a gzip file or UTF-16
// text would otherwise give a syntax error and then trailing-data noise about bytes no one
// meant as JSON. JSON text is UTF-8 and holds no raw control characters (RFC 8259 §2, §7,
// §8.1). A stray control character in an otherwise textual line is left to the ordinary
// findings, and only the first line is read ahead, so a live stream of JSON lines is not
// held back.
func (s *Scanner) sniff() bool {
	for s.end-s.pos < sniffLen && bytes.IndexByte(s.buf[s.pos:s.end], '\n') < 0 && s.fill() {
	}
	w := s.buf[s.pos:s.end]
	if len(w) > sniffLen {
		w = w[:sniffLen]
	}
	if i := bytes.IndexByte(w, '\n'); i >= 0 {
		w = w[:i]
	}
	i := 0
	for i < len(w) && (w[i] == ' ' || w[i] == '\t' || w[i] == '\r') {
		i++
	}
	var msg string
	switch {
	case i == len(w):
		return false
	case binaryByte[w[i]]:
		msg = fmt.Sprintf("invalid JSON: this is not JSON text (a binary file?): it starts with the control byte 0x%02x, which JSON text never holds raw (RFC 8259 §2, §7)", w[i])
	case w[i] >= utf8.RuneSelf && utf8.FullRune(w[i:]) && isRuneError(w[i:]):
		msg = fmt.Sprintf("invalid JSON: this is not JSON text (a binary file or another encoding?): it starts with byte 0x%02x, which is not UTF-8 (RFC 8259 §8.1)", w[i])
	default:
		if i = bytes.IndexByte(w, 0); i < 0 {
			return false
		}
		msg = "invalid JSON: this is not JSON text (a binary file or UTF-16?): its first line holds a NUL byte, which JSON text never holds raw (RFC 8259 §2, §7, §8.1)"
	}
	s.inputFinding(RuleJSONSyntax, s.base+s.pos+i, s.line, s.col+utf8.RuneCount(w[:i]), "", msg)
	return true
}

func isRuneError(b []byte) bool {
	r, _ := utf8.DecodeRune(b)
	return r == utf8.RuneError
}

func startsValue(b byte) bool {
	switch b {
	case '{', '[', '"', '-', 't', 'f', 'n':
		return true
	}
	return b >= '0' && b <= '9'
}

func (s *Scanner) describe() string {
	for s.end-s.pos < utf8.UTFMax && s.fill() {
	}
	c := checker{doc: s.buf[s.pos:s.end]}
	return c.found(0)
}

// Scan validates the next event. It returns false at the end of the input
// or after a read error (see Err).
func (s *Scanner) Scan() bool {
	for {
		switch s.state {
		case stStart:
			for !s.bom && s.end < 3 && s.fill() {
			}
			if !s.bom && s.end >= 3 && s.buf[0] == 0xEF && s.buf[1] == 0xBB && s.buf[2] == 0xBF {
				s.bom = true
				s.here(RuleJSONSyntax, "invalid JSON: the input starts with a byte order mark, which JSON text must not have (RFC 8259 §8.1)")
				s.consume(3)
				s.state = stStart
				return true
			}
			s.bom = true
			if s.sniff() {
				return true
			}
			more, _ := s.skipWS()
			if !more {
				s.state = stDone
				if s.err != nil {
					return false
				}
				s.empty = true
				s.inputFinding(RuleJSONSyntax, s.lastOff, s.lastLine, s.lastCol, "",
					"invalid JSON: the input is empty, expected a CloudEvent object, a batch array or JSON lines")
				return true
			}
			if s.buf[s.pos] == '[' {
				s.stats.Layout = LayoutBatch
				s.markLast()
				s.consume(1)
				s.state = stBatchFirst
				continue
			}
			s.stats.Layout = LayoutSingle
			n := s.frame()
			s.multi = bytes.IndexByte(s.buf[s.pos:s.pos+n], '\n') >= 0
			s.check(n, false, false)
			s.consume(n)
			s.state = stAfterFirst
			return true

		case stAfterFirst:
			more, sawNL := s.skipWS()
			if !more {
				s.state = stDone
				continue
			}
			if !startsValue(s.buf[s.pos]) {
				s.here(RuleTrailingData, "unexpected "+s.describe()+" after the end of the JSON value; expected nothing but white space")
				return true
			}
			if sawNL && !s.multi {
				s.stats.Layout = LayoutLines
				s.state = stLines
			} else {
				s.stats.Layout = LayoutSequence
				s.state = stSequence
			}

		case stLines:
			more, _ := s.skipWS()
			if !more {
				s.state = stDone
				continue
			}
			// One line is one document (JSON Lines).
			k := 0
			for {
				i := bytes.IndexByte(s.buf[s.pos+k:s.end], '\n')
				if i >= 0 {
					k += i
					break
				}
				k = s.end - s.pos
				if !s.fill() {
					break
				}
			}
			s.check(k, true, false)
			// The line break that follows resets the column: skip counting it.
			s.pos += k
			return true

		case stSequence:
			more, _ := s.skipWS()
			if !more {
				s.state = stDone
				continue
			}
			if !startsValue(s.buf[s.pos]) {
				s.here(RuleTrailingData, "unexpected "+s.describe()+" after the end of the JSON value; expected nothing but white space or another event")
				return true
			}
			n := s.frame()
			s.check(n, false, false)
			s.consume(n)
			return true

		case stBatchFirst, stBatchNext:
			more, _ := s.skipWS()
			if !more {
				if s.state == stBatchFirst {
					s.atLast("invalid JSON: unexpected end of input, expected an event or ']' closing the batch")
				} else {
					s.atLast("invalid JSON: unexpected end of input, expected ',' or ']' closing the batch")
				}
				return true
			}
			b := s.buf[s.pos]
			if b == ']' {
				s.consume(1)
				s.state = stBatchEnd
				continue
			}
			if s.state == stBatchNext {
				if b != ',' {
					s.here(RuleJSONSyntax, "invalid JSON: expected ',' or ']' after a batch element, found "+s.describe())
					return true
				}
				s.markLast()
				s.consume(1)
				if more, _ = s.skipWS(); !more {
					s.atLast("invalid JSON: unexpected end of input, expected an event after ','")
					return true
				}
				if s.buf[s.pos] == ']' {
					s.here(RuleJSONSyntax, "invalid JSON: trailing comma before ']'")
					return true
				}
			}
			n := s.frame()
			s.check(n, false, true)
			if last := s.buf[s.pos+n-1]; last < utf8.RuneSelf {
				s.consume(n)
				s.lastOff, s.lastLine, s.lastCol = s.base+s.pos-1, s.line, s.col-1
			} else { // rare: an element cut at the end of the input
				start := n - 1
				for start > 0 && s.buf[s.pos+start]&0xC0 == 0x80 {
					start--
				}
				s.lastOff = s.base + s.pos + start
				s.lastLine, s.lastCol = s.c.lineCol(start)
				s.consume(n)
			}
			s.state = stBatchNext
			if s.cut { // already reported as the element's syntax error
				s.state = stDone
			}
			return true

		case stBatchEnd:
			if more, _ := s.skipWS(); more {
				s.here(RuleTrailingData, "unexpected "+s.describe()+" after the batch array; expected nothing but white space")
				return true
			}
			s.state = stDone

		case stDone:
			return false
		}
	}
}
