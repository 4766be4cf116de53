// Package load generates streams of events at volume: templates that make every event
// different, steady pacing, concurrent workers and the latency statistics of the run.
package load

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
)

// Template is a string with {{…}} placeholders, parsed once and rendered cheaply per event:
//
//	{{seq}}             1, 2, 3, … (the event's sequence number)
//	{{uuid}}            a random UUID
//	{{now}}             the current time, RFC 3339 with nanoseconds
//	{{unix}}            the current Unix time in seconds
//	{{rand MIN MAX}}    a random integer in [MIN, MAX]
//	{{randstr N}}       N random letters and digits
//	{{pick "a" "b"}}    one of the quoted strings, at random
//
// Anything else between {{ and }} is an error; text without placeholders renders as itself.
type Template struct {
	parts []part
	raw   string
}

type partKind uint8

const (
	literal partKind = iota
	seqPart
	uuidPart
	nowPart
	unixPart
	randPart
	randstrPart
	pickPart
)

type part struct {
	kind     partKind
	text     string
	min, max int64
	n        int
	choices  []string
}

// Env is what rendering reads: the sequence number, the clock and the random source.
type Env struct {
	Seq  int64
	Now  time.Time
	Rand *rand.Rand
}

// Parse parses a template.
func Parse(s string) (*Template, error) {
	t := &Template{raw: s}
	rest := s
	for {
		i := strings.Index(rest, "{{")
		if i < 0 {
			if rest != "" {
				t.parts = append(t.parts, part{kind: literal, text: rest})
			}
			return t, nil
		}
		if i > 0 {
			t.parts = append(t.parts, part{kind: literal, text: rest[:i]})
		}
		j := strings.Index(rest[i:], "}}")
		if j < 0 {
			return nil, fmt.Errorf("template %q: unclosed {{", s)
		}
		p, err := parseAction(strings.TrimSpace(rest[i+2 : i+j]))
		if err != nil {
			return nil, fmt.Errorf("template %q: %w", s, err)
		}
		t.parts = append(t.parts, p)
		rest = rest[i+j+2:]
	}
}

func parseAction(action string) (part, error) {
	fields, err := splitArgs(action)
	if err != nil {
		return part{}, err
	}
	if len(fields) == 0 {
		return part{}, fmt.Errorf("empty {{}}")
	}
	name, args := fields[0], fields[1:]
	want := func(n int) error {
		if len(args) != n {
			return fmt.Errorf("{{%s}} takes %d argument(s), got %d", name, n, len(args))
		}
		return nil
	}
	switch name {
	case "seq", "uuid", "now", "unix":
		if err := want(0); err != nil {
			return part{}, err
		}
		return part{kind: map[string]partKind{"seq": seqPart, "uuid": uuidPart, "now": nowPart, "unix": unixPart}[name]}, nil
	case "rand":
		if err := want(2); err != nil {
			return part{}, err
		}
		lo, err1 := strconv.ParseInt(args[0], 10, 64)
		hi, err2 := strconv.ParseInt(args[1], 10, 64)
		if err1 != nil || err2 != nil || lo > hi {
			return part{}, fmt.Errorf("{{rand MIN MAX}} wants two integers with MIN <= MAX, got %q %q", args[0], args[1])
		}
		return part{kind: randPart, min: lo, max: hi}, nil
	case "randstr":
		if err := want(1); err != nil {
			return part{}, err
		}
		n, err := strconv.Atoi(args[0])
		if err != nil || n < 0 || n > 1<<20 {
			return part{}, fmt.Errorf("{{randstr N}} wants a length from 0 to 1048576, got %q", args[0])
		}
		return part{kind: randstrPart, n: n}, nil
	case "pick":
		if len(args) == 0 {
			return part{}, fmt.Errorf("{{pick}} wants at least one quoted choice")
		}
		for _, a := range args {
			if !strings.HasPrefix(a, `"`) {
				return part{}, fmt.Errorf("{{pick}} choices are quoted strings, got %s", a)
			}
		}
		choices := make([]string, len(args))
		for i, a := range args {
			s, err := strconv.Unquote(a)
			if err != nil {
				return part{}, fmt.Errorf("{{pick}}: bad quoted string %s", a)
			}
			choices[i] = s
		}
		return part{kind: pickPart, choices: choices}, nil
	}
	return part{}, fmt.Errorf("unknown placeholder {{%s}} (want seq, uuid, now, unix, rand, randstr or pick)", name)
}

// splitArgs splits on spaces, keeping "quoted strings" (with \" escapes) whole.
func splitArgs(s string) ([]string, error) {
	var out []string
	for i := 0; i < len(s); {
		switch {
		case s[i] == ' ' || s[i] == '\t':
			i++
		case s[i] == '"':
			j := i + 1
			for ; j < len(s) && s[j] != '"'; j++ {
				if s[j] == '\\' {
					j++
				}
			}
			if j >= len(s) {
				return nil, fmt.Errorf("unterminated string in {{%s}}", s)
			}
			out = append(out, s[i:j+1])
			i = j + 1
		default:
			j := i
			for j < len(s) && s[j] != ' ' && s[j] != '\t' {
				j++
			}
			out = append(out, s[i:j])
			i = j
		}
	}
	return out, nil
}

// Static reports whether the template has no placeholders.
func (t *Template) Static() bool {
	return len(t.parts) == 0 || len(t.parts) == 1 && t.parts[0].kind == literal
}

// String returns the template as written.
func (t *Template) String() string { return t.raw }

const alnum = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"

// Append renders the template for env and appends it to dst.
func (t *Template) Append(dst []byte, env *Env) []byte {
	for i := range t.parts {
		p := &t.parts[i]
		switch p.kind {
		case literal:
			dst = append(dst, p.text...)
		case seqPart:
			dst = strconv.AppendInt(dst, env.Seq, 10)
		case uuidPart:
			var u uuid.UUID
			for j := 0; j < 16; j += 8 {
				v := env.Rand.Uint64()
				for k := 0; k < 8; k++ {
					u[j+k] = byte(v >> (8 * k))
				}
			}
			u[6] = u[6]&0x0f | 0x40 // version 4 (RFC 9562 §5.4)
			u[8] = u[8]&0x3f | 0x80 // variant 10
			var buf [36]byte
			encodeUUID(buf[:], u)
			dst = append(dst, buf[:]...)
		case nowPart:
			dst = env.Now.AppendFormat(dst, time.RFC3339Nano)
		case unixPart:
			dst = strconv.AppendInt(dst, env.Now.Unix(), 10)
		case randPart:
			dst = strconv.AppendInt(dst, p.min+env.Rand.Int64N(p.max-p.min+1), 10)
		case randstrPart:
			for j := 0; j < p.n; j++ {
				dst = append(dst, alnum[env.Rand.IntN(len(alnum))])
			}
		case pickPart:
			dst = append(dst, p.choices[env.Rand.IntN(len(p.choices))]...)
		}
	}
	return dst
}

// Render renders the template for env.
func (t *Template) Render(env *Env) string {
	if t.Static() {
		if len(t.parts) == 0 {
			return ""
		}
		return t.parts[0].text
	}
	return string(t.Append(make([]byte, 0, 64), env))
}

func encodeUUID(dst []byte, u uuid.UUID) {
	const hex = "0123456789abcdef"
	j := 0
	for i, b := range u {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			dst[j] = '-'
			j++
		}
		dst[j], dst[j+1] = hex[b>>4], hex[b&0xf]
		j += 2
	}
}
