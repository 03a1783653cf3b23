package app

import "github.com/alexedwards/argon2id"

// fastHasher is argon2id at minimal cost, for Options.PasswordHasher: these
// tests register hundreds of users, and the production cost (19 MiB, two
// passes) would dominate their time. Its hashes have the production format,
// so a password hashed here verifies under auth.NewArgon2id too.
type fastHasher struct{ dummy string }

var fastArgon2Params = &argon2id.Params{Memory: 64, Iterations: 1, Parallelism: 1, SaltLength: 16, KeyLength: 32}

func newFastHasher() *fastHasher {
	dummy, _ := argon2id.CreateHash("messager-dummy-password", fastArgon2Params)
	return &fastHasher{dummy: dummy}
}

func (h *fastHasher) Hash(password string) (string, error) {
	return argon2id.CreateHash(password, fastArgon2Params)
}

func (h *fastHasher) Verify(password, hash string) (bool, error) {
	return argon2id.ComparePasswordAndHash(password, hash)
}

func (h *fastHasher) Dummy(password string) {
	_, _ = argon2id.ComparePasswordAndHash(password, h.dummy)
}
