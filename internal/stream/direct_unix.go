//go:build unix

package stream

import (
	"errors"
	"syscall"
)

// rawWriteSupported: a non-blocking descriptor takes what fits and says
// EAGAIN for the rest.
const rawWriteSupported = true

// rawWrite makes one write(2) on fd, which the runtime keeps non-blocking.
func rawWrite(fd uintptr, b []byte) (int, error) { return syscall.Write(int(fd), b) }

// wouldBlock reports whether err means the socket had no room.
func wouldBlock(err error) bool { return errors.Is(err, syscall.EAGAIN) }
