// Package cmd holds cectl's commands: flags in, an options struct out, the work done by the
// internal packages.
package cmd

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"strings"
	"syscall"

	"github.com/cectl/cectl/internal/format"
	"github.com/mattn/go-isatty"
	"github.com/spf13/cobra"
)

// BuildInfo is what the release build stamps into the binary.
type BuildInfo struct {
	Version, Commit, Date string
}

// IOStreams are the command's standard streams and what they are connected to.
type IOStreams struct {
	In     io.Reader
	Out    io.Writer
	ErrOut io.Writer
	// OutTTY and ErrTTY say whether stdout and stderr are terminals.
	OutTTY, ErrTTY bool
	// StdinFile is the process's standard input (In may wrap it), nil when In is no file.
	StdinFile *os.File
}

// Factory carries what every command needs: the streams, the build and the global flags,
// and the decisions made once from them (colour, output mode, logging).
type Factory struct {
	IO     *IOStreams
	Build  BuildInfo
	Getenv func(string) string

	// Global flags.
	Output  string
	NoColor bool
	Color   string // --color: auto, always or never
	Verbose bool
	// Config is --config: the file of named targets (--to @name); empty is the default place.
	Config string
}

// JSON reports whether -o json was asked for.
func (f *Factory) JSON() bool { return f.Output == "json" }

// colorOn decides colour for one stream: never in JSON mode, otherwise as --color and the
// environment say (colorWanted).
func (f *Factory) colorOn(tty bool) bool {
	return !f.JSON() && f.colorWanted(tty)
}

func lookupEnv(getenv func(string) string, key string) (string, bool) {
	v := getenv(key)
	return v, v != ""
}

// Styles are the colours for stdout.
func (f *Factory) Styles() *format.Styles { return format.NewStyles(f.colorOn(f.IO.OutTTY)) }

// ErrStyles are the colours for stderr.
func (f *Factory) ErrStyles() *format.Styles {
	if f.JSON() && !f.NoColor {
		// JSON mode keeps stdout plain; stderr is still for a person.
		return format.NewStyles(f.colorWanted(f.IO.ErrTTY))
	}
	return format.NewStyles(f.colorOn(f.IO.ErrTTY))
}

// Logger writes debug logs to stderr with -v, and only warnings otherwise.
func (f *Factory) Logger() *slog.Logger {
	level := slog.LevelWarn
	if f.Verbose {
		level = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(f.IO.ErrOut, &slog.HandlerOptions{Level: level}))
}

// UserAgent is sent with every request.
func (f *Factory) UserAgent() string { return "cectl/" + f.Build.version() }

func (b BuildInfo) version() string {
	if b.Version != "" {
		return b.Version
	}
	// `go install module@version` stamps the module version into the build info.
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "dev"
}

// String is what --version prints: version, commit and build date.
func (b BuildInfo) String() string { return buildString(b, readBuildInfo()) }

const exitCodesHelp = `Exit codes:
  0    success
  1    the receiver rejected an event (non-2xx), or an input is invalid
  2    usage error: unknown, missing or malformed flag or argument
  3    no answer (no HTTP response, no broker ack): not delivered (refused,
       DNS, TLS) or no response (it went out: timeout, closed; maybe delivered)
  130  interrupted (Ctrl-C, SIGTERM); listen, which runs until stopped, exits 0`

// NewCmdRoot builds the command tree.
func NewCmdRoot(f *Factory) *cobra.Command {
	root := &cobra.Command{
		Use:   "cectl <command> [flags]",
		Short: "Send, receive and validate CloudEvents",
		Long: `cectl sends CloudEvents, listens for them, makes requests that expect an event
back and validates event JSON, correctly to the CloudEvents 1.0.2 specification, over HTTP,
NATS, JetStream, Kafka, MQTT and AMQP.

` + exitCodesHelp,
		Example: `  $ cectl send --to http://localhost:8080 --type com.example.user.created --data '{"id":42}'
  $ cectl listen -p 8080
  $ cectl request --to http://localhost:8080 --type com.example.ping
  $ cectl validate events/
  $ cectl validate --color always events/ | less -R`,
		Version:       f.Build.String(),
		SilenceErrors: true,
		SilenceUsage:  true,
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
			// Enum values are case-insensitive: -o JSON is -o json.
			f.Output = strings.ToLower(f.Output)
			switch f.Output {
			case "text", "json":
				return nil
			}
			return flagErrorf("invalid --output %q: want text or json", f.Output)
		},
	}
	root.SetVersionTemplate("cectl {{.Version}}\n")
	root.SetOut(f.IO.Out)
	root.SetErr(f.IO.ErrOut)
	root.SetIn(f.IO.In)
	root.SetFlagErrorFunc(suggestFlag)

	pf := root.PersistentFlags()
	pf.StringVarP(&f.Output, "output", "o", "text", "output format: text or json (one JSON object per line)")
	enumVar(pf, &f.Color, "color", colorAuto, []string{colorAuto, colorAlways, colorNever}, []string{colorAuto, colorAlways, colorNever},
		"`when` to colour: auto (on a terminal), always (e.g. for less -R; also FORCE_COLOR=1) or never (also NO_COLOR=1)")
	pf.BoolVar(&f.NoColor, "no-color", false, "never colour the output, like --color never (also NO_COLOR, TERM=dumb)")
	pf.BoolVarP(&f.Verbose, "verbose", "v", false, "show debug logs and wire details on stderr")
	pf.StringVar(&f.Config, "config", "", "config `FILE` of named targets for --to @name (default $XDG_CONFIG_HOME/cectl/config.yaml or ~/.config/cectl/config.yaml)")
	enumValues(pf, "output", "text", "json")
	root.Flags().Bool("version", false, "print version, commit and build date")

	root.AddCommand(
		NewCmdSend(f, nil),
		NewCmdRequest(f, nil),
		NewCmdListen(f, nil),
		NewCmdValidate(f, nil),
	)
	return root
}

