package listen

import (
	"errors"
	"os"
	"syscall"
)

// reserveBytes is the room reserved at start for the first events.
const reserveBytes = 64 << 10

// reserve asks the file system for room past the end of f without changing its size
// (fallocate(2) with FALLOC_FL_KEEP_SIZE), so that a full disk is found before the first
// event is acknowledged. File systems that cannot reserve are not asked again.
func reserve(f *os.File, size int64) error {
	const keepSize = 0x01 // FALLOC_FL_KEEP_SIZE
	err := syscall.Fallocate(int(f.Fd()), keepSize, size, reserveBytes)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, syscall.ENOSPC), errors.Is(err, syscall.EDQUOT), errors.Is(err, syscall.EFBIG):
		return err
	}
	return nil // EOPNOTSUPP and the like: the file system cannot say
}
