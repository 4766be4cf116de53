package cmd

import (
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"strings"

	"github.com/cectl/cectl/internal/config"
)

// named resolves --to @name through the config file: the target's URL, and its headers and
// token as headers (the token as Authorization: Bearer, which -v and --dry-run show hidden).
// The config file is read only here, so a command without @name never reads it.
func (df *deliveryFlags) named(to string, getenv func(string) string) (string, http.Header, error) {
	name := to[1:]
	path, given := "", false
	if df.cmd != nil {
		if fl := df.cmd.Flag("config"); fl != nil && fl.Value.String() != "" {
			path, given = fl.Value.String(), true
		}
	}
	if !given {
		path = config.DefaultPath(getenv)
	}
	cf, err := config.Load(path)
	if errors.Is(err, fs.ErrNotExist) {
		if given {
			return "", nil, flagErrorf("--config %s: no such file", path)
		}
		return "", nil, flagErrorf("--to %s: there is no config file %s to name targets in (or give --config FILE)", to, path)
	}
	if err != nil {
		var ce *config.Error
		if errors.As(err, &ce) {
			return "", nil, &FlagError{Err: err}
		}
		return "", nil, flagErrorf("--config %s: %w", path, err)
	}
	if name == "" {
		known := "it defines none"
		if names := cf.Names(); len(names) > 0 {
			known = "@" + strings.Join(names, ", @")
		}
		return "", nil, flagErrorf("--to @: name a target of %s: %s", path, known)
	}
	r, err := cf.Resolve(name, getenv)
	if err != nil {
		return "", nil, &FlagError{Err: fmt.Errorf("--to %s: %w", to, err)}
	}
	return r.URL, r.Header, nil
}
