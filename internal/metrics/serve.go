package metrics

import (
	"context"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Path is where the metrics are served.
const Path = "/metrics"

// newRegistry returns a registry of its own (not the library's process-wide default one),
// with the Go runtime's and the process's metrics: memory, CPU time, open files, goroutines,
// garbage collection. They cost nothing between scrapes.
func newRegistry() *prometheus.Registry {
	r := prometheus.NewRegistry()
	r.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return r
}

// Handler serves the metrics of reg to GET and HEAD, in the format the scraper asks for:
// the Prometheus text format unless it asks for another.
func Handler(reg prometheus.Gatherer) http.Handler {
	h := promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.Method != http.MethodGet && req.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "metrics are read with GET", http.StatusMethodNotAllowed)
			return
		}
		h.ServeHTTP(w, req)
	})
}

// Server serves a registry at Path on an address of its own.
type Server struct {
	srv *http.Server
	ln  net.Listener
}

// Serve binds addr and serves reg at Path until Shutdown.
func Serve(addr string, reg prometheus.Gatherer) (*Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.Handle(Path, Handler(reg))
	s := &Server{ln: ln, srv: &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 120 * time.Second}}
	// Serve ends with Shutdown; a scrape of a server that failed fails on its own.
	go func() { _ = s.srv.Serve(ln) }()
	return s, nil
}

// URL is where the metrics are scraped.
func (s *Server) URL() string { return "http://" + s.ln.Addr().String() + Path }

// Shutdown stops serving.
func (s *Server) Shutdown(ctx context.Context) error { return s.srv.Shutdown(ctx) }
