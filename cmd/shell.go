package cmd

import (
	"fmt"
	"github.com/cectl/cectl/internal/suggest"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strings"

	"github.com/cectl/cectl/internal/client"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// Colour modes of --color.
const (
	colorAuto   = "auto"
	colorAlways = "always"
	colorNever  = "never"
)

// colorWanted decides colour for a stream that is a terminal or not (tty), before -o json is
// considered. --color always|never and --no-color decide outright; in auto mode NO_COLOR
// (https://no-color.org) turns colour off, FORCE_COLOR or CLICOLOR_FORCE turn it on even
// through a pipe (`| less -R`), and otherwise a terminal whose TERM is not dumb gets it.
func (f *Factory) colorWanted(tty bool) bool {
	switch {
	case f.NoColor || f.Color == colorNever:
		return false
	case f.Color == colorAlways:
		return true
	}
	if _, set := lookupEnv(f.Getenv, "NO_COLOR"); set {
		return false
	}
	if envForces(f.Getenv, "FORCE_COLOR") || envForces(f.Getenv, "CLICOLOR_FORCE") {
		return true
	}
	return tty && f.Getenv("TERM") != "dumb"
}

// envForces says whether a FORCE_COLOR-style variable is set to something other than 0 or
// false (FORCE_COLOR=0 means no colour is forced).
func envForces(getenv func(string) string, key string) bool {
	v := strings.TrimSpace(getenv(key))
	return v != "" && v != "0" && !strings.EqualFold(v, "false")
}

// buildString is what --version prints: version, commit and build date. The release build
// sets them with ldflags; a build from a checkout takes commit and date from the VCS
// information Go stamps into the binary (bi may be nil).
func buildString(b BuildInfo, bi *debug.BuildInfo) string {
	version, commit, date := b.Version, b.Commit, b.Date
	if bi != nil {
		if version == "" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			version = bi.Main.Version
		}
		dirty := false
		var revision, vcsTime string
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				revision = s.Value
			case "vcs.time":
				vcsTime = s.Value
			case "vcs.modified":
				dirty = s.Value == "true"
			}
		}
		if commit == "" && revision != "" {
			commit = revision[:min(len(revision), 12)]
			if dirty {
				commit += "-dirty"
			}
		}
		if date == "" {
			date = vcsTime
		}
	}
	if version == "" {
		version = "dev"
	}
	if commit == "" {
		commit = "unknown"
	}
	if date == "" {
		date = "unknown"
	}
	return fmt.Sprintf("%s (commit %s, built %s)", version, commit, date)
}

func readBuildInfo() *debug.BuildInfo {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return nil
	}
	return bi
}

// suggestFlag turns pflag's "unknown flag: --tpye" into a usage error that names the nearest
// flag of the command, when one is close enough to be a typo.
func suggestFlag(c *cobra.Command, err error) error {
	msg := err.Error()
	var typed string
	switch {
	case strings.HasPrefix(msg, "unknown flag: --"):
		typed = strings.TrimPrefix(msg, "unknown flag: --")
	case strings.HasPrefix(msg, "unknown shorthand flag: "):
		// "unknown shorthand flag: 'x' in -xyz": a long flag typed with one dash is the
		// usual cause.
		if _, arg, ok := strings.Cut(msg, " in -"); ok {
			typed = arg
		}
	}
	if typed == "" {
		return &FlagError{Err: err}
	}
	typed, _, _ = strings.Cut(typed, "=")
	if best := nearestFlag(c, typed); best != "" {
		return &FlagError{Err: fmt.Errorf("%w (did you mean --%s?)", err, best)}
	}
	return &FlagError{Err: err}
}

// nearestFlag is the visible flag of c (its own or inherited) closest to typed by edit
// distance, or a flag typed has as its prefix; "" when none is close.
func nearestFlag(c *cobra.Command, typed string) string {
	best, bestDist := "", 0
	limit := 2
	if len(typed) <= 3 {
		limit = 1
	}
	visit := func(fl *pflag.Flag) {
		if fl.Hidden {
			return
		}
		d := suggest.Distance(strings.ToLower(typed), fl.Name)
		if d > limit && !(len(typed) >= 3 && strings.HasPrefix(fl.Name, strings.ToLower(typed))) {
			return
		}
		if best == "" || d < bestDist || d == bestDist && fl.Name < best {
			best, bestDist = fl.Name, d
		}
	}
	c.LocalFlags().VisitAll(visit)
	c.InheritedFlags().VisitAll(visit)
	return best
}

// enumAnnotation marks a flag whose values are a fixed list, for shell completion.
const enumAnnotation = "cectl_enum_values"

