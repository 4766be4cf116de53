package validate

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"hash/maphash"
)

// Lint rules check the naming and versioning guidance of the spec (v1.0.2 §3.1.1 id, type,
// datacontenttype, dataschema) and of the primer: warnings about events that are valid but
// likely to confuse a consumer. They run only when Options.Rules is set, which
// `cectl validate` does; send's pre-check and listen apply the core rules alone.

// Bits of RuleSet.on, one per lint rule.
const (
	lintReverseDNS uint8 = 1 << iota
	lintDuplicateID
	lintContentType
	lintTypeVersion
	lintSchemaVersion
)

var lintBits = map[string]uint8{
	RuleTypeReverseDNS:    lintReverseDNS,
	RuleDuplicateID:       lintDuplicateID,
	RuleContentTypeData:   lintContentType,
	RuleTypeVersion:       lintTypeVersion,
	RuleDataSchemaVersion: lintSchemaVersion,
}

// RuleSet is the choice of rules a validation reports: the lint rules that are on (those on
// by default plus the enabled ones, minus the ignored ones) and the other rules whose
// findings are dropped. It is read-only once made, so workers share it.
type RuleSet struct {
	on   uint8
	off  map[string]bool
	seed maphash.Seed
}

// UnknownRuleError is a rule name that is not in the rule table.
type UnknownRuleError struct{ Name string }

func (e *UnknownRuleError) Error() string {
	return fmt.Sprintf("unknown rule %q", e.Name)
}

// NewRuleSet returns the default rules with enable turned on and ignore turned off. An
// unknown name is an *UnknownRuleError.
func NewRuleSet(enable, ignore []string) (*RuleSet, error) {
	rs := &RuleSet{off: map[string]bool{}, seed: maphash.MakeSeed()}
	known := map[string]bool{}
	for _, r := range Rules() {
		known[r.Name] = true
		if r.Lint && !r.Off {
			rs.on |= lintBits[r.Name]
		}
	}
	for _, n := range enable {
		if !known[n] {
			return nil, &UnknownRuleError{n}
		}
		rs.on |= lintBits[n]
	}
	for _, n := range ignore {
		if !known[n] {
			return nil, &UnknownRuleError{n}
		}
		rs.on &^= lintBits[n]
		rs.off[n] = true
	}
	return rs, nil
}

// Enabled reports whether the set reports findings of the named rule.
func (rs *RuleSet) Enabled(name string) bool {
	if rs == nil {
		b, lint := lintBits[name]
		return !lint || b == 0
	}
	if b, lint := lintBits[name]; lint {
		return rs.on&b != 0
	}
	return !rs.off[name]
}

// ignored reports whether findings of a core rule are dropped.
func (rs *RuleSet) ignored(rule string) bool { return rs != nil && len(rs.off) > 0 && rs.off[rule] }

// lintKeys is what the rules across events need from one event: member positions in the
// event's document, and the fingerprint of its source and id.
type lintKeys struct {
	set       bool
	dup       bool   // source and id are non-empty strings
	fp        uint64 // fingerprint of source and id
	known     bool   // seen was decided for a whole chunk at once (Pipeline)
	seen      bool   // with known: an earlier event had the same fingerprint
	source    span
	id        span
	typ       span   // set when type is a non-empty string
	schema    span   // dataschema (v0.3: schemaurl), set when a non-empty string
	schemaRef string // its name, for the pointer
}

// span is where a string value stands in an event's document.
type span struct {
	off, end int // the quotes included
	esc      bool
	ok       bool
}

func spanOf(m *member) span { return span{off: m.off, end: m.end, esc: m.esc, ok: true} }

