// Package validation collects the per-field problems of one request so a
// service can report all of them at once; transports answer them with 422.
package validation

import (
	"strings"
	"unicode"
)

// FieldError is one invalid field: Field is its JSON name in a request
// (answered in a 422's "errors") or its path in a config document. It is
// the one field-error type of the process.
type FieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// String is "field: message", as config validation prints it.
func (f FieldError) String() string { return f.Field + ": " + f.Message }

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
		parts[i] = f.String()
	}
	return "invalid request: " + strings.Join(parts, "; ")
}

// NULMessage is the problem reported for a text field holding U+0000.
const NULMessage = "must not contain the NUL character (U+0000)"

// HasNUL reports whether s holds U+0000. PostgreSQL cannot store it in a
// text column, so a field that is stored as text must refuse it up front:
// accepted, it would fail on every save attempt.
func HasNUL(s string) bool { return strings.IndexByte(s, 0) >= 0 }

// Blank reports whether s would show nothing: it holds only whitespace,
// control characters, format characters (zero-width space, joiners, word
// joiner, BOM, soft hyphen, bidi controls, tags), variation selectors,
// other default-ignorable code points (Hangul fillers) and the blank
// Braille pattern, which renders as a space. A visible text that contains
// such characters, like an emoji joined by U+200D, is not blank.
func Blank(s string) bool {
	for _, r := range s {
		if !invisible(r) {
			return false
		}
	}
	return true
}

func invisible(r rune) bool {
	return unicode.IsSpace(r) ||
		unicode.In(r, unicode.Cc, unicode.Cf, unicode.Variation_Selector, unicode.Other_Default_Ignorable_Code_Point) ||
		r == '\u2800'
}
