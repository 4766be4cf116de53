package ce

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// Record is one event document read from a file, still raw, with where it started.
type Record struct {
	Raw   json.RawMessage
	Index int // 0-based position in the file
	Line  int // 1-based line of the first byte
	Col   int // 1-based byte column of the first byte
}

// Reader streams the events of a file holding one JSON event, a JSON array of events (a batch,
// v1.0.2 json-format §4) or JSON lines (one event a line, what `-o json` prints). Whitespace
// between values is free, so pretty-printed events one after another also read.
type Reader struct {
	lines *lineCounter
	dec   *json.Decoder
	array bool
	began bool
	done  bool
	index int
}

// NewReader returns a Reader over r.
func NewReader(r io.Reader) *Reader {
	lc := &lineCounter{r: r, line: 1, lastNL: -1}
	dec := json.NewDecoder(bufio.NewReaderSize(lc, 64<<10))
	return &Reader{lines: lc, dec: dec}
}

// SyntaxError is malformed JSON at a position of the input.
type SyntaxError struct {
	Line, Col int
	Err       error
}

func (e *SyntaxError) Error() string {
	return fmt.Sprintf("line %d, column %d: %v", e.Line, e.Col, e.Err)
}

func (e *SyntaxError) Unwrap() error { return e.Err }

// Next returns the next record, or io.EOF after the last one.
func (r *Reader) Next() (Record, error) {
	if r.done {
		return Record{}, io.EOF
	}
	if !r.began {
		r.began = true
		tok, err := r.peek()
		if err == io.EOF {
			r.done = true
			return Record{}, io.EOF
		}
		if err != nil {
			return Record{}, r.fail(err)
		}
		if tok == '[' {
			if _, err := r.dec.Token(); err != nil {
				return Record{}, r.fail(err)
			}
			r.array = true
		}
	}
	if r.array && !r.dec.More() {
		// Closing bracket, then nothing but white space.
		if _, err := r.dec.Token(); err != nil {
			return Record{}, r.fail(err)
		}
		if _, err := r.peek(); err != io.EOF {
			if err == nil {
				err = errors.New("unexpected data after the closing bracket of the batch")
			}
			return Record{}, r.fail(err)
		}
		r.done = true
		return Record{}, io.EOF
	}
	var raw json.RawMessage
	if err := r.dec.Decode(&raw); err != nil {
		if err == io.EOF && !r.array {
			r.done = true
			return Record{}, io.EOF
		}
		return Record{}, r.fail(err)
	}
	start := r.dec.InputOffset() - int64(len(raw))
	line, col := r.lines.position(start)
	rec := Record{Raw: raw, Index: r.index, Line: line, Col: col}
	r.index++
	return rec, nil
}

// peek returns the next non-space byte without consuming it.
func (r *Reader) peek() (byte, error) {
	// json.Decoder offers no peek, but Buffered plus More tell enough: More is false only at
	// EOF or before a closing bracket.
	if !r.dec.More() {
		tok, err := r.dec.Token()
		if err != nil {
			return 0, err
		}
		return 0, fmt.Errorf("unexpected %v", tok)
	}
	br := r.dec.Buffered()
	var b [1]byte
	for {
		if _, err := br.Read(b[:]); err != nil {
			return 0, io.EOF
		}
		switch b[0] {
		case ' ', '\t', '\r', '\n':
			continue
		}
		return b[0], nil
	}
}

func (r *Reader) fail(err error) error {
	r.done = true
	if err == io.EOF || errors.Is(err, io.ErrUnexpectedEOF) {
		err = io.ErrUnexpectedEOF
	}
	var se *json.SyntaxError
	if errors.As(err, &se) {
		line, col := r.lines.position(se.Offset - 1)
		return &SyntaxError{Line: line, Col: col, Err: err}
	}
	line, col := r.lines.position(r.dec.InputOffset())
	return &SyntaxError{Line: line, Col: col, Err: err}
}

// lineCounter remembers where lines start in the bytes read through it, for as long as the
// decoder may still ask: positions are asked in increasing order, so the newlines before the
// last question are forgotten and memory stays flat however long the file.
type lineCounter struct {
	r       io.Reader
	read    int64   // bytes read so far
	pending []int64 // offsets of newlines not yet counted
	line    int     // line at lastNL+1
	lastNL  int64   // offset of the last counted newline, -1 before any
}

func (c *lineCounter) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	for i := 0; i < n; i++ {
		if p[i] == '\n' {
			c.pending = append(c.pending, c.read+int64(i))
		}
	}
	c.read += int64(n)
	return n, err
}

// position returns the 1-based line and byte column of offset.
func (c *lineCounter) position(off int64) (int, int) {
	off = max(off, 0)
	i := 0
	for i < len(c.pending) && c.pending[i] < off {
		c.lastNL = c.pending[i]
		c.line++
		i++
	}
	c.pending = append(c.pending[:0], c.pending[i:]...)
	if off <= c.lastNL {
		return c.line, 1
	}
	return c.line, int(off - c.lastNL)
}
