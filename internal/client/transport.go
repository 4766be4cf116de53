package client

import (
	"context"
	"fmt"
	"net/url"
	"slices"
	"strings"

	"github.com/cectl/cectl/internal/binding"
)

// Transport describes one way events travel: the URL schemes that pick it and what it can
// do. Open, Subscribe, the schemes in help texts and the usage errors for what a transport
// cannot do all come from the table below; adding a transport is one file that defines its
// Transport and its Target, plus a line in transports.
type Transport struct {
	// Name is how messages name the transport ("HTTP", "Kafka").
	Name string
	// Schemes are the URL schemes that pick the transport, each with its default port.
	Schemes []Scheme
	// Form is the URL form, for help texts.
	Form string
	// Modes are the content modes the protocol binding defines, in the order of preference:
	// asked for another one, the transport sends the first (NATS has structured mode only,
	// nats binding §1.3); batch mode exists only where listed (http binding §3.3).
	Modes []binding.Mode
	// NoRequest, when set, is why the transport has no request/reply.
	NoRequest string
	// DryRun says whether the transport can show the message it would send (send --dry-run).
	DryRun bool
	// ListenReply says whether listen can answer a received event with a reply event.
	ListenReply bool
	// UntilEnd says whether a subscription can read what the broker keeps up to its end at
	// the start, and then end (SubscribeOptions.UntilEnd).
	UntilEnd bool

	open func(tr *Transport, raw string, u *url.URL, opts Options) (Target, error)
	// subscribe receives from the URL (see Subscribe); nil for a transport that cannot.
	subscribe func(ctx context.Context, tr *Transport, raw string, u *url.URL, so SubscribeOptions, handle func(context.Context, Delivery) error) error
}

// Scheme is a URL scheme and the port used when the URL gives none.
type Scheme struct {
	Name, DefaultPort string
}

// transports is the table of every transport, in the order help texts list them.
var transports = []*Transport{&httpTransport, &natsTransport, &jetStreamTransport, &kafkaTransport, &mqttTransport, &amqpTransport}

// Transports returns the table of transports. The entries are shared: read them, never
// change them.
func Transports() []*Transport { return slices.Clone(transports) }

// Lookup returns the transport of a URL scheme, nil for none. The entry is shared: read it,
// never change it.
func Lookup(scheme string) *Transport {
	for _, tr := range transports {
		for _, s := range tr.Schemes {
			if s.Name == scheme {
				return tr
			}
		}
	}
	return nil
}

// CanSubscribe says whether listen can receive over the transport.
func (tr *Transport) CanSubscribe() bool { return tr.subscribe != nil }

// defaultPort is the port of the scheme when the URL gives none.
func (tr *Transport) defaultPort(scheme string) string {
	for _, s := range tr.Schemes {
		if s.Name == scheme {
			return s.DefaultPort
		}
	}
	return tr.Schemes[0].DefaultPort
}

// Mode returns the content mode the transport uses when asked for m, or a *UsageError when
// its binding cannot carry m at all.
func (tr *Transport) Mode(m binding.Mode) (binding.Mode, error) {
	if slices.Contains(tr.Modes, m) {
		return m, nil
	}
	if m == binding.Batch {
		if len(tr.Modes) == 1 {
			return m, &UsageError{Err: fmt.Errorf("batch mode is not defined for %s; it carries one %s event per message", tr.Name, tr.Modes[0])}
		}
		return m, &UsageError{Err: fmt.Errorf("batch mode is not defined for %s; use %s", tr.Name, joinModes(tr.Modes))}
	}
	return tr.Modes[0], nil
}

func joinModes(ms []binding.Mode) string {
	s := make([]string, len(ms))
	for i, m := range ms {
		s[i] = m.String()
	}
	return strings.Join(s, " or ")
}

// CheckRequest returns a *UsageError when the transport has no request/reply, so that a
// command can refuse before sending anything.
func (tr *Transport) CheckRequest() error {
	if tr.NoRequest == "" {
		return nil
	}
	return &UsageError{Err: fmt.Errorf("request is not available over %s: %s", tr.Name, tr.NoRequest)}
}

