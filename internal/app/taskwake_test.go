package app

import (
	"testing"
	"time"
)

// An idle worker sleeps until the API's enqueue wakes it. With the
// fallback poll an hour away, a DM sent once every dequeuer sleeps is
// delivered only if the wake-up reaches them: across processes (a
// PUBLISH on the shared Redis) and inside `all` (the embedded Redis,
// woken in process).
func TestTaskWake_AnEnqueueWakesTheIdleWorker(t *testing.T) {
	hour := func(o *Options) { o.idleFallback = time.Hour }
	idle := func(t *testing.T, w *App) {
		t.Helper()
		waitFor(t, func() bool {
			for _, c := range w.wake.clients {
				if c.Waits() == 0 {
					return false
				}
			}
			return len(w.wake.clients) > 0
		}, "every dequeuer to sleep")
	}
	t.Run("api and worker", func(t *testing.T) {
		b := newBackends(t)
		api := startAppOpts(t, ModeAPI, b, hour)
		worker := startAppOpts(t, ModeWorker, b, hour)
		u, v := newUser(t, api, "wakeu"), newUser(t, api, "wakev")
		s := v.stream("")
		defer s.close()
		idle(t, worker)
		m := u.send(v.user.Usercode, "wake up")
		got, ok := s.nextMessage(deliveryTimeout)
		if !ok || got.ID != m.ID {
			t.Fatalf("got %+v (%v), want %s: the enqueue did not wake the idle worker", got, ok, m.ID)
		}
	})
	t.Run("all", func(t *testing.T) {
		a := startAppOpts(t, ModeAll, newBackends(t), hour)
		u, v := newUser(t, a, "wakeu"), newUser(t, a, "wakev")
		s := v.stream("")
		defer s.close()
		idle(t, a)
		m := u.send(v.user.Usercode, "wake up")
		got, ok := s.nextMessage(deliveryTimeout)
		if !ok || got.ID != m.ID {
			t.Fatalf("got %+v (%v), want %s: the enqueue did not wake the idle worker", got, ok, m.ID)
		}
	})
}
