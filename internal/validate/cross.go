package validate

import (
	"bytes"
	"math/bits"
	"strconv"
	"unicode/utf8"
)

// maxForms caps how many type and dataschema families the version rules remember per
// input, so that an input of ever-new types cannot grow memory without bound; families
// first seen after the cap are not compared.
const maxForms = 4096

// crossLint holds the state of the lint rules that compare the events of one input:
// duplicate source+id and mixed versions. Results must reach it in input order, so it
// lives where results are put back in order (the Scanner, or the ordered merge of the
// parallel Pipeline).
type crossLint struct {
	rs     *RuleSet
	strict bool
	// Fingerprints of the source+id pairs of the last events (at least dupWindow of them).
	// A 64-bit hash keeps the table at a few bytes per event; two different pairs share one
	// with probability about n²/2⁶⁵ among n events.
	ids     *fpWindow
	types   map[string]form
	schemas map[string]form
	buf     []byte
}

// form is the first event of a type or dataschema family: whether it carried a version.
type form struct {
	versioned  bool
	line, col  int
	value      string
	dataschema string // the attribute's name, for schemas
}

func newCrossLint(rs *RuleSet, strict bool) *crossLint {
	if rs == nil || rs.on&(lintDuplicateID|lintTypeVersion|lintSchemaVersion) == 0 {
		return nil
	}
	return &crossLint{rs: rs, strict: strict}
}

// reset forgets everything: the rules compare the events of one input.
func (x *crossLint) reset() {
	if x == nil {
		return
	}
	x.ids, x.types, x.schemas = nil, nil, nil
}

// apply adds the findings across events to res, the next result of the input.
func (x *crossLint) apply(res *Result) {
	k := &res.lint
	if x == nil || !k.set || res.Index < 0 {
		return
	}
	n := len(res.Findings)
	if k.dup && x.rs.on&lintDuplicateID != 0 {
		if x.ids == nil {
			x.ids = &fpWindow{}
		}
		seen := k.seen
		if !k.known {
			seen = x.ids.add(k.fp)
		}
		if seen {
			x.add(res, RuleDuplicateID, k.id.off, res.Pointer()+"/id",
				"source "+quote(memberString(res.doc, &k.source))+" and id "+quote(memberString(res.doc, &k.id))+
					" already identify an earlier event of this input; source and id identify an event, so each distinct event needs its own id (spec v1.0.2 id)")
		}
	}
	if k.typ.ok && x.rs.on&lintTypeVersion != 0 {
		v := memberString(res.doc, &k.typ)
		var versioned bool
		x.buf, versioned = typeFamily(x.buf[:0], v)
		x.types = x.compare(res, x.types, &k.typ, v, "type", "type", RuleTypeVersion, versioned)
	}
	if k.schema.ok && x.rs.on&lintSchemaVersion != 0 {
		v := memberString(res.doc, &k.schema)
		var versioned bool
		x.buf, versioned = schemaFamily(x.buf[:0], v)
		x.schemas = x.compare(res, x.schemas, &k.schema, v, k.schemaRef, "dataschema", RuleDataSchemaVersion, versioned)
	}
	if len(res.Findings) > n {
		sortFindings(res.Findings)
	}
}

// fpRef is the fingerprint of the source+id of result i of a chunk.
type fpRef struct {
	fp uint64
	i  int
}

// markDuplicates decides for every event of a chunk whether an earlier event had its source
// and id, for the rules applied next in input order. The fingerprints come sorted (by
// fingerprint, then position), so that the table is walked in address order, which costs a
// fraction of looking them up in input order, and a repeat inside the chunk follows its
// first occurrence.
func (x *crossLint) markDuplicates(results []Result, sorted []fpRef) {
	if x == nil || x.rs.on&lintDuplicateID == 0 {
		return
	}
	if x.ids == nil {
		x.ids = &fpWindow{}
	}
	for k, r := range sorted {
		res := &results[r.i]
		res.lint.known = true
		res.lint.seen = k > 0 && sorted[k-1].fp == r.fp || x.ids.add(r.fp)
	}
}

