package client

// A fake AMQP 1.0 broker for the tests, so that the AMQP tests run on a machine without a
// real one. It speaks just enough of the protocol for go-amqp: SASL ANONYMOUS and PLAIN
// (any credentials pass), connections with their sessions and links, and a FIFO queue per
// address, created on first use. Messages are kept as the bytes of their sections, never
// parsed. A message sent to the broker is accepted and settled at once; one delivered stays
// the broker's until the client settles it (receiver settle mode first or second, amqp 1.0
// §2.8.2), and goes back to the front of its queue when its link, session or connection ends
// first. A receiving link may ask for a dynamic node (amqp 1.0 §3.5.3): the broker names it
// and deletes it when the link ends. It does not do TLS (a test puts a proxy in front),
// transactions, filters, link recovery, session flow control beyond announcing large
// windows, or anything durable.

import (
	"bufio"
	"cmp"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/Azure/go-amqp"
)

// startAMQP starts a fake broker on a free loopback port, stopped when t ends, and returns
// its base URL.
func startAMQP(t *testing.T) string {
	t.Helper()
	b, err := newAMQPBroker("127.0.0.1:0")
	if err != nil {
		t.Fatalf("amqp broker: %v", err)
	}
	t.Cleanup(b.close)
	return "amqp://" + b.ln.Addr().String()
}

// Descriptor codes of the performatives and types the broker handles (amqp 1.0 §2.7, §3.4,
// §3.5, §5.3.3).
const (
	amqpOpen        = 0x10
	amqpBegin       = 0x11
	amqpAttach      = 0x12
	amqpFlow        = 0x13
	amqpTransfer    = 0x14
	amqpDisposition = 0x15
	amqpDetach      = 0x16
	amqpEnd         = 0x17
	amqpClose       = 0x18
	amqpAccepted    = 0x24
	amqpRejected    = 0x25
	amqpReleased    = 0x26
	amqpModified    = 0x27
	amqpSourceCode  = 0x28
	amqpTargetCode  = 0x29
	saslMechanisms  = 0x40
	saslInit        = 0x41
	saslOutcome     = 0x44
)

const (
	amqpMaxFrame    = 65536   // the max-frame-size the broker announces
	amqpWindow      = 1 << 30 // session windows announced, never exhausted in a test
	amqpSenderGrant = 10000   // link credit given to a client's sending link
)

// Values of the AMQP type system (amqp 1.0 §1.6) that Go types do not tell apart.
type (
	amqpSymbol  string
	amqpSymbols []amqpSymbol // an array of symbols
	amqpMap     []any        // a map as its keys and values in turn
	amqpRaw     []byte       // an encoded value, written as it is
)

// amqpDescribed is a described value (amqp 1.0 §1.2); raw holds its encoding when decoded.
type amqpDescribed struct {
	code  uint64
	value any
	raw   []byte
}

func (d *amqpDescribed) field(i int) any {
	if l, ok := d.value.([]any); ok && i < len(l) {
		return l[i]
	}
	return nil
}

// amqpAppend encodes v (amqp 1.0 §1.6) after b.
func amqpAppend(b []byte, v any) []byte {
	switch v := v.(type) {
	case nil:
		return append(b, 0x40)
	case bool:
		if v {
			return append(b, 0x41)
		}
		return append(b, 0x42)
	case uint8:
		return append(b, 0x50, v)
	case uint16:
		return binary.BigEndian.AppendUint16(append(b, 0x60), v)
	case uint32:
		switch {
		case v == 0:
			return append(b, 0x43)
		case v < 256:
			return append(b, 0x52, byte(v))
		}
		return binary.BigEndian.AppendUint32(append(b, 0x70), v)
	case uint64:
		switch {
		case v == 0:
			return append(b, 0x44)
		case v < 256:
			return append(b, 0x53, byte(v))
		}
		return binary.BigEndian.AppendUint64(append(b, 0x80), v)
	case string:
		return amqpAppendVariable(b, 0xa1, []byte(v))
	case amqpSymbol:
		return amqpAppendVariable(b, 0xa3, []byte(v))
	case []byte:
		return amqpAppendVariable(b, 0xa0, v)
	case amqpRaw:
		return append(b, v...)
	case []any:
		if len(v) == 0 {
			return append(b, 0x45)
		}
		return amqpAppendCompound(b, 0xc0, v)
	case amqpMap:
		return amqpAppendCompound(b, 0xc1, v)
	case amqpSymbols:
		var body []byte
		for _, s := range v {
			body = binary.BigEndian.AppendUint32(body, uint32(len(s)))
			body = append(body, s...)
		}
		b = binary.BigEndian.AppendUint32(append(b, 0xf0), uint32(4+1+len(body)))
		b = binary.BigEndian.AppendUint32(b, uint32(len(v)))
		return append(append(b, 0xb3), body...)
	case *amqpDescribed:
		return amqpAppend(amqpAppend(append(b, 0x00), v.code), v.value)
	}
	panic(fmt.Sprintf("amqp broker: cannot encode %T", v))
}

