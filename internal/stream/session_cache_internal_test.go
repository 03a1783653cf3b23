package stream

import (
	"context"
	"slices"
	"sync"
	"testing"
)

// recordingForgetter records what a Bus tells its session cache.
type recordingForgetter struct {
	mu        sync.Mutex
	forgotten []string
	all       int
}

func (r *recordingForgetter) Forget(id string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.forgotten = append(r.forgotten, id)
}

func (r *recordingForgetter) ForgetAll() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.all++
}

func (r *recordingForgetter) state() ([]string, int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.forgotten), r.all
}

// The bus tells the pod's session cache of every logout announced on any
// pod, and to forget every session whenever it may have missed one: at
// each subscription (the first included: announcements made before it
// were not heard) and when the subscription breaks.
func TestBus_TellsTheSessionCacheOfLogoutsAndOfMissedAnnouncements(t *testing.T) {
	cache := &recordingForgetter{}
	bus, _, proxy := runBusBehindCutter(t, WithSessionCache(cache))

	waitUntil(t, "the first subscription to forget every session", func() bool { _, all := cache.state(); return all >= 1 })
	if err := bus.PublishSessionEnded(context.Background(), "feed"); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "the announced logout to reach the cache", func() bool {
		ids, _ := cache.state()
		return slices.Equal(ids, []string{"feed"})
	})
	_, before := cache.state()
	proxy.cut()
	// The break and the new subscription each forget everything.
	waitUntil(t, "the broken subscription to forget every session", func() bool { _, all := cache.state(); return all >= before+2 })
}
