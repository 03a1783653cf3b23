//go:build !unix

package stream

import "errors"

// rawWriteSupported: elsewhere (Windows) frames always go through the
// stream's goroutine.
const rawWriteSupported = false

func rawWrite(uintptr, []byte) (int, error) { return 0, errors.ErrUnsupported }

func wouldBlock(error) bool { return false }
