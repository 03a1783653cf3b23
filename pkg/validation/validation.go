// Package validation collects the per-field problems of one request so a
// service can report all of them at once; transports answer them with 422.
package validation

import "strings"

// FieldError is one invalid field, named by its JSON name.
type FieldError struct {
	Field   string
	Message string
}

// Errors is every problem found in one request. A nil or empty Errors is no error.
type Errors []FieldError

// Add records a problem with field.
func (e *Errors) Add(field, message string) {
	*e = append(*e, FieldError{Field: field, Message: message})
}

// Err returns e as an error, or nil when there is nothing in it.
func (e Errors) Err() error {
	if len(e) == 0 {
		return nil
	}
	return e
}

func (e Errors) Error() string {
	parts := make([]string, len(e))
	for i, f := range e {
		parts[i] = f.Field + ": " + f.Message
	}
	return "invalid request: " + strings.Join(parts, "; ")
}