// amqpAppendVariable encodes a binary, string or symbol: code is its one-byte-size form.
func amqpAppendVariable(b []byte, code byte, v []byte) []byte {
	if len(v) < 256 {
		return append(append(b, code, byte(len(v))), v...)
	}
	return append(binary.BigEndian.AppendUint32(append(b, code+0x10), uint32(len(v))), v...)
}

// amqpAppendCompound encodes a list or map: code is its one-byte-size form.
func amqpAppendCompound(b []byte, code byte, items []any) []byte {
	var body []byte
	for _, it := range items {
		body = amqpAppend(body, it)
	}
	if len(body)+1 < 256 && len(items) < 256 {
		return append(append(b, code, byte(len(body)+1), byte(len(items))), body...)
	}
	b = binary.BigEndian.AppendUint32(append(b, code+0x10), uint32(len(body)+4))
	return append(binary.BigEndian.AppendUint32(b, uint32(len(items))), body...)
}

// amqpPerformative is a described list with its trailing null fields left out (amqp 1.0
// §1.4).
func amqpPerformative(code uint64, fields ...any) *amqpDescribed {
	for len(fields) > 0 && fields[len(fields)-1] == nil {
		fields = fields[:len(fields)-1]
	}
	return &amqpDescribed{code: code, value: fields}
}

// amqpDecoder reads encoded values (amqp 1.0 §1.6) from b.
type amqpDecoder struct {
	b   []byte
	off int
}

var errAMQPShort = errors.New("amqp broker: value runs past its frame")

func (d *amqpDecoder) next(n int) ([]byte, error) {
	if n < 0 || len(d.b)-d.off < n {
		return nil, errAMQPShort
	}
	p := d.b[d.off : d.off+n]
	d.off += n
	return p, nil
}

func (d *amqpDecoder) value() (any, error) {
	start := d.off
	c, err := d.next(1)
	if err != nil {
		return nil, err
	}
	if c[0] != 0x00 {
		return d.body(c[0])
	}
	desc, err := d.value()
	if err != nil {
		return nil, err
	}
	v, err := d.value()
	if err != nil {
		return nil, err
	}
	code, _ := amqpUint(desc) // a symbolic descriptor stays 0: no handler knows it
	return &amqpDescribed{code: code, value: v, raw: d.b[start:d.off]}, nil
}

// body decodes a value of constructor code; the high nibble of a code gives its width
// (amqp 1.0 §1.2).
func (d *amqpDecoder) body(code byte) (any, error) {
	var p []byte
	var err error
	switch code >> 4 {
	case 0x4:
	case 0x5:
		p, err = d.next(1)
	case 0x6:
		p, err = d.next(2)
	case 0x7:
		p, err = d.next(4)
	case 0x8:
		p, err = d.next(8)
	case 0x9:
		p, err = d.next(16)
	case 0xa, 0xc, 0xe:
		if p, err = d.next(1); err == nil {
			p, err = d.next(int(p[0]))
		}
	case 0xb, 0xd, 0xf:
		if p, err = d.next(4); err == nil {
			n := binary.BigEndian.Uint32(p)
			if n > math.MaxInt32 {
				return nil, errAMQPShort
			}
			p, err = d.next(int(n))
		}
	default:
		return nil, fmt.Errorf("amqp broker: unknown constructor %#x", code)
	}
	if err != nil {
		return nil, err
	}
	switch code {
	case 0x40:
		return nil, nil
	case 0x41:
		return true, nil
	case 0x42:
		return false, nil
	case 0x56:
		return p[0] != 0, nil
	case 0x50:
		return p[0], nil
	case 0x60:
		return binary.BigEndian.Uint16(p), nil
	case 0x43:
		return uint32(0), nil
	case 0x52:
		return uint32(p[0]), nil
	case 0x70:
		return binary.BigEndian.Uint32(p), nil
	case 0x44:
		return uint64(0), nil
	case 0x53:
		return uint64(p[0]), nil
	case 0x80:
		return binary.BigEndian.Uint64(p), nil
	case 0x51:
		return int8(p[0]), nil
	case 0x61:
		return int16(binary.BigEndian.Uint16(p)), nil
	case 0x54:
		return int32(int8(p[0])), nil
	case 0x71:
		return int32(binary.BigEndian.Uint32(p)), nil
	case 0x55:
		return int64(int8(p[0])), nil
	case 0x81:
		return int64(binary.BigEndian.Uint64(p)), nil
	case 0x83: // timestamp: ms since the epoch
		return time.UnixMilli(int64(binary.BigEndian.Uint64(p))), nil
	case 0x98: // uuid
		var u [16]byte
		copy(u[:], p)
		return u, nil
	case 0xa0, 0xb0:
		return slices.Clone(p), nil
	case 0xa1, 0xb1:
		return string(p), nil
	case 0xa3, 0xb3:
		return amqpSymbol(p), nil
	case 0x45:
		return []any{}, nil
	case 0xc0, 0xd0, 0xc1, 0xd1:
		items, err := amqpDecodeItems(p, code >= 0xd0, false)
		if err != nil {
			return nil, err
		}
		if code&0x0f == 1 {
			return amqpMap(items), nil
		}
		return items, nil
	case 0xe0, 0xf0:
		return amqpDecodeItems(p, code == 0xf0, true)
	}
	// Floats, chars and decimals: no performative field the broker reads has one.
	return slices.Clone(p), nil
}

