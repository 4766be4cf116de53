package validate

// Data checks data that stands for the value of an event's "data" member: the payload of a
// binary-mode message whose content type is JSON. It must be what the JSON format's "data"
// member may hold (json-format v1.0.2 §3.1: a JSON value when the content type is JSON):
// well-formed JSON (RFC 8259), valid UTF-8, nested no deeper than in an event, nothing after
// the value. Pointers are relative to the data ("" is the data itself, "/a/0" inside it). The
// returned slice is reused by the next call.
func (v *Validator) Data(data []byte) []Finding {
	c := &v.c
	c.reset(data, 0, 1, 1, false, 0)
	i := c.ws(0)
	if i >= len(data) {
		c.syntax(c.lastByte(), "the data is empty or white space, which is no JSON value")
		c.finish()
		return c.out
	}
	c.inValue = true
	end, ok := c.value(i)
	c.inValue = false
	if ok {
		if j := c.ws(end); j < len(data) {
			c.add(RuleTrailingData, Error, j, "", "unexpected "+c.found(j)+" after the end of the JSON value; expected nothing but white space")
		}
	}
	c.finish()
	return c.out
}
