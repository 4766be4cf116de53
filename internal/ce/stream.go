package ce

import (
	"io"
	"unsafe"
)

// The JSON event format, written a piece at a time, for data too large to hold in memory
// (binding.StreamData): what AppendJSON writes of data, as it is read.

// NewCompactWriter returns a writer that writes the JSON written to it to w without the white
// space outside strings, as compactJSON does for AppendJSON. What is written to it must be
// JSON (RFC 8259); it is not checked here.
func NewCompactWriter(w io.Writer) io.WriteCloser { return &compactWriter{w: w} }

// NewStringWriter returns a writer that writes the text written to it to w as the inside of
// the JSON string AppendString makes of it: AppendString of the whole text is a quote, what
// was written to w, and a quote. Close writes a character cut at the end of the last write.
func NewStringWriter(w io.Writer) io.WriteCloser { return &stringWriter{w: w} }

type compactWriter struct {
	w                io.Writer
	inString, escape bool
}

func (c *compactWriter) Write(p []byte) (int, error) {
	start := 0
	for i, b := range p {
		switch {
		case c.escape:
			c.escape = false
		case c.inString:
			switch b {
			case '\\':
				c.escape = true
			case '"':
				c.inString = false
			}
		case b == '"':
			c.inString = true
		case b == ' ' || b == '\t' || b == '\n' || b == '\r':
			if start < i {
				if _, err := c.w.Write(p[start:i]); err != nil {
					return 0, err
				}
			}
			start = i + 1
		}
	}
	if start < len(p) {
		if _, err := c.w.Write(p[start:]); err != nil {
			return 0, err
		}
	}
	return len(p), nil
}

func (c *compactWriter) Close() error { return nil }

// stringWriter writes text as the inside of the JSON string AppendString makes of it, a
// piece at a time: a character cut at the end of a piece waits for the rest.
type stringWriter struct {
	w    io.Writer
	held []byte // a character cut at the end of the last write
	join []byte // what was held, then what is written
	out  []byte
}

func (s *stringWriter) Write(p []byte) (int, error) {
	n := len(p)
	if len(s.held) > 0 {
		s.join = append(append(s.join[:0], s.held...), p...)
		p = s.join
	}
	cut := CharBoundary(p)
	if err := s.write(p[:cut]); err != nil {
		return 0, err
	}
	s.held = append(s.held[:0], p[cut:]...)
	return n, nil
}

func (s *stringWriter) write(p []byte) error {
	if len(p) == 0 {
		return nil
	}
	// AppendString reads p and keeps nothing of it: no copy into a string is needed.
	s.out = AppendString(s.out[:0], unsafe.String(unsafe.SliceData(p), len(p)))
	_, err := s.w.Write(s.out[1 : len(s.out)-1])
	return err
}

func (s *stringWriter) Close() error {
	err := s.write(s.held)
	s.held = s.held[:0]
	return err
}

// CharBoundary is how much of p can be taken without cutting a character that may go on
// past its end: up to the last byte within three of the end that may start one. A byte that
// may start a character (0xC0 and above) starts a step of UTF-8 decoding wherever it is, so
// decoding the two parts one after the other decodes p and what follows.
func CharBoundary(p []byte) int {
	for k := 1; k < 4 && k <= len(p); k++ {
		if p[len(p)-k] >= 0xc0 {
			return len(p) - k
		}
	}
	return len(p)
}