// amqpDecodeItems decodes the count and items of a list, map or array body (amqp 1.0
// §1.6.22-1.6.24); the items of an array share one constructor, written once.
func amqpDecodeItems(p []byte, wide, array bool) ([]any, error) {
	d := &amqpDecoder{b: p}
	var count int
	if wide {
		c, err := d.next(4)
		if err != nil {
			return nil, err
		}
		count = int(binary.BigEndian.Uint32(c))
	} else {
		c, err := d.next(1)
		if err != nil {
			return nil, err
		}
		count = int(c[0])
	}
	if count > len(p) {
		return nil, errAMQPShort
	}
	var code byte
	if array && count > 0 {
		c, err := d.next(1)
		if err != nil {
			return nil, err
		}
		code = c[0]
		if code == 0x00 { // described items: skip the descriptor, keep the values
			if _, err := d.value(); err != nil {
				return nil, err
			}
			if c, err = d.next(1); err != nil {
				return nil, err
			}
			code = c[0]
		}
	}
	items := make([]any, 0, count)
	for range count {
		var v any
		var err error
		if array {
			v, err = d.body(code)
		} else {
			v, err = d.value()
		}
		if err != nil {
			return nil, err
		}
		items = append(items, v)
	}
	return items, nil
}

func amqpUint(v any) (uint64, bool) {
	switch v := v.(type) {
	case uint8:
		return uint64(v), true
	case uint16:
		return uint64(v), true
	case uint32:
		return uint64(v), true
	case uint64:
		return v, true
	}
	return 0, false
}

func amqpUint32(v any, def uint32) uint32 {
	if n, ok := amqpUint(v); ok {
		return uint32(n)
	}
	return def
}

func amqpBool(v any) bool { b, _ := v.(bool); return b }

// amqpAddress is the address of a source or target (amqp 1.0 §3.5.3, §3.5.4).
func amqpAddress(v any) string {
	if d, ok := v.(*amqpDescribed); ok {
		switch a := d.field(0).(type) {
		case string:
			return a
		case amqpSymbol:
			return string(a)
		}
	}
	return ""
}

// amqpEcho is a decoded described value as it came, or null.
func amqpEcho(v any) any {
	if d, ok := v.(*amqpDescribed); ok {
		return amqpRaw(d.raw)
	}
	return nil
}

// amqpBroker is the fake broker: its listener, its connections and its queues. mu guards
// every queue, session and link.
type amqpBroker struct {
	ln     net.Listener
	wg     sync.WaitGroup
	mu     sync.Mutex
	closed bool
	conns  map[*amqpConn]struct{}
	queues map[string]*amqpQueue
	seq    uint64 // order of arrival of the messages
	nodes  int    // dynamic nodes created
	// maxSizes are the max-message-size of the receiving links attached (0: none asked).
	maxSizes []uint64
}

// amqpQueue holds an address's messages not yet delivered, in order, and the links that
// deliver from it.
type amqpQueue struct {
	ready     []*amqpMessage
	consumers []*amqpLink
	turn      int // round robin among consumers
}

