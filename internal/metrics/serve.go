package metrics

import (
	"context"
	"net"
	"net/http"
	"time"
)

// Path is where the metrics are served.
const Path = "/metrics"

// Server serves a registry at Path on an address of its own.
type Server struct {
	srv *http.Server
	ln  net.Listener
}

// Serve binds addr and serves reg at Path until Shutdown.
func Serve(addr string, reg *Registry) (*Server, error) {
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
