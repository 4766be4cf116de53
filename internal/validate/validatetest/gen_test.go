package validatetest

import (
	"bytes"
	"testing"

	"github.com/cectl/cectl/internal/validate"
)

// Every generated event is valid and the average size is about 300 bytes.
func TestGeneratedEventsAreValid(t *testing.T) {
	var buf bytes.Buffer
	n, err := New(1).WriteLines(&buf, 2000)
	if err != nil {
		t.Fatal(err)
	}
	s := validate.NewScanner(&buf, validate.Options{Strict: true})
	for s.Scan() {
		if len(s.Result().Findings) > 0 {
			t.Fatalf("event %d: %+v", s.Result().Index, s.Result().Findings)
		}
	}
	st := s.Stats()
	if st.Events != 2000 || st.Layout != validate.LayoutLines {
		t.Fatalf("stats %+v", st)
	}
	if avg := n / 2000; avg < 250 || avg > 350 {
		t.Errorf("average event size %d bytes, want about 300", avg)
	}
	a, b := New(7).Next(), New(7).Next()
	if !bytes.Equal(a, b) {
		t.Error("the generator is not deterministic")
	}
}