// amqpMessage is a message's sections as the client sent them.
type amqpMessage struct {
	seq  uint64
	data []byte
}

// amqpConn is one client connection (amqp 1.0 §2.4): a reader that handles frames and a
// writer that sends what is queued in out, so that handling never waits on the network.
type amqpConn struct {
	b         *amqpBroker
	nc        net.Conn
	peerFrame uint32 // the client's max-frame-size
	sessions  map[uint16]*amqpSession

	outMu   sync.Mutex
	out     [][]byte
	closing bool // the writer closes the connection once out is sent
	wake    chan struct{}
}

// amqpSession is a session (amqp 1.0 §2.5); the broker uses the client's channel and link
// handles as its own.
type amqpSession struct {
	c              *amqpConn
	ch             uint16
	nextIncomingID uint32
	nextOutgoingID uint32
	nextDelivery   uint32
	links          map[uint32]*amqpLink
	unsettled      map[uint32]*amqpUnsettled // deliveries sent, by delivery-id
}

// amqpLink is a link (amqp 1.0 §2.6): out when the broker sends (the client receives).
type amqpLink struct {
	s             *amqpSession
	handle        uint32
	q             *amqpQueue
	out           bool
	settled       bool   // the client asked for snd-settle-mode settled
	credit        uint32 // link credit (amqp 1.0 §2.6.7)
	deliveryCount uint32
	tag           uint64
	dynamic       string // the address of the dynamic node the link created, deleted with it

	// a transfer in several frames (more), from the client
	partial   []byte
	inPartial bool
	pSettled  bool
	pID       uint32
}

// amqpUnsettled is a message delivered and not yet settled by the client.
type amqpUnsettled struct {
	l *amqpLink
	m *amqpMessage
}

func newAMQPBroker(addr string) (*amqpBroker, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	b := &amqpBroker{ln: ln, conns: map[*amqpConn]struct{}{}, queues: map[string]*amqpQueue{}}
	b.wg.Add(1)
	go b.accept()
	return b, nil
}

func (b *amqpBroker) accept() {
	defer b.wg.Done()
	for {
		nc, err := b.ln.Accept()
		if err != nil {
			return
		}
		c := &amqpConn{b: b, nc: nc, sessions: map[uint16]*amqpSession{}, wake: make(chan struct{}, 1)}
		b.mu.Lock()
		if b.closed {
			b.mu.Unlock()
			nc.Close()
			return
		}
		b.conns[c] = struct{}{}
		b.wg.Add(1)
		b.mu.Unlock()
		go c.serve()
	}
}

// close stops the listener and every connection, and waits for their goroutines.
func (b *amqpBroker) close() {
	b.ln.Close()
	b.mu.Lock()
	b.closed = true
	for c := range b.conns {
		c.nc.Close()
	}
	b.mu.Unlock()
	b.wg.Wait()
}

func (b *amqpBroker) queue(addr string) *amqpQueue {
	q := b.queues[addr]
	if q == nil {
		q = &amqpQueue{}
		b.queues[addr] = q
	}
	return q
}

// amqpFrame is a frame (amqp 1.0 §2.3): its performative and the payload after it.
type amqpFrame struct {
	typ     byte
	ch      uint16
	perf    *amqpDescribed
	payload []byte
}

var errAMQPClosed = errors.New("amqp broker: connection closed by the client")

// serve runs a connection: protocol headers and SASL (amqp 1.0 §2.2, §5.3), open, then
// frames until the client closes or goes away.
func (c *amqpConn) serve() {
	defer c.b.wg.Done()
	defer func() {
		c.b.mu.Lock()
		for _, s := range c.sessions {
			s.end()
		}
		c.sessions = nil
		delete(c.b.conns, c)
		c.b.mu.Unlock()
		c.outMu.Lock()
		c.closing = true
		c.outMu.Unlock()
		c.signal()
	}()
	r := bufio.NewReader(c.nc)
	_ = c.nc.SetDeadline(time.Now().Add(10 * time.Second))
	idle, err := c.handshake(r)
	if err != nil {
		c.nc.Close()
		return
	}
	_ = c.nc.SetDeadline(time.Time{})
	c.b.wg.Add(1)
	go c.write(idle)
	for {
		fr, err := c.readFrame(r)
		if err != nil {
			return
		}
		if fr.perf == nil { // keepalive
			continue
		}
		c.b.mu.Lock()
		err = c.handle(fr)
		c.b.mu.Unlock()
		if err != nil {
			return
		}
	}
}

