package cmd

import (
	"fmt"
	"os"
	"strings"

	"github.com/cectl/cectl/internal/binding"
	"github.com/cectl/cectl/internal/client"
	"github.com/spf13/pflag"
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

// schemeHint suggests the URL a --to without a scheme most likely meant: "localhost:8080"
// parses as the scheme "localhost" (RFC 3986 §3.1), and ":8080" as nothing at all.
func schemeHint(to string) string {
	if strings.Contains(to, "://") || to == "" {
		return ""
	}
	if scheme, _, ok := strings.Cut(to, ":"); ok && client.Lookup(scheme) != nil {
		return "" // "kafka:9092": a known scheme; the error says what is missing
	}
	if strings.HasPrefix(to, ":") {
		return fmt.Sprintf("; did you mean http://localhost%s?", to)
	}
	return fmt.Sprintf("; did you mean http://%s?", to)
}

// batchSizeNeedsBatch refuses --batch-size without --mode batch, where it would do nothing.
func batchSizeNeedsBatch(fs *pflag.FlagSet, mode binding.Mode) error {
	if fs != nil && fs.Changed("batch-size") && mode != binding.Batch {
		return flagErrorf("--batch-size goes with --mode batch: it is how many events one batch request carries")
	}
	return nil
}
