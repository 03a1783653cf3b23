//go:build !unix

package runtimetune

import "time"

// processCPU cannot be read here, so a Governor does not run.
func processCPU() (time.Duration, bool) { return 0, false }