// compare checks one event's form of a family (in x.buf) against the first form seen.
func (x *crossLint) compare(res *Result, forms map[string]form, m *span, v []byte, attr, what, rule string, versioned bool) map[string]form {
	first, seen := forms[string(x.buf)]
	if !seen {
		if len(forms) < maxForms {
			if forms == nil {
				forms = map[string]form{}
			}
			line, col := lineColIn(res.doc, m.off, res.Line, res.Column)
			forms[string(x.buf)] = form{versioned: versioned, line: line, col: col, value: string(v)}
		}
		return forms
	}
	if first.versioned == versioned {
		return forms
	}
	at := "line " + strconv.Itoa(first.line) + ", column " + strconv.Itoa(first.col)
	var msg string
	if versioned {
		msg = what + " " + quote(v) + " carries a version, but the event at " + at + " has the unversioned " + quote([]byte(first.value)) +
			"; where an input mixes versions, every " + what + " of the family carries its version"
	} else {
		msg = what + " " + quote(v) + " has no version, but the event at " + at + " has the versioned " + quote([]byte(first.value)) +
			"; where an input mixes versions, every " + what + " of the family carries its version"
	}
	x.add(res, rule, m.off, res.Pointer()+"/"+attr, msg)
	return forms
}

// add appends a finding at off, an offset into the event's document.
func (x *crossLint) add(res *Result, rule string, off int, pointer, msg string) {
	level := Warning
	if x.strict {
		level = Error
	}
	line, col := lineColIn(res.doc, off, res.Line, res.Column)
	res.Findings = append(res.Findings, Finding{Rule: rule, Level: level, Pointer: pointer,
		Offset: res.Offset + off, Line: line, Column: col, Message: msg})
}

// sortFindings orders findings by position, stably: few findings, insertion sort.
func sortFindings(out []Finding) {
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && out[j].Offset < out[j-1].Offset; j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
}

// lineColIn is the line and column of doc[off] when doc[0] stands at line:col.
func lineColIn(doc []byte, off, line, col int) (int, int) {
	pre := doc[:off]
	nl := bytes.Count(pre, newline)
	if nl == 0 {
		return line, col + utf8.RuneCount(pre)
	}
	return line + nl, 1 + utf8.RuneCount(pre[bytes.LastIndexByte(pre, '\n')+1:])
}

// memberString returns the decoded value of a string member of doc.
func memberString(doc []byte, m *span) []byte {
	raw := doc[m.off+1 : m.end-1]
	if !m.esc {
		return raw
	}
	return appendUnquoted(nil, raw)
}

// isVersionSegment reports whether a part of a type is a version: "v" and a digit, then
// letters and digits ("v1", "v2", "v1beta1"), the form the primer's examples use.
func isVersionSegment(s []byte) bool {
	if len(s) < 2 || (s[0] != 'v' && s[0] != 'V') || s[1] < '0' || s[1] > '9' {
		return false
	}
	for _, b := range s[2:] {
		if !(b >= '0' && b <= '9' || b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z') {
			return false
		}
	}
	return true
}

// typeFamily appends the type without its version parts (dot-separated parts such as
// "v2") to dst: the family com.example.order.created of com.example.order.created.v2.
func typeFamily(dst, t []byte) ([]byte, bool) {
	versioned := false
	first := true
	for part := range bytes.SplitSeq(t, []byte(".")) {
		if isVersionSegment(part) {
			versioned = true
			continue
		}
		if !first {
			dst = append(dst, '.')
		}
		dst = append(dst, part...)
		first = false
	}
	return dst, versioned
}

func isSep(b byte) bool { return b == '/' || b == '.' || b == '_' || b == '-' || b == ':' }

// schemaFamily appends the dataschema without the versions in its path (each with the
// separator before it) to dst and reports whether there was one: the family
// https://example.com/order.json of https://example.com/order/v2.json and of
// https://example.com/order-1.0.json. A version is a path token between separators
// (/ . _ - :) that is "v" and digits with optional ".digits" (v2, v1.3) or digits with at
// least one ".digits" (1.0, 2.1.0); a bare number such as an id is not one. The authority
// is kept as it is: api2.example.com is not a version.
func schemaFamily(dst, u []byte) ([]byte, bool) {
	start := 0
	if i := bytes.Index(u, []byte("://")); i >= 0 {
		start = i + 3
		if j := bytes.IndexByte(u[start:], '/'); j >= 0 {
			start += j
		} else {
			start = len(u)
		}
	} else if i := bytes.IndexByte(u, ':'); i >= 0 {
		start = i + 1
	}
	dst = append(dst, u[:start]...)
	versioned := false
	i := start
	for i < len(u) {
		if i == start || isSep(u[i-1]) {
			if n := versionToken(u[i:]); n > 0 {
				if i > start {
					dst = dst[:len(dst)-1] // the separator before it
				}
				versioned = true
				i += n
				continue
			}
		}
		dst = append(dst, u[i])
		i++
	}
	return dst, versioned
}

