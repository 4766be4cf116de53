package send

import (
	"bufio"
	"fmt"
	"os"
	"sync"

	"github.com/cectl/cectl/internal/ce"
	"github.com/cloudevents/sdk-go/v2/event"
)

// DeadLetter keeps the events a run did not get acknowledged (send --dead-letter): each is
// appended as one line of the JSON event format (json-format §3), the form send --from
// reads, so that sending the file again sends exactly those. It is safe for concurrent use
// and a nil *DeadLetter keeps nothing.
type DeadLetter struct {
	Name string

	mu  sync.Mutex
	f   *os.File
	w   *bufio.Writer
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
	return &DeadLetter{Name: name, f: f, w: bufio.NewWriterSize(f, 64<<10)}, nil
}

// Add appends the events.
func (d *DeadLetter) Add(events ...*event.Event) {
	if d == nil {
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, e := range events {
		d.buf = append(ce.AppendJSON(d.buf[:0], e), '\n')
		if _, err := d.w.Write(d.buf); err != nil && d.err == nil {
			d.err = err
		}
		d.n++
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

// Close writes what is buffered, closes the file and returns the first error: then events
// that were not acknowledged may be missing from the file.
func (d *DeadLetter) Close() error {
	if d == nil {
		return nil
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.w.Flush(); err != nil && d.err == nil {
		d.err = err
	}
	if err := d.f.Close(); err != nil && d.err == nil {
		d.err = err
	}
	if d.err != nil {
		return fmt.Errorf("--dead-letter %s: %w: events that were not acknowledged may be missing from it", d.Name, d.err)
	}
	return nil
}
