package listen

import (
	"context"
	"crypto/tls"
	"errors"
	"log"
	"net"
	"net/http"
	"strconv"
	"syscall"
	"time"
)

// ServerOptions say where and how the handler is served.
type ServerOptions struct {
	// Addr is host:port; port 0 picks a free one.
	Addr string
	// TLS, when set, serves HTTPS.
	TLS *tls.Config
	// MaxConns bounds open connections (0: what the open-file limit allows, see connLimit).
	// At the bound, idle and slow connections are closed to make room (connTracker).
	MaxConns int
	// ErrorLog receives the HTTP server's own complaints (bad TLS handshakes and the like).
	ErrorLog *log.Logger
	// Wrap, in order, put handlers of their own routes in front of the event handler (the
	// page of --ui); each passes on what it does not serve.
	Wrap []func(http.Handler) http.Handler
	// Routes are handlers for exact paths served next to the events (such as /metrics).
	Routes map[string]http.Handler
}

// routes serves some exact paths with their own handlers and everything else with h.
type routes struct {
	paths map[string]http.Handler
	h     http.Handler
}

func (r routes) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	if p, ok := r.paths[req.URL.Path]; ok {
		p.ServeHTTP(w, req)
		return
	}
	r.h.ServeHTTP(w, req)

}

// Timeouts and limits of the server: a slow or idle client cannot hold the listener.
const (
	// DefaultMaxConns is the bound where the open-file limit cannot be read.
	DefaultMaxConns   = 512
	readHeaderTimeout = 10 * time.Second
	readTimeout       = 60 * time.Second
	idleTimeout       = 120 * time.Second
	maxHeaderBytes    = 64 << 10
)

// Server serves a Handler.
type Server struct {
	h   *Handler
	srv *http.Server
	ln  *connTracker
	// plain: net/http serves every request, for TLS and where an answer may wait long
	// (--delay, --forward-to): it notices a sender that hangs up and ends the wait.
	plain bool
	tls   bool
	// Plain HTTP: the fast path serves the event requests and hands the rest to srv
	// (fastpath.go).
	baseCtx context.Context
	stopAll context.CancelFunc
	handoff *handoff
	fast    fastConns
}

// Listen binds the address. Serve then serves it.
func Listen(h *Handler, opts ServerOptions) (*Server, error) {
	ln, err := net.Listen("tcp", opts.Addr)
	if err != nil {
		return nil, err
	}
	n := opts.MaxConns
	if n <= 0 {
		n = connLimit()
	}
	var handler http.Handler = h
	if len(opts.Routes) > 0 {
		handler = routes{opts.Routes, handler}
	}
	for _, wrap := range opts.Wrap {
		handler = wrap(handler)
	}
	srv := &http.Server{
		Handler:           serving(handler),
		ConnState:         connState,
		ConnContext:       connContext,
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       readTimeout,
		// Answering may wait for --delay and for the relays.
		WriteTimeout:   readTimeout + h.cfg.Faults.Delay + h.cfg.ForwardTimeout,
		IdleTimeout:    idleTimeout,
		MaxHeaderBytes: maxHeaderBytes,
		ErrorLog:       opts.ErrorLog,
		TLSConfig:      opts.TLS,
	}
	s := &Server{h: h, srv: srv, ln: newConnTracker(ln, n), tls: opts.TLS != nil}
	s.plain = s.tls || h.cfg.Faults.Delay > 0 || h.cfg.Forwarder != nil
	s.baseCtx, s.stopAll = context.WithCancel(context.WithValue(context.Background(), http.ServerContextKey, srv))
	s.handoff = newHandoff(s.ln.Addr())
	return s, nil
}

// Addr is the address bound.
func (s *Server) Addr() net.Addr { return s.ln.Addr() }

// URL is where senders reach the handler. An address on all interfaces is shown as
// localhost, which reaches it from this machine.
func (s *Server) URL() string {
	scheme := "http"
	if s.tls {
		scheme = "https"
	}
	host, port := "localhost", ""
	if a, ok := s.ln.Addr().(*net.TCPAddr); ok {
		port = strconv.Itoa(a.Port)
		if !a.IP.IsUnspecified() {
			host = a.IP.String()
		}
	}
	return scheme + "://" + net.JoinHostPort(host, port) + s.h.cfg.Path
}

// AllInterfaces reports whether the server listens on every interface.
func (s *Server) AllInterfaces() bool {
	a, ok := s.ln.Addr().(*net.TCPAddr)
	return ok && a.IP.IsUnspecified()
}

// Serve serves until Shutdown; it returns nil then.
func (s *Server) Serve() error {
	var err error
	switch {
	case s.tls:
		err = s.srv.ServeTLS(s.ln, "", "")
	case s.plain:
		err = s.srv.Serve(s.ln)
	default:
		err = s.serveFastPath()
	}
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// serveFastPath accepts connections for the fast path, which hands net/http those it does
// not serve.
func (s *Server) serveFastPath() error {
	served := make(chan error, 1)
	go func() { served <- s.srv.Serve(s.handoff) }()
	var delay time.Duration
	for {
		c, err := s.ln.Accept()
		if err != nil {
			if s.ln.isClosed() || errors.Is(err, net.ErrClosed) {
				s.handoff.Close()
				<-served
				return http.ErrServerClosed
			}
			if ne, ok := err.(net.Error); ok && ne.Timeout() || errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE) {
				// Out of files for a moment: try again shortly, as net/http does.
				delay = min(max(2*delay, 5*time.Millisecond), time.Second)
				time.Sleep(delay)
				continue
			}
			s.handoff.Close()
			return err
		}
		delay = 0
		go s.serveFast(c)
	}
}

// Shutdown stops taking requests, lets those in flight finish, and returns when they have or
// when ctx ends; then every connection is closed.
func (s *Server) Shutdown(ctx context.Context) error {
	if s.plain {
		s.h.Stop()
		err := s.srv.Shutdown(ctx)
		if err != nil {
			s.srv.Close()
		}
		return err
	}
	// Connections are told to close before the handler stops, so that an answer the stop
	// hurries (--delay) says so.
	s.fast.stop()
	s.h.Stop()
	s.ln.Close()
	fastDone := make(chan error, 1)
	go func() { fastDone <- s.fast.wait(ctx) }()
	err := s.srv.Shutdown(ctx)
	if err != nil {
		s.srv.Close()
	}
	if ferr := <-fastDone; ferr != nil {
		s.fast.closeAll()
		s.stopAll()
		if err == nil {
			err = ferr
		}
	}
	return err
}
