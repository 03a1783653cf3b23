package app

import (
	"net/http"
	"testing"
	"time"

	"github.com/messager/messager/internal/events"
	"github.com/messager/messager/internal/presence"
)

// wentOffline waits up to timeout for a presence event saying who went
// offline, and reports when it came.
func (s *wsStream) wentOffline(who string, timeout time.Duration) (time.Duration, bool) {
	s.t.Helper()
	start := time.Now()
	deadline := time.After(timeout)
	for {
		select {
		case f := <-s.frames:
			if f.Type == events.TypePresence && f.User.Usercode == who && !f.Online {
				return time.Since(start), true
			}
		case <-deadline:
			return 0, false
		}
	}
}

func (c *client) isOnline(code string) bool {
	c.t.Helper()
	res, body := c.do("GET", "/api/v1/presence", nil)
	if res.StatusCode != http.StatusOK {
		c.t.Fatalf("presence: %d %s", res.StatusCode, body)
	}
	var pr struct {
		Online []struct {
			Usercode string `json:"usercode"`
		} `json:"online"`
	}
	mustJSON(c.t, body, &pr)
	for _, u := range pr.Online {
		if u.Usercode == code {
			return true
		}
	}
	return false
}

// Signing out takes the user offline at once on every pod, not when the
// login's presence ttl runs out, and records when they were last seen.
func TestPresence_LogoutIsOfflineAtOnceOnEveryPod(t *testing.T) {
	b := newBackends(t)
	pod1 := startApp(t, ModeAll, b)
	pod2 := startApp(t, ModeAPI, b)
	amy := newUser(t, pod1, "amy")
	ben := newUser(t, pod2, "ben")
	watch := ben.stream("")
	amyStream := amy.stream("")
	time.Sleep(300 * time.Millisecond)
	if !ben.isOnline(amy.user.Usercode) {
		t.Fatal("amy is not online after signing in")
	}
	if res, body := amy.do("POST", "/api/v1/auth/logout", nil); res.StatusCode != http.StatusNoContent {
		t.Fatalf("logout: %d %s", res.StatusCode, body)
	}
	if took, ok := watch.wentOffline(amy.user.Usercode, 2*time.Second); !ok {
		t.Fatal("no offline event on the other pod within 2 s of logout (the presence ttl is 60 s)")
	} else {
		t.Logf("offline event %v after logout", took)
	}
	if ben.isOnline(amy.user.Usercode) {
		t.Fatal("amy is still listed online after logout")
	}
	<-amyStream.closed // the logout ended amy's stream too
	// Stays offline: the ended stream's pod does not bring amy back.
	time.Sleep(2500 * time.Millisecond)
	if ben.isOnline(amy.user.Usercode) {
		t.Fatal("amy came back online after logout")
	}
	res, body := ben.do("GET", "/api/v1/users/"+amy.user.Usercode, nil)
	var p struct {
		Online   bool       `json:"online"`
		LastSeen *time.Time `json:"last_seen"`
	}
	mustJSON(t, body, &p)
	if res.StatusCode != http.StatusOK || p.Online || p.LastSeen == nil || time.Since(*p.LastSeen) > time.Minute {
		t.Fatalf("amy after logout: %d %s, want offline with last_seen now", res.StatusCode, body)
	}
}

// Closing the last stream is offline after the grace, not after the
// stream lease plus the ttl; a reload within the grace, or a stream left
// open on another pod, keeps the user online.
func TestPresence_LastStreamClosedIsOfflineAfterTheGrace(t *testing.T) {
	b := newBackends(t)
	pod1 := startApp(t, ModeAll, b)
	pod2 := startApp(t, ModeAPI, b)
	amy := newUser(t, pod1, "amy")
	ben := newUser(t, pod2, "ben")
	watch := ben.stream("")
	s1 := amy.stream("")
	s2 := amy.on(pod2).stream("")
	// The web UI heartbeats while a stream is open.
	if res, body := amy.do("POST", "/api/v1/presence/heartbeat", nil); res.StatusCode != http.StatusNoContent {
		t.Fatalf("heartbeat: %d %s", res.StatusCode, body)
	}
	quiet := presence.StreamCloseGrace + 2500*time.Millisecond

	s1.close() // a stream on the other pod stays open
	if _, ok := watch.wentOffline(amy.user.Usercode, quiet); ok {
		t.Fatal("amy went offline while a stream of hers stayed open on another pod")
	}
	s2.close()
	time.Sleep(500 * time.Millisecond)
	s3 := amy.stream("") // a reload
	if _, ok := watch.wentOffline(amy.user.Usercode, quiet); ok {
		t.Fatal("a reload within the grace showed amy offline")
	}
	closed := time.Now()
	s3.close()
	if !ben.isOnline(amy.user.Usercode) {
		t.Fatal("amy offline at once: no grace for a reload")
	}
	if _, ok := watch.wentOffline(amy.user.Usercode, presence.StreamCloseGrace+5*time.Second); !ok {
		t.Fatalf("amy still online %v after her last stream closed (grace %v)", time.Since(closed), presence.StreamCloseGrace)
	}
	if took := time.Since(closed); took < presence.StreamCloseGrace-time.Second {
		t.Fatalf("offline %v after the last stream closed, before the grace of %v", took, presence.StreamCloseGrace)
	}
	if ben.isOnline(amy.user.Usercode) {
		t.Fatal("amy still listed online after the offline event")
	}
}