// versionToken returns the length of the version at the start of s, or 0.
func versionToken(s []byte) int {
	i := 0
	v := len(s) > 0 && (s[0] == 'v' || s[0] == 'V')
	if v {
		i++
	}
	digits := func() bool {
		j := i
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		return i > j
	}
	if !digits() {
		return 0
	}
	dots := 0
	for i+1 < len(s) && s[i] == '.' && s[i+1] >= '0' && s[i+1] <= '9' {
		i++
		digits()
		dots++
	}
	if !v && dots == 0 {
		return 0
	}
	if i < len(s) && !isSep(s[i]) && s[i] != '?' && s[i] != '#' {
		return 0
	}
	return i
}

// dupWindow is how many events back the duplicate-id rule is sure to look: an input of any
// length is checked in bounded memory (at most 2×dupWindow fingerprints, about 3 MiB).
const dupWindow = 1 << 17

// fpWindow remembers the fingerprints of the last events of an input: at least dupWindow
// and at most 2×dupWindow of them, in two generations; when the newer one holds dupWindow,
// the older is dropped.
type fpWindow struct {
	cur, prev *fpSet
	n         int
}

// add adds h and reports whether it was among the events remembered.
func (w *fpWindow) add(h uint64) bool {
	if w.prev.has(h) {
		return true
	}
	if w.cur == nil {
		w.cur = &fpSet{}
	}
	if w.cur.add(h) {
		return true
	}
	if w.n++; w.n >= dupWindow {
		w.prev, w.cur, w.n = w.cur, nil, 0
	}
	return false
}

// has reports whether h is among the events remembered.
func (w *fpWindow) has(h uint64) bool {
	return w.prev.has(h) || w.cur.has(h)
}

// fpSet is a set of 64-bit fingerprints in about 11 bytes each: 256 open-addressing
// tables (picked by the top byte), each grown by a quarter on its own when it is 80% full,
// so memory grows smoothly with the input and never holds two copies of the whole set.
// Fingerprint 0 marks an empty slot and is stored as 1.
type fpSet struct {
	tabs [256]fpTable
}

type fpTable struct {
	slots []uint64
	n     int
}

// add adds h and reports whether it was there already.
func (s *fpSet) add(h uint64) bool {
	if h == 0 {
		h = 1
	}
	t := &s.tabs[h>>56]
	if (t.n+1)*5 > len(t.slots)*4 {
		t.grow()
	}
	for i := fpSlot(h, len(t.slots)); ; {
		switch t.slots[i] {
		case 0:
			t.slots[i] = h
			t.n++
			return false
		case h:
			return true
		}
		if i++; i == len(t.slots) {
			i = 0
		}
	}
}

// len is how many fingerprints the set holds.
func (s *fpSet) len() int {
	if s == nil {
		return 0
	}
	n := 0
	for i := range s.tabs {
		n += s.tabs[i].n
	}
	return n
}

// has reports whether h is in the set.
func (s *fpSet) has(h uint64) bool {
	if s == nil {
		return false
	}
	if h == 0 {
		h = 1
	}
	t := &s.tabs[h>>56]
	if len(t.slots) == 0 {
		return false
	}
	for i := fpSlot(h, len(t.slots)); ; {
		switch t.slots[i] {
		case 0:
			return false
		case h:
			return true
		}
		if i++; i == len(t.slots) {
			i = 0
		}
	}
}

// fpSlot maps h onto [0, n) by its bits below the top byte (Lemire's multiply-shift).
func fpSlot(h uint64, n int) int {
	hi, _ := bits.Mul64(h<<8, uint64(n))
	return int(hi)
}

func (t *fpTable) grow() {
	old := t.slots
	t.slots = make([]uint64, max(64, len(old)+len(old)/4))
	for _, h := range old {
		if h == 0 {
			continue
		}
		i := fpSlot(h, len(t.slots))
		for t.slots[i] != 0 {
			if i++; i == len(t.slots) {
				i = 0
			}
		}
		t.slots[i] = h
	}
}
