package eventspec

import (
	"bytes"
	"fmt"
	"io"
	"strconv"
	"unicode/utf8"

	"github.com/cectl/cectl/internal/ce"
)

// This file decides the content type of --data @file the way Apply does (InferContentType,
// and the warning about data that looks like JSON but does not parse) for a file too large
// to read into memory: reading it as a stream, so that the decision does not depend on the
// size of the file.

// StreamedContentType is the content type Apply gives the data of --data @file: --datacontenttype,
// else by the file's extension, else by what ReadDataFacts finds in the data open returns,
// with the warning Apply gives about data that looks like JSON but does not parse.
func (s *Spec) StreamedContentType(file string, open func() (io.ReadCloser, error)) (string, error) {
	if s.DataContentType != "" {
		return s.DataContentType, nil
	}
	if t := byExtension(file); t != "" {
		return t, nil
	}
	f, err := ReadDataFacts(open)
	if err != nil {
		return "", &UsageError{Err: fmt.Errorf("--data: %w", err)}
	}
	ct := f.ContentType(file)
	if s.Warn != nil && ct != "application/json" && f.LooksLikeJSON {
		s.Warn(notJSONWarning(file, f.NotJSON, ct))
	}
	return ct, nil
}

// DataFacts are what InferContentType and the warning decide by: whether the data is JSON
// as encoding/json's json.Valid says, text as IsText says, and starts like JSON (an object or
// an array) without being JSON; then NotJSON is JSONError of the data.
type DataFacts struct {
	JSON, Text, LooksLikeJSON bool
	NotJSON                   string
}

// ContentType is InferContentType of the data the facts are about, in a file of that name.
func (f DataFacts) ContentType(file string) string {
	if t := byExtension(file); t != "" {
		return t
	}
	switch {
	case f.JSON:
		return "application/json"
	case f.Text:
		return "text/plain"
	}
	return "application/octet-stream"
}

// pieceSize is how much of a file is read at a time.
var pieceSize = 64 << 10

// ReadDataFacts reads the data open returns once, or twice when it starts like JSON but is
// not (the second time up to the error, for its line and column), a piece at a time.
func ReadDataFacts(open func() (io.ReadCloser, error)) (DataFacts, error) {
	r, err := open()
	if err != nil {
		return DataFacts{}, err
	}
	defer r.Close()
	var (
		s        jsonScanner
		text     = true
		first    byte // the first byte that is not white space
		seen     bool // and there is one
		buf      = make([]byte, pieceSize)
		carry    int // bytes of a character cut at the end of the last piece, at buf[:carry]
		scanning = true
	)
	s.reset()
	for {
		n, rerr := io.ReadFull(r, buf[carry:])
		p := buf[:carry+n]
		if !seen {
			if t := bytes.TrimLeft(buf[carry:carry+n], " \t\r\n"); len(t) > 0 {
				first, seen = t[0], true
			}
		}
		if scanning {
			scanning = s.feed(buf[carry : carry+n])
		}
		end := rerr == io.EOF || rerr == io.ErrUnexpectedEOF
		if rerr != nil && !end {
			return DataFacts{}, rerr
		}
		cut := len(p)
		if !end {
			cut = ce.CharBoundary(p)
		}
		if text && (!utf8.Valid(p[:cut]) || bytes.IndexByte(p[:cut], 0) >= 0) {
			text = false
		}
		if end {
			break
		}
		carry = copy(buf, p[cut:])
	}
	if scanning {
		s.eof()
	}
	f := DataFacts{JSON: s.err == "", Text: text}
	f.LooksLikeJSON = !f.JSON && (first == '{' || first == '[')
	if f.LooksLikeJSON {
		// JSONError: the offending byte, or just past the last one at the end of the input.
		at := s.bytes - 1
		if s.atEOF {
			at = s.bytes
		}
		r2, err := open()
		if err != nil {
			return DataFacts{}, err
		}
		defer r2.Close()
		line, col, err := position(r2, at)
		if err != nil {
			return DataFacts{}, err
		}
		f.NotJSON = fmt.Sprintf("line %d, column %d: %s", line, col, s.err)
	}
	return f, nil
}

