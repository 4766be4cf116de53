package cmd

import (
	"context"
	"io"
	"os"
	"strings"
	"time"

	"github.com/cectl/cectl/internal/binding"
	"github.com/cectl/cectl/internal/ce"
	"github.com/cectl/cectl/internal/client"
	"github.com/cectl/cectl/internal/eventspec"
	"github.com/cectl/cectl/internal/send"
	"github.com/cloudevents/sdk-go/v2/event"
)

// streamFrom is the size from which --data @file is streamed in binary mode rather than read
// into memory.
const streamFrom = 4 << 20

// dataStream is a --data @file sent as a stream: its event (without the data) and its body.
type dataStream struct {
	event *event.Event
	open  func() (io.ReadCloser, error)
	size  int64
	st    send.Streamer
}

// streamedData says whether the event of a plain send goes with its data streamed from its
// file, and prepares it: over HTTP, a file of at least streamFrom bytes whose content type is
// known without reading it (--datacontenttype or its extension), in binary mode (the body is
// the data as it is, http binding §3.1) or, for 1.0 events whose content type is not text, in
// structured mode (the data goes as data_base64, json-format §3.1.1, whatever its bytes); no
// --gzip, no dry run and no dead-letter file (which would need the data). Otherwise the data
// is read into memory as usual.
func streamedData(f *Factory, opts *SendOptions, t client.Target, mode binding.Mode) (*dataStream, error) {
	spec := opts.Event.Spec
	st, ok := t.(send.Streamer)
	if !ok || (mode != binding.Binary && mode != binding.Structured) || opts.DryRun || opts.Delivery.Gzip || opts.Stop.DeadLetter != "" ||
		spec.Given == nil || !spec.Given("data") || !strings.HasPrefix(spec.Data, "@") || spec.Data == "@-" {
		return nil, nil
	}
	name := spec.Data[1:]
	fi, err := os.Stat(name)
	if err != nil || !fi.Mode().IsRegular() || fi.Size() < streamFrom {
		return nil, nil // the usual path reads it, or says what is wrong with it
	}
	ct := spec.DataContentType
	if !spec.Given("datacontenttype") {
		ct = eventspec.ContentTypeByExtension(name)
	}
	if ct == "" {
		return nil, nil // inferring it needs the data
	}
	if mode == binding.Structured && (ce.IsTextContentType(ct) || ce.IsJSONContentType(ct)) {
		// Text data goes as a JSON string or JSON, decided by reading it.
		return nil, nil
	}
	given := spec.Given
	spec.Given = func(flag string) bool {
		switch flag {
		case "data":
			return false
		case "datacontenttype":
			return true
		}
		return given(flag)
	}
	spec.Data, spec.DataContentType, spec.Payload = "", ct, nil
	e, err := spec.Build(nil, time.Now())
	if err != nil {
		return nil, err
	}
	if mode == binding.Structured && e.SpecVersion() != ce.V1 {
		return nil, nil // 0.3 has no data_base64
	}
	if err := checkFlagEvent(f, e); err != nil {
		return nil, err
	}
	open := func() (io.ReadCloser, error) { return os.Open(name) }
	return &dataStream{event: e, open: open, size: fi.Size(), st: st}, nil
}

// deliver sends the event with its streamed data.
func (ds *dataStream) deliver(ctx context.Context, s *send.Session) error {
	_, err := s.DeliverStream(ctx, ds.st, ds.event, ds.open, ds.size)
	return err
}
