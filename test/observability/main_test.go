package observability

import (
	"testing"

	"github.com/messager/messager/internal/testsupport"
)

// TestMain removes the messager binary the test builds.
func TestMain(m *testing.M) { testsupport.Main(m) }