// CheckDryRun returns a *UsageError when the transport cannot show what it would send.
func (tr *Transport) CheckDryRun() error {
	if tr.DryRun {
		return nil
	}
	return &UsageError{Err: fmt.Errorf("a dry run is not available over %s (only over %s)", tr.Name, SchemeList(func(t *Transport) bool { return t.DryRun }))}
}

// SchemeList lists the URL schemes of the transports that keep says, for help texts:
// "http(s)://, nats://, mqtt(s)://". nil keeps all.
func SchemeList(keep func(*Transport) bool) string {
	var out []string
	for _, tr := range transports {
		if keep != nil && !keep(tr) {
			continue
		}
		names := make([]string, 0, len(tr.Schemes))
		for _, s := range tr.Schemes {
			names = append(names, s.Name)
		}
		if len(names) == 2 && names[1] == names[0]+"s" {
			out = append(out, names[0]+"(s)://")
			continue
		}
		for _, n := range names {
			out = append(out, n+"://")
		}
	}
	return strings.Join(out, ", ")
}

// schemeNames lists the scheme names of the transports keep says, for usage errors:
// "http, https, nats or kafka".
func schemeNames(keep func(*Transport) bool) string {
	var names []string
	for _, tr := range transports {
		if keep != nil && !keep(tr) {
			continue
		}
		for _, s := range tr.Schemes {
			names = append(names, s.Name)
		}
	}
	if len(names) < 2 {
		return strings.Join(names, "")
	}
	return strings.Join(names[:len(names)-1], ", ") + " or " + names[len(names)-1]
}

// parseURL parses a target URL and finds its transport; keep limits the transports allowed.
func parseURL(raw string, keep func(*Transport) bool, verb string) (*url.URL, *Transport, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, nil, &UsageError{Err: fmt.Errorf("%q is not a URL: %w", raw, unwrapURLError(err))}
	}
	if u.Scheme == "" {
		return nil, nil, &UsageError{Err: fmt.Errorf("%q has no scheme (want %s)", raw, schemeNames(keep))}
	}
	tr := Lookup(u.Scheme)
	if tr == nil {
		return nil, nil, &UsageError{Err: fmt.Errorf("%q: unsupported scheme %q (want %s)", raw, u.Scheme, schemeNames(keep))}
	}
	if keep != nil && !keep(tr) {
		return nil, nil, &UsageError{Err: fmt.Errorf("%q: cannot %s over %q (want %s)", raw, verb, u.Scheme, schemeNames(keep))}
	}
	return u, tr, nil
}

// Open returns the Target for a URL; its scheme picks the transport (see the file of each
// transport for its URL form).
func Open(raw string, opts Options) (Target, error) {
	u, tr, err := parseURL(raw, nil, "send")
	if err != nil {
		return nil, err
	}
	return tr.open(tr, raw, u, opts)
}

// Subscribe receives events from a broker URL until ctx ends, calling handle for each message
// in turn, never concurrently. A message is acknowledged to the broker only after handle
// returns nil (or a *Rejected, which settles it as no CloudEvent); when handle returns another
// error Subscribe stops and returns it, and the message is left unacknowledged. Subscribe
// returns nil when ctx ends, and an error when the broker cannot be reached or the
// subscription breaks. URL forms are those of Open, with the options described there and in
// SubscribeOptions.
func Subscribe(ctx context.Context, raw string, so SubscribeOptions, handle func(ctx context.Context, d Delivery) error) error {
	u, tr, err := parseURL(raw, (*Transport).CanSubscribe, "subscribe")
	if err != nil {
		return err
	}
	if so.UntilEnd {
		if err := tr.checkUntilEnd(); err != nil {
			return err
		}
	}
	return tr.subscribe(ctx, tr, raw, u, so, handle)
}

func unwrapURLError(err error) error {
	if ue, ok := err.(*url.Error); ok {
		return ue.Err
	}
	return err
}