// Main runs cectl with the process's streams, arguments and signals and returns the exit code.
func Main(build BuildInfo) int {
	ctx, stop := signalContext(context.Background())
	defer stop()
	streams := &IOStreams{
		In:        os.Stdin,
		Out:       os.Stdout,
		ErrOut:    os.Stderr,
		OutTTY:    isTerminal(os.Stdout),
		ErrTTY:    isTerminal(os.Stderr),
		StdinFile: os.Stdin,
	}
	if mayBlock(os.Stdin) {
		// A terminal, or a pipe whose writer may never close it: Ctrl-C and SIGTERM must
		// end a read from it.
		in := newCancelInput(ctx, os.Stdin, nil)
		in.tty = isTerminal(os.Stdin)
		streams.In = in
	}
	return Run(ctx, streams, build, os.Args[1:], os.Getenv)
}

// Run runs cectl with the given streams and arguments and returns the exit code.
func Run(ctx context.Context, streams *IOStreams, build BuildInfo, args []string, getenv func(string) string) int {
	f := &Factory{IO: streams, Build: build, Getenv: getenv}
	if in, ok := streams.In.(*cancelInput); ok && in.tty && in.notice == nil {
		// Said on the first read, once -o is known: as a warning object under -o json.
		in.notice = func() { f.notice(stdinNotice) }
	}
	root := NewCmdRoot(f)
	if len(args) > 0 && (args[0] == cobra.ShellCompRequestCmd || args[0] == cobra.ShellCompNoDescRequestCmd) {
		// Only the shell's completion requests need them; every other run starts faster.
		registerCompletions(root)
	}
	root.SetArgs(args)
	cmd, err := root.ExecuteContextC(ctx)
	if err != nil {
		// What is printed has the credentials of the command line's URLs masked; the exit
		// code comes from the error itself.
		if shown := maskErr(err, args); f.JSON() && !isSilent(err) {
			printErrorJSON(f, ctx, cmd, shown)
		} else {
			printError(f, cmd, shown)
		}
	}
	return ExitCode(ctx, err)
}

func printError(f *Factory, cmd *cobra.Command, err error) {
	if isSilent(err) {
		return
	}
	st := f.ErrStyles()
	fmt.Fprintf(f.IO.ErrOut, "%s %s\n", st.Fail.Sprint("error:"), err)
	if isUsage(err) {
		name := "cectl"
		if cmd != nil {
			name = cmd.CommandPath()
		}
		fmt.Fprintf(f.IO.ErrOut, "Run '%s --help' for usage.\n", name)
	}
}

// signalContext is cancelled by the first SIGINT or SIGTERM; after that the default handling
// is back, so a second Ctrl-C kills a command that does not stop.
func signalContext(parent context.Context) (context.Context, func()) {
	ctx, cancel := context.WithCancelCause(parent)
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, os.Interrupt, syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		select {
		case s := <-ch:
			signal.Stop(ch)
			cancel(&InterruptError{Signal: s})
		case <-done:
		}
	}()
	return ctx, func() {
		close(done)
		signal.Stop(ch)
		cancel(nil)
	}
}

// processTuning is what a command asks of the Go runtime.
type processTuning struct {
	// oneProc runs the command on one P: for one exchange at a time, whose goroutines hand
	// over to each other on every event, waking another thread costs more than a second
	// core gives.
	oneProc bool
	// throughput lets the heap grow to five times what is live before the garbage collector
	// runs, unless GOGC says otherwise: a load run or a listener allocates a little for every
	// event and keeps almost nothing, and at the default of 100 the collector ran every few
	// thousand events, for about a tenth of the CPU of send --count and listen --from.
	throughput bool
	// live is the most the command may keep at once (listen's memory budget for bodies);
	// with throughput, a soft memory limit of three times that, at least 48 MiB, unless
	// GOMEMLIMIT says otherwise, makes the collector run early rather than let a flood of
	// large bodies grow the heap fivefold.
	live int64
	// memoryLimit is a soft limit on the heap, unless GOMEMLIMIT says otherwise: validate's
	// duplicate check keeps a bounded table that grows in steps and drops its older half,
	// leaving old copies behind; the limit has the collector return them before the heap doubles.
	memoryLimit int64
}

// tuneProcess is the one place where commands change process-wide runtime settings. It
// returns a function that restores them.
func tuneProcess(getenv func(string) string, t processTuning) (restore func()) {
	var undo []func()
	if t.oneProc {
		prev := runtime.GOMAXPROCS(1)
		undo = append(undo, func() { runtime.GOMAXPROCS(prev) })
	}
	if t.memoryLimit > 0 && getenv("GOMEMLIMIT") == "" {
		prev := debug.SetMemoryLimit(t.memoryLimit)
		undo = append(undo, func() { debug.SetMemoryLimit(prev) })
	}
	if t.throughput && getenv("GOGC") == "" {
		prev := debug.SetGCPercent(400)
		undo = append(undo, func() { debug.SetGCPercent(prev) })
		if getenv("GOMEMLIMIT") == "" {
			prev := debug.SetMemoryLimit(max(48<<20, 3*t.live))
			undo = append(undo, func() { debug.SetMemoryLimit(prev) })
		}
	}
	return func() {
		for i := len(undo) - 1; i >= 0; i-- {
			undo[i]()
		}
	}
}

func isTerminal(f *os.File) bool {
	return isatty.IsTerminal(f.Fd()) || isatty.IsCygwinTerminal(f.Fd())
}
