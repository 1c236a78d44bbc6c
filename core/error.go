package core

import (
	"errors"
	"fmt"
)

// Error codes. Interfaces map them to exit statuses (cmd/hub) and HTTP
// statuses (server) in one place each.
const (
	ECONFLICT = "conflict"  // the store is in a state that forbids the action
	EINTERNAL = "internal"  // a bug or an infrastructure failure
	EINVALID  = "invalid"   // the input is wrong; the message says how
	ENOTFOUND = "not_found" // the thing asked for does not exist
)

// Error is an error a user should see as is: Message says what went wrong
// and what to do about it.
type Error struct {
	Code    string
	Message string
}

func (e *Error) Error() string { return e.Message }

// Errorf returns an *Error with the given code and formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of the first *Error in err's chain, EINTERNAL
// for any other non-nil error and "" for nil.
func ErrorCode(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return EINTERNAL
}
