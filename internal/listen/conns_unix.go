//go:build unix

package listen

import "syscall"

// connLimit is how many connections the open-file limit allows, after raising its soft
// value to the hard one (the Go runtime does that at start-up on most systems; this makes
// sure of it).
func connLimit() int {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		return DefaultMaxConns
	}
	if rl.Cur < rl.Max {
		raised := rl
		raised.Cur = rl.Max
		if syscall.Setrlimit(syscall.RLIMIT_NOFILE, &raised) == nil {
			rl = raised
		}
	}
	n := int64(rl.Cur) - reservedFiles
	if rl.Cur > uint64(maxConnsCap+reservedFiles) {
		n = maxConnsCap
	}
	return int(max(n, minConns))
}
