package db

import (
	"context"
	"time"

	"github.com/reminderd/reminderd/internal/db/dbsqlc"
	"github.com/reminderd/reminderd/internal/store"
)

// The sessions' operations of store.ReminderStore.

// CreateSession stores s.
func (d *DB) CreateSession(ctx context.Context, s store.Session) error {
	err := d.WithTx(ctx, func(q *dbsqlc.Queries) error {
		return q.CreateSession(ctx, dbsqlc.CreateSessionParams{TokenHash: s.TokenHash, Openid: s.OpenID, Appid: s.AppID,
			CreatedAt: s.CreatedAt.UnixMilli(), ExpiresAt: s.ExpiresAt.UnixMilli()})
	})
	return storeErr(err, "create session")
}

// GetSession reads on the read pool. The hash stays out of the error: it
// is a credential's digest.
func (d *DB) GetSession(ctx context.Context, tokenHash string, now time.Time) (store.Session, error) {
	row, err := d.Read.GetSession(ctx, dbsqlc.GetSessionParams{TokenHash: tokenHash, Now: now.UnixMilli()})
	if err != nil {
		return store.Session{}, storeErr(err, "session")
	}
	return store.Session{TokenHash: row.TokenHash, OpenID: row.Openid, AppID: row.Appid, CreatedAt: instant(row.CreatedAt), ExpiresAt: instant(row.ExpiresAt)}, nil
}
