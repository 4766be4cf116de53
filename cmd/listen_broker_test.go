package cmd

import (
	"errors"
	"testing"

	"github.com/cectl/cectl/internal/listen"
)

func TestUntilEndResult(t *testing.T) {
	if err := untilEndResult(listen.Summary{Events: 3}); err != nil {
		t.Errorf("all valid: %v, want exit 0", err)
	}
	err := untilEndResult(listen.Summary{Events: 3, Rejected: []listen.StatusCount{{Status: 400, Count: 1}}})
	var se *SilentError
	if !errors.As(err, &se) || se.Code != ExitFailure {
		t.Errorf("one rejected: %v, want exit 1", err)
	}
}
