package client

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
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
		return newStreamBody(data, msg, d.Size, size < 0), nil
	}
	return t.c.PostStream(ctx, t.raw, header, open, size)
}

// streamBody is the body of a StreamMessage made as it is read: the head, the data through
// its encoder, the tail, all through gzip when zipped. It holds one piece of the data and
// what that piece became.
//
// The data is the size it had when it was measured, or the body fails: a file that grew or
// shrank since (or whose JSON takes more or less room) would make a body that disagrees with
// its Content-Length, or with gzip a whole body of other data. The piece that shows it is
// not let out, and nothing is let out before the data is known to end where it should: the
// server sees a body cut short, never one that looks whole.
type streamBody struct {
	data  io.ReadCloser
	msg   binding.StreamMessage
	size  int64          // the data's length as it was measured
	read  int64          // how much of the data was read
	made  int64          // how many bytes of the message were made (before gzip)
	out   bytes.Buffer   // made and not yet read
	w     io.Writer      // where the message's bytes go, counted: out, or zw into out
	zw    *gzip.Writer   // nil unless zipped
	enc   io.WriteCloser // the data's encoder into w; nil: the data goes as it is
	piece []byte
	done  bool
	err   error
}

func newStreamBody(data io.ReadCloser, msg binding.StreamMessage, size int64, zip bool) *streamBody {
	b := &streamBody{data: data, msg: msg, size: size, piece: make([]byte, 64<<10)}
	var w io.Writer = &b.out
	if zip {
		b.zw = gzip.NewWriter(&b.out)
		w = b.zw
	}
	b.w = &madeCounter{w, &b.made}
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
	if b.err != nil {
		b.out.Reset() // what the failing piece made does not go
		return 0, b.err
	}
	if b.out.Len() > 0 {
		return b.out.Read(p)
	}
	return 0, io.EOF
}

// more reads a piece of the data and makes its part of the body; at the end of the data, the
// rest.
func (b *streamBody) more() error {
	n, err := b.data.Read(b.piece)
	b.read += int64(n)
	switch {
	case b.read > b.size:
		return b.changed()
	case b.read == b.size && err == nil:
		// The last of the data, so far as its size says: it goes only once the data is
		// known to end here.
		var probe [1]byte
		var m int
		for m == 0 && err == nil {
			m, err = b.data.Read(probe[:])
		}
		if m > 0 {
			return b.changed()
		}
	case err == io.EOF && b.read < b.size:
		return b.changed()
	}
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
		if b.made != b.msg.Size {
			return b.changed()
		}
		if b.zw != nil {
			_ = b.zw.Close()
		}
		return nil
	}
	if b.made > b.msg.Size {
		return b.changed()
	}
	return err
}

func (b *streamBody) changed() error {
	return fmt.Errorf("the data changed while it was sent (it was %d bytes when it was checked): the body was cut short, not sent whole", b.size)
}

func (b *streamBody) Close() error { return b.data.Close() }

// madeCounter counts the bytes written through it in n.
type madeCounter struct {
	w io.Writer
	n *int64
}

func (c *madeCounter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	*c.n += int64(n)
	return n, err
}
