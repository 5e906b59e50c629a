// Package service holds what reminderd does with its reminders and
// consents, apart from how a request asked for it: the JSON API, the admin
// API and the admin page call the same methods here (handlers decode,
// validate, call, encode). It knows the store (internal/store) and nothing
// of HTTP; its refusals are *Error values that the API maps to statuses in
// one place.
package service

import (
	"fmt"

	"github.com/reminderd/reminderd/internal/store"
)

// Error is a refusal whose Message is safe to show and says why. Kind is
// store.ErrNotFound or store.ErrConflict, so errors.Is matches it as the
// store's errors are matched.
type Error struct {
	Kind    error
	Message string
}

func (e *Error) Error() string { return e.Message }

func (e *Error) Unwrap() error { return e.Kind }

// notFound is the refusal of something that does not exist (or is not the
// caller's to see).
func notFound(what string) *Error {
	return &Error{Kind: store.ErrNotFound, Message: what + " not found"}
}

// conflict is the refusal of a change the row's state does not allow.
func conflict(format string, args ...any) *Error {
	return &Error{Kind: store.ErrConflict, Message: fmt.Sprintf(format, args...)}
}