// handshake exchanges the protocol headers, SASL when the client starts with it, and open
// (amqp 1.0 §2.4.1). It returns the client's idle-time-out.
func (c *amqpConn) handshake(r *bufio.Reader) (time.Duration, error) {
	hdr := make([]byte, 8)
	for sasl := true; ; sasl = false {
		if _, err := io.ReadFull(r, hdr); err != nil {
			return 0, err
		}
		if string(hdr[:4]) != "AMQP" || hdr[5] != 1 || hdr[6] != 0 || hdr[7] != 0 || (hdr[4] != 0 && (hdr[4] != 3 || !sasl)) {
			_, _ = c.nc.Write([]byte{'A', 'M', 'Q', 'P', 0, 1, 0, 0})
			return 0, fmt.Errorf("amqp broker: protocol header %q", hdr)
		}
		if _, err := c.nc.Write(hdr); err != nil {
			return 0, err
		}
		if hdr[4] == 0 {
			break
		}
		// amqp 1.0 §5.3.2: mechanisms, init, outcome.
		mechs := amqpPerformative(saslMechanisms, amqpSymbols{"ANONYMOUS", "PLAIN"})
		if _, err := c.nc.Write(amqpFrameBytes(1, 0, mechs, nil)); err != nil {
			return 0, err
		}
		fr, err := c.readFrame(r)
		if err != nil {
			return 0, err
		}
		if fr.typ != 1 || fr.perf == nil || fr.perf.code != saslInit {
			return 0, errors.New("amqp broker: no sasl-init")
		}
		if _, err := c.nc.Write(amqpFrameBytes(1, 0, amqpPerformative(saslOutcome, uint8(0)), nil)); err != nil {
			return 0, err
		}
	}
	fr, err := c.readFrame(r)
	if err != nil {
		return 0, err
	}
	if fr.perf == nil || fr.perf.code != amqpOpen {
		return 0, errors.New("amqp broker: no open")
	}
	c.peerFrame = amqpUint32(fr.perf.field(2), math.MaxUint32)
	idle := time.Duration(amqpUint32(fr.perf.field(4), 0)) * time.Millisecond
	open := amqpPerformative(amqpOpen, "cectl-test-broker", nil, uint32(amqpMaxFrame))
	_, err = c.nc.Write(amqpFrameBytes(0, 0, open, nil))
	return idle, err
}

// readFrame reads one frame; a frame without body (a keepalive) has no performative.
func (c *amqpConn) readFrame(r *bufio.Reader) (amqpFrame, error) {
	var h [8]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return amqpFrame{}, err
	}
	size, doff := binary.BigEndian.Uint32(h[:4]), int(h[4])*4
	if size < 8 || doff < 8 || int64(doff) > int64(size) || size > 64<<20 {
		return amqpFrame{}, fmt.Errorf("amqp broker: frame size %d, data offset %d", size, doff)
	}
	buf := make([]byte, size-8)
	if _, err := io.ReadFull(r, buf); err != nil {
		return amqpFrame{}, err
	}
	fr := amqpFrame{typ: h[5], ch: binary.BigEndian.Uint16(h[6:8])}
	body := buf[doff-8:]
	if len(body) == 0 {
		return fr, nil
	}
	d := &amqpDecoder{b: body}
	v, err := d.value()
	if err != nil {
		return fr, err
	}
	perf, ok := v.(*amqpDescribed)
	if !ok {
		return fr, fmt.Errorf("amqp broker: frame body %T is no performative", v)
	}
	fr.perf, fr.payload = perf, body[d.off:]
	return fr, nil
}

func amqpFrameBytes(typ byte, ch uint16, perf *amqpDescribed, payload []byte) []byte {
	b := []byte{0, 0, 0, 0, 2, typ, byte(ch >> 8), byte(ch)}
	b = append(amqpAppend(b, perf), payload...)
	binary.BigEndian.PutUint32(b, uint32(len(b)))
	return b
}

// send queues a frame for the writer.
func (c *amqpConn) send(ch uint16, perf *amqpDescribed, payload []byte) {
	c.outMu.Lock()
	c.out = append(c.out, amqpFrameBytes(0, ch, perf, payload))
	c.outMu.Unlock()
	c.signal()
}

