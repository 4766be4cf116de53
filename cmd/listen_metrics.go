package cmd

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"syscall"

	"github.com/cectl/cectl/internal/listen"
	"github.com/cectl/cectl/internal/metrics"
	"github.com/spf13/pflag"
)

// registerMetricsFlags adds listen's --metrics and --metrics-addr.
func registerListenMetricsFlags(fs *pflag.FlagSet, opts *ListenOptions) {
	fs.BoolVar(&opts.Metrics, "metrics", false, "serve Prometheus metrics at /metrics on the listen address")
	stringCheckVar(fs, &opts.MetricsAddr, "metrics-addr", "", checkHostPort, "serve the metrics at /metrics on `host:port` instead (implies --metrics)")
}

// checkMetrics says what --metrics cannot do: share a path with the events, or be served
// on a listen address there is none of (--from).
func (opts *ListenOptions) checkMetrics() error {
	if !opts.Metrics || opts.MetricsAddr != "" {
		return nil
	}
	if opts.From != "" {
		return flagErrorf("--metrics with --from needs --metrics-addr: there is no HTTP listener to serve them on")
	}
	if strings.TrimSuffix(opts.Path, "/") == metrics.Path {
		return flagErrorf("--path %s is where --metrics serves the metrics; take events at another path or use --metrics-addr", opts.Path)
	}
	return nil
}

// setupMetrics makes listen's metrics, observes every report, and serves them: as a route
// of the listener (returned), or on --metrics-addr (started here; stop shuts it down).
func (opts *ListenOptions) setupMetrics(cfg *listen.Config, setup *listenSetup) (routes map[string]http.Handler, stop func(), err error) {
	stop = func() {}
	if !opts.Metrics && opts.MetricsAddr == "" {
		return nil, stop, nil
	}
	m := metrics.NewListen(metrics.DefaultTypes)
	show := cfg.Show
	cfg.Show = func(rep *listen.Report) error {
		err := show(rep)
		if err != nil && rep.Kind == listen.KindEvents {
			// Not shown, so not acknowledged: the request is answered 503.
			busy := *rep
			busy.Kind, busy.Status = listen.KindRejected, http.StatusServiceUnavailable
			m.Observe(&busy)
			return err
		}
		m.Observe(rep)
		return err
	}
	if opts.MetricsAddr == "" {
		setup.settings = append(setup.settings, "metrics at "+metrics.Path)
		return map[string]http.Handler{metrics.Path: m.Handler()}, stop, nil
	}
	srv, err := metrics.Serve(opts.MetricsAddr, m.Registry())
	if err != nil {
		return nil, nil, metricsListenError(opts.MetricsAddr, err)
	}
	setup.settings = append(setup.settings, "metrics at "+srv.URL())
	return nil, func() { _ = srv.Shutdown(context.Background()) }, nil
}

func metricsListenError(addr string, err error) error {
	var se *os.SyscallError
	if errors.As(err, &se) {
		err = se.Err
	}
	hint := ""
	if errors.Is(err, syscall.EADDRINUSE) {
		hint = " (another port, or :0 for any free one)"
	}
	return fmt.Errorf("--metrics-addr: cannot listen on %s: %w%s", addr, err, hint)
}