// lintEvent runs the per-event lint rules and records the keys of the rules across
// events, after the core rules of semantic.
func (c *checker) lintEvent() lintKeys {
	rs := c.opts.Rules
	if rs == nil || rs.on == 0 || c.fatal {
		return lintKeys{}
	}
	k := lintKeys{set: true}
	nonEmpty := func(m *member) bool { return m.present && m.kind == kString && m.end-m.off > 2 }
	if t := &c.attr[aType]; nonEmpty(t) {
		k.typ = spanOf(t)
		if rs.on&lintReverseDNS != 0 {
			if v := c.strBytes(t); !reverseDNS(v) {
				c.add(RuleTypeReverseDNS, Warning, t.off, c.attrPointer("type"),
					"type "+quote(v)+" is not prefixed with a reverse-DNS name; a type SHOULD start with the reversed domain of the organization that defines it, such as \"com.example.order.created\"")
			}
		}
	}
	if rs.on&lintContentType != 0 {
		c.lintContentType()
	}
	if src, id := &c.attr[aSource], &c.attr[aID]; rs.on&lintDuplicateID != 0 && src.present && src.kind == kString && nonEmpty(id) {
		k.dup, k.source, k.id = true, spanOf(src), spanOf(id)
		// Length-prefixed, so that ("ab","c") and ("a","bc") differ.
		s, i := c.strBytes(src), c.strBytes(id)
		start := len(c.arena)
		c.arena = binary.AppendUvarint(c.arena, uint64(len(s)))
		c.arena = append(c.arena, s...)
		c.arena = append(c.arena, i...)
		k.fp = maphash.Bytes(rs.seed, c.arena[start:])
	}
	ds, name := &c.attr[aDataschema], "dataschema"
	if c.version == "0.3" {
		ds, name = &c.attr[aSchemaurl], "schemaurl"
	}
	if nonEmpty(ds) {
		k.schema, k.schemaRef = spanOf(ds), name
	}
	return k
}

// reverseDNS reports whether a type starts with a reverse-DNS name (spec v1.0.2 §3.1.1
// type): at least three dot-separated parts, the first a top-level domain (letters only),
// the second a DNS label (RFC 1035 §2.3.1: letters, digits and inner hyphens).
func reverseDNS(t []byte) bool {
	i := bytes.IndexByte(t, '.')
	if i < 0 {
		return false
	}
	j := bytes.IndexByte(t[i+1:], '.')
	if j < 0 || i+1+j+1 >= len(t) {
		return false
	}
	tld, label := t[:i], t[i+1:i+1+j]
	if len(tld) < 2 || len(tld) > 63 || len(label) == 0 || len(label) > 63 {
		return false
	}
	for _, b := range tld {
		if !(b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z') {
			return false
		}
	}
	if label[0] == '-' || label[len(label)-1] == '-' {
		return false
	}
	for _, b := range label {
		if !(b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9' || b == '-') {
			return false
		}
	}
	return true
}

// isXMLMediaType reports whether a media type declares XML: subtype "xml" or a "+xml"
// suffix (RFC 7303 §4.1, §9.2), parameters ignored, case-insensitive.
func isXMLMediaType(s []byte) bool {
	if i := bytes.IndexByte(s, ';'); i >= 0 {
		s = s[:i]
	}
	s = bytes.TrimSpace(s)
	slash := bytes.IndexByte(s, '/')
	if slash < 0 {
		return false
	}
	sub := s[slash+1:]
	return bytes.EqualFold(sub, []byte("xml")) || len(sub) > 4 && bytes.EqualFold(sub[len(sub)-4:], []byte("+xml"))
}

