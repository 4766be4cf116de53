//go:build !unix

package listen

// connLimit is DefaultMaxConns where there is no open-file limit to read.
func connLimit() int { return DefaultMaxConns }
