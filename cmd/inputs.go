package cmd

import (
	"fmt"
	"os"
)

// notADirectory refuses a directory given where a file of events is read: reading it fails
// only at the first read, which would be reported as an invalid event.
func notADirectory(f *os.File) error {
	st, err := f.Stat()
	if err != nil {
		return err
	}
	if st.IsDir() {
		return fmt.Errorf("%s is a directory; give a file of events (a JSON event, a JSON array or JSON lines), or - for stdin", f.Name())
	}
	return nil
}
