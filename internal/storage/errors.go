package storage

import (
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"

	"github.com/jackc/pgx/v5/pgconn"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/messager/messager/ent"
)

// ErrNotFound is returned when the row asked for does not exist.
var ErrNotFound = errors.New("not found")

// ErrRejected wraps errors that mean the database refused the data itself
// (a value it cannot store, a broken reference): trying the same write
// again cannot succeed.
var ErrRejected = errors.New("rejected by the database")

// DuplicateError reports a unique constraint that a write would break.
type DuplicateError struct {
	// Field is the unique field that clashed ("username", "usercode", "client_id", "id").
	Field string
}

func (e *DuplicateError) Error() string { return "duplicate " + e.Field }

// classify turns driver errors into the package's errors: not found,
// duplicate on a named field, or unavailable (connection-level failures
// that a retry or a 503 should answer).
func classify(err error) error {
	if err == nil {
		return nil
	}
	if ent.IsNotFound(err) {
		return ErrNotFound
	}
	if constraint, ok := uniqueViolation(err); ok {
		field, known := uniqueFields[constraint]
		if !known {
			field = "unknown"
		}
		return &DuplicateError{Field: field}
	}
	if isConnectionError(err) {
		return fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	if isDataError(err) {
		return fmt.Errorf("%w: %v", ErrRejected, err)
	}
	return err
}

// uniqueFields names the field a DuplicateError reports for each unique
// constraint of the schema: on PostgreSQL by the constraint's name, on
// SQLite, which names no constraint, by the columns its error lists.
var uniqueFields = map[string]string{
	"users_username_key_key": "username", "users.username_key": "username",
	"users_usercode_key": "usercode", "users.usercode": "usercode",
	"message_sender_id_client_id": "client_id", "messages.sender_id, messages.client_id": "client_id",
	"messages_pkey": "id", "messages.id": "id",
}

// uniqueViolation reports whether err is a unique (or primary key)
// violation and which constraint it broke: PostgreSQL's SQLSTATE 23505
// with the constraint's name, or SQLite's extended result codes with
// the "table.column, …" list its message ends with.
func uniqueViolation(err error) (constraint string, ok bool) {
	var pge *pgconn.PgError
	if errors.As(err, &pge) {
		return pge.ConstraintName, pge.Code == pgUniqueViolation
	}
	var se *sqlite.Error
	if errors.As(err, &se) && (se.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE || se.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY) {
		// "constraint failed: UNIQUE constraint failed: t.a, t.b (2067)"
		msg := se.Error()
		if i := strings.LastIndex(msg, " constraint failed: "); i >= 0 {
			msg = msg[i+len(" constraint failed: "):]
		}
		if i := strings.LastIndex(msg, " ("); i >= 0 {
			msg = msg[:i]
		}
		return msg, true
	}
	return "", false
}

// pgUniqueViolation is PostgreSQL's SQLSTATE unique_violation.
const pgUniqueViolation = "23505"

// isDataError reports errors about the data written, not the connection:
// PostgreSQL's classes 22 (data exception, e.g. U+0000 in text) and 23
// (integrity constraint violation), and SQLite's constraint failures
// (primary result code SQLITE_CONSTRAINT, whatever the extended one).
func isDataError(err error) bool {
	var pge *pgconn.PgError
	if errors.As(err, &pge) {
		return strings.HasPrefix(pge.Code, "22") || strings.HasPrefix(pge.Code, "23")
	}
	var se *sqlite.Error
	return errors.As(err, &se) && se.Code()&0xff == sqlite3.SQLITE_CONSTRAINT
}

func isConnectionError(err error) bool {
	var (
		ne  net.Error
		ce  *pgconn.ConnectError
		pge *pgconn.PgError
	)
	switch {
	case errors.Is(err, driver.ErrBadConn), errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE),
		// A connection cut mid-query surfaces as a bare (unexpected) EOF.
		errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return true
	case errors.As(err, &ce), errors.As(err, &ne):
		return true
	case errors.As(err, &pge):
		// Class 08: connection exception; 57P0x: the server is shutting down.
		return strings.HasPrefix(pge.Code, "08") || strings.HasPrefix(pge.Code, "57P")
	}
	msg := err.Error()
	return strings.Contains(msg, "sql: database is closed") || strings.Contains(msg, "conn closed") || pgconn.Timeout(err)
}
