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
func classify(err error, uniqueFields ...string) error {
	if err == nil {
		return nil
	}
	if ent.IsNotFound(err) {
		return ErrNotFound
	}
	if ent.IsConstraintError(err) || isUniqueViolation(err) {
		msg := err.Error()
		for _, f := range uniqueFields {
			if strings.Contains(msg, f) {
				return &DuplicateError{Field: f}
			}
		}
		return &DuplicateError{Field: "unknown"}
	}
	if isConnectionError(err) {
		return fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	if isDataError(err) {
		return fmt.Errorf("%w: %v", ErrRejected, err)
	}
	return err
}

// isDataError reports errors about the data written, not the connection:
// PostgreSQL's classes 22 (data exception, e.g. U+0000 in text) and 23
// (integrity constraint violation), and SQLite's constraint failures.
func isDataError(err error) bool {
	var pge *pgconn.PgError
	if errors.As(err, &pge) {
		return strings.HasPrefix(pge.Code, "22") || strings.HasPrefix(pge.Code, "23")
	}
	return strings.Contains(err.Error(), "constraint failed")
}

func isUniqueViolation(err error) bool {
	var pge *pgconn.PgError
	if errors.As(err, &pge) {
		return pge.Code == "23505"
	}
	return strings.Contains(err.Error(), "UNIQUE constraint failed")
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
