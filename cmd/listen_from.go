package cmd

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"syscall"
	"time"

	"github.com/cectl/cectl/internal/client"
	"github.com/cectl/cectl/internal/format"
	"github.com/cectl/cectl/internal/listen"
)

// serveHTTP starts the HTTP listener and prints the banner. The returned channel yields when
// the server stops on its own; stop shuts it down, finishing requests in flight.
func serveHTTP(opts *ListenOptions, setup *listenSetup, h *listen.Handler, sh *shower) (chan error, func(context.Context) error, error) {
	f := opts.F
	srv, err := listen.Listen(h, listen.ServerOptions{
		Addr:     setup.addr,
		TLS:      setup.tls,
		ErrorLog: slog.NewLogLogger(f.Logger().Handler(), slog.LevelDebug),
		Wrap:     setup.wrap,
		Routes:   setup.routes,
	})
	if err != nil {
		hint := ""
		if errors.Is(err, syscall.EADDRINUSE) {
			hint = " (another port: -p N; any free port: -p 0)"
		}
		var se *os.SyscallError
		if errors.As(err, &se) {
			err = se.Err
		}
		return nil, nil, fmt.Errorf("cannot listen on %s: %w%s", setup.addr, err, hint)
	}
	if err := checkNoLoop(opts.ForwardTo, srv.Addr()); err != nil {
		srv.Shutdown(context.Background())
		return nil, nil, err
	}
	settings := setup.settings
	if srv.AllInterfaces() {
		settings = append([]string{"on all interfaces"}, settings...)
	}
	for _, line := range setup.bannerLines {
		settings = append(settings, line(srv.URL(), srv.Addr()))
	}
	if err := format.ListenBanner(sh.errOut, f.ErrStyles(), srv.URL(), settings); err != nil {
		srv.Shutdown(context.Background())
		return nil, nil, err
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve() }()
	if opts.Ready != nil {
		opts.Ready(srv.URL())
	}
	stop := func(grace context.Context) error {
		if err := srv.Shutdown(grace); err != nil {
			return fmt.Errorf("stopping: requests still in flight after %s", opts.ShutdownGrace)
		}
		return nil
	}
	return served, stop, nil
}

// subscribe receives from the broker of --from and hands each message to the handler, one
// at a time; a message is acknowledged only after the handler took it (shown, recorded).
// The banner is printed once the subscription is in place, so a script that waits for it
// sends nothing too early.
func subscribe(ctx context.Context, opts *ListenOptions, h *listen.Handler, sh *shower, settings []string) (chan error, func(context.Context) error, error) {
	f := opts.F
	subCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	ready := make(chan struct{})
	served := make(chan error, 1)
	done := make(chan error, 1)
	var notes []string
	so := client.SubscribeOptions{
		Timeout: 10 * time.Second,
		Group:   opts.Group,
		Durable: opts.Durable,
		Start:   opts.Start,
		Ready:   func() { close(ready) },
		// Called before Ready, in the subscription's goroutine: ready orders it before the
		// banner below reads notes.
		Note: func(line string) { notes = append(notes, line) },
		// The handler checks the bytes of a structured message with its strict validator
		// and decodes them then.
		Undecoded: true,
		More:      h.Taking,
		// Brokers that can be told are asked not to send what --max-body refuses.
		MaxMessage: opts.MaxBody,
	}
	so.UntilEnd = opts.UntilEnd
	go func() {
		err := client.Subscribe(subCtx, opts.From, so, h.Deliver)
		if errors.Is(err, listen.ErrStopped) {
			err = nil
		}
		done <- err
	}()
	select {
	case <-ready:
	case err := <-done:
		cancel()
		if err == nil {
			err = errors.New("the subscription ended before it began")
		}
		var ue *client.UsageError
		if errors.As(err, &ue) {
			return nil, nil, &FlagError{Err: fmt.Errorf("--from %s: %w%s", shownURL(opts.From), ue.Err, brokerSchemeHint(opts.From))}
		}
		return nil, nil, subscribeError(opts.From, opts.Durable, err)
	case <-ctx.Done():
		cancel()
		<-done
		return nil, nil, context.Cause(ctx)
	}
	if err := format.ListenBanner(sh.errOut, f.ErrStyles(), shownURL(opts.From), append(notes, settings...)); err != nil {
		cancel()
		<-done
		return nil, nil, err
	}
	if opts.Ready != nil {
		opts.Ready(opts.From)
	}
	// The subscription's end reaches both the waiting in listenRun and stop.
	var final error
	finished := make(chan struct{})
	go func() {
		final = <-done
		close(finished)
		served <- final
	}()
	stop := func(grace context.Context) error {
		h.Stop()
		cancel()
		select {
		case <-finished:
			return final
		case <-grace.Done():
			return fmt.Errorf("stopping: the subscription did not end within %s", opts.ShutdownGrace)
		}
	}
	return served, stop, nil
}
