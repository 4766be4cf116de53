package send

import (
	"fmt"
	"os"
	"sync"

	"github.com/cectl/cectl/internal/ce"
	"github.com/cloudevents/sdk-go/v2/event"
)

// DeadLetter keeps the events a run did not get acknowledged (send --dead-letter): each is
// appended as one line of the JSON event format (json-format §3), the form send --from
// reads, so that sending the file again sends exactly those. Add writes its lines to the
// file before it returns, nothing is held back in memory: a relay that runs for days
// (--follow) or a process that is killed keeps every dead letter it added. It is safe for
// concurrent use and a nil *DeadLetter keeps nothing.
type DeadLetter struct {
	Name string

	mu  sync.Mutex
	f   *os.File
	buf []byte
	n   int
	err error
}

// OpenDeadLetter opens (creating it if need be) the file events are appended to.
func OpenDeadLetter(name string) (*DeadLetter, error) {
	f, err := os.OpenFile(name, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return nil, err
	}
	return &DeadLetter{Name: name, f: f}, nil
}

// Add appends the events, in one write to the file (opened O_APPEND, so that the lines of
// one Add stay together even when another process appends to it too).
func (d *DeadLetter) Add(events ...*event.Event) {
	if d == nil || len(events) == 0 {
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.buf = d.buf[:0]
	for _, e := range events {
		d.buf = append(ce.AppendJSON(d.buf, e), '\n')
	}
	d.n += len(events)
	if _, err := d.f.Write(d.buf); err != nil && d.err == nil {
		d.err = err
	}
	if cap(d.buf) > 1<<20 {
		d.buf = nil // one large batch does not pin its buffer for the rest of the run
	}
}

// Count is how many events were added.
func (d *DeadLetter) Count() int {
	if d == nil {
		return 0
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.n
}

// Close closes the file and returns the first error: then events that were not
// acknowledged may be missing from the file.
func (d *DeadLetter) Close() error {
	if d == nil {
		return nil
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.f.Close(); err != nil && d.err == nil {
		d.err = err
	}
	if d.err != nil {
		return fmt.Errorf("--dead-letter %s: %w: events that were not acknowledged may be missing from it", d.Name, d.err)
	}
	return nil
}