// lintContentType compares datacontenttype with the data it labels (spec v1.0.2
// datacontenttype; JSON format v1.0.2 §3.1): JSON data (a JSON value other than a string, or
// JSON text in a string or in data_base64) labelled as another type, JSON text encoded twice,
// XML that is not XML, data_base64 that does not decode to the JSON its type promises. Data
// that is not a string under a type other than JSON is reported here, in place of the
// data-string rule, which send's check and listen, without lint rules, apply to it.
func (c *checker) lintContentType() {
	ct := &c.attr[aDatacontenttype]
	if !ct.present || ct.kind != kString || ct.end-ct.off == 2 {
		return // absent: the data is JSON by definition (JSON format v1.0.2 §3.1.1)
	}
	// The media type's own rule reports a malformed one; compare only well-formed ones. It is
	// looked at only when the data gives a reason to: most events pass at their first byte.
	mediaType := func() ([]byte, bool) {
		v := c.strBytes(ct)
		_, ok := checkMediaType(v)
		return v, ok
	}
	d := &c.attr[aData]
	b64 := c.version == "0.3" && c.attr[aDatacontentencoding].present
	if d.present && d.kind != kString {
		if ctv, ok := mediaType(); ok && !isJSONMediaType(ctv) {
			c.add(RuleContentTypeData, Warning, d.off, c.attrPointer("data"),
				"data is "+d.kind.String()+" but datacontenttype "+quote(ctv)+" is not JSON; label JSON data application/json (or a +json type), and data of another type SHOULD be a string")
		}
		return
	}
	if d.present && d.kind == kString && !b64 {
		t := bytes.TrimSpace(c.strBytes(d))
		if len(t) == 0 || t[0] == '<' {
			return
		}
		if t[0] != '{' && t[0] != '[' || !json.Valid(t) {
			if ctv, ok := mediaType(); ok && isXMLMediaType(ctv) {
				c.add(RuleContentTypeData, Warning, d.off, c.attrPointer("data"),
					"datacontenttype "+quote(ctv)+" says XML but data does not start with '<'")
			}
			return
		}
		ctv, ok := mediaType()
		switch {
		case !ok:
		case isJSONMediaType(ctv):
			c.add(RuleContentTypeData, Warning, d.off, c.attrPointer("data"),
				"data is a string holding JSON text although datacontenttype "+quote(ctv)+" says the data is JSON, so it is encoded twice; put the object or array itself in data")
		case isXMLMediaType(ctv):
			c.add(RuleContentTypeData, Warning, d.off, c.attrPointer("data"),
				"datacontenttype "+quote(ctv)+" says XML but data does not start with '<'")
		default:
			c.add(RuleContentTypeData, Warning, d.off, c.attrPointer("data"),
				"data holds JSON text but datacontenttype is "+quote(ctv)+"; label JSON data application/json (or a +json type)")
		}
		return
	}
	bm, name := &c.attr[aDataBase64], "data_base64"
	if b64 {
		bm, name = d, "data"
	}
	if !bm.present || bm.kind != kString {
		return
	}
	ctv, ok := mediaType()
	if !ok {
		return
	}
	raw := c.strBytes(bm)
	if _, ok := checkBase64(raw); !ok {
		return
	}
	if !isJSONMediaType(ctv) && !startsJSONContainer(raw) {
		return // binary data: not JSON at its first byte
	}
	dec := make([]byte, base64.StdEncoding.DecodedLen(len(raw)))
	n, err := base64.StdEncoding.Decode(dec, raw)
	switch {
	case err != nil:
	case isJSONMediaType(ctv):
		if !json.Valid(dec[:n]) {
			c.add(RuleContentTypeData, Warning, bm.off, c.attrPointer(name),
				name+" does not decode to JSON although datacontenttype "+quote(ctv)+" says the data is JSON")
		}
	case json.Valid(dec[:n]):
		// The same JSON text in data, as a string, is reported above.
		c.add(RuleContentTypeData, Warning, bm.off, c.attrPointer(name),
			name+" decodes to JSON text but datacontenttype is "+quote(ctv)+"; label JSON data application/json (or a +json type)")
	}
}

// startsJSONContainer reports whether base64 text decodes to bytes whose first one other
// than white space opens a JSON object or array; only the start is decoded.
func startsJSONContainer(b64 []byte) bool {
	var buf [48]byte
	head := b64
	if len(head) > 64 {
		head = head[:64] // 16 whole quanta, so no padding
	}
	n, err := base64.StdEncoding.Decode(buf[:], head)
	if err != nil {
		return false
	}
	t := bytes.TrimLeft(buf[:n], " \t\r\n")
	if len(t) == 0 {
		return len(b64) > len(head) // all white space so far: decide on the whole
	}
	return t[0] == '{' || t[0] == '['
}
