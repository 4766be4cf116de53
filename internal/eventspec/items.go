package eventspec

import (
	"bytes"
	"encoding/json"
	"fmt"
	"mime"
	"strconv"
	"strings"
)

// Data items build a JSON data object from the command line the way httpie builds a request
// body: key=value sets a string, key:=json a JSON value; a key may go deeper with brackets,
// user[name]=Ada, append to an array with a[]=x, or set an element with a[2]=x. Items are
// applied in order; a key given twice as a plain key collects its values in an array.

// node is one value of the object being built; objects keep their keys in the order given.
type node struct {
	kind  byte // 'o' object, 'a' array, 'v' a finished JSON value
	keys  []string
	obj   map[string]*node
	arr   []*node
	value []byte
}

// pathStep is one step of an item's key: a member name, an array index, or an append ([]).
type pathStep struct {
	name   string
	index  int // -1 appends
	array  bool
	source string // as written, for errors
}

// ItemError names the item that is wrong and what is wrong with it.
type ItemError struct {
	Item string
	Err  error
}

func (e *ItemError) Error() string { return fmt.Sprintf("data item %q: %v", e.Item, e.Err) }
func (e *ItemError) Unwrap() error { return e.Err }

// ParseItems builds the JSON text of the data items, compact, keys in the order given.
func ParseItems(items []string) ([]byte, error) {
	var root *node
	for _, item := range items {
		if err := addItem(&root, item); err != nil {
			return nil, &ItemError{Item: item, Err: err}
		}
	}
	if root == nil {
		return nil, nil
	}
	var b bytes.Buffer
	root.write(&b)
	return b.Bytes(), nil
}

// UseItems makes the JSON object of the data items the event's data, sent as
// application/json unless --datacontenttype names another JSON media type. Items and --data
// both giving the data is a usage error.
func (s *Spec) UseItems(items []string) error {
	if len(items) == 0 {
		return nil
	}
	if s.given("data") {
		return usagef("data items (%q) and --data both give the data: use one", items[0])
	}
	if s.given("datacontenttype") && !isJSONType(s.DataContentType) {
		return usagef("data items make JSON data, but --datacontenttype is %q", s.DataContentType)
	}
	data, err := ParseItems(items)
	if err != nil {
		return &UsageError{Err: err}
	}
	s.Data = string(data)
	s.Payload = &Payload{Bytes: data}
	given := s.Given
	s.Given = func(flag string) bool { return flag == "data" || given != nil && given(flag) }
	return nil
}

// isJSONType reports whether a media type is JSON: application/json or any */*+json
// (json-format §3.1, which treats both as JSON).
func isJSONType(ct string) bool {
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return false
	}
	return mt == "application/json" || strings.HasSuffix(mt, "/json") || strings.HasSuffix(mt, "+json")
}

// splitItem cuts an item at its separator, the first unescaped "=" or ":=", and returns the
// raw key, the value and whether the value is JSON.
func splitItem(item string) (key, value string, isJSON bool, err error) {
	for i := 0; i < len(item); i++ {
		switch item[i] {
		case '\\':
			i++
		case ':':
			if i+1 < len(item) && item[i+1] == '=' {
				return item[:i], item[i+2:], true, nil
			}
		case '=':
			return item[:i], item[i+1:], false, nil
		}
	}
	if strings.Contains(item, ":") {
		return "", "", false, fmt.Errorf("want key=value or key:=json (headers go with -H 'Name: value')")
	}
	return "", "", false, fmt.Errorf("want key=value or key:=json")
}

// parsePath parses a key such as user[address][city], tags[] or list[2]. A backslash escapes
// the next character, so a key may hold "[", "]", "=" or ":".
func parsePath(key string) ([]pathStep, error) {
	var steps []pathStep
	var name strings.Builder
	i := 0
	for ; i < len(key) && key[i] != '['; i++ {
		if key[i] == '\\' && i+1 < len(key) {
			i++
		} else if key[i] == ']' {
			return nil, fmt.Errorf("unexpected ']' at column %d of the key", i+1)
		}
		name.WriteByte(key[i])
	}
	if name.Len() == 0 && i == len(key) {
		return nil, fmt.Errorf("empty key")
	}
	if name.Len() > 0 || i == len(key) {
		steps = append(steps, pathStep{name: name.String(), source: name.String()})
	}
	for i < len(key) {
		if key[i] != '[' {
			return nil, fmt.Errorf("want '[' at column %d of the key, found %q", i+1, key[i])
		}
		start := i
		name.Reset()
		i++
		for ; i < len(key) && key[i] != ']'; i++ {
			if key[i] == '\\' && i+1 < len(key) {
				i++
			} else if key[i] == '[' {
				return nil, fmt.Errorf("unexpected '[' at column %d of the key", i+1)
			}
			name.WriteByte(key[i])
		}
		if i == len(key) {
			return nil, fmt.Errorf("'[' at column %d of the key is not closed", start+1)
		}
		i++
		src := key[start:i]
		s := name.String()
		switch {
		case s == "":
			steps = append(steps, pathStep{index: -1, array: true, source: src})
		case isIndex(s):
			n, err := strconv.Atoi(s)
			if err != nil || n > 1<<16 {
				return nil, fmt.Errorf("index %s is too large", src)
			}
			steps = append(steps, pathStep{index: n, array: true, source: src})
		default:
			steps = append(steps, pathStep{name: s, source: src})
		}
	}
	return steps, nil
}

