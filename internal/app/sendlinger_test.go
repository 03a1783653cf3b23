package app

import (
	"testing"

	"github.com/messager/messager/internal/config"
	"github.com/messager/messager/internal/delivery"
)

// The documented default of spec.messaging.sendLinger is the linger the
// group enqueuer was measured with.
func TestSendLinger_DefaultIsTheGroupEnqueuers(t *testing.T) {
	if got := config.Default().Spec.Messaging.SendLinger.D(); got != delivery.DefaultLinger {
		t.Fatalf("spec.messaging.sendLinger defaults to %v, the group enqueuer to %v", got, delivery.DefaultLinger)
	}
}
