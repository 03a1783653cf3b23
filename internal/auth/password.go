package auth

import (
	"github.com/alexedwards/argon2id"
)

// PasswordHasher hashes and verifies passwords.
type PasswordHasher interface {
	Hash(password string) (string, error)
	Verify(password, hash string) (bool, error)
	// Dummy spends the work of one Verify, for unknown usernames.
	Dummy(password string)
}

// Argon2id hashes with argon2id, which reads every byte of the password
// (bcrypt silently ignores bytes past 72) and is memory-hard.
type Argon2id struct {
	params *argon2id.Params
	dummy  string
}

// NewArgon2id uses OWASP's recommended minimum: 19 MiB, 2 passes, 1 lane.
func NewArgon2id() *Argon2id {
	p := &argon2id.Params{Memory: 19 * 1024, Iterations: 2, Parallelism: 1, SaltLength: 16, KeyLength: 32}
	dummy, _ := argon2id.CreateHash("messager-dummy-password", p)
	return &Argon2id{params: p, dummy: dummy}
}

// Hash returns a salted PHC-format hash.
func (a *Argon2id) Hash(password string) (string, error) {
	return argon2id.CreateHash(password, a.params)
}

// Verify compares in constant time.
func (a *Argon2id) Verify(password, hash string) (bool, error) {
	return argon2id.ComparePasswordAndHash(password, hash)
}

// Dummy verifies against a fixed hash and discards the result.
func (a *Argon2id) Dummy(password string) {
	_, _ = argon2id.ComparePasswordAndHash(password, a.dummy)
}
