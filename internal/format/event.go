package format

import (
	"bytes"
	"encoding/hex"
	"io"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/cectl/cectl/internal/ce"
	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/fatih/color"
	"github.com/tidwall/pretty"
)

// EventInfo is what is known about an event besides the event itself.
type EventInfo struct {
	// Received is when it arrived; zero leaves the time out.
	Received time.Time
	// Mode is the content mode it came in ("binary", "structured", "batch"), or empty.
	Mode string
	// Notes are short remarks shown at the end of the header line ("duplicate").
	Notes []string
}

// attrIndent is where attribute values start: long enough for "datacontenttype".
const attrIndent = 18

// Event writes an event for a person: a header line with what identifies it (type, source,
// id, subject) and how it came, then, unless quiet, the other attributes aligned and the
// data, pretty-printed by content type. Every string from the event is sanitized.
func Event(w io.Writer, st *Styles, e *event.Event, info EventInfo, quiet bool) error {
	if sb, ok := w.(*strings.Builder); ok {
		// Written in place when the caller builds a larger text (listen's lines).
		writeEvent(sb, st, e, info, quiet)
		return nil
	}
	var b strings.Builder
	writeEvent(&b, st, e, info, quiet)
	_, err := io.WriteString(w, b.String())
	return err
}

func writeEvent(b *strings.Builder, st *Styles, e *event.Event, info EventInfo, quiet bool) {
	writeHeader(b, st, e, info)
	if !quiet {
		writeAttributes(b, st, e)
		writeData(b, st, e)
	}
}

func writeHeader(b *strings.Builder, st *Styles, e *event.Event, info EventInfo) {
	if !info.Received.IsZero() {
		if st.Enabled {
			b.WriteString(st.paint(st.Time, info.Received.Format(clock)))
		} else {
			var buf [len(clock) + 8]byte
			b.Write(info.Received.AppendFormat(buf[:0], clock))
		}
		b.WriteByte(' ')
	}
	b.WriteString(st.paint(st.Type, Sanitize(e.Type())))
	field := func(name string, c *color.Color, value string) {
		b.WriteString("  ")
		if st.Enabled {
			b.WriteString(st.paint(st.Key, name+"="))
		} else {
			b.WriteString(name)
			b.WriteByte('=')
		}
		b.WriteString(st.paint(c, Sanitize(value)))
	}
	field("source", st.Source, e.Source())
	field("id", st.ID, e.ID())
	if s := e.Subject(); s != "" {
		field("subject", st.Subject, s)
	}
	if info.Mode != "" {
		b.WriteString("  ")
		if st.Enabled {
			b.WriteString(st.paint(st.Mode, "("+info.Mode+")"))
		} else {
			b.WriteByte('(')
			b.WriteString(info.Mode)
			b.WriteByte(')')
		}
	}
	for _, n := range info.Notes {
		b.WriteString("  ")
		b.WriteString(st.paint(st.Warn, Sanitize(n)))
	}
	b.WriteByte('\n')
}

func writeAttributes(b *strings.Builder, st *Styles, e *event.Event) {
	attrs := ce.Attributes(e)
	width := attrIndent
	for _, a := range attrs {
		width = max(width, len(a.Name)+2)
	}
	for _, a := range attrs {
		switch a.Name {
		case "type", "source", "id", "subject":
			continue // on the header line
		}
		c := st.Key
		if a.Extension {
			c = st.Ext
		}
		name := Sanitize(a.Name)
		b.WriteString("  ")
		b.WriteString(st.paint(c, name))
		b.WriteString(strings.Repeat(" ", max(1, width-len(name))))
		b.WriteString(Sanitize(a.Value))
		b.WriteByte('\n')
	}
}

// writeData shows the data by what it is: JSON pretty-printed (and coloured), text as text,
// anything else as a size and the first bytes in hex.
func writeData(b *strings.Builder, st *Styles, e *event.Event) {
	data := e.DataEncoded
	if data == nil {
		return
	}
	ct := e.DataContentType()
	label := "data (" + Plural(len(data), "byte") + ")"
	if ct == "" {
		label = "data (" + Plural(len(data), "byte") + ", no datacontenttype)"
	}
	b.WriteString("  ")
	b.WriteString(st.paint(st.Key, label))
	b.WriteByte('\n')
	b.WriteString(indent(Data(st, data, ct, ce.IsBase64(e)), "    "))
}

// ShowData is how many bytes of a payload Data shows; the rest is counted ("… N more
// bytes"). A payload may be as large as the receiver takes, and laying all of it out for a
// terminal would cost many times its size in memory for lines nobody reads.
const ShowData = 16 << 10

