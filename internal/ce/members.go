package ce

import (
	"encoding/json"
	"errors"
	"fmt"
)

// errNotObject is returned by forEachMember for a document that is valid JSON but no object.
type errNotObject struct{ found string }

func (e *errNotObject) Error() string { return "an event must be a JSON object, found " + e.found }

// forEachMember calls fn with the name and raw value of each member of the JSON object doc,
// in document order. It walks the bytes once instead of decoding into a map: events are
// decoded on the hot path of send --from and listen. checked says doc is known to be valid
// JSON already, so the syntax check is not repeated.
func forEachMember(doc []byte, checked bool, fn func(name string, raw json.RawMessage) error) error {
	if !checked && !json.Valid(doc) {
		var v any
		err := json.Unmarshal(doc, &v)
		if err == nil {
			err = errors.New("malformed")
		}
		return fmt.Errorf("invalid JSON: %w", err)
	}
	i := skipSpace(doc, 0)
	switch doc[i] {
	case '{':
	case '[':
		return &errNotObject{"an array"}
	case '"':
		return &errNotObject{"a string"}
	case 'n':
		return &errNotObject{"null"}
	case 't', 'f':
		return &errNotObject{"a boolean"}
	default:
		return &errNotObject{"a number"}
	}
	i = skipSpace(doc, i+1)
	for doc[i] != '}' {
		end := skipString(doc, i)
		key := doc[i:end]
		var name string
		if hasEscape(key) {
			if err := json.Unmarshal(key, &name); err != nil {
				return err
			}
		} else {
			name = string(key[1 : len(key)-1])
		}
		i = skipSpace(doc, end)
		i = skipSpace(doc, i+1) // the colon
		vend := skipValue(doc, i)
		if err := fn(name, doc[i:vend]); err != nil {
			return err
		}
		i = skipSpace(doc, vend)
		if doc[i] == ',' {
			i = skipSpace(doc, i+1)
		}
	}
	return nil
}

// The helpers below assume valid JSON, which forEachMember checked first.

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
