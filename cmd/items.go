package cmd

import (
	"errors"

	"github.com/cectl/cectl/internal/eventspec"
)

// useItems makes the data items (key=value, key:=json arguments) the data of the event the
// flags build; they build one event, so they do not go with --from.
func useItems(ef *eventFlags, items []string, from string) error {
	if len(items) == 0 {
		return nil
	}
	if from != "" {
		return flagErrorf("data item %q: --from sends the events of a file; data items build one event", items[0])
	}
	err := ef.UseItems(items)
	var ue *eventspec.UsageError
	if errors.As(err, &ue) {
		return &FlagError{Err: ue.Err}
	}
	return err
}
