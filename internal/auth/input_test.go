package auth

import (
	"context"
	"strings"
	"testing"
)

func TestRegister_RefusesMalformedOrDisguisedEmails(t *testing.T) {
	for _, tc := range []struct {
		email string
		ok    bool
	}{
		{"luis@example.com", true},
		{"luis.ortega+chat@mail.example.co.uk", true},
		{"a@b-c.co", true},
		{"a@xn--bcher-kva.example", true},
		{"a@-b.co", false},
		{"a@b-.co", false},
		{"a@b..co", false},
		{"a@.b.co", false},
		{"a@b.c-", false},
		{"a@b.123", false},
		{"a@" + strings.Repeat("x", 64) + ".co", false},
		{"evil\u202egro.example@example.com", false}, // right-to-left override
		{"a@exam\u202eple.com", false},
		{"a\u200b@example.com", false},  // zero-width space
		{"a@example.com\u200e", false},  // left-to-right mark
		{"a\u2066b@example.com", false}, // left-to-right isolate
		{"a\u00adb@example.com", false}, // soft hyphen
		{"\"a\u0007\"@example.com", false},
	} {
		t.Run(tc.email, func(t *testing.T) {
			users := newMemUsers()
			s := NewService(users, newMemSessions(), newMemLimiter(), NewFastArgon2id(), testOptions())
			_, err := s.Register(context.Background(), "luis", tc.email, "correct horse", "192.0.2.1")
			if tc.ok {
				if err != nil {
					t.Fatalf("refused %q: %v", tc.email, err)
				}
				return
			}
			if got := fieldsOf(err); strings.Join(got, ",") != "email" {
				t.Fatalf("%q: invalid fields %v (err %v), want [email]", tc.email, got, err)
			}
		})
	}
}

func TestLogin_TrimsUsernameLikeRegister(t *testing.T) {
	s := NewService(newMemUsers(), newMemSessions(), newMemLimiter(), NewFastArgon2id(), testOptions())
	ctx := context.Background()
	if _, err := s.Register(ctx, "  paper\t", "paper@example.com", "correct horse", "192.0.2.1"); err != nil {
		t.Fatal(err)
	}
	sess, err := s.Login(ctx, " paper \n", "correct horse", "1.2.3.4")
	if err != nil || sess.User.Username != "paper" {
		t.Fatalf("login with the spaces register trimmed: %+v, %v", sess.User, err)
	}
}
