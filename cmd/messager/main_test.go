package main

import (
	"os"
	"testing"

	"github.com/messager/messager/internal/testsupport"
)

// TestMain removes the binary the cluster tests build once for all of them.
func TestMain(m *testing.M) {
	code := m.Run()
	testsupport.RemoveBinary()
	os.Exit(code)
}