func (c *amqpConn) signal() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// write sends the queued frames, and an empty frame within the client's idle-time-out
// (amqp 1.0 §2.4.5), until the reader is done; then it closes the connection.
func (c *amqpConn) write(idle time.Duration) {
	defer c.b.wg.Done()
	defer c.nc.Close()
	var keepalive <-chan time.Time
	if idle > 0 {
		tk := time.NewTicker(idle / 2)
		defer tk.Stop()
		keepalive = tk.C
	}
	for {
		c.outMu.Lock()
		out, closing := c.out, c.closing
		c.out = nil
		c.outMu.Unlock()
		for _, f := range out {
			_ = c.nc.SetWriteDeadline(time.Now().Add(10 * time.Second))
			if _, err := c.nc.Write(f); err != nil {
				return
			}
		}
		if len(out) > 0 {
			continue
		}
		if closing {
			return
		}
		select {
		case <-c.wake:
		case <-keepalive:
			c.outMu.Lock()
			c.out = append(c.out, []byte{0, 0, 0, 8, 2, 0, 0, 0})
			c.outMu.Unlock()
		}
	}
}

// handle acts on one frame; an error ends the connection.
func (c *amqpConn) handle(fr amqpFrame) error {
	p := fr.perf
	if fr.typ != 0 {
		return errors.New("amqp broker: sasl frame after open")
	}
	s := c.sessions[fr.ch]
	switch p.code {
	case amqpBegin: // amqp 1.0 §2.7.2
		if s != nil {
			return fmt.Errorf("amqp broker: channel %d begun twice", fr.ch)
		}
		c.sessions[fr.ch] = &amqpSession{c: c, ch: fr.ch, nextIncomingID: amqpUint32(p.field(1), 0),
			links: map[uint32]*amqpLink{}, unsettled: map[uint32]*amqpUnsettled{}}
		c.send(fr.ch, amqpPerformative(amqpBegin, fr.ch, uint32(0), uint32(amqpWindow), uint32(amqpWindow)), nil)
		return nil
	case amqpClose: // amqp 1.0 §2.7.9
		for _, s := range c.sessions {
			s.end()
		}
		c.sessions = map[uint16]*amqpSession{}
		c.send(0, amqpPerformative(amqpClose), nil)
		return errAMQPClosed
	}
	if s == nil {
		return fmt.Errorf("amqp broker: %#x on channel %d, which has no session", p.code, fr.ch)
	}
	switch p.code {
	case amqpAttach:
		return s.attach(p)
	case amqpFlow:
		s.flow(p)
	case amqpTransfer:
		s.transfer(p, fr.payload)
	case amqpDisposition:
		s.disposition(p)
	case amqpDetach: // amqp 1.0 §2.7.7
		h := amqpUint32(p.field(0), 0)
		if l := s.links[h]; l != nil {
			l.detach()
		}
		c.send(s.ch, amqpPerformative(amqpDetach, h, amqpBool(p.field(1))), nil)
	case amqpEnd: // amqp 1.0 §2.7.8
		s.end()
		delete(c.sessions, s.ch)
		c.send(s.ch, amqpPerformative(amqpEnd), nil)
	}
	return nil
}

// attach answers the client's attach (amqp 1.0 §2.7.3) with the other role and the same
// settle modes. A client's sending link gets credit at once.
func (s *amqpSession) attach(p *amqpDescribed) error {
	name, h, clientReceives := p.field(0), amqpUint32(p.field(1), 0), amqpBool(p.field(2))
	if _, ok := s.links[h]; ok {
		return fmt.Errorf("amqp broker: handle %d attached twice", h)
	}
	sndMode, rcvMode := p.field(3), p.field(4)
	l := &amqpLink{s: s, handle: h, out: clientReceives}
	s.links[h] = l
	if clientReceives {
		max, _ := amqpUint(p.field(10))
		s.c.b.maxSizes = append(s.c.b.maxSizes, max)
		addr := amqpAddress(p.field(5))
		if src, ok := p.field(5).(*amqpDescribed); ok && amqpBool(src.field(4)) {
			s.c.b.nodes++
			addr = fmt.Sprintf("dynamic-%d", s.c.b.nodes)
			l.dynamic = addr
		}
		l.q = s.c.b.queue(addr)
		l.settled = amqpUint32(sndMode, 2) == 1
		source := amqpPerformative(amqpSourceCode, addr)
		s.c.send(s.ch, amqpPerformative(amqpAttach, name, h, false, sndMode, rcvMode, source, amqpEcho(p.field(6)),
			nil, nil, uint32(0)), nil)
		l.q.consumers = append(l.q.consumers, l)
		return nil
	}
	addr := amqpAddress(p.field(6))
	l.q = s.c.b.queue(addr)
	l.deliveryCount = amqpUint32(p.field(9), 0)
	target := amqpPerformative(amqpTargetCode, addr)
	s.c.send(s.ch, amqpPerformative(amqpAttach, name, h, true, sndMode, rcvMode, amqpEcho(p.field(5)), target), nil)
	l.credit = amqpSenderGrant
	s.sendFlow(l, false, false)
	return nil
}

