// Package errs builds the Disconnect reasons of package simplesockets:
// errors that match (errors.Is) a sentinel and say more than it does.
package errs

import "strings"

// alias is an error with a message of its own that matches a more general
// sentinel.
type alias struct {
	msg    string
	target error
}

func (e *alias) Error() string        { return e.msg }
func (e *alias) Is(target error) bool { return target == e.target }

// Alias returns an error with message msg that matches target.
func Alias(msg string, target error) error { return &alias{msg, target} }

// caused ties a sentinel reason to the error that caused it, so that
// errors.Is matches both. Because makes one; cause is never nil.
type caused struct{ reason, cause error }

func (e *caused) Error() string   { return e.reason.Error() + ": " + Unprefixed(e.cause) }
func (e *caused) Unwrap() []error { return []error{e.reason, e.cause} }

// Because returns an error that matches reason and wraps cause.
func Because(reason, cause error) error {
	if cause == nil || cause == reason {
		return reason
	}
	return &caused{reason, cause}
}

// Unprefixed is err's message without the "simplesockets: " prefix, so
// that a message built around it says it once.
func Unprefixed(err error) string { return strings.TrimPrefix(err.Error(), "simplesockets: ") }
