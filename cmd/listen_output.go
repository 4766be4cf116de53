package cmd

import (
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

// catchSIGPIPE makes a write to a closed stdout fail with EPIPE instead of killing the
// process (os/signal: without Notify for SIGPIPE, a write to a broken pipe on fd 1 or 2 ends
// the program). listen then answers 503 to what it can no longer show and ends with its
// summary. The returned function restores the default.
func catchSIGPIPE() (restore func()) {
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, syscall.SIGPIPE)
	return func() { signal.Stop(ch) }
}

// stderrError is a write error of stderr, where listen shows all but events.
type stderrError struct{ err error }

func (e stderrError) Error() string { return "writing to stderr: " + e.err.Error() }
func (e stderrError) Unwrap() error { return e.err }

// outputError is how listen ends when stdout or stderr fails: exit 1, saying why.
func outputError(err error) error {
	var se stderrError
	if errors.As(err, &se) {
		return err
	}
	if errors.Is(err, syscall.EPIPE) {
		return errors.New("stdout was closed (its reader has gone): the events that came after it were answered 503")
	}
	return fmt.Errorf("writing the output: %w", err)
}

// close stops the outputs' writers once what they hold was flushed (listenRun flushes them
// within their wait bound before it prints the summary).
func (s *shower) close() {
	s.out.Close()
	s.errOut.Close()
}
