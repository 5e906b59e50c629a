package store

import (
	"context"
	"time"
)

// Session is a mini-program login: the hash of its bearer token (the token
// itself is never stored) and whose it is, until ExpiresAt.
type Session struct {
	TokenHash string
	OpenID    string
	CreatedAt time.Time
	ExpiresAt time.Time
}

// Sessions are the operations on sessions.
type Sessions interface {
	// CreateSession stores s; ErrConflict when its hash is taken.
	CreateSession(ctx context.Context, s Session) error
	// GetSession returns the session of tokenHash unless it has expired at
	// now (ErrNotFound then, as for an unknown hash).
	GetSession(ctx context.Context, tokenHash string, now time.Time) (Session, error)
}
