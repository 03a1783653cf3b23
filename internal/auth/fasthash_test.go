package auth

import "github.com/alexedwards/argon2id"

// NewFastArgon2id is Argon2id at minimal cost for this package's tests:
// the same algorithm and hash format, a fraction of a millisecond a hash.
// (internal/app's tests have their own, fastHasher: a test file cannot be
// imported.)
func NewFastArgon2id() *Argon2id {
	p := &argon2id.Params{Memory: 64, Iterations: 1, Parallelism: 1, SaltLength: 16, KeyLength: 32}
	dummy, _ := argon2id.CreateHash("messager-dummy-password", p)
	return &Argon2id{params: p, dummy: dummy}
}
