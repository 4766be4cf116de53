package cmd

import (
	"fmt"
	"os"
	"strings"

	"github.com/cectl/cectl/internal/format"
)

// argURLs are the arguments, and the values of --flag=value arguments, that are URLs with
// credentials: an error message may quote one whole (a URL with a bad query parameter), and
// what is printed must not show its password or token.
func argURLs(args []string) []string {
	var out []string
	for _, a := range args {
		if name, value, ok := strings.Cut(a, "="); ok && strings.HasPrefix(name, "-") {
			a = value
		}
		if format.ShownURL(a) != a {
			out = append(out, a)
		}
	}
	return out
}

// maskedError is an error whose text has the command line's credentials masked; it unwraps
// to the original, so the exit code is the same.
type maskedError struct {
	err error
	msg string
}

func (e *maskedError) Error() string { return e.msg }
func (e *maskedError) Unwrap() error { return e.err }

// maskErr masks the credentials of the URLs in args in err's text.
func maskErr(err error, args []string) error {
	urls := argURLs(args)
	if err == nil || len(urls) == 0 {
		return err
	}
	msg := format.MaskURLs(err.Error(), urls)
	if msg == err.Error() {
		return err
	}
	return &maskedError{err: err, msg: msg}
}

// tokenEnv is the environment variable listen takes its bearer token from when neither
// --token nor --token-file gives one.
const tokenEnv = "CECTL_TOKEN"

// resolveToken fills in opts.Token from --token-file or $CECTL_TOKEN: a token on the command
// line shows in ps and in the shell's history. A token file holds the token on its first
// line; the line end is not part of it.
func (opts *ListenOptions) resolveToken() error {
	switch {
	case opts.Token != "":
		return nil
	case opts.TokenFile != "":
		b, err := os.ReadFile(opts.TokenFile)
		if err != nil {
			return &FlagError{Err: fmt.Errorf("--token-file: %w", err)}
		}
		line, _, _ := strings.Cut(string(b), "\n")
		line = strings.TrimSuffix(line, "\r")
		if strings.TrimSpace(line) == "" {
			return flagErrorf("--token-file %s: the first line is empty; it must hold the token", opts.TokenFile)
		}
		opts.Token = line
	case opts.F != nil && opts.F.Getenv != nil && opts.From == "":
		opts.Token = opts.F.Getenv(tokenEnv)
	}
	return nil
}
