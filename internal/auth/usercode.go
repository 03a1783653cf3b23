package auth

import (
	"crypto/rand"
	"fmt"
)

const usercodeAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"

// UsercodeLength is the length of a usercode.
const UsercodeLength = 6

// NewUsercode draws 6 characters from A–Z0–9 with crypto/rand, uniformly:
// bytes at or above 252 (7×36) are rejected so no character is favoured.
func NewUsercode() (string, error) {
	out := make([]byte, 0, UsercodeLength)
	buf := make([]byte, 16)
	for len(out) < UsercodeLength {
		if _, err := rand.Read(buf); err != nil {
			return "", fmt.Errorf("usercode: %w", err)
		}
		for _, b := range buf {
			if b < 252 && len(out) < UsercodeLength {
				out = append(out, usercodeAlphabet[int(b)%len(usercodeAlphabet)])
			}
		}
	}
	return string(out), nil
}

// ValidUsercode reports whether s has the shape of a usercode.
func ValidUsercode(s string) bool {
	if len(s) != UsercodeLength {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'A' && c <= 'Z') && !(c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}
