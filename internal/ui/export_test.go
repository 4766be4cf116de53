package ui

// DropStreams ends the streams open now, as a lost connection would; the pages reconnect.
func (u *UI) DropStreams() {
	u.mu.Lock()
	close(u.drop)
	u.drop = make(chan struct{})
	u.mu.Unlock()
}

// Streams is how many streams were opened, and how many of them resumed after an entry
// (Last-Event-ID).
func (u *UI) Streams() (opened, resumed int64) { return u.streams.Load(), u.resumed.Load() }

// AppendString is the view's JSON string encoder.
var AppendString = appendString

// MaySecret is the quick look for credential fields.
var MaySecret = maySecret
