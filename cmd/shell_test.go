package cmd

import (
	"runtime/debug"
	"testing"
)

func TestColorWanted(t *testing.T) {
	tests := []struct {
		name    string
		tty     bool
		env     map[string]string
		color   string
		noColor bool
		want    bool
	}{
		{"auto, terminal", true, nil, "auto", false, true},
		{"auto, pipe", false, nil, "auto", false, false},
		{"always, pipe", false, nil, "always", false, true},
		{"always, NO_COLOR", false, map[string]string{"NO_COLOR": "1"}, "always", false, true},
		{"never, terminal", true, nil, "never", false, false},
		{"never, FORCE_COLOR", true, map[string]string{"FORCE_COLOR": "1"}, "never", false, false},
		{"--no-color with always", true, nil, "always", true, false},
		{"FORCE_COLOR, pipe", false, map[string]string{"FORCE_COLOR": "1"}, "auto", false, true},
		{"FORCE_COLOR=0", false, map[string]string{"FORCE_COLOR": "0"}, "auto", false, false},
		{"CLICOLOR_FORCE, pipe", false, map[string]string{"CLICOLOR_FORCE": "1"}, "auto", false, true},
		{"NO_COLOR beats FORCE_COLOR", true, map[string]string{"NO_COLOR": "1", "FORCE_COLOR": "1"}, "auto", false, false},
		{"FORCE_COLOR beats TERM=dumb", false, map[string]string{"TERM": "dumb", "FORCE_COLOR": "3"}, "auto", false, true},
		{"TERM=dumb", true, map[string]string{"TERM": "dumb"}, "auto", false, false},
	}
	for _, tt := range tests {
		f, _, _ := testFactory("", tt.env)
		f.Color, f.NoColor = tt.color, tt.noColor
		if got := f.colorWanted(tt.tty); got != tt.want {
			t.Errorf("%s: colour %v, want %v", tt.name, got, tt.want)
		}
	}
	// -o json keeps stdout plain whatever --color says; stderr follows --color.
	f, _, _ := testFactory("", nil)
	f.Color, f.Output = "always", "json"
	if f.Styles().Enabled || !f.ErrStyles().Enabled {
		t.Errorf("-o json --color always: stdout colour %v (want false), stderr %v (want true)", f.Styles().Enabled, f.ErrStyles().Enabled)
	}
}

func TestBuildString(t *testing.T) {
	vcs := &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}, Settings: []debug.BuildSetting{
		{Key: "vcs.revision", Value: "0123456789abcdef0123"},
		{Key: "vcs.time", Value: "2026-11-30T10:00:00Z"},
		{Key: "vcs.modified", Value: "true"},
	}}
	tests := []struct {
		name string
		b    BuildInfo
		bi   *debug.BuildInfo
		want string
	}{
		{"release", BuildInfo{"v1.2.3", "abc1234", "2026-11-25T00:00:00Z"}, vcs, "v1.2.3 (commit abc1234, built 2026-11-25T00:00:00Z)"},
		{"checkout", BuildInfo{}, vcs, "dev (commit 0123456789ab-dirty, built 2026-11-30T10:00:00Z)"},
		{"go install", BuildInfo{}, &debug.BuildInfo{Main: debug.Module{Version: "v1.4.0"}}, "v1.4.0 (commit unknown, built unknown)"},
		{"nothing known", BuildInfo{}, nil, "dev (commit unknown, built unknown)"},
	}
	for _, tt := range tests {
		if got := buildString(tt.b, tt.bi); got != tt.want {
			t.Errorf("%s: %q, want %q", tt.name, got, tt.want)
		}
	}
}