// position is the line and column of offset at in r as JSONError counts them: lines from 1,
// columns in characters (utf8.RuneCount) from 1.
func position(r io.Reader, at int64) (line, col int, err error) {
	r = io.LimitReader(r, at)
	buf := make([]byte, pieceSize)
	line, col = 1, 1
	carry := 0
	for {
		n, rerr := io.ReadFull(r, buf[carry:])
		p := buf[:carry+n]
		end := rerr == io.EOF || rerr == io.ErrUnexpectedEOF
		if rerr != nil && !end {
			return 0, 0, rerr
		}
		cut := len(p)
		if !end {
			cut = ce.CharBoundary(p)
		}
		if nl := bytes.LastIndexByte(p[:cut], '\n'); nl >= 0 {
			line += bytes.Count(p[:cut], []byte{'\n'})
			col = 1 + utf8.RuneCount(p[nl+1:cut])
		} else {
			col += utf8.RuneCount(p[:cut])
		}
		if end {
			return line, col, nil
		}
		carry = copy(buf, p[cut:])
	}
}

// jsonScanner is the state machine of encoding/json's scanner, which decides json.Valid and
// the message of a syntax error (RFC 8259), fed piece by piece. Its messages and offsets are
// those of json.SyntaxError, so that JSONError of a file read as a stream says what it says
// of the file read whole.
type jsonScanner struct {
	state  jsState
	parse  []uint8 // parseObjectKey, parseObjectValue, parseArrayValue
	lit    string  // in a literal (true, false, null): the literal
	next   int     // and the index of the byte expected next; in a \u escape, the digit
	endTop bool
	err    string // the message of the first error
	bytes  int64  // bytes fed up to and including the offending one
	atEOF  bool   // the error is the end of the input
}

// jsState is the step function of encoding/json's scanner (stateBeginValue, …).
type jsState uint8

const (
	jsBeginValue jsState = iota
	jsBeginValueOrEmpty
	jsBeginStringOrEmpty
	jsBeginString
	jsEndValue
	jsEndTop
	jsInString
	jsInStringEsc
	jsInStringEscU
	jsNeg
	js1
	js0
	jsDot
	jsDot0
	jsE
	jsESign
	jsE0
	jsLiteral
	jsError
)

const (
	parseObjectKey = iota
	parseObjectValue
	parseArrayValue
)

// maxNestingDepth is encoding/json's.
const maxNestingDepth = 10000

func (s *jsonScanner) reset() {
	*s = jsonScanner{parse: s.parse[:0]}
}

// feed scans p and reports whether it is still without error.
func (s *jsonScanner) feed(p []byte) bool {
	for i := 0; i < len(p); i++ {
		if s.state == jsInString {
			// Most bytes of a large document are in strings: skip the plain ones at once.
			j := i
			for j < len(p) && p[j] >= 0x20 && p[j] != '"' && p[j] != '\\' {
				j++
			}
			s.bytes += int64(j - i)
			if i = j; i == len(p) {
				break
			}
		}
		s.bytes++
		if !s.step(p[i]) {
			return false
		}
	}
	return true
}

func (s *jsonScanner) eof() {
	if s.err != "" || s.endTop {
		return
	}
	s.step(' ')
	if s.endTop {
		return
	}
	if s.err == "" {
		s.err, s.atEOF = "unexpected end of JSON input", true
	}
}

func (s *jsonScanner) fail(c byte, context string) bool {
	s.state = jsError
	s.err = "invalid character " + quoteChar(c) + " " + context
	return false
}

func (s *jsonScanner) push(c byte, p uint8) bool {
	s.parse = append(s.parse, p)
	if len(s.parse) <= maxNestingDepth {
		return true
	}
	return s.fail(c, "exceeded max depth")
}

