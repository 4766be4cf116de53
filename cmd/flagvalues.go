package cmd

import (
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// checked is a flag value checked as it is parsed: a malformed value is a usage error that
// names the flag before anything runs, instead of a check somewhere in the command.
type checked[T any] struct {
	p     *T
	typ   string
	parse func(string) (T, error)
	// show prints a value for the help's default; "" for a default not worth showing.
	show func(T) string
}

func (c *checked[T]) Set(s string) error {
	v, err := c.parse(s)
	if err != nil {
		return err
	}
	*c.p = v
	return nil
}

func (c *checked[T]) String() string { return c.show(*c.p) }
func (c *checked[T]) Type() string   { return c.typ }

// checkedList is a repeatable flag whose every value is checked as it is parsed.
type checkedList[T any] struct {
	p     *[]T
	typ   string
	parse func(string) (T, error)
}

func (c *checkedList[T]) Set(s string) error {
	v, err := c.parse(s)
	if err != nil {
		return err
	}
	*c.p = append(*c.p, v)
	return nil
}

func (c *checkedList[T]) String() string { return "" }
func (c *checkedList[T]) Type() string   { return c.typ }

// stringsCheckVar defines a repeatable string flag whose every value is checked.
func stringsCheckVar(fs *pflag.FlagSet, p *[]string, name string, check func(string) error, usage string) {
	parse := func(s string) (string, error) { return s, check(s) }
	fs.Var(&checkedList[string]{p: p, typ: "stringArray", parse: parse}, name, usage)
}

// sizeVar defines a byte-size flag (65536, 64KiB, 4MiB, 10MB).
func sizeVar(fs *pflag.FlagSet, p *int64, name string, value int64, usage string) {
	*p = value
	fs.Var(&checked[int64]{p: p, typ: "size", parse: parseSize, show: formatSize}, name, usage)
}

// formatSize writes a size with the largest binary unit that divides it.
func formatSize(n int64) string {
	for _, u := range []struct {
		name string
		mult int64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		if n >= u.mult && n%u.mult == 0 {
			return strconv.FormatInt(n/u.mult, 10) + u.name
		}
	}
	return strconv.FormatInt(n, 10)
}

// parseSize reads a byte size: a number of bytes, or one with a unit (KiB, MiB, GiB are
// powers of 1024; KB, MB, GB powers of 1000).
func parseSize(s string) (int64, error) {
	t := strings.TrimSpace(s)
	i := 0
	for i < len(t) && t[i] >= '0' && t[i] <= '9' {
		i++
	}
	if i == 0 {
		return 0, errors.New("want a size such as 4MiB, 512KiB or 65536")
	}
	n, err := strconv.ParseInt(t[:i], 10, 64)
	if err != nil {
		return 0, errors.New("the number is too large")
	}
	units := map[string]int64{"": 1, "b": 1, "kib": 1 << 10, "mib": 1 << 20, "gib": 1 << 30, "kb": 1e3, "mb": 1e6, "gb": 1e9}
	mult, ok := units[strings.ToLower(strings.TrimSpace(t[i:]))]
	if !ok {
		return 0, fmt.Errorf("unknown unit %q (want B, KiB, MiB, GiB, KB, MB or GB)", strings.TrimSpace(t[i:]))
	}
	if n == 0 {
		return 0, errors.New("the size must be positive")
	}
	if n > (1<<40)/mult {
		return 0, errors.New("the size is too large")
	}
	return n * mult, nil
}

// intRangeVar defines an integer flag whose values must lie in [lo, hi]; want says so in
// errors.
func intRangeVar(fs *pflag.FlagSet, p *int, name, short string, value, lo, hi int, want, usage string) {
	*p = value
	parse := func(s string) (int, error) {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil && !errors.Is(err, strconv.ErrRange) {
			return 0, errors.New("want a whole number")
		}
		if err != nil || n < lo || n > hi {
			return 0, errors.New(want)
		}
		return n, nil
	}
	show := func(n int) string {
		if n == 0 {
			return ""
		}
		return strconv.Itoa(n)
	}
	fs.VarP(&checked[int]{p: p, typ: "int", parse: parse, show: show}, name, short, usage)
}

// wholeVar defines an integer flag whose values must lie in [lo, hi]. want says which values
// are good ("want a whole number of retries, 0 or more"), for a value that is no number and
// for one out of range alike: pflag's own integer flags said "strconv.ParseInt: parsing …".
func wholeVar[T int | int64](fs *pflag.FlagSet, p *T, name string, value, lo, hi T, want, usage string) {
	*p = value
	parse := func(s string) (T, error) {
		n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
		if err != nil || n < int64(lo) || n > int64(hi) {
			return 0, errors.New(want)
		}
		return T(n), nil
	}
	show := func(n T) string {
		if n == 0 {
			return ""
		}
		return strconv.FormatInt(int64(n), 10)
	}
	fs.Var(&checked[T]{p: p, typ: "int", parse: parse, show: show}, name, usage)
}

// rateVar defines a flag for a rate per second: a number, 0 or more.
func rateVar(fs *pflag.FlagSet, p *float64, name string, want, usage string) {
	floatVar(fs, p, name, "float64", func(f float64) bool { return f >= 0 && !math.IsInf(f, 1) }, want, usage)
}

// floatVar defines a flag for a number that ok accepts; want says what one is.
func floatVar(fs *pflag.FlagSet, p *float64, name, typ string, ok func(float64) bool, want, usage string) {
	parse := func(s string) (float64, error) {
		f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
		if err != nil || !ok(f) { // NaN is never ok: every comparison with it is false
			return 0, errors.New(want)
		}
		return f, nil
	}
	show := func(f float64) string {
		if f == 0 {
			return ""
		}
		return strconv.FormatFloat(f, 'g', -1, 64)
	}
	fs.Var(&checked[float64]{p: p, typ: typ, parse: parse, show: show}, name, usage)
}

// durationVar defines a flag for a duration that must not be negative.
func durationVar(fs *pflag.FlagSet, p *time.Duration, name string, usage string) {
	parse := func(s string) (time.Duration, error) {
		d, err := time.ParseDuration(strings.TrimSpace(s))
		switch {
		case err != nil && isNumber(s):
			return 0, fmt.Errorf("a duration needs a unit: add one, e.g. %ss (or %sms, %sm)", strings.TrimSpace(s), strings.TrimSpace(s), strings.TrimSpace(s))
		case err != nil:
			return 0, errors.New("want a duration such as 500ms, 30s or 2m")
		case d < 0:
			return 0, errors.New("must not be negative")
		}
		return d, nil
	}
	show := func(d time.Duration) string {
		if d == 0 {
			return ""
		}
		return d.String()
	}
	fs.Var(&checked[time.Duration]{p: p, typ: "duration", parse: parse, show: show}, name, usage)
}

// shareVar defines a flag for a share from 0 to 1.
func shareVar(fs *pflag.FlagSet, p *float64, name string, usage string) {
	floatVar(fs, p, name, "float", func(f float64) bool { return f >= 0 && f <= 1 }, "want a share from 0 to 1 (0.25 is a quarter)", usage)
}

// stringCheckVar defines a string flag whose value check says what is wrong with it.
func stringCheckVar(fs *pflag.FlagSet, p *string, name, value string, check func(string) error, usage string) {
	*p = value
	parse := func(s string) (string, error) { return s, check(s) }
	fs.Var(&checked[string]{p: p, typ: "string", parse: parse, show: func(s string) string { return s }}, name, usage)
}

// enumVar defines a flag that takes one of names; values[i] is what names[i] means.
func enumVar[T comparable](fs *pflag.FlagSet, p *T, name string, value T, names []string, values []T, usage string) {
	*p = value
	parse := func(s string) (T, error) {
		for i, n := range names {
			if strings.EqualFold(s, n) {
				return values[i], nil
			}
		}
		var zero T
		return zero, fmt.Errorf("want %s", orList(names))
	}
	show := func(v T) string {
		for i := range values {
			if values[i] == v {
				return names[i]
			}
		}
		return ""
	}
	fs.Var(&checked[T]{p: p, typ: "string", parse: parse, show: show}, name, usage)
	enumValues(fs, name, names...)
}

// orList is "a", "a or b", "a, b or c".
func orList(names []string) string {
	if len(names) < 2 {
		return strings.Join(names, "")
	}
	return strings.Join(names[:len(names)-1], ", ") + " or " + names[len(names)-1]
}

// flagRules are the relations between a command's flags, declared to Cobra (so that they
// hold however the command is run, and shell completion knows them) with the message a user
// reads when one is broken: Cobra's own messages do not say why the flags go together.
type flagRules struct {
	cmd  *cobra.Command
	msgs map[string]string // by the group as Cobra names it: the flag names joined by spaces
}

func newFlagRules(cmd *cobra.Command) *flagRules {
	return &flagRules{cmd: cmd, msgs: map[string]string{}}
}

// exclusive says that the flags named cannot be given together.
func (r *flagRules) exclusive(msg string, names ...string) {
	r.cmd.MarkFlagsMutuallyExclusive(names...)
	r.msgs[strings.Join(names, " ")] = msg
}

// together says that the flags named are given all or none.
func (r *flagRules) together(msg string, names ...string) {
	r.cmd.MarkFlagsRequiredTogether(names...)
	r.msgs[strings.Join(names, " ")] = msg
}

// check validates the flags given against the rules and returns a usage error that says
// which rule they break.
func (r *flagRules) check() error {
	err := r.cmd.ValidateFlagGroups()
	if err == nil {
		return nil
	}
	for group, msg := range r.msgs {
		if strings.Contains(err.Error(), "group ["+group+"]") {
			return &FlagError{Err: errors.New(msg)}
		}
	}
	return &FlagError{Err: err}
}

// flagGroup is a titled section of a command's flags in its help.
type flagGroup struct {
	title string
	names []string
}

// groupedUsage writes a command's usage as Cobra does, but with its flags in the groups
// given, in the order given; flags in no group (--help) come last.
func groupedUsage(groups []flagGroup) func(*cobra.Command) error {
	return func(c *cobra.Command) error {
		w := c.OutOrStderr()
		fmt.Fprintf(w, "Usage:\n  %s", c.UseLine())
		if c.HasExample() {
			fmt.Fprintf(w, "\n\nExamples:\n%s", c.Example)
		}
		local := c.LocalFlags()
		grouped := map[string]bool{}
		for _, g := range groups {
			fs := pflag.NewFlagSet(g.title, pflag.ContinueOnError)
			fs.SortFlags = false
			for _, name := range g.names {
				if f := local.Lookup(name); f != nil && !f.Hidden {
					fs.AddFlag(f)
					grouped[name] = true
				}
			}
			writeFlags(w, g.title, fs)
		}
		rest := pflag.NewFlagSet("other", pflag.ContinueOnError)
		local.VisitAll(func(f *pflag.Flag) {
			if !grouped[f.Name] {
				rest.AddFlag(f)
			}
		})
		writeFlags(w, "Other flags", rest)
		writeFlags(w, "Global Flags", c.InheritedFlags())
		fmt.Fprintln(w)
		return nil
	}
}

func writeFlags(w io.Writer, title string, fs *pflag.FlagSet) {
	if !fs.HasAvailableFlags() {
		return
	}
	fmt.Fprintf(w, "\n\n%s:\n%s", title, strings.TrimRight(fs.FlagUsages(), " \t\n"))
}

// isNumber reports whether s is a plain decimal number, such as a duration without its unit.
func isNumber(s string) bool {
	s = strings.TrimSpace(s)
	digits, dots := 0, 0
	for i, c := range s {
		switch {
		case c >= '0' && c <= '9':
			digits++
		case c == '.':
			dots++
		case (c == '-' || c == '+') && i == 0:
		default:
			return false
		}
	}
	return digits > 0 && dots <= 1
}

// portVar defines a TCP port flag: a whole number from 0 to 65535, where 0 asks the system
// for any free port.
func portVar(fs *pflag.FlagSet, p *int, name, short string, value int, usage string) {
	*p = value
	parse := func(s string) (int, error) {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 0 || n > 65535 {
			return 0, fmt.Errorf("%q is not a port: a port is a whole number from 1 to 65535, such as 8080 (0 picks any free port)", s)
		}
		return n, nil
	}
	fs.VarP(&checked[int]{p: p, typ: "int", parse: parse, show: strconv.Itoa}, name, short, usage)
}
