// Package format renders what cectl shows: events, delivery results and reports, as text for
// a person or as JSON lines for a program. It decides nothing: whether colour is on is given to
// it by the caller.
package format

import "github.com/fatih/color"

// Styles are the colours of text output. Each Styles owns its color.Color values, switched on
// or off as a whole, so the package-level color.NoColor (decided from the real stdout at start)
// never matters.
type Styles struct {
	Enabled bool

	Type    *color.Color // the event type, the most important word on a header line
	Source  *color.Color
	ID      *color.Color
	Subject *color.Color
	Time    *color.Color
	Mode    *color.Color
	Key     *color.Color // attribute names
	Ext     *color.Color // extension names
	Dim     *color.Color // secondary detail
	OK      *color.Color // ACK, valid
	Fail    *color.Color // NACK, errors
	Warn    *color.Color // not delivered, warnings
	Bold    *color.Color
	Escaped *color.Color // escape sequences standing for control characters
}

// NewStyles returns the styles with colour on or off.
func NewStyles(enabled bool) *Styles {
	s := &Styles{
		Enabled: enabled,
		Type:    color.New(color.FgCyan, color.Bold),
		Source:  color.New(color.FgBlue),
		ID:      color.New(color.FgMagenta),
		Subject: color.New(color.FgYellow),
		Time:    color.New(color.FgHiBlack),
		Mode:    color.New(color.FgHiBlack),
		Key:     color.New(color.FgHiBlack),
		Ext:     color.New(color.FgYellow),
		Dim:     color.New(color.FgHiBlack),
		OK:      color.New(color.FgGreen, color.Bold),
		Fail:    color.New(color.FgRed, color.Bold),
		Warn:    color.New(color.FgYellow, color.Bold),
		Bold:    color.New(color.Bold),
		Escaped: color.New(color.FgRed),
	}
	for _, c := range []*color.Color{s.Type, s.Source, s.ID, s.Subject, s.Time, s.Mode, s.Key,
		s.Ext, s.Dim, s.OK, s.Fail, s.Warn, s.Bold, s.Escaped} {
		if enabled {
			c.EnableColor()
		} else {
			c.DisableColor()
		}
	}
	return s
}

// paint colours s when colour is on; s must already be safe for a terminal.
func (st *Styles) paint(c *color.Color, s string) string {
	if !st.Enabled || s == "" {
		return s
	}
	return c.Sprint(s)
}
