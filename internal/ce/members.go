package ce

import (
	"encoding/json"
	"errors"
	"fmt"
)

// errNotObject is returned by appendMembers for a document that is valid JSON but no object.
type errNotObject struct{ found string }

func (e *errNotObject) Error() string { return "an event must be a JSON object, found " + e.found }

// member is one member of a JSON object: its name and its raw value.
type member struct {
	name string
	raw  json.RawMessage
}

// appendMembers appends the members of the JSON object doc to dst, in document order. It walks
// the bytes once instead of decoding into a map: events are decoded on the hot path of send
// --from and listen. checked says doc is known to be valid JSON already, so the syntax check
// is not repeated.
func appendMembers(dst []member, doc []byte, checked bool) ([]member, error) {
	if !checked && !json.Valid(doc) {
		var v any
		err := json.Unmarshal(doc, &v)
		if err == nil {
			err = errors.New("malformed")
		}
		return dst, fmt.Errorf("invalid JSON: %w", err)
	}
	i := skipSpace(doc, 0)
	switch doc[i] {
	case '{':
	case '[':
		return dst, &errNotObject{"an array"}
	case '"':
		return dst, &errNotObject{"a string"}
	case 'n':
		return dst, &errNotObject{"null"}
	case 't', 'f':
		return dst, &errNotObject{"a boolean"}
	default:
		return dst, &errNotObject{"a number"}
	}
	i = skipSpace(doc, i+1)
	for doc[i] != '}' {
		end := skipString(doc, i)
		key := doc[i:end]
		var name string
		if hasEscape(key) {
			if err := json.Unmarshal(key, &name); err != nil {
				return dst, err
			}
		} else {
			name = memberName(key[1 : len(key)-1])
		}
		i = skipSpace(doc, end)
		i = skipSpace(doc, i+1) // the colon
		vend := skipValue(doc, i)
		dst = append(dst, member{name, doc[i:vend]})
		i = skipSpace(doc, vend)
		if doc[i] == ',' {
			i = skipSpace(doc, i+1)
		}
	}
	return dst, nil
}

// memberName returns the name as a string, without allocating for the attributes that most
// events have.
func memberName(b []byte) string {
	switch string(b) {
	case "specversion":
		return "specversion"
	case "id":
		return "id"
	case "source":
		return "source"
	case "type":
		return "type"
	case "time":
		return "time"
	case "subject":
		return "subject"
	case "datacontenttype":
		return "datacontenttype"
	case "dataschema":
		return "dataschema"
	case "data":
		return "data"
	case "data_base64":
		return "data_base64"
	}
	return string(b)
}

// The helpers below assume valid JSON, which appendMembers checked first.

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// skipString returns the index after the string that starts at b[i].
func skipString(b []byte, i int) int {
	for i++; i < len(b); i++ {
		switch b[i] {
		case '\\':
			i++
		case '"':
			return i + 1
		}
	}
	return i
}

func skipValue(b []byte, i int) int {
	switch b[i] {
	case '"':
		return skipString(b, i)
	case '{', '[':
		depth := 0
		for ; i < len(b); i++ {
			switch b[i] {
			case '"':
				i = skipString(b, i) - 1
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1
				}
			}
		}
		return i
	}
	for i < len(b) {
		switch b[i] {
		case ',', '}', ']', ' ', '\t', '\n', '\r':
			return i
		}
		i++
	}
	return i
}

func hasEscape(b []byte) bool {
	for _, c := range b {
		if c == '\\' {
			return true
		}
	}
	return false
}
