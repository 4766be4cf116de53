package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const good = `# named targets
targets:
  staging:
    url: https://staging.example.com/events
    headers:
      X-Team: payments
    token_env: STAGING_TOKEN
  local:
    url: http://localhost:8080
    token_file: local.token
  nats:
    url: nats://localhost:4222/orders
`

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestResolve(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(path, []byte(good), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "local.token"), []byte("file-secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cf, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(cf.Names(), " "); got != "local nats staging" {
		t.Errorf("names %q", got)
	}
	r, err := cf.Resolve("staging", env(map[string]string{"STAGING_TOKEN": "env-secret"}))
	if err != nil {
		t.Fatal(err)
	}
	if r.URL != "https://staging.example.com/events" || r.Header.Get("X-Team") != "payments" || r.Header.Get("Authorization") != "Bearer env-secret" {
		t.Errorf("staging: %+v", r)
	}
	// The headers of the file are not changed by what a resolution adds.
	if cf.Targets["staging"].Headers.Get("Authorization") != "" {
		t.Error("Resolve changed the target's headers")
	}
	r, err = cf.Resolve("local", env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if r.Header.Get("Authorization") != "Bearer file-secret" {
		t.Errorf("local: token %q (read relative to the config file, trailing newline trimmed)", r.Header.Get("Authorization"))
	}
	if r, err = cf.Resolve("nats", env(nil)); err != nil || len(r.Header) != 0 {
		t.Errorf("nats: %+v %v", r, err)
	}

	_, err = cf.Resolve("prod", env(nil))
	if err == nil || !strings.Contains(err.Error(), `no target named "prod" (known: @local, @nats, @staging)`) {
		t.Errorf("unknown name: %v", err)
	}
	_, err = cf.Resolve("staging", env(nil))
	if err == nil || err.Error() != path+":3: target staging: token_env: the environment variable STAGING_TOKEN is not set" {
		t.Errorf("unset token variable: %v", err)
	}
	_, err = cf.Resolve("staging", env(map[string]string{"STAGING_TOKEN": "sec\nret"}))
	if err == nil || strings.Contains(err.Error(), "sec") {
		t.Errorf("a bad token must be refused without being shown: %v", err)
	}
	os.Remove(filepath.Join(dir, "local.token"))
	_, err = cf.Resolve("local", env(nil))
	if err == nil || !strings.Contains(err.Error(), ":8: target local: token_file "+filepath.Join(dir, "local.token")+": no such file or directory") {
		t.Errorf("missing token file: %v", err)
	}
}

func TestParseErrorsNameTheLine(t *testing.T) {
	for _, tc := range []struct{ text, want string }{
		{"targets:\n  x:\n    url: [\n", "c.yaml:3: invalid YAML: "},
		{"targets:\n  x:\n    url: http://a\n    tokn: y\n", `c.yaml:4: target x: unknown key "tokn" (known: url, headers, token_env, token_file)`},
		{"target:\n  x: {}\n", `c.yaml:1: unknown key "target" (known: targets)`},
		{"targets:\n  x:\n    headers: {A: b}\n", "c.yaml:2: target x: url is missing"},
		{"targets:\n  x:\n    url: localhost:8080\n", `c.yaml:3: target x: url "localhost:8080" is not an absolute URL`},
		// The password of a URL that is not valid is hidden too.
		{"targets:\n  x:\n    url: \"https://bob:url-s3cret@\"\n", `c.yaml:3: target x: url "https://bob:xxxxx@" is not an absolute URL`},
		{"targets:\n  x:\n    url: \"https://bob:url-s3cret@ho st/\"\n", `c.yaml:3: target x: url "https://bob:xxxxx@ho st/" is not an absolute URL`},
		{"targets:\n  x:\n    url: http://a\n    token_env: A\n    token_file: b\n", "c.yaml:2: target x: give token_env or token_file, not both"},
		{"targets:\n  x:\n    url: nats://a/s\n    token_env: A\n", "c.yaml:2: target x: headers and tokens are sent over http(s) only"},
		{"targets:\n  x:\n    url: http://a\n    headers:\n      ce-id: 1\n", "c.yaml:5: target x: header ce-id: ce- headers carry the event's attributes"},
		{"targets:\n  x:\n    url: http://a\n    headers:\n      Bad Name: 1\n", `c.yaml:5: target x: header "Bad Name": ' ' is not allowed`},
		{"targets:\n  x y:\n    url: http://a\n", `c.yaml:2: target name "x y"`},
		{"targets:\n  x:\n    url: http://a\n  x:\n    url: http://b\n", "c.yaml:4: "},
		{"- a\n- b\n", "c.yaml:1: want a mapping with a targets key at the top"},
	} {
		_, err := Parse("c.yaml", []byte(tc.text))
		var ce *Error
		if !errors.As(err, &ce) || !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("%q:\n got %v\nwant %s…", tc.text, err, tc.want)
		}
	}
	if cf, err := Parse("c.yaml", nil); err != nil || len(cf.Targets) != 0 {
		t.Errorf("an empty file: %v", err)
	}
}

func TestDefaultPath(t *testing.T) {
	if got := DefaultPath(env(map[string]string{"XDG_CONFIG_HOME": "/xdg", "HOME": "/home/u"})); got != "/xdg/cectl/config.yaml" {
		t.Errorf("with XDG_CONFIG_HOME: %s", got)
	}
	// A relative XDG_CONFIG_HOME is invalid (XDG Base Directory) and ignored.
	if got := DefaultPath(env(map[string]string{"XDG_CONFIG_HOME": "rel", "HOME": "/home/u"})); got != "/home/u/.config/cectl/config.yaml" {
		t.Errorf("without: %s", got)
	}
}

// A config file of any content is read or refused with an Error naming it, never a panic.
func FuzzParse(f *testing.F) {
	f.Add(good)
	f.Add("targets:\n  x: &a\n    url: http://a\n  y: *a\n")
	f.Add("targets: [1, 2]\n")
	f.Add("targets:\n  x:\n    url: http://a\n    headers: {A: [b]}\n")
	f.Fuzz(func(t *testing.T, text string) {
		cf, err := Parse("c.yaml", []byte(text))
		if err != nil {
			var ce *Error
			if !errors.As(err, &ce) || !strings.HasPrefix(err.Error(), "c.yaml") {
				t.Fatalf("error %v does not name the file", err)
			}
			return
		}
		for _, name := range cf.Names() {
			if cf.Targets[name].URL == "" {
				t.Fatalf("target %s without a url", name)
			}
		}
	})
}