func (s *jsonScanner) pop() {
	n := len(s.parse) - 1
	s.parse = s.parse[:n]
	if n == 0 {
		s.state, s.endTop = jsEndTop, true
	} else {
		s.state = jsEndValue
	}
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\n' }

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

func isHex(c byte) bool { return isDigit(c) || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F' }

// step is the scanner's step function of its state, applied to c; false on an error.
func (s *jsonScanner) step(c byte) bool {
	switch s.state {
	case jsBeginValueOrEmpty:
		if isSpace(c) {
			return true
		}
		if c == ']' {
			return s.endValue(c)
		}
		return s.beginValue(c)
	case jsBeginValue:
		return s.beginValue(c)
	case jsBeginStringOrEmpty:
		if isSpace(c) {
			return true
		}
		if c == '}' {
			s.parse[len(s.parse)-1] = parseObjectValue
			return s.endValue(c)
		}
		return s.beginString(c)
	case jsBeginString:
		return s.beginString(c)
	case jsEndValue:
		return s.endValue(c)
	case jsEndTop:
		return s.endTopValue(c)
	case jsInString:
		switch {
		case c == '"':
			s.state = jsEndValue
		case c == '\\':
			s.state = jsInStringEsc
		case c < 0x20:
			return s.fail(c, "in string literal")
		}
		return true
	case jsInStringEsc:
		switch c {
		case 'b', 'f', 'n', 'r', 't', '\\', '/', '"':
			s.state = jsInString
		case 'u':
			s.state, s.next = jsInStringEscU, 0
		default:
			return s.fail(c, "in string escape code")
		}
		return true
	case jsInStringEscU:
		if !isHex(c) {
			return s.fail(c, "in \\u hexadecimal character escape")
		}
		if s.next++; s.next == 4 {
			s.state = jsInString
		}
		return true
	case jsNeg:
		switch {
		case c == '0':
			s.state = js0
		case '1' <= c && c <= '9':
			s.state = js1
		default:
			return s.fail(c, "in numeric literal")
		}
		return true
	case js1:
		if isDigit(c) {
			return true
		}
		return s.zero(c)
	case js0:
		return s.zero(c)
	case jsDot:
		if isDigit(c) {
			s.state = jsDot0
			return true
		}
		return s.fail(c, "after decimal point in numeric literal")
	case jsDot0:
		switch {
		case isDigit(c):
		case c == 'e' || c == 'E':
			s.state = jsE
		default:
			return s.endValue(c)
		}
		return true
	case jsE:
		if c == '+' || c == '-' {
			s.state = jsESign
			return true
		}
		return s.eSign(c)
	case jsESign:
		return s.eSign(c)
	case jsE0:
		if isDigit(c) {
			return true
		}
		return s.endValue(c)
	case jsLiteral:
		if c != s.lit[s.next] {
			return s.fail(c, "in literal "+s.lit+" (expecting "+quoteChar(s.lit[s.next])+")")
		}
		if s.next++; s.next == len(s.lit) {
			s.state = jsEndValue
		}
		return true
	}
	return false // jsError
}

func (s *jsonScanner) beginValue(c byte) bool {
	if isSpace(c) {
		return true
	}
	switch {
	case c == '{':
		s.state = jsBeginStringOrEmpty
		return s.push(c, parseObjectKey)
	case c == '[':
		s.state = jsBeginValueOrEmpty
		return s.push(c, parseArrayValue)
	case c == '"':
		s.state = jsInString
	case c == '-':
		s.state = jsNeg
	case c == '0':
		s.state = js0
	case c == 't':
		s.state, s.lit, s.next = jsLiteral, "true", 1
	case c == 'f':
		s.state, s.lit, s.next = jsLiteral, "false", 1
	case c == 'n':
		s.state, s.lit, s.next = jsLiteral, "null", 1
	case '1' <= c && c <= '9':
		s.state = js1
	default:
		return s.fail(c, "looking for beginning of value")
	}
	return true
}

func (s *jsonScanner) beginString(c byte) bool {
	if isSpace(c) {
		return true
	}
	if c == '"' {
		s.state = jsInString
		return true
	}
	return s.fail(c, "looking for beginning of object key string")
}

func (s *jsonScanner) endValue(c byte) bool {
	n := len(s.parse)
	if n == 0 {
		s.state, s.endTop = jsEndTop, true
		return s.endTopValue(c)
	}
	if isSpace(c) {
		s.state = jsEndValue
		return true
	}
	switch s.parse[n-1] {
	case parseObjectKey:
		if c == ':' {
			s.parse[n-1] = parseObjectValue
			s.state = jsBeginValue
			return true
		}
		return s.fail(c, "after object key")
	case parseObjectValue:
		if c == ',' {
			s.parse[n-1] = parseObjectKey
			s.state = jsBeginString
			return true
		}
		if c == '}' {
			s.pop()
			return true
		}
		return s.fail(c, "after object key:value pair")
	default: // parseArrayValue
		if c == ',' {
			s.state = jsBeginValue
			return true
		}
		if c == ']' {
			s.pop()
			return true
		}
		return s.fail(c, "after array element")
	}
}

func (s *jsonScanner) endTopValue(c byte) bool {
	if !isSpace(c) {
		return s.fail(c, "after top-level value")
	}
	return true
}

// zero is the step after the integer part of a number (state0).
func (s *jsonScanner) zero(c byte) bool {
	switch c {
	case '.':
		s.state = jsDot
	case 'e', 'E':
		s.state = jsE
	default:
		return s.endValue(c)
	}
	return true
}

func (s *jsonScanner) eSign(c byte) bool {
	if isDigit(c) {
		s.state = jsE0
		return true
	}
	return s.fail(c, "in exponent of numeric literal")
}

// quoteChar is encoding/json's: a byte in single quotes for a message.
func quoteChar(c byte) string {
	if c == '\'' {
		return `'\''`
	}
	if c == '"' {
		return `'"'`
	}
	s := strconv.Quote(string(c))
	return "'" + s[1:len(s)-1] + "'"
}
