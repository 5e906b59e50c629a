package postgres

import (
	"context"
	"time"

	"github.com/reminderd/reminderd/internal/db/postgres/pgsqlc"
	"github.com/reminderd/reminderd/internal/store"
)

// The sessions' operations of store.ReminderStore.

// CreateSession stores s; ErrConflict when its hash is taken.
func (d *DB) CreateSession(ctx context.Context, s store.Session) error {
	err := d.withTx(ctx, func(q *pgsqlc.Queries) error {
		return q.CreateSession(ctx, pgsqlc.CreateSessionParams{TokenHash: s.TokenHash, Openid: s.OpenID, Appid: s.AppID,
			CreatedAt: s.CreatedAt.UnixMilli(), ExpiresAt: s.ExpiresAt.UnixMilli()})
	})
	return storeErr(err, "create session")
}

// GetSession returns the session of tokenHash unless it expired at now.
// The hash stays out of the error: it is a credential's digest.
func (d *DB) GetSession(ctx context.Context, tokenHash string, now time.Time) (store.Session, error) {
	row, err := d.q.GetSession(ctx, pgsqlc.GetSessionParams{TokenHash: tokenHash, Now: now.UnixMilli()})
	if err != nil {
		return store.Session{}, storeErr(err, "session")
	}
	return store.Session{TokenHash: row.TokenHash, OpenID: row.Openid, AppID: row.Appid, CreatedAt: instant(row.CreatedAt), ExpiresAt: instant(row.ExpiresAt)}, nil
}
