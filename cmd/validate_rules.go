package cmd

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"text/tabwriter"

	"github.com/cectl/cectl/internal/validate"
)

// ruleSet turns --enable and --ignore into the rules validate reports; an unknown rule or
// one named by both flags is a usage error naming the flag.
func ruleSet(enable, ignore []string) (*validate.RuleSet, error) {
	for _, n := range enable {
		if slices.Contains(ignore, n) {
			return nil, flagErrorf("--enable %s and --ignore %s contradict each other", n, n)
		}
	}
	rs, err := validate.NewRuleSet(enable, ignore)
	var ue *validate.UnknownRuleError
	if errors.As(err, &ue) {
		flag := "--ignore"
		if slices.Contains(enable, ue.Name) {
			flag = "--enable"
		}
		return nil, flagErrorf("%s %s: unknown rule (cectl validate --rules lists them)", flag, ue.Name)
	}
	return rs, err
}

// ruleJSON is one rule in `validate --rules -o json`.
type ruleJSON struct {
	Kind    string `json:"kind"`
	Rule    string `json:"rule"`
	Level   string `json:"level"`
	On      bool   `json:"on"`
	Lint    bool   `json:"lint"`
	Spec    string `json:"spec"`
	Summary string `json:"summary"`
}

// listRules prints the rule table: every rule validate can report, with the level it
// reports at (before --strict), whether it is on given --enable and --ignore, and where
// the rule comes from.
func listRules(opts *ValidateOptions) error {
	rs, err := ruleSet(opts.Enable, opts.Ignore)
	if err != nil {
		return err
	}
	out := opts.F.IO.Out
	if opts.F.JSON() {
		enc := json.NewEncoder(out)
		for _, r := range validate.Rules() {
			if err := enc.Encode(ruleJSON{"rule", r.Name, r.Level.String(), rs.Enabled(r.Name), r.Lint, r.Spec, r.Summary}); err != nil {
				return err
			}
		}
		return nil
	}
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "RULE\tLEVEL\tON\tSPEC\tCHECKS THAT")
	for _, r := range validate.Rules() {
		on := "on"
		if !rs.Enabled(r.Name) {
			on = "off"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", r.Name, r.Level, on, r.Spec, r.Summary)
	}
	return tw.Flush()
}