// Data renders a payload for a person, ending in a newline: at most ShowData bytes of it.
func Data(st *Styles, data []byte, contentType string, binary bool) string {
	if len(data) == 0 {
		return st.paint(st.Dim, "(empty)") + "\n"
	}
	if !binary && ce.IsJSONContentType(contentType) && isJSON(data) {
		cut, closers := cutJSON(data, ShowData)
		if cut < len(data) && cut < ShowData/2 {
			// No place to cut between values near the limit (one long string): show the
			// text as it is instead of a layout of almost nothing.
			return cutText(st, data)
		}
		var laid []byte
		if cut == len(data) {
			laid = pretty.PrettyOptions(data, &pretty.Options{Width: 80, Indent: "  ", SortKeys: false})
		} else {
			laid = layoutJSONPrefix(data, cut, closers)
		}
		out := SanitizeBlock(string(laid))
		if st.Enabled {
			out = string(pretty.Color([]byte(out), nil))
		}
		return ensureNewline(out) + moreBytes(st, len(data)-cut)
	}
	if asText(data, contentType, binary) {
		return cutText(st, data)
	}
	return binarySummary(st, data)
}

// cutText shows text data, cut after ShowData bytes at a character boundary.
func cutText(st *Styles, data []byte) string {
	cut := len(data)
	if cut > ShowData {
		cut = ShowData
		for cut > 0 && !utf8.RuneStart(data[cut]) {
			cut--
		}
	}
	return ensureNewline(SanitizeBlock(string(data[:cut]))) + moreBytes(st, len(data)-cut)
}

// moreBytes is the line that says how much of the data is not shown; empty for none.
func moreBytes(st *Styles, n int) string {
	if n <= 0 {
		return ""
	}
	return st.paint(st.Dim, "… "+Plural(n, "more byte")) + "\n"
}

// cutJSON returns where to cut valid JSON data to show at most limit bytes of it — all of
// it when it is short enough, else at the last place before the limit where a value ends or
// a container opens, outside strings — and the closing brackets of the containers still
// open there, innermost first. What is shown is then a true beginning of the document, never
// a cut string or literal that a layout would complete.
func cutJSON(data []byte, limit int) (int, []byte) {
	if len(data) <= limit {
		return len(data), nil
	}
	var open, openAtCut []byte
	cut, inString, escaped := 0, false, false
	for i, c := range data[:limit] {
		switch {
		case escaped:
			escaped = false
		case inString:
			switch c {
			case '\\':
				escaped = true
			case '"':
				inString = false
			}
		case c == '"':
			inString = true
		case c == '[' || c == '{':
			open = append(open, c)
			cut, openAtCut = i+1, append(openAtCut[:0], open...)
		case c == ']' || c == '}':
			open = open[:len(open)-1]
		case c == ',':
			cut, openAtCut = i, append(openAtCut[:0], open...)
		}
	}
	closers := make([]byte, len(openAtCut))
	for i, c := range openAtCut {
		closers[len(openAtCut)-1-i] = c + 2 // '[' + 2 == ']', '{' + 2 == '}'
	}
	return cut, closers
}

// layoutJSONPrefix lays out data[:cut], closed by closers for the layout's sake, and takes
// the closers off again.
func layoutJSONPrefix(data []byte, cut int, closers []byte) []byte {
	doc := append(append(make([]byte, 0, cut+len(closers)), data[:cut]...), closers...)
	out := pretty.PrettyOptions(doc, &pretty.Options{Width: 80, Indent: "  ", SortKeys: false})
	for j := len(closers) - 1; j >= 0; j-- {
		out = bytes.TrimRight(out, " \t\r\n")
		if len(out) == 0 || out[len(out)-1] != closers[j] {
			break
		}
		out = out[:len(out)-1]
	}
	return append(bytes.TrimRight(out, " \t\r\n"), '\n')
}

// asText says whether data reads as text: UTF-8 of a text content type (its control
// characters are escaped later), or printable UTF-8 of any content type that was not marked
// binary.
func asText(data []byte, contentType string, binary bool) bool {
	if ce.IsTextContentType(contentType) && contentType != "" && utf8.Valid(data) {
		return true
	}
	return !binary && isPrintable(data)
}

// binarySummary shows the size and a hex dump of the first bytes.
func binarySummary(st *Styles, data []byte) string {
	const show = 32
	n := min(len(data), show)
	dump := strings.TrimRight(hex.Dump(data[:n]), "\n")
	more := ""
	if len(data) > show {
		more = "\n… " + Plural(len(data)-show, "more byte")
	}
	return st.paint(st.Dim, "binary, "+Plural(len(data), "byte")) + "\n" + dump + more + "\n"
}

func indent(s, prefix string) string {
	lines := strings.SplitAfter(s, "\n")
	var b strings.Builder
	for _, l := range lines {
		if l == "" {
			continue
		}
		b.WriteString(prefix)
		b.WriteString(l)
	}
	return b.String()
}

func ensureNewline(s string) string {
	if strings.HasSuffix(s, "\n") {
		return s
	}
	return s + "\n"
}