// sendFlow sends the session's and l's flow state (amqp 1.0 §2.7.4).
func (s *amqpSession) sendFlow(l *amqpLink, drain, echo bool) {
	var avail any
	if l.out {
		avail = uint32(len(l.q.ready))
	}
	s.c.send(s.ch, amqpPerformative(amqpFlow, s.nextIncomingID, uint32(amqpWindow), s.nextOutgoingID, uint32(amqpWindow),
		l.handle, l.deliveryCount, l.credit, avail, drain, echo), nil)
}

// flow takes the client's credit for a link the broker sends on (amqp 1.0 §2.6.7) and
// delivers what it allows.
func (s *amqpSession) flow(p *amqpDescribed) {
	hv := p.field(4)
	if hv == nil {
		return // session flow: the broker's windows do not run out
	}
	l := s.links[amqpUint32(hv, 0)]
	if l == nil {
		return
	}
	drain, echo := amqpBool(p.field(8)), amqpBool(p.field(9))
	if !l.out {
		if echo {
			s.sendFlow(l, false, false)
		}
		return
	}
	// link-credit(snd) := delivery-count(rcv) + link-credit(rcv) - delivery-count(snd)
	dc := amqpUint32(p.field(5), 0)
	credit := int64(dc) + int64(amqpUint32(p.field(6), 0)) - int64(l.deliveryCount)
	l.credit = uint32(max(0, min(credit, math.MaxUint32)))
	l.q.dispatch()
	if drain && l.credit > 0 {
		l.deliveryCount += l.credit
		l.credit = 0
		s.sendFlow(l, true, false)
	} else if echo {
		s.sendFlow(l, drain, false)
	}
}

// transfer takes a message from the client (amqp 1.0 §2.7.5), in one frame or several,
// queues it and settles it as accepted.
func (s *amqpSession) transfer(p *amqpDescribed, payload []byte) {
	s.nextIncomingID++
	l := s.links[amqpUint32(p.field(0), 0)]
	if l == nil || l.out {
		return
	}
	if !l.inPartial {
		l.inPartial, l.pID, l.pSettled, l.partial = true, amqpUint32(p.field(1), 0), false, nil
	}
	l.partial = append(l.partial, payload...)
	l.pSettled = l.pSettled || amqpBool(p.field(4))
	if amqpBool(p.field(5)) { // more
		return
	}
	data, id, settled := l.partial, l.pID, l.pSettled
	l.inPartial, l.partial = false, nil
	if amqpBool(p.field(8)) { // aborted
		return
	}
	b := s.c.b
	b.seq++
	l.q.ready = append(l.q.ready, &amqpMessage{seq: b.seq, data: data})
	l.deliveryCount++
	if l.credit > 0 {
		l.credit--
	}
	if !settled {
		s.c.send(s.ch, amqpPerformative(amqpDisposition, true, id, nil, true, amqpPerformative(amqpAccepted)), nil)
	}
	if l.credit < amqpSenderGrant/2 {
		l.credit = amqpSenderGrant
		s.sendFlow(l, false, false)
	}
	l.q.dispatch()
}

// disposition takes the client's outcome for deliveries (amqp 1.0 §2.7.6, §3.4): accepted
// or rejected ends a message, released or modified puts it back. An unsettled outcome (mode
// second) is confirmed with the broker's settlement in the same state.
func (s *amqpSession) disposition(p *amqpDescribed) {
	if !amqpBool(p.field(0)) {
		return // from a sending client: the broker settles what it receives at once
	}
	first := amqpUint32(p.field(1), 0)
	last := amqpUint32(p.field(2), first)
	settled := amqpBool(p.field(3))
	var code uint64
	if st, ok := p.field(4).(*amqpDescribed); ok {
		code = st.code
	}
	var final, back bool
	switch code {
	case amqpAccepted, amqpRejected:
		final = true
	case amqpReleased, amqpModified:
		final, back = true, true
	default:
		final = settled
	}
	if final {
		queues := map[*amqpQueue]bool{}
		for id, d := range s.unsettled {
			if id-first <= last-first { // within first..last, in serial number arithmetic
				delete(s.unsettled, id)
				if back {
					d.l.q.requeue(d.m)
					queues[d.l.q] = true
				}
			}
		}
		for q := range queues {
			q.dispatch()
		}
	}
	if !settled && final {
		s.c.send(s.ch, amqpPerformative(amqpDisposition, false, first, last, true, amqpEcho(p.field(4))), nil)
	}
}

