package cmd

import (
	"context"
	"fmt"

	"github.com/cectl/cectl/internal/load"
	"github.com/cectl/cectl/internal/metrics"
	"github.com/spf13/pflag"
)

func registerSendMetricsFlag(fs *pflag.FlagSet, lf *loadFlags) {
	stringCheckVar(fs, &lf.MetricsAddr, "metrics-addr", "", checkHostPort,
		"during a load run, serve Prometheus metrics at /metrics on `host:port`: requests and events by outcome, latency")
}

// serveMetrics serves the metrics of a load run on --metrics-addr, when given, and returns
// send observing each request into them.
func (lf *loadFlags) serveMetrics(f *Factory, send load.SendFunc) (load.SendFunc, func(), error) {
	if lf.MetricsAddr == "" {
		return send, func() {}, nil
	}
	m := metrics.NewSend()
	srv, err := metrics.Serve(lf.MetricsAddr, m.Registry())
	if err != nil {
		return nil, nil, metricsListenError(lf.MetricsAddr, err)
	}
	fmt.Fprintf(f.IO.ErrOut, "metrics at %s\n", srv.URL())
	return m.Wrap(send), func() { _ = srv.Shutdown(context.Background()) }, nil
}
