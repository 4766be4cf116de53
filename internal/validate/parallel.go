package validate

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"
)

// DefaultChunkSize is how many bytes of JSON lines a worker of a Pipeline validates at once.
const DefaultChunkSize = 256 << 10

// Pipeline validates inputs on several cores with the results of the Scanner, in the same
// order and at the same positions. An input starts on one Scanner, which detects its
// layout; once it is JSON lines (one event per line, so lines can be checked apart) the
// rest of it is cut into chunks of whole lines that workers validate while a reader reads
// ahead, and the results are put back in input order before they reach the caller. The
// rules across events (duplicate source+id, mixed versions) run there, in order. At most
// 2×workers+2 chunks are in flight, so memory stays bounded whatever the input's size. One
// event, a batch or a sequence of events stays on the one Scanner.
type Pipeline struct {
	opts    Options
	workers int
	chunk   int
	s       *Scanner
	stats   Stats
	err     error
}

// NewPipeline returns a Pipeline with up to workers workers; 1 or less validates on the
// caller's goroutine alone.
func NewPipeline(opts Options, workers int) *Pipeline {
	return &Pipeline{opts: opts, workers: workers, chunk: DefaultChunkSize, s: NewScanner(nil, opts)}
}

// SetChunkSize sets the size of the chunks workers take (DefaultChunkSize by default); a
// line longer than the size makes its chunk longer.
func (p *Pipeline) SetChunkSize(n int) { p.chunk = max(n, 1) }

// Err returns the read error of the last input, if any (not validation problems).
func (p *Pipeline) Err() error { return p.err }

// Stats returns the counts of the last input.
func (p *Pipeline) Stats() Stats { return p.stats }

// Empty reports whether the last input held nothing but white space.
func (p *Pipeline) Empty() bool { return p.s.Empty() }

// Run validates r and calls emit with each result, in input order; the result is valid
// until emit returns. It returns emit's error, or the context's cause when ctx ends; a read
// error ends the input and is kept for Err.
func (p *Pipeline) Run(ctx context.Context, r io.Reader, emit func(*Result) error) error {
	s := p.s
	s.Reset(r)
	p.err = nil
	for n := 0; s.Scan(); n++ {
		if n&1023 == 0 && ctx.Err() != nil {
			return context.Cause(ctx)
		}
		if err := emit(s.Result()); err != nil {
			return err
		}
		if p.workers > 1 && s.state == stLines && (!s.eof || s.end-s.pos > p.chunk) {
			return p.parallel(ctx, emit)
		}
	}
	p.stats, p.err = s.Stats(), s.Err()
	return nil
}

// chunk is a run of whole lines of the input and, once a worker is done with it, their
// results.
type chunk struct {
	seq             int
	buf             []byte
	data            []byte // whole lines, the last one cut only at the end of the input
	base, line, col int    // where data[0] stands in the input
	results         []Result
	findings        []Finding
	starts          []int // results[i]'s findings start at findings[starts[i]]
	fps             []fpRef
}

// parallel validates the rest of the input of p.s, which is JSON lines, with workers.
func (p *Pipeline) parallel(ctx context.Context, emit func(*Result) error) (err error) {
	s := p.s
	stats := s.stats
	// The rest starts at the line break after the last line the Scanner checked: the
	// workers' Scanners skip it as the Scanner would, and count the line.
	first := append([]byte(nil), s.buf[s.pos:s.end]...)
	base, line, col := s.base+s.pos, s.line, s.col
	var src io.Reader
	if !s.eof {
		src = s.r
	}

	inflight := 2*p.workers + 2
	free := make(chan *chunk, inflight)
	for i := 0; i < inflight; i++ {
		free <- &chunk{}
	}
	work := make(chan *chunk, inflight)
	done := make(chan *chunk, inflight)
	stop := make(chan struct{})
	var stopOnce sync.Once
	halt := func() { stopOnce.Do(func() { close(stop) }) }

	var readErr error
	var readBytes int64
	var readerDone sync.WaitGroup
	readerDone.Add(1)
	go func() {
		defer readerDone.Done()
		defer close(work)
		readBytes, readErr = p.read(src, first, base, line, col, free, work, stop)
	}()
	var wg sync.WaitGroup
	for i := 0; i < p.workers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w := NewScanner(nil, p.opts)
			w.cross = nil // the rules across events run in order, below
			for ch := range work {
				validateChunk(w, ch)
				done <- ch
			}
		}()
	}
	go func() {
		wg.Wait()
		close(done)
	}()
	defer func() {
		if err != nil {
			halt()
			for range done { // let the workers and the reader end
			}
		}
		readerDone.Wait()
	}()

	pending := map[int]*chunk{}
	next := 0
	index := s.index
	for ch := range done {
		if err := ctx.Err(); err != nil {
			return context.Cause(ctx)
		}
		pending[ch.seq] = ch
		for c := pending[next]; c != nil; c = pending[next] {
			delete(pending, next)
			next++
			s.cross.markDuplicates(c.results, c.fps)
			for i := range c.results {
				res := &c.results[i]
				res.Index = index
				index++
				s.cross.apply(res)
				stats.Events++
				if !res.Valid() {
					stats.Invalid++
				}
				for j := range res.Findings {
					if res.Findings[j].Level == Error {
						stats.Errors++
					} else {
						stats.Warnings++
					}
				}
				if err := emit(res); err != nil {
					return err
				}
			}
			free <- c
		}
	}
	readerDone.Wait()
	stats.Bytes += readBytes
	p.stats = stats
	p.err = readErr
	return nil
}

