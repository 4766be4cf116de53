package cmd

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/cectl/cectl/internal/binding"
	"github.com/cectl/cectl/internal/client"
	"github.com/cectl/cectl/internal/eventspec"
	"github.com/cectl/cectl/internal/send"
	"github.com/cectl/cectl/internal/trace"
	"github.com/cloudevents/sdk-go/v2/event"
)

// streamFrom is the size from which --data @file is streamed rather than read into memory.
const streamFrom = 4 << 20

// dataStream is a --data @file sent as a stream: its event, which carries stand-in data of
// the data's form, and the data.
type dataStream struct {
	event *event.Event
	data  *binding.StreamData
	st    send.Streamer
}

// streamedData says whether the event of a plain send goes with its data streamed from its
// file, and prepares it: over HTTP, a file of at least streamFrom bytes, in binary mode (the
// body is the data as it is, http binding §3.1) or structured mode (§3.2: the data is the
// last member of the JSON event, in the form json-format §3.1 gives it — JSON, a string or
// data_base64 — written as it is read); gzipped or not; no dry run and no dead-letter file
// (which would need the data). Otherwise the data is read into memory as usual.
//
// What the event is does not depend on the file's size: its content type is the one the
// usual path infers (read from the file when neither --datacontenttype nor the extension
// says it), data declared JSON must be JSON (read once before sending, refused as the usual
// path refuses it), and the event is checked, traced and shown as the usual path does.
func streamedData(ctx context.Context, f *Factory, opts *SendOptions, t client.Target, mode binding.Mode, tc trace.Context, traced bool) (*dataStream, error) {
	spec := opts.Event.Spec
	st, ok := t.(send.Streamer)
	if !ok || (mode != binding.Binary && mode != binding.Structured) || opts.DryRun || opts.Stop.DeadLetter != "" ||
		spec.Given == nil || !spec.Given("data") || !strings.HasPrefix(spec.Data, "@") || spec.Data == "@-" {
		return nil, nil
	}
	name := spec.Data[1:]
	// Stat, not open: opening a FIFO to look at it would take its writer's connection, and
	// what it wrote would be lost when closed.
	fi, err := os.Stat(name)
	if err != nil || !fi.Mode().IsRegular() || fi.Size() < streamFrom {
		return nil, nil // the usual path reads it, or says what is wrong with it
	}
	open := func() (io.ReadCloser, error) {
		file, err := os.Open(name)
		if err != nil {
			return nil, err
		}
		return &ctxReader{ctx, file}, nil
	}
	// The attributes first, as Apply sets them before the data, so that a usage error comes
	// before the file is read; then the data as Apply sets it (eventspec.SetData), with
	// stand-in data of its form.
	given := spec.Given
	spec.Given = func(flag string) bool { return flag != "data" && flag != "datacontenttype" && given(flag) }
	spec.Data, spec.Payload = "", nil
	e, err := spec.Build(nil, time.Now())
	if err != nil {
		return nil, err
	}
	// Reading the file before sending takes a while for hundreds of megabytes: Ctrl-C ends it.
	ct, err := spec.StreamedContentType(name, open)
	if ctx.Err() != nil {
		return nil, context.Cause(ctx)
	}
	if err != nil {
		return nil, err
	}
	data, dataErrs, dataWarnings, err := binding.PrepareStream(mode, ct, open, fi.Size())
	if ctx.Err() != nil {
		return nil, context.Cause(ctx)
	}
	if err != nil {
		return nil, &FlagError{Err: fmt.Errorf("--data: %w", err)}
	}
	if err := eventspec.SetData(e, data.StandIn(), ct); err != nil {
		return nil, &FlagError{Err: fmt.Errorf("--data: %w", err)}
	}
	if traced {
		trace.SetOnEvent(e, tc)
	}
	// checkFlagEvent, with what the data rule found in the data (binding.Check finds it in
	// data held in memory: the error first, the warnings about the data last).
	errs, warnings := checkEvent(e)
	if err := reportFindings(f, append(dataErrs, errs...), append(warnings, dataWarnings...)); err != nil {
		return nil, err
	}
	if traced && !f.JSON() {
		showTrace(f, "sending in", e)
	}
	return &dataStream{event: e, data: data, st: st}, nil
}

// send sends the event with its streamed data, and exports its span when exp is set, as the
// usual path does.
func (ds *dataStream) send(ctx context.Context, opts *SendOptions, s *send.Session, exp *trace.Exporter, tc trace.Context) error {
	runCtx, cancel := opts.Stop.withDeadline(ctx)
	defer cancel()
	start := time.Now()
	if _, err := s.DeliverStream(runCtx, ds.st, ds.event, ds.data); err != nil {
		return err
	}
	if exp != nil {
		failure := ""
		if s.Summary.Failed() > 0 {
			failure = "not acknowledged"
		}
		exp.Export(deliverySpan(tc, trace.KindProducer, "send", ds.event, s.To, start, 0, failure))
	}
	if ctx.Err() != nil && s.Summary.Failed() > 0 {
		return context.Cause(ctx)
	}
	return summaryError(s.Summary)
}

// ctxReader reads a file until ctx is done.
type ctxReader struct {
	ctx  context.Context
	file *os.File
}

func (r *ctxReader) Read(p []byte) (int, error) {
	if err := r.ctx.Err(); err != nil {
		return 0, err
	}
	return r.file.Read(p)
}

func (r *ctxReader) Close() error { return r.file.Close() }
