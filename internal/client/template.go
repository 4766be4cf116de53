package client

import (
	"bytes"
	"slices"
	"strings"
	"time"

	"github.com/cectl/cectl/internal/ce"
	"github.com/cloudevents/sdk-go/v2/event"
)

// jsonTemplate is an event encoded once in the JSON format (json-format §3), cut where its id
// and time go: a copy with another id and time is written without building and encoding an
// event, for the transports whose structured message is the JSON event as it is.
type jsonTemplate struct {
	parts [][]byte // the text around the cuts
	cuts  []byte   // what goes in each cut: 'i' the id, 't' the time
	id    string   // the event's own id and time, for a copy that keeps them
	time  time.Time
	size  int
}

// newJSONTemplate encodes e with marks for its id and time; nil when a mark cannot be found
// exactly once, e has no time (a copy with a time would need a member that is not there) or
// an id that is not plain: the copies are then encoded one by one.
func newJSONTemplate(e *event.Event) *jsonTemplate {
	if e.Time().IsZero() || !plainValue(e.ID()) {
		return nil
	}
	const idMark = "cectl-id-mark-3f9a1c"
	timeMark := time.Date(1999, 12, 31, 23, 59, 58, 987654321, time.UTC)
	m := e.Clone()
	m.SetID(idMark)
	m.SetTime(timeMark)
	doc := ce.AppendJSON(nil, &m)
	type cut struct {
		at, n int
		kind  byte
	}
	var cuts []cut
	for _, mk := range []struct {
		member string
		kind   byte
	}{
		{`"id":"` + idMark + `"`, 'i'},
		{`"time":"` + ce.FormatTime(timeMark) + `"`, 't'},
	} {
		if bytes.Count(doc, []byte(mk.member)) != 1 {
			return nil
		}
		at := bytes.Index(doc, []byte(mk.member))
		name, _, _ := strings.Cut(mk.member, ":")
		start := at + len(name) + 2 // after `"name":"`
		cuts = append(cuts, cut{start, len(mk.member) - len(name) - 3, mk.kind})
	}
	slices.SortFunc(cuts, func(a, b cut) int { return a.at - b.at })
	t := &jsonTemplate{id: e.ID(), time: e.Time(), size: len(doc) + 64}
	prev := 0
	for _, c := range cuts {
		t.parts = append(t.parts, doc[prev:c.at])
		t.cuts = append(t.cuts, c.kind)
		prev = c.at + c.n
	}
	t.parts = append(t.parts, doc[prev:])
	return t
}

// event writes the copy with id and t (empty and zero keep the event's); false when id is
// not plain (see plainValue): the copy is then to be encoded in full.
func (t *jsonTemplate) event(id string, tm time.Time) ([]byte, bool) {
	if id == "" {
		id = t.id
	} else if !plainValue(id) {
		return nil, false
	}
	if tm.IsZero() {
		tm = t.time
	}
	dst := make([]byte, 0, t.size)
	for i, part := range t.parts {
		dst = append(dst, part...)
		if i == len(t.cuts) {
			break
		}
		switch t.cuts[i] {
		case 'i':
			dst = append(dst, id...)
		case 't':
			dst = tm.UTC().AppendFormat(dst, time.RFC3339Nano)
		}
	}
	return dst, true
}

// plainValue reports whether s is written as it is both in a JSON string (json-format §3)
// and in an HTTP header value (http binding §3.1.3.2): printable ASCII without '"', '\\' or
// '%', as a UUID is.
func plainValue(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c <= 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '%' {
			return false
		}
	}
	return true
}