// enumValues declares the values a flag takes, so that the shell completes them. enumVar
// flags declare theirs themselves.
func enumValues(fs *pflag.FlagSet, name string, values ...string) {
	_ = fs.SetAnnotation(name, enumAnnotation, values)
}

// atFileFlags are the flags whose value may be @file: the shell completes file names after
// the @.
var atFileFlags = []string{"data"}

// registerCompletions gives every flag of the tree the shell completion its values call
// for: the values of enum flags (enumVar and enumValues), file names after @ for the flags
// that read @file, files for a --from that reads a file, the broker schemes for listen's
// --from URL and the starting points of listen --start.
func registerCompletions(root *cobra.Command) {
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		c.LocalFlags().VisitAll(func(fl *pflag.Flag) {
			if c.Flag(fl.Name) != fl {
				return
			}
			var fn cobra.CompletionFunc
			switch {
			case len(fl.Annotations[enumAnnotation]) > 0:
				fn = completeValues(fl.Annotations[enumAnnotation])
			case slices.Contains(atFileFlags, fl.Name):
				fn = completeAtFile
			case fl.Name == "from" && c.Name() == "listen":
				fn = completeSchemes
			case fl.Name == "start" && c.Name() == "listen":
				fn = completeStart
			case fl.Name == "from" || fl.Name == "record" || fl.Name == "reply":
				fn = cobra.FixedCompletions(nil, cobra.ShellCompDirectiveDefault)
			}
			if fn != nil {
				_ = c.RegisterFlagCompletionFunc(fl.Name, fn)
			}
		})
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
}

// completeValues completes the values that start with what was typed, whatever its case
// (enum values are case-insensitive).
func completeValues(values []string) cobra.CompletionFunc {
	return func(_ *cobra.Command, _ []string, toComplete string) ([]string, cobra.ShellCompDirective) {
		var out []string
		for _, v := range values {
			if len(v) >= len(toComplete) && strings.EqualFold(v[:len(toComplete)], toComplete) {
				out = append(out, v)
			}
		}
		return out, cobra.ShellCompDirectiveNoFileComp
	}
}

// completeAtFile completes "@pa" to the files and directories whose names start with "pa".
func completeAtFile(_ *cobra.Command, _ []string, toComplete string) ([]string, cobra.ShellCompDirective) {
	if !strings.HasPrefix(toComplete, "@") {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	typed := toComplete[1:]
	dir, prefix := filepath.Split(typed)
	readDir := dir
	if readDir == "" {
		readDir = "."
	}
	entries, err := os.ReadDir(readDir)
	if err != nil {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	var out []string
	directive := cobra.ShellCompDirectiveNoFileComp
	for _, e := range entries {
		name := e.Name()
		if !strings.HasPrefix(name, prefix) || strings.HasPrefix(name, ".") && !strings.HasPrefix(prefix, ".") {
			continue
		}
		if e.IsDir() {
			name += "/"
			// A directory is a step on the way: no space after it.
			directive |= cobra.ShellCompDirectiveNoSpace
		}
		out = append(out, "@"+dir+name)
	}
	return out, directive
}

// completeSchemes completes listen --from with the schemes of the transports it can receive
// from.
func completeSchemes(_ *cobra.Command, _ []string, toComplete string) ([]string, cobra.ShellCompDirective) {
	var out []string
	for _, tr := range client.Transports() {
		if !tr.CanSubscribe() {
			continue
		}
		for _, s := range tr.Schemes {
			if strings.HasPrefix(s.Name+"://", toComplete) {
				out = append(out, s.Name+"://")
			}
		}
	}
	return out, cobra.ShellCompDirectiveNoSpace | cobra.ShellCompDirectiveNoFileComp
}

// startValues are listen --start's values by the scheme of --from; seq: and time: take
// the rest of the value after them.
var startValues = map[string][]string{
	"jetstream": {"new", "all", "last", "seq:", "time:"},
	"kafka":     {"newest", "oldest"},
}

// completeStart completes listen --start with the starting points of the transport --from
// names, or of every transport that has them while --from is not given yet.
func completeStart(c *cobra.Command, _ []string, toComplete string) ([]string, cobra.ShellCompDirective) {
	scheme, _, _ := strings.Cut(c.Flag("from").Value.String(), "://")
	values, ok := startValues[strings.ToLower(scheme)]
	if !ok {
		values = append(slices.Clone(startValues["jetstream"]), startValues["kafka"]...)
	}
	out, directive := completeValues(values)(c, nil, toComplete)
	if len(out) > 0 && !slices.ContainsFunc(out, func(v string) bool { return !strings.HasSuffix(v, ":") }) {
		directive |= cobra.ShellCompDirectiveNoSpace // seq: and time: go on
	}
	return out, directive
}
