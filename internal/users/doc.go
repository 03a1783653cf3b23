// Package users finds people: search by username prefix or usercode, and
// one person by usercode, each with whether they are online and when they
// were last seen, so a direct message does not need its recipient online.
//
// It is a go-kit service (service.go, endpoint.go, transport.go,
// logging.go). It shows people to other people: never an email, never the
// caller in their own search. It owns no state: accounts are read from the
// database, presence from the presence tracker.
package users
