package cmd

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"os"
	"strconv"
	"syscall"
	"time"

	"github.com/cectl/cectl/internal/listen"
	"github.com/cectl/cectl/internal/ui"
)

// webView is listen --ui: the view, which observes the handler, and, with --ui-addr or
// --from, the server of its own that serves it.
type webView struct {
	ui  *ui.UI
	srv *http.Server
}

// startUI sets up the view for the handler of cfg: as the handler's observer, with its history
// preloaded from the --record file, and served on the listen address (through setup's wrap
// and banner hooks) or on one of its own. It returns nil without --ui.
func (opts *ListenOptions) startUI(setup *listenSetup, cfg *listen.Config) (*webView, error) {
	if !opts.UI {
		return nil, nil
	}
	f := opts.F
	own := opts.From != "" || opts.UIAddr != ""
	path := opts.Path
	if own {
		path = "/"
	}
	v, err := ui.New(ui.Options{Path: path, Token: opts.Token, History: opts.History, HistoryBytes: opts.HistoryBytes, UserAgent: f.UserAgent()})
	if err != nil {
		return nil, err
	}
	cfg.Observer = v
	if opts.Record != "" {
		if err := preloadRecord(v, opts.Record); err != nil {
			fmt.Fprintf(f.IO.ErrOut, "%s --ui: %v\n", f.ErrStyles().Warn.Sprint("warning:"), err)
		}
	}
	w := &webView{ui: v}
	if !own {
		setup.wrap = append(setup.wrap, v.Wrap)
		setup.bannerLines = append(setup.bannerLines, func(url string, addr net.Addr) string {
			v.SetTarget(url)
			v.SetServed(addr)
			return "web view at " + url + tokenHint(opts.Token)
		})
		return w, nil
	}
	addr := opts.UIAddr
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		hint := ""
		if errors.Is(err, syscall.EADDRINUSE) {
			hint = " (another port, or :0 for any free one)"
		}
		var se *os.SyscallError
		if errors.As(err, &se) {
			err = se.Err
		}
		return nil, fmt.Errorf("--ui-addr: cannot listen on %s: %w%s", addr, err, hint)
	}
	v.SetServed(ln.Addr())
	w.srv = &http.Server{
		Handler:           v.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
	}
	go w.srv.Serve(ln)
	pageURL := "http://" + displayHostPort(ln.Addr()) + "/"
	line := "web view at " + pageURL + tokenHint(opts.Token)
	if opts.From != "" {
		setup.settings = append(setup.settings, line)
	} else {
		setup.bannerLines = append(setup.bannerLines, func(url string, _ net.Addr) string {
			v.SetTarget(url)
			return line
		})
	}
	return w, nil
}

func tokenHint(token string) string {
	if token == "" {
		return ""
	}
	return " (open it once with ?access_token=TOKEN)"
}

// displayHostPort is where a browser on this machine reaches addr.
func displayHostPort(addr net.Addr) string {
	a, ok := addr.(*net.TCPAddr)
	if !ok {
		return addr.String()
	}
	host := "localhost"
	if !a.IP.IsUnspecified() {
		host = a.IP.String()
	}
	return net.JoinHostPort(host, strconv.Itoa(a.Port))
}

// preloadRecord puts the events of an existing record file into the history.
func preloadRecord(v *ui.UI, name string) error {
	file, err := os.Open(name)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	defer file.Close()
	_, err = v.Preload(file, name)
	return err
}

// stop ends the page's streams, which would otherwise keep the server from shutting down,
// and the view's own server.
func (w *webView) stop(ctx context.Context) {
	if w == nil {
		return
	}
	w.ui.Close()
	if w.srv != nil {
		if w.srv.Shutdown(ctx) != nil {
			w.srv.Close()
		}
	}
}
