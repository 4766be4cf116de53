package validate

import (
	"bytes"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Attributes with a meaning in spec v1.0.2 or v0.3; every other member is
// an extension. Which of them are extensions depends on the specversion,
// which may come last, so all are recorded first and judged afterwards.
const (
	aSpecversion = iota
	aID
	aSource
	aType
	aDatacontenttype
	aDataschema
	aSubject
	aTime
	aData
	aDataBase64
	aSchemaurl
	aDatacontentencoding
	nKnown
)

func knownIndex(name []byte) int {
	switch string(name) {
	case "specversion":
		return aSpecversion
	case "id":
		return aID
	case "source":
		return aSource
	case "type":
		return aType
	case "datacontenttype":
		return aDatacontenttype
	case "dataschema":
		return aDataschema
	case "subject":
		return aSubject
	case "time":
		return aTime
	case "data":
		return aData
	case "data_base64":
		return aDataBase64
	case "schemaurl":
		return aSchemaurl
	case "datacontentencoding":
		return aDatacontentencoding
	}
	return -1
}

// member is one member of the event object.
type member struct {
	present bool
	name    nameRef
	nameOff int // opening quote of the name
	nameEsc bool
	off     int // first byte of the value
	end     int // after the value
	kind    kind
	esc     bool // string value with escapes
	isInt   bool // number without fraction or exponent
}

type topName struct {
	ref nameRef
	off int
	key uint32 // length and first byte, to skip most comparisons
}

func nameKey(name []byte) uint32 {
	if len(name) == 0 {
		return 0
	}
	return uint32(len(name))<<8 | uint32(name[0])
}

// checker validates one document. Its buffers are reused from one document
// to the next, so validating allocates nothing unless there are findings.
type checker struct {
	opts    Options
	doc     []byte
	out     []Finding
	fatal   bool // a syntax error ended the scan
	badUTF8 bool // an invalid UTF-8 sequence was reported
	attr    [nKnown]member
	exts    []member
	top     []topName
	arena   []byte
	frames  []frame
	nested  []nameRef
	curTop  int  // index into top of the member being scanned, or -1
	inValue bool // value() is scanning inside a member

	// Where doc[0] is in the whole input.
	baseOff, baseLine, baseCol int
	batch                      bool // the document is element index of a batch
	index                      int
	objStart                   int
	version                    string // "1.0", "0.3" or "" when unknown
}

// Validator validates single events and reuses its buffers between calls.
// It is not safe for concurrent use.
type Validator struct {
	c checker
}

// New returns a Validator with the given options.
func New(opts Options) *Validator {
	return &Validator{c: checker{opts: opts}}
}

// Event validates doc, which must hold exactly one CloudEvent object. The
// returned slice is reused by the next call.
func (v *Validator) Event(doc []byte) []Finding {
	c := &v.c
	c.reset(doc, 0, 1, 1, false, 0)
	c.document(true)
	c.finish()
	return c.out
}

// Event validates doc, which must hold exactly one CloudEvent object, and
// returns its findings sorted by position.
func Event(doc []byte, opts Options) []Finding {
	out := New(opts).Event(doc)
	return append([]Finding(nil), out...)
}

func (c *checker) reset(doc []byte, off, line, col int, batch bool, index int) {
	c.doc = doc
	c.out = c.out[:0]
	c.fatal, c.badUTF8 = false, false
	c.attr = [nKnown]member{}
	c.exts = c.exts[:0]
	c.top = c.top[:0]
	c.arena = c.arena[:0]
	c.curTop = -1
	c.inValue = false
	c.baseOff, c.baseLine, c.baseCol = off, line, col
	c.batch, c.index = batch, index
	c.objStart = 0
	c.version = ""
}

// document validates the event in c.doc; with whole set nothing but white
// space may follow it.
func (c *checker) document(whole bool) {
	doc := c.doc
	i := c.ws(0)
	if i >= len(doc) {
		c.syntax(c.lastByte(), "the input is empty, expected a CloudEvent object")
		return
	}
	var end int
	var ok bool
	if doc[i] != '{' {
		c.inValue = true
		end, ok = c.value(i)
		c.inValue = false
		if !ok {
			return
		}
		what := "found " + kindAt(doc[i]).String()
		if doc[i] == '[' && !c.batch {
			what += " (a batch belongs in a file or stream, not where one event is expected)"
		}
		c.add(RuleEventObject, Error, i, c.eventPointer(), "an event must be a JSON object, "+what)
	} else {
		c.objStart = i
		end, ok = c.object(i)
		if !ok {
			return
		}
		c.semantic()
	}
	if whole {
		if j := c.ws(end); j < len(doc) {
			c.add(RuleTrailingData, Error, j, c.eventPointer(), "unexpected "+c.found(j)+" after the end of the JSON value; expected nothing but white space")
		}
	}
}

func kindAt(b byte) kind {
	switch b {
	case '{':
		return kObject
	case '[':
		return kArray
	case '"':
		return kString
	case 't', 'f':
		return kTrue
	case 'n':
		return kNull
	}
	return kNumber
}

// atMemberName reports whether a member name starts at i, and reports what stands there
// otherwise.
func (c *checker) atMemberName(i int) bool {
	switch {
	case i >= len(c.doc):
		c.eof("a member name")
	case c.doc[i] == '"':
		return true
	case c.doc[i] == '}':
		c.syntax(i, "trailing comma before '}'")
	default:
		c.syntax(i, "expected a member name in double quotes, found "+c.found(i))
	}
	return false
}

// object scans the event object at i, recording its members.
func (c *checker) object(i int) (int, bool) {
	doc := c.doc
	i = c.ws(i + 1)
	if i < len(doc) && doc[i] == '}' {
		return i + 1, true
	}
	for {
		if !c.atMemberName(i) {
			return i, false
		}
		nameOff := i
		end, esc, ok := c.str(i)
		if !ok {
			return end, false
		}
		ref := c.nameRef(i, end, esc)
		name := c.bytesOf(ref)
		dupOf := -1
		key := nameKey(name)
		for k := range c.top {
			if c.top[k].key == key && bytes.Equal(c.bytesOf(c.top[k].ref), name) {
				dupOf = k
				break
			}
		}
		c.top = append(c.top, topName{ref, nameOff, key})
		c.curTop = len(c.top) - 1
		i = c.ws(end)
		if i >= len(doc) {
			c.eof("':'")
			return i, false
		}
		if doc[i] != ':' {
			c.syntax(i, "expected ':' after the member name, found "+c.found(i))
			return i, false
		}
		i = c.ws(i + 1)
		if i >= len(doc) {
			c.eof("a value")
			return i, false
		}
		m := member{present: true, name: ref, nameOff: nameOff, nameEsc: esc, off: i}
		switch doc[i] {
		case '{', '[':
			m.kind = kObject
			if doc[i] == '[' {
				m.kind = kArray
			}
			c.inValue = true
			end, ok = c.value(i)
			c.inValue = false
		default:
			end, m.kind, m.esc, m.isInt, ok = c.scalar(i)
		}
		if !ok {
			return end, false
		}
		m.end = end
		switch k := knownIndex(name); {
		case dupOf >= 0:
			line, col := c.lineCol(c.top[dupOf].off)
			c.add(RuleDuplicateMember, Error, nameOff, c.memberPointer(ref),
				"member "+quote(name)+" appears twice in the event (first at line "+strconv.Itoa(line)+", column "+strconv.Itoa(col)+
					"); each attribute is one member and consumers disagree on which value counts")
		case k >= 0:
			c.attr[k] = m
		default:
			c.exts = append(c.exts, m)
		}
		c.curTop = -1
		i = c.ws(end)
		if i >= len(doc) {
			c.eof("',' or '}'")
			return i, false
		}
		switch doc[i] {
		case ',':
			i = c.ws(i + 1)
		case '}':
			return i + 1, true
		default:
			c.syntax(i, "expected ',' or '}' after a member, found "+c.found(i))
			return i, false
		}
	}
}

// --- findings and positions ---

func (c *checker) add(rule string, level Level, off int, pointer, msg string) {
	if c.opts.Rules.ignored(rule) {
		return
	}
	if level == Warning && c.opts.Strict {
		level = Error
	}
	c.out = append(c.out, Finding{Rule: rule, Level: level, Pointer: pointer, Offset: off, Message: msg})
}

// lineCol returns the 1-based line and column (in code points) of doc[off]
// in the whole input.
func (c *checker) lineCol(off int) (int, int) {
	pre := c.doc[:off]
	nl := bytes.Count(pre, newline)
	if nl == 0 {
		return c.baseLine, c.baseCol + utf8.RuneCount(pre)
	}
	last := bytes.LastIndexByte(pre, '\n')
	return c.baseLine + nl, 1 + utf8.RuneCount(pre[last+1:])
}

var newline = []byte{'\n'}

// finish sorts the findings by position and makes positions absolute.
func (c *checker) finish() {
	out := c.out
	for i := 1; i < len(out); i++ { // insertion sort: stable, few findings
		for j := i; j > 0 && out[j].Offset < out[j-1].Offset; j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	for i := range out {
		out[i].Line, out[i].Column = c.lineCol(out[i].Offset)
		out[i].Offset += c.baseOff
	}
}

func (c *checker) eventPointer() string {
	if c.batch {
		return "/" + strconv.Itoa(c.index)
	}
	return ""
}

func (c *checker) memberPointer(r nameRef) string {
	return c.eventPointer() + "/" + escapePointer(c.bytesOf(r))
}

func (c *checker) attrPointer(name string) string {
	return c.eventPointer() + "/" + name
}

// nestedPointer is the pointer of the position value() has reached.
func (c *checker) nestedPointer() string {
	var b strings.Builder
	if c.curTop >= 0 {
		b.WriteString(c.memberPointer(c.top[c.curTop].ref))
	} else {
		b.WriteString(c.eventPointer())
	}
	for k := range c.frames {
		f := &c.frames[k]
		b.WriteByte('/')
		if f.obj {
			b.WriteString(escapePointer(c.bytesOf(f.cur)))
		} else {
			b.WriteString(strconv.Itoa(f.index))
		}
	}
	return b.String()
}

func (c *checker) syntaxPointer() string {
	if c.inValue {
		return c.nestedPointer()
	}
	if c.curTop >= 0 {
		return c.memberPointer(c.top[c.curTop].ref)
	}
	return c.eventPointer()
}

// escapePointer escapes a member name for a JSON pointer (RFC 6901 §3).
func escapePointer(name []byte) string {
	if bytes.IndexByte(name, '~') < 0 && bytes.IndexByte(name, '/') < 0 {
		return string(name)
	}
	s := strings.ReplaceAll(string(name), "~", "~0")
	return strings.ReplaceAll(s, "/", "~1")
}

// --- attribute rules ---

// strBytes returns the decoded content of a string member.
func (c *checker) strBytes(m *member) []byte {
	raw := c.doc[m.off+1 : m.end-1]
	if !m.esc {
		return raw
	}
	s := len(c.arena)
	c.arena = appendUnquoted(c.arena, raw)
	return c.arena[s:]
}

// at maps an index into a string member's decoded value to a document
// offset: exact without escapes, else the opening quote.
func (m *member) at(idx int) int {
	if m.esc {
		return m.off
	}
	return m.off + 1 + idx
}

// raw renders a member's value for a message: strings decoded and quoted,
// other values as written (shortened).
func (c *checker) raw(m *member) string {
	if m.kind == kString {
		return quote(c.strBytes(m))
	}
	switch m.kind {
	case kObject:
		return "{…}"
	case kArray:
		return "[…]"
	}
	v := c.doc[m.off:m.end] // a number or literal: ASCII, no white space
	if len(v) > 40 {
		return string(v[:40]) + "…"
	}
	return string(v)
}

func (c *checker) semantic() {
	sv := &c.attr[aSpecversion]
	switch {
	case !sv.present:
		c.add(RuleRequired, Error, c.objStart, c.attrPointer("specversion"), `required attribute "specversion" is missing; expected "1.0" or "0.3"`)
	case sv.kind == kNull:
		c.add(RuleRequired, Error, sv.off, c.attrPointer("specversion"), `required attribute "specversion" is null, which means absent; expected "1.0" or "0.3"`)
	case sv.kind != kString:
		c.add(RuleAttributeType, Error, sv.off, c.attrPointer("specversion"), "specversion must be a string such as \"1.0\", found "+sv.kind.String()+" "+c.raw(sv))
	default:
		v := c.strBytes(sv)
		switch string(v) {
		case "1.0":
			c.version = "1.0"
		case "0.3":
			c.version = "0.3"
		case "":
			c.add(RuleEmptyValue, Error, sv.off, c.attrPointer("specversion"), `specversion is an empty string; expected "1.0" or "0.3"`)
		default:
			hint := ""
			if bytes.HasPrefix(v, []byte("1.0.")) || bytes.HasPrefix(v, []byte("0.3.")) {
				hint = " (the value carries major and minor version only)"
			}
			c.add(RuleSpecVersion, Error, sv.off, c.attrPointer("specversion"), "unsupported specversion "+quote(v)+"; expected \"1.0\" or \"0.3\""+hint)
		}
		if c.version != "" && !c.opts.accepts(c.version) {
			c.add(RuleSpecVersion, Error, sv.off, c.attrPointer("specversion"), "specversion "+quote(v)+" is not accepted here; expected "+c.opts.acceptedList())
		}
	}
	v03 := c.version == "0.3"

	// REQUIRED attributes (spec v1.0.2 and v0.3, REQUIRED Attributes).
	c.required(aID, "id", true)
	// v0.3 does not require source to be non-empty; an empty string is a
	// valid URI-reference there.
	if c.required(aSource, "source", !v03) {
		c.uri(&c.attr[aSource], "source", false)
	}
	c.required(aType, "type", true)

	// OPTIONAL attributes: null means absent (JSON format v1.0.2 §2.2).
	c.optional(aSubject, "subject", true) // a String: only the character rules apply
	if m := &c.attr[aTime]; c.optional(aTime, "time", !v03) {
		if e, ok := checkTime(c.strBytes(m)); !ok {
			c.add(RuleTimeFormat, Error, m.at(e.At), c.attrPointer("time"), "time "+c.raw(m)+" is not an RFC 3339 timestamp: "+e.Reason)
		}
	}
	ctJSON := true // absent datacontenttype means application/json (§3.1.1)
	if m := &c.attr[aDatacontenttype]; c.optional(aDatacontenttype, "datacontenttype", !v03) {
		val := c.strBytes(m)
		if e, ok := checkMediaType(val); !ok {
			c.add(RuleMediaType, Error, m.at(e.At), c.attrPointer("datacontenttype"),
				"datacontenttype "+c.raw(m)+" is not an RFC 2046 media type: "+e.Reason)
		} else {
			ctJSON = isJSONMediaType(val)
		}
	}
	schema := ""
	if v03 {
		if m := &c.attr[aSchemaurl]; c.optional(aSchemaurl, "schemaurl", false) {
			if c.uri(m, "schemaurl", false) && c.opts.Data != nil {
				schema = string(c.strBytes(m))
			}
		}
		c.extension(&c.attr[aDataschema], v03)
	} else {
		if m := &c.attr[aDataschema]; c.optional(aDataschema, "dataschema", true) {
			if c.uri(m, "dataschema", true) && c.opts.Data != nil {
				schema = string(c.strBytes(m))
			}
		}
		c.extension(&c.attr[aSchemaurl], v03)
		c.extension(&c.attr[aDatacontentencoding], v03)
	}
	for k := range c.exts {
		c.extension(&c.exts[k], v03)
	}
	c.data(v03, ctJSON, schema)
}

// required checks a REQUIRED String attribute and reports whether it is a
// string that passed the character rules.
func (c *checker) required(idx int, name string, nonEmpty bool) bool {
	m := &c.attr[idx]
	switch {
	case !m.present:
		c.add(RuleRequired, Error, c.objStart, c.attrPointer(name), "required attribute \""+name+"\" is missing; expected a non-empty string")
		return false
	case m.kind == kNull:
		c.add(RuleRequired, Error, m.off, c.attrPointer(name), "required attribute \""+name+"\" is null, which means absent; expected a non-empty string")
		return false
	case m.kind != kString:
		c.add(RuleAttributeType, Error, m.off, c.attrPointer(name), "attribute \""+name+"\" must be a string, found "+m.kind.String()+" "+c.raw(m))
		return false
	case m.end-m.off == 2 && nonEmpty:
		c.add(RuleEmptyValue, Error, m.off, c.attrPointer(name), "attribute \""+name+"\" is an empty string; expected a non-empty string")
		return false
	}
	return c.chars(m, name)
}

// optional checks an OPTIONAL String attribute and reports whether it is
// present as a string that passed the character rules.
func (c *checker) optional(idx int, name string, nonEmpty bool) bool {
	m := &c.attr[idx]
	switch {
	case !m.present:
		return false
	case m.kind == kNull:
		if c.version == "0.3" {
			c.v03Null(RuleAttributeType, m, c.attrPointer(name), "attribute \""+name+"\"")
		}
		return false
	case m.kind != kString:
		c.add(RuleAttributeType, Error, m.off, c.attrPointer(name), "attribute \""+name+"\" must be a string, found "+m.kind.String()+" "+c.raw(m))
		return false
	case m.end-m.off == 2 && nonEmpty:
		c.add(RuleEmptyValue, Error, m.off, c.attrPointer(name), "attribute \""+name+"\" is an empty string; omit it or give it a value")
		return false
	}
	return c.chars(m, name)
}

// v03Null reports a null attribute or extension of a v0.3 event. The v0.3 JSON format has
// no null values (v0.3 JSON format §2.2), yet the major SDKs read null as "absent", as
// spec v1.0.2 does: a warning, an error under Strict.
func (c *checker) v03Null(rule string, m *member, pointer, what string) {
	c.add(rule, Warning, m.off, pointer, what+" is null; v0.3 has no null values (omit the attribute), though the major CloudEvents SDKs read null as absent")
}

// uri checks a URI-reference (RFC 3986 §4.1) or, with absolute, an
// absolute URI (§4.3), as the spec v1.0.2 Type System defines them.
func (c *checker) uri(m *member, name string, absolute bool) bool {
	e, ok := checkURI(c.strBytes(m), absolute, !absolute)
	if ok {
		return true
	}
	if absolute {
		c.add(RuleAbsoluteURI, Error, m.at(e.At), c.memberPointer(m.name), name+" "+c.raw(m)+" is not an absolute URI (RFC 3986 §4.3): "+e.Reason)
	} else {
		c.add(RuleURIReference, Error, m.at(e.At), c.memberPointer(m.name), name+" "+c.raw(m)+" is not a URI-reference (RFC 3986 §4.1): "+e.Reason)
	}
	return false
}

// chars applies the String rules of the spec v1.0.2 Type System: no control
// characters, no noncharacters, no unpaired surrogates. The first offending
// character is reported at its exact position.
func (c *checker) chars(m *member, name string) bool {
	raw := c.doc[m.off+1 : m.end-1]
	if !m.esc && printableASCII(raw) {
		return true
	}
	base := m.off + 1
	for i := 0; i < len(raw); {
		b := raw[i]
		var r rune
		size := 1
		switch {
		case b == '\\':
			switch raw[i+1] {
			case 'u':
				r = hexRune(raw[i+2 : i+6])
				size = 6
				if r >= 0xD800 && r < 0xDC00 {
					if i+12 <= len(raw) && raw[i+6] == '\\' && raw[i+7] == 'u' {
						if r2 := hexRune(raw[i+8 : i+12]); r2 >= 0xDC00 && r2 < 0xE000 {
							r = (r-0xD800)<<10 + (r2 - 0xDC00) + 0x10000
							size = 12
							break
						}
					}
					c.add(RuleStringChars, Error, base+i, c.memberPointer(m.name),
						"attribute "+quote([]byte(name))+" contains the unpaired high surrogate \\u"+hex4(r)+"; surrogates are only allowed in pairs")
					return false
				}
				if r >= 0xDC00 && r < 0xE000 {
					c.add(RuleStringChars, Error, base+i, c.memberPointer(m.name),
						"attribute "+quote([]byte(name))+" contains the unpaired low surrogate \\u"+hex4(r)+"; surrogates are only allowed in pairs")
					return false
				}
			case 'b':
				r, size = '\b', 2
			case 'f':
				r, size = '\f', 2
			case 'n':
				r, size = '\n', 2
			case 'r':
				r, size = '\r', 2
			case 't':
				r, size = '\t', 2
			default:
				r, size = rune(raw[i+1]), 2
			}
		case b < 0x80:
			r = rune(b)
		default:
			r, size = utf8.DecodeRune(raw[i:])
			if r == utf8.RuneError && size == 1 {
				i++ // reported by the UTF-8 rule
				continue
			}
		}
		if what := badRune(r); what != "" {
			c.add(RuleStringChars, Error, base+i, c.memberPointer(m.name),
				"attribute "+quote([]byte(name))+" contains "+what+"; CloudEvents strings exclude control characters (U+0000-U+001F, U+007F-U+009F) and noncharacters")
			return false
		}
		i += size
	}
	return true
}

func badRune(r rune) string {
	switch {
	case r < 0x20 || r >= 0x7f && r <= 0x9f:
		return "the control character U+" + hex4(r)
	case r >= 0xFDD0 && r <= 0xFDEF || r&0xFFFE == 0xFFFE:
		if r > 0xFFFF {
			return "the noncharacter U+" + strings.ToUpper(strconv.FormatInt(int64(r), 16))
		}
		return "the noncharacter U+" + hex4(r)
	}
	return ""
}

// documentedType returns the type of a documented extension (CloudEvents
// documented extensions: sampling, severity, expiry, recordedtime, dataref,
// deprecation).
func documentedType(name []byte) string {
	switch string(name) {
	case "sampledrate", "severitynumber":
		return "Integer"
	case "expirytime", "recordedtime":
		return "Timestamp"
	case "dataref":
		return "URI-reference"
	case "deprecated":
		return "Boolean"
	}
	return ""
}

// extension checks an extension attribute: its name (Attribute Naming
// Convention) and its value type (JSON format §2.2; v0.3 §2.2 and §2.3).
func (c *checker) extension(m *member, v03 bool) {
	if !m.present {
		return
	}
	name := c.bytesOf(m.name)
	nameAt := func(idx int) int {
		if m.nameEsc {
			return m.nameOff
		}
		return m.nameOff + 1 + idx
	}
	if v03 && string(name) == "data_base64" {
		c.add(RuleExtensionName, Error, m.nameOff, c.memberPointer(m.name),
			`member "data_base64" does not exist in v0.3; v0.3 carries binary data as a base64 string in "data" with "datacontentencoding": "base64"`)
		return
	}
	if e, ok := checkName(name, v03); !ok {
		if len(name) == 0 {
			e.At = -1 // the opening quote
		}
		c.add(RuleExtensionName, Error, nameAt(e.At), c.memberPointer(m.name), "attribute name "+quote(name)+" is invalid: "+e.Reason)
	} else if len(name) > 20 {
		c.add(RuleNameLength, Warning, m.nameOff, c.memberPointer(m.name), "attribute name "+quote(name)+" is "+strconv.Itoa(len(name))+" characters long; names SHOULD NOT exceed 20 characters")
	}
	if doc := documentedType(name); doc != "" && !v03 && m.kind != kNull {
		ok := false
		switch doc {
		case "Integer":
			ok = m.kind == kNumber && m.isInt
		case "Timestamp", "URI-reference":
			ok = m.kind == kString
		case "Boolean":
			ok = m.kind == kTrue || m.kind == kFalse
		}
		if !ok {
			c.add(RuleExtensionType, Error, m.off, c.memberPointer(m.name), "documented extension "+quote(name)+" is of type "+doc+", found "+m.kind.String()+" "+c.raw(m))
			return
		}
	}
	switch m.kind {
	case kNull:
		if v03 {
			c.v03Null(RuleExtensionType, m, c.memberPointer(m.name), "extension "+quote(name))
		}
	case kString:
		if !c.chars(m, string(name)) || v03 {
			return
		}
		switch documentedType(name) {
		case "Timestamp":
			if e, ok := checkTime(c.strBytes(m)); !ok {
				c.add(RuleTimeFormat, Error, m.at(e.At), c.memberPointer(m.name), string(name)+" "+c.raw(m)+" is not an RFC 3339 timestamp: "+e.Reason)
			}
		case "URI-reference":
			c.uri(m, string(name), false)
		}
	case kTrue, kFalse:
		if v03 {
			// The v0.3 type system has no Boolean (v0.3 Type System), yet the major SDKs
			// read and write Boolean extensions in v0.3 JSON: a warning, an error under Strict.
			c.add(RuleExtensionType, Warning, m.off, c.memberPointer(m.name), "extension "+quote(name)+
				" is a boolean; the v0.3 type system has no Boolean (use the string \""+string(c.doc[m.off:m.end])+"\"), though the major CloudEvents SDKs accept it")
		}
	case kNumber:
		if !m.isInt {
			c.add(RuleExtensionType, Error, m.off, c.memberPointer(m.name), "extension "+quote(name)+" is the number "+c.raw(m)+", which is not an integer; numbers must be Integers (no fraction, no exponent)")
			return
		}
		if !inInt32(c.doc[m.off:m.end]) {
			c.rangeError(m.off, m.end, c.memberPointer(m.name), "extension "+quote(name))
		}
	case kObject:
		if v03 {
			c.mapValue(m.off, c.memberPointer(m.name), quote(name))
			return
		}
		c.add(RuleExtensionType, Error, m.off, c.memberPointer(m.name), "extension "+quote(name)+" is an object; extension values must be a string, a boolean or an integer")
	case kArray:
		c.add(RuleExtensionType, Error, m.off, c.memberPointer(m.name), "extension "+quote(name)+" is an array; extension values must be a string, a boolean or an integer")
	}
}

// inInt32 reports whether an integer's JSON text is in the Integer range
// of the spec Type System (signed 32 bits).
func inInt32(digits []byte) bool {
	neg := digits[0] == '-'
	if neg {
		digits = digits[1:]
	}
	if len(digits) > 10 {
		return false
	}
	v, _ := strconv.ParseInt(string(digits), 10, 64)
	return v <= 2147483647 || neg && v == 2147483648
}

func (c *checker) rangeError(off, end int, ptr, what string) {
	c.add(RuleIntegerRange, Error, off, ptr, what+" is "+string(c.doc[off:min(end, off+40)])+", outside the Integer range -2147483648 to 2147483647")
}

// mapValue checks a v0.3 Map extension value: each entry is Any-typed,
// i.e. a String (or Binary), an Integer or a Map (v0.3 Type System, JSON
// format v0.3 §2.3). The object's syntax has been checked already.
func (c *checker) mapValue(i int, ptr, qn string) int {
	doc := c.doc
	i = c.ws(i + 1)
	if doc[i] == '}' {
		return i + 1
	}
	for {
		end, esc, _ := c.str(i)
		ref := c.nameRef(i, end, esc)
		p := ptr + "/" + escapePointer(c.bytesOf(ref))
		i = c.ws(end)
		i = c.ws(i + 1) // ':'
		switch doc[i] {
		case '{':
			i = c.mapValue(i, p, qn)
		case '[':
			end, _ := c.value(i)
			c.add(RuleExtensionType, Error, i, p, "an entry of the v0.3 map extension "+qn+" is an array; map values are strings, integers or maps")
			i = end
		default:
			start := i
			var k kind
			var isInt bool
			i, k, _, isInt, _ = c.scalar(i)
			switch {
			case k == kString:
			case k == kNumber && isInt:
				if !inInt32(c.doc[start:i]) {
					c.rangeError(start, i, p, "an entry of the map extension "+qn)
				}
			default:
				what := k.String()
				if k == kNumber {
					what = "a non-integer number"
				}
				c.add(RuleExtensionType, Error, start, p, "an entry of the v0.3 map extension "+qn+" is "+what+"; map values are strings, integers or maps")
			}
		}
		i = c.ws(i)
		if doc[i] == '}' {
			return i + 1
		}
		i = c.ws(i + 1) // ','
	}
}

// data checks data and data_base64 (JSON format v1.0.2 §3.1; v0.3 §3.1 and
// the v0.3 datacontentencoding attribute).
func (c *checker) data(v03, ctJSON bool, schema string) {
	d := &c.attr[aData]
	b64 := false
	if v03 {
		c.extension(&c.attr[aDataBase64], true)
		if e := &c.attr[aDatacontentencoding]; e.present {
			switch {
			case e.kind == kNull:
				c.v03Null(RuleAttributeType, e, c.attrPointer("datacontentencoding"), `attribute "datacontentencoding"`)
			case e.kind != kString:
				c.add(RuleAttributeType, Error, e.off, c.attrPointer("datacontentencoding"), `attribute "datacontentencoding" must be a string, found `+e.kind.String()+" "+c.raw(e))
			case !c.chars(e, "datacontentencoding"):
			case !bytes.EqualFold(c.strBytes(e), []byte("base64")):
				c.add(RuleContentEncoding, Error, e.off, c.attrPointer("datacontentencoding"), "datacontentencoding "+c.raw(e)+` is not supported; "base64" is the only encoding defined for CloudEvents`)
			case !d.present || d.kind == kNull:
				c.add(RuleContentEncoding, Error, e.off, c.attrPointer("datacontentencoding"), `datacontentencoding is set but the event has no data; it MUST NOT be set unless data holds string-encoded binary data`)
			case d.kind != kString:
				c.add(RuleContentEncoding, Error, d.off, c.attrPointer("data"), `with datacontentencoding "base64", data must be a base64 string, found `+d.kind.String())
			default:
				b64 = true
				if err, ok := checkBase64(c.strBytes(d)); !ok {
					c.add(RuleBase64, Error, d.at(err.At), c.attrPointer("data"), "data is not valid base64: "+err.Reason)
				}
			}
		}
	} else if b := &c.attr[aDataBase64]; b.present && b.kind != kNull {
		switch {
		case b.kind != kString:
			c.add(RuleAttributeType, Error, b.off, c.attrPointer("data_base64"), `attribute "data_base64" must be a base64 string, found `+b.kind.String()+" "+c.raw(b))
		default:
			if err, ok := checkBase64(c.strBytes(b)); !ok {
				c.add(RuleBase64, Error, b.at(err.At), c.attrPointer("data_base64"), "data_base64 is not valid base64: "+err.Reason)
			}
		}
		if d.present {
			second, sp := b.nameOff, c.attrPointer("data_base64")
			if d.nameOff > b.nameOff {
				second, sp = d.nameOff, c.attrPointer("data")
			}
			c.add(RuleDataExclusive, Error, second, sp, `the event has both "data" and "data_base64"; they are mutually exclusive`)
		}
	}
	if !d.present {
		return
	}
	if !ctJSON && d.kind != kString && c.opts.Rules == nil {
		// With the lint rules (validate) this is a datacontenttype/data mismatch, and
		// datacontenttype-data reports it (lintContentType).
		ct := c.attr[aDatacontenttype]
		c.add(RuleDataString, Warning, d.off, c.attrPointer("data"),
			"data is "+d.kind.String()+" but datacontenttype "+c.raw(&ct)+" is not JSON; data SHOULD then be a string")
	}
	if c.opts.Data != nil && ctJSON && !b64 && !c.fatal {
		base := d.off
		prefix := c.attrPointer("data")
		c.opts.Data.CheckData(c.doc[d.off:d.end], schema, func(off int, pointer, msg string) {
			if off < 0 || off >= d.end-d.off {
				off = 0
			}
			c.add(RuleDataSchema, Error, base+off, prefix+pointer, msg)
		})
	}
}
