package ui

import (
	"bufio"
	"net/http"
	"strconv"
	"time"

	"github.com/cectl/cectl/internal/listen"
)

// heartbeat keeps an idle stream's connection from being closed by proxies and tells the
// page that the listener is still there.
const heartbeat = 15 * time.Second

// coalesce is the least time between two writes of a stream.
const coalesce = 10 * time.Millisecond

// serveStream is the live history as Server-Sent Events (HTML Living Standard §9.2): each
// entry an "entry" event whose id is its sequence number and whose data is what the list
// needs (encoder.summary; the page asks /_cectl/entry for the detail), so that a browser
// that reconnects with Last-Event-ID gets every entry it missed that is still in the
// history, and is told by a "gap" event how many it missed that are not. A "clear" event
// says the history was cleared up to its sequence number. With ?filter=EXPR each entry says
// whether the CESQL expression selects one of its events.
func (u *UI) serveStream(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		http.Error(w, "use GET", http.StatusMethodNotAllowed)
		return
	}
	var match *listen.Filter
	if expr := r.URL.Query().Get("filter"); expr != "" {
		f, fe := parseFilter(expr)
		if fe != nil {
			writeJSON(w, http.StatusBadRequest, fe)
			return
		}
		match = f
	}
	last := uint64(0)
	id := r.Header.Get("Last-Event-ID")
	if id == "" {
		id = r.URL.Query().Get("last")
	}
	if id != "" {
		n, err := strconv.ParseUint(id, 10, 64)
		if err != nil {
			http.Error(w, "Last-Event-ID is not an entry number", http.StatusBadRequest)
			return
		}
		last = n
	}
	// The stream lives as long as the page: the server's timeouts are for answers.
	rc := http.NewResponseController(w)
	_ = rc.SetWriteDeadline(time.Time{})
	_ = rc.SetReadDeadline(time.Time{})
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)

	u.streams.Add(1)
	if last > 0 {
		u.resumed.Add(1)
	}
	u.mu.Lock()
	drop := u.drop
	u.mu.Unlock()
	wake := u.hist.watch()
	defer u.hist.unwatch(wake)
	bw := bufio.NewWriterSize(w, 32<<10)
	n, bytes := u.hist.stats()
	bw.WriteString("retry: 1000\nevent: hello\ndata: {\"history\":" + strconv.Itoa(u.opts.History) +
		",\"historyBytes\":" + strconv.FormatInt(u.opts.HistoryBytes, 10) +
		",\"events\":" + strconv.Itoa(n) + ",\"bytes\":" + strconv.FormatInt(bytes, 10) + "}\n\n")
	if last > u.hist.lastSeq() {
		// The page saw another run of listen: it starts over.
		bw.WriteString("event: reset\ndata: {}\n\n")
		last = 0
	}
	var (
		cleared uint64
		buf     []*entry
		line    []byte
		enc     encoder
		tick    = time.NewTicker(heartbeat)
	)
	defer tick.Stop()
	for {
		var oldest, clearedTo uint64
		buf, oldest, clearedTo = u.hist.since(last, buf)
		if clearedTo > cleared {
			cleared = clearedTo
			bw.WriteString("event: clear\ndata: " + strconv.FormatUint(clearedTo, 10) + "\n\n")
		}
		if from := max(last, cleared); last > 0 && oldest > from+1 {
			bw.WriteString("event: gap\ndata: " + strconv.FormatUint(oldest-from-1, 10) + "\n\n")
		}
		for _, e := range buf {
			line = append(line[:0], "id: "...)
			line = strconv.AppendUint(line, e.seq, 10)
			line = append(line, "\nevent: entry\ndata: "...)
			line = enc.summary(line, e, match) // JSON has no raw newline
			line = append(line, "\n\n"...)
			if _, err := bw.Write(line); err != nil {
				return
			}
			last = e.seq
		}
		clear(buf)
		if last < cleared {
			last = cleared
		}
		if bw.Flush() != nil || rc.Flush() != nil {
			return
		}
		flushed := time.Now()
		select {
		case <-wake:
			// Under a flood, entries are sent in batches a few milliseconds apart rather than
			// one write each: far less work for the listener and the page, still live.
			if d := coalesce - time.Since(flushed); d > 0 {
				time.Sleep(d)
			}
		case <-tick.C:
			bw.WriteString(": ping\n\n")
		case <-r.Context().Done():
			return
		case <-u.done:
			return
		case <-drop:
			return
		}
	}
}

// serveEntry answers the detail of one entry of the history (?seq=N), as encoder.entry
// renders it, or 404 when it is no longer kept.
func (u *UI) serveEntry(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		http.Error(w, "use GET", http.StatusMethodNotAllowed)
		return
	}
	seq, err := strconv.ParseUint(r.URL.Query().Get("seq"), 10, 64)
	if err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "seq is not an entry number"})
		return
	}
	e := u.hist.find(seq)
	if e == nil {
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "that entry is no longer in the history"})
		return
	}
	var enc encoder
	b := enc.entry(nil, e, nil)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.Write(b)
}