func isIndex(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func addItem(root **node, item string) error {
	key, raw, isJSON, err := splitItem(item)
	if err != nil {
		return err
	}
	steps, err := parsePath(key)
	if err != nil {
		return err
	}
	var value []byte
	if isJSON {
		var b bytes.Buffer
		if err := json.Compact(&b, []byte(raw)); err != nil {
			return fmt.Errorf("the value after := is not JSON: %s", JSONError([]byte(raw)))
		}
		value = b.Bytes()
	} else {
		value = jsonString(raw)
	}
	leaf := &node{kind: 'v', value: value}
	if *root == nil {
		*root = &node{kind: 'o'}
		if steps[0].array {
			(*root).kind = 'a'
		}
	}
	cur := *root
	path := "" // the key so far, for errors
	for i, st := range steps {
		last := i == len(steps)-1
		next := func() *node {
			if last {
				return leaf
			}
			if steps[i+1].array {
				return &node{kind: 'a'}
			}
			return &node{kind: 'o'}
		}
		if st.array {
			if cur.kind != 'a' {
				return fmt.Errorf("%s is %s, so %s%s cannot index it", orTop(path), cur.what(), path, st.source)
			}
			path += st.source
			if st.index < 0 {
				n := next()
				cur.arr = append(cur.arr, n)
				cur = n
				continue
			}
			for len(cur.arr) <= st.index {
				cur.arr = append(cur.arr, nil)
			}
			existing := cur.arr[st.index]
			if existing == nil || last {
				if existing != nil && last {
					return fmt.Errorf("%s is given twice", path)
				}
				existing = next()
				cur.arr[st.index] = existing
			}
			cur = existing
			continue
		}
		if cur.kind != 'o' {
			return fmt.Errorf("%s is %s, so %s%s cannot be a member of it", orTop(path), cur.what(), path, st.source)
		}
		if path == "" {
			path = st.name
		} else {
			path += st.source
		}
		if cur.obj == nil {
			cur.obj = map[string]*node{}
		}
		existing, ok := cur.obj[st.name]
		switch {
		case !ok:
			n := next()
			cur.keys = append(cur.keys, st.name)
			cur.obj[st.name] = n
			cur = n
		case last && existing.kind == 'v':
			// A plain key given twice collects its values, as httpie does.
			cur.obj[st.name] = &node{kind: 'a', arr: []*node{existing, leaf}}
			cur = leaf
		case last && existing.kind == 'a' && existing.collected():
			existing.arr = append(existing.arr, leaf)
			cur = leaf
		case last:
			return fmt.Errorf("%s is %s already, so it cannot also be a value", path, existing.what())
		default:
			if existing.kind == 'v' {
				return fmt.Errorf("%s is a value already, so %s cannot go inside it", path, key)
			}
			cur = existing
		}
	}
	return nil
}

func orTop(path string) string {
	if path == "" {
		return "the data"
	}
	return path
}

// collected reports whether an array holds only values (so a plain key repeated may add to it).
func (n *node) collected() bool {
	for _, e := range n.arr {
		if e == nil || e.kind != 'v' {
			return false
		}
	}
	return true
}

func (n *node) what() string {
	switch n.kind {
	case 'o':
		return "an object"
	case 'a':
		return "an array"
	}
	return "a value"
}

func (n *node) write(b *bytes.Buffer) {
	switch {
	case n == nil:
		b.WriteString("null")
	case n.kind == 'v':
		b.Write(n.value)
	case n.kind == 'a':
		b.WriteByte('[')
		for i, e := range n.arr {
			if i > 0 {
				b.WriteByte(',')
			}
			e.write(b)
		}
		b.WriteByte(']')
	default:
		b.WriteByte('{')
		for i, k := range n.keys {
			if i > 0 {
				b.WriteByte(',')
			}
			b.Write(jsonString(k))
			b.WriteByte(':')
			n.obj[k].write(b)
		}
		b.WriteByte('}')
	}
}

// jsonString is s as a JSON string, with <, > and & left as they are.
func jsonString(s string) []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s) // a string always encodes
	return bytes.TrimSuffix(b.Bytes(), []byte("\n"))
}
