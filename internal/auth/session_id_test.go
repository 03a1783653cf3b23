package auth

import "testing"

// Streams find their session by SessionID; it must name the key the store
// keeps the session under, or no logout would ever end a stream.
func TestSessionID_IsTheStoreKeysHash(t *testing.T) {
	for _, tok := range []string{"a", "tZ3-long-random_token"} {
		if got, want := sessionKeyPrefix+SessionID(tok), sessionKey(tok); got != want {
			t.Fatalf("SessionID(%q) names %q, the store uses %q", tok, got, want)
		}
	}
	if SessionID("a") == "a" || len(SessionID("a")) != 64 {
		t.Fatalf("SessionID is not a SHA-256 hex: %q", SessionID("a"))
	}
}
