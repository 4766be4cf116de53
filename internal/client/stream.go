package client

import (
	"bytes"
	"compress/gzip"
	"context"
	"io"

	"github.com/cectl/cectl/internal/binding"
	"github.com/cloudevents/sdk-go/v2/event"
)

// SendStream sends e, which carries d.StandIn() as its data, with d in its place (see
// binding.EncodeStream): data too large to hold in memory, read from its file as it is sent,
// again for each attempt. Headers and body are what Send would make for e with that data. With
// --gzip the body is compressed as it is read too; its length is then known only once it is
// sent, and it goes in chunks (RFC 9112 §7.1) rather than with a Content-Length.
func (t *httpTarget) SendStream(ctx context.Context, mode binding.Mode, e *event.Event, d *binding.StreamData) Result {
	msg, err := binding.EncodeStream(mode, e, d)
	if err != nil {
		return Result{Err: err}
	}
	h, size := msg.Header, msg.Size
	if t.c.opts.Gzip && size > 0 {
		h = gzipHeader(h)
		// net/http writes the chunked framing itself and leaves this header out of what it
		// sends (it is the request's TransferEncoding); it is here so that -v and the JSON
		// result show how the body went.
		h["Transfer-Encoding"] = []string{"chunked"}
		size = -1
	}
	header := requestHeader(h, t.c.opts.Header, t.c.opts.UserAgent)
	open := func() (io.ReadCloser, error) {
		data, err := d.Open()
		if err != nil {
			return nil, err
		}
		return newStreamBody(data, msg, size < 0), nil
	}
	return t.c.PostStream(ctx, t.raw, header, open, size)
}

// streamBody is the body of a StreamMessage made as it is read: the head, the data through
// its encoder, the tail, all through gzip when zipped. It holds one piece of the data and
// what that piece became.
type streamBody struct {
	data  io.ReadCloser
	msg   binding.StreamMessage
	out   bytes.Buffer   // made and not yet read
	w     io.Writer      // where the message's bytes go: out, or zw into out
	zw    *gzip.Writer   // nil unless zipped
	enc   io.WriteCloser // the data's encoder into w; nil: the data goes as it is
	piece []byte
	done  bool
	err   error
}

func newStreamBody(data io.ReadCloser, msg binding.StreamMessage, zip bool) *streamBody {
	b := &streamBody{data: data, msg: msg, piece: make([]byte, 64<<10)}
	b.w = &b.out
	if zip {
		b.zw = gzip.NewWriter(&b.out)
		b.w = b.zw
	}
	if msg.Encoder != nil {
		b.enc = msg.Encoder(b.w)
	}
	b.w.Write(msg.Head) // a bytes.Buffer, or gzip into one, does not fail
	return b
}

func (b *streamBody) Read(p []byte) (int, error) {
	for b.out.Len() == 0 && !b.done && b.err == nil {
		b.err = b.more()
	}
	if b.out.Len() > 0 {
		return b.out.Read(p)
	}
	if b.err != nil {
		return 0, b.err
	}
	return 0, io.EOF
}

// more reads a piece of the data and makes its part of the body; at the end of the data, the
// rest.
func (b *streamBody) more() error {
	n, err := b.data.Read(b.piece)
	if n > 0 {
		if b.enc != nil {
			_, _ = b.enc.Write(b.piece[:n]) // its writes go to out
		} else {
			_, _ = b.w.Write(b.piece[:n])
		}
	}
	if err == io.EOF {
		b.done = true
		if b.enc != nil {
			_ = b.enc.Close()
		}
		_, _ = b.w.Write(b.msg.Tail)
		if b.zw != nil {
			_ = b.zw.Close()
		}
		return nil
	}
	return err
}

func (b *streamBody) Close() error { return b.data.Close() }