// dispatch delivers ready messages in order to the consumers that have credit, in turn.
func (q *amqpQueue) dispatch() {
	for len(q.ready) > 0 {
		var l *amqpLink
		for i := range q.consumers {
			c := q.consumers[(q.turn+i)%len(q.consumers)]
			if c.credit > 0 {
				l = c
				q.turn = (q.turn + i + 1) % len(q.consumers)
				break
			}
		}
		if l == nil {
			return
		}
		m := q.ready[0]
		q.ready = q.ready[1:]
		l.deliver(m)
	}
}

// requeue puts messages delivered but not settled back among the ready ones, where they
// came in.
func (q *amqpQueue) requeue(ms ...*amqpMessage) {
	q.ready = append(q.ready, ms...)
	slices.SortStableFunc(q.ready, func(a, b *amqpMessage) int { return cmp.Compare(a.seq, b.seq) })
}

// deliver sends m on l as an unsettled transfer (amqp 1.0 §2.7.5), in as many frames as the
// client's max-frame-size needs.
func (l *amqpLink) deliver(m *amqpMessage) {
	s := l.s
	id := s.nextDelivery
	s.nextDelivery++
	l.credit--
	l.deliveryCount++
	l.tag++
	tag := binary.BigEndian.AppendUint64(nil, l.tag)
	if !l.settled {
		s.unsettled[id] = &amqpUnsettled{l: l, m: m}
	}
	perf := func(more bool) *amqpDescribed {
		return amqpPerformative(amqpTransfer, l.handle, id, tag, uint32(0), l.settled, more)
	}
	room := int64(s.c.peerFrame) - 8 - int64(len(amqpAppend(nil, perf(true))))
	rest := m.data
	for {
		n := int64(len(rest))
		more := n > room
		if more {
			n = max(room, 1)
		}
		s.c.send(s.ch, perf(more), rest[:n])
		s.nextOutgoingID++
		rest = rest[n:]
		if !more {
			return
		}
	}
}

// detach ends l: it delivers no more, and what it delivered and was not settled goes back
// to the queue.
func (l *amqpLink) detach() {
	s := l.s
	delete(s.links, l.handle)
	if !l.out {
		return
	}
	l.q.consumers = slices.DeleteFunc(l.q.consumers, func(c *amqpLink) bool { return c == l })
	l.q.turn = 0
	var back []*amqpMessage
	for id, d := range s.unsettled {
		if d.l == l {
			back = append(back, d.m)
			delete(s.unsettled, id)
		}
	}
	if len(back) > 0 {
		l.q.requeue(back...)
	}
	if l.dynamic != "" {
		delete(s.c.b.queues, l.dynamic) // the node goes with its link
		return
	}
	l.q.dispatch()
}

// addresses are the addresses the broker holds a queue for.
func (b *amqpBroker) addresses() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []string
	for a := range b.queues {
		out = append(out, a)
	}
	slices.Sort(out)
	return out
}

// end detaches every link of s.
func (s *amqpSession) end() {
	for _, l := range s.links {
		l.detach()
	}
}

// A message larger than a frame goes through the fake broker in several transfers each way,
// and the broker keeps the order of what it holds.
func TestAMQPBrokerLargeMessages(t *testing.T) {
	base := startAMQP(t)
	c, err := amqp.Dial(base, amqp.ConnSASLAnonymous())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	sess, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	snd, err := sess.NewSender(amqp.LinkTargetAddress("big"))
	if err != nil {
		t.Fatal(err)
	}
	var want [][]byte
	for i := range 3 {
		data := make([]byte, 200_000+i)
		for j := range data {
			data[j] = byte(j*7 + i)
		}
		want = append(want, data)
		if err := snd.Send(ctx, amqp.NewMessage(data)); err != nil {
			t.Fatal(err)
		}
	}
	r, err := sess.NewReceiver(amqp.LinkSourceAddress("big"), amqp.LinkCredit(2), amqp.LinkReceiverSettle(amqp.ModeSecond))
	if err != nil {
		t.Fatal(err)
	}
	for i, w := range want {
		m, err := r.Receive(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if string(m.GetData()) != string(w) {
			t.Fatalf("message %d: %d bytes, want %d", i, len(m.GetData()), len(w))
		}
		if err := r.AcceptMessage(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
}
