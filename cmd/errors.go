package cmd

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
	"syscall"

	"github.com/cectl/cectl/internal/client"
	"github.com/cectl/cectl/internal/eventspec"
	"github.com/cectl/cectl/internal/format"
	"github.com/spf13/cobra"
)

// Exit codes, documented in every command's help and in the README.
const (
	ExitOK          = 0
	ExitFailure     = 1 // rejected by the receiver, or invalid input
	ExitUsage       = 2
	ExitUndelivered = 3
	ExitInterrupted = 130
)

// FlagError is a usage error: a flag or argument is unknown, missing or malformed.
type FlagError struct{ Err error }

func (e *FlagError) Error() string { return e.Err.Error() }
func (e *FlagError) Unwrap() error { return e.Err }

func flagErrorf(format string, args ...any) error {
	return &FlagError{Err: fmt.Errorf(format, args...)}
}

// SilentError ends a command with a code after its outcome has been reported already.
type SilentError struct{ Code int }

func (e *SilentError) Error() string { return fmt.Sprintf("exit status %d", e.Code) }

// UndeliveredError is a delivery that got no answer at all (no HTTP response, no broker acknowledgement). MaybeDelivered says
// that the request went out (no response came), so the receiver may have the event.
type UndeliveredError struct {
	Err            error
	MaybeDelivered bool
}

func (e *UndeliveredError) Error() string {
	if e.MaybeDelivered {
		return "no response (maybe delivered): " + e.Err.Error()
	}
	return "not delivered: " + e.Err.Error()
}
func (e *UndeliveredError) Unwrap() error { return e.Err }

// ReceiveError is listen --from failing to receive: the broker could not be reached, or it
// did not take the subscription. Nothing was sent, so it is no "not delivered"; it exits 3,
// the code of a broker that gives no answer.
type ReceiveError struct{ Err error }

func (e *ReceiveError) Error() string { return "cannot receive from " + e.Err.Error() }
func (e *ReceiveError) Unwrap() error { return e.Err }

// subscribeError is why listen --from could not receive from the URL from. A JetStream
// durable consumer that another listener holds (the server binds a push consumer to one
// subscription) is named as such and exits 1, as an HTTP address in use does; anything else
// is a ReceiveError.
func subscribeError(from, durable string, err error) error {
	shown := format.ShownURL(from)
	if !strings.Contains(err.Error(), "consumer is already bound to a subscription") {
		return &ReceiveError{Err: fmt.Errorf("%s: %w", shown, err)}
	}
	if durable == "" {
		if u, perr := url.Parse(from); perr == nil {
			durable = u.Query().Get("durable")
		}
	}
	name := "the durable consumer"
	if durable != "" {
		name = "the durable consumer " + durable
	}
	return fmt.Errorf("cannot receive from %s: %s is in use by another listener: give another durable name (--durable or ?durable=), or stop the other listener", shown, name)
}

// InterruptError is the cause of the context's cancellation on SIGINT or SIGTERM.
type InterruptError struct{ Signal os.Signal }

func (e *InterruptError) Error() string {
	if e.Signal == os.Interrupt {
		return "interrupted (Ctrl-C)"
	}
	if e.Signal == syscall.SIGTERM {
		return "stopped by SIGTERM" // its String() is "terminated", which names no signal
	}
	return "stopped by " + strings.ToUpper(e.Signal.String()[:1]) + e.Signal.String()[1:]
}

// ExitCode maps the outcome of a command to the process exit code. It is the only place
// where that mapping is made.
func ExitCode(ctx context.Context, err error) int {
	if err == nil {
		return ExitOK
	}
	var silent *SilentError
	var undelivered *UndeliveredError
	var receive *ReceiveError
	var interrupt *InterruptError
	switch {
	case errors.As(err, &silent):
		return silent.Code
	case isUsage(err):
		return ExitUsage
	case errors.As(err, &interrupt), errors.As(context.Cause(ctx), &interrupt):
		return ExitInterrupted
	case errors.As(err, &undelivered), errors.As(err, &receive):
		return ExitUndelivered
	}
	return ExitFailure
}

// summaryError is the outcome of a run of deliveries as an exit code: 3 when events were
// sent and none got a response (not delivered, or no response), 1 when any was refused, not
// delivered, without a response or invalid, 0 otherwise.
func summaryError(sum format.Summary) error {
	switch {
	case sum.Sent > 0 && sum.Undelivered+sum.NoResponse == sum.Sent:
		return &SilentError{Code: ExitUndelivered}
	case sum.Failed() > 0 || sum.Invalid > 0 || sum.Unsent > 0 || sum.Stop != "":
		return &SilentError{Code: ExitFailure}
	}
	return nil
}

func isSilent(err error) bool {
	var silent *SilentError
	return errors.As(err, &silent)
}

// isUsage recognises usage errors: ours, those of an event spec, and those Cobra makes
// itself without a hook.
func isUsage(err error) bool {
	var fe *FlagError
	var se *eventspec.UsageError
	if errors.As(err, &fe) || errors.As(err, &se) {
		return true
	}
	msg := err.Error()
	return strings.HasPrefix(msg, "unknown command ") || strings.HasPrefix(msg, "required flag") ||
		strings.HasPrefix(msg, "accepts ") || strings.HasPrefix(msg, "invalid argument ")
}

// printErrorJSON shows the error a command ends with as one JSON object on stderr (-o json):
// a program reading cectl's output gets JSON only.
func printErrorJSON(f *Factory, ctx context.Context, cmd *cobra.Command, err error) {
	hint := ""
	if isUsage(err) {
		name := "cectl"
		if cmd != nil {
			name = cmd.CommandPath()
		}
		hint = fmt.Sprintf("Run '%s --help' for usage.", name)
	}
	rec := format.ErrorRecord{Error: err.Error(), ExitCode: ExitCode(ctx, err), Hint: hint}
	var ue *UndeliveredError
	if errors.As(err, &ue) {
		rec.Outcome = string(client.OutcomeNotDelivered)
		if ue.MaybeDelivered {
			rec.Outcome = string(client.OutcomeNoResponse)
		}
	}
	_ = format.ErrorJSON(f.IO.ErrOut, rec)
}
