package cmd

import (
	"fmt"
	"net"
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
	// "//localhost:8080" is a network-path reference (RFC 3986 §4.2): all it lacks is the
	// scheme and its colon.
	return fmt.Sprintf("; did you mean http://%s?", strings.TrimPrefix(to, "//"))
}

// brokerSchemeHint suggests the URL a listen --from without a scheme most likely meant: the
// broker whose usual port it names (localhost:4222/orders: nats://localhost:4222/orders).
func brokerSchemeHint(from string) string {
	if strings.Contains(from, "://") || from == "" {
		return ""
	}
	if scheme, _, ok := strings.Cut(from, ":"); ok && client.Lookup(scheme) != nil {
		return ""
	}
	from = strings.TrimPrefix(from, "//")
	if strings.HasPrefix(from, ":") {
		from = "localhost" + from
	}
	hostPort, _, _ := strings.Cut(from, "/")
	if _, port, err := net.SplitHostPort(hostPort); err == nil {
		for _, tr := range client.Transports() {
			if !tr.CanSubscribe() {
				continue
			}
			for _, s := range tr.Schemes {
				if s.DefaultPort == port {
					return fmt.Sprintf("; did you mean %s://%s?", s.Name, from)
				}
			}
		}
	}
	return fmt.Sprintf("; a broker URL starts with its scheme, e.g. nats://%s", from)
}

// batchSizeNeedsBatch refuses --batch-size without --mode batch, where it would do nothing.
func batchSizeNeedsBatch(fs *pflag.FlagSet, mode binding.Mode) error {
	if fs != nil && fs.Changed("batch-size") && mode != binding.Batch {
		return flagErrorf("--batch-size goes with --mode batch: it is how many events one batch request carries")
	}
	return nil
}