// read cuts the input into chunks of whole lines: first, the bytes the Scanner had read
// ahead, then src (nil when the Scanner read it all). It returns the bytes it read and the
// read error.
func (p *Pipeline) read(src io.Reader, first []byte, base, line, col int, free <-chan *chunk, work chan<- *chunk, stop <-chan struct{}) (int64, error) {
	carry := first
	eof := src == nil
	var total int64
	var rerr error
	zero := 0
	for seq := 0; ; seq++ {
		var ch *chunk
		select {
		case ch = <-free:
		case <-stop:
			return total, rerr
		}
		b := append(ch.buf[:0], carry...)
		for !eof && (len(b) < p.chunk || bytes.IndexByte(b, '\n') < 0) {
			if cap(b)-len(b) < 4096 {
				nb := make([]byte, len(b), max(2*cap(b), p.chunk+4096))
				copy(nb, b)
				b = nb
			}
			n, err := src.Read(b[len(b):cap(b)])
			b = b[:len(b)+n]
			total += int64(n)
			switch {
			case err != nil:
				eof = true
				if !errors.Is(err, io.EOF) {
					rerr = fmt.Errorf("read: %w", err)
				}
			case n == 0:
				if zero++; zero >= 100 {
					eof = true
					rerr = fmt.Errorf("read: %w", io.ErrNoProgress)
				}
			default:
				zero = 0
			}
		}
		cut := len(b)
		if !eof {
			cut = bytes.LastIndexByte(b, '\n') + 1
		}
		ch.buf = b
		// What follows the cut waits for the next chunk: copied, since this one is shared.
		carry = append([]byte(nil), b[cut:]...)
		ch.seq, ch.data = seq, b[:cut]
		ch.base, ch.line, ch.col = base, line, col
		base += cut
		line += bytes.Count(ch.data, newline)
		col = 1
		if len(ch.data) == 0 && eof {
			return total, rerr
		}
		select {
		case work <- ch:
		case <-stop:
			return total, rerr
		}
		if eof && len(carry) == 0 {
			return total, rerr
		}
	}
}

// validateChunk validates the lines of ch with w and keeps the results and their findings
// in ch.
func validateChunk(w *Scanner, ch *chunk) {
	w.resetLines(ch.data, ch.base, ch.line, ch.col)
	ch.results, ch.findings, ch.starts = ch.results[:0], ch.findings[:0], ch.starts[:0]
	for w.Scan() {
		ch.starts = append(ch.starts, len(ch.findings))
		ch.findings = append(ch.findings, w.res.Findings...)
		ch.results = append(ch.results, w.res)
	}
	ch.starts = append(ch.starts, len(ch.findings))
	for i := range ch.results {
		a, z := ch.starts[i], ch.starts[i+1]
		// A full slice expression: the rules across events append to one result's
		// findings without overwriting the next one's.
		ch.results[i].Findings = ch.findings[a:z:z]
	}
	// The fingerprints for the duplicate check, sorted here, where workers run in parallel.
	ch.fps = ch.fps[:0]
	for i := range ch.results {
		if k := &ch.results[i].lint; k.dup {
			ch.fps = append(ch.fps, fpRef{k.fp, i})
		}
	}
	slices.SortFunc(ch.fps, func(a, b fpRef) int {
		if c := cmp.Compare(a.fp, b.fp); c != 0 {
			return c
		}
		return cmp.Compare(a.i, b.i)
	})
}

// resetLines makes the Scanner read b as JSON lines whose first byte stands at offset
// base, line:col of the input.
func (s *Scanner) resetLines(b []byte, base, line, col int) {
	s.ResetBytes(b)
	s.base, s.line, s.col = base, line, col
	s.lastOff, s.lastLine, s.lastCol = base, line, col
	s.state, s.bom = stLines, true
	s.stats.Layout = LayoutLines
}
