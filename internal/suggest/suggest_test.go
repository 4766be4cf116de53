package suggest

import "testing"

func TestDistance(t *testing.T) {
	for _, tt := range []struct {
		a, b string
		want int
	}{
		{"", "", 0},
		{"type", "type", 0},
		{"tpye", "type", 1}, // a swap of neighbours is one edit
		{"typ", "type", 1},
		{"types", "type", 1},
		{"tape", "type", 1},
		{"EXSTS", "EXISTS", 1},
		{"", "abc", 3},
		{"kitten", "sitting", 3},
		{"größe", "grösse", 2},
	} {
		if got := Distance(tt.a, tt.b); got != tt.want {
			t.Errorf("Distance(%q, %q) = %d, want %d", tt.a, tt.b, got, tt.want)
		}
	}
}
