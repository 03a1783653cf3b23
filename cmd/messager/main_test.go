package main

import (
	"testing"

	"github.com/messager/messager/internal/testsupport"
)

// TestMain removes the messager binary the cluster tests build once for all of them.
func TestMain(m *testing.M) { testsupport.Main(m) }
