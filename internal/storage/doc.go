// Package storage opens the SQL database (PostgreSQL in production, SQLite
// embedded), applies the versioned schema migrations of
// ent/migrate/migrations, and implements the persistence the services
// consume: users for auth, messages and recipients for messaging.
// It answers in its own record types (User, StoredMessage, MailboxEntry,
// Saved): the services turn them into what they promise their callers
// (auth.User, events.Message), so storage knows nothing of the wire.
//
// It holds no business rules: validation and authorisation happen in the
// services; this package only stores and finds rows, idempotently where a
// retried task may write twice.
package storage
