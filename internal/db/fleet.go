package db

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/reminderd/reminderd/internal/db/dbsqlc"
	"github.com/reminderd/reminderd/internal/store"
)

// The fleet operations (store.EngineStore). SQLite serves one process, but
// they are real here too: two handles on one file share the token through
// its row exactly as two PostgreSQL processes do.

// SharedByProcesses is false: a SQLite file serves one process, so the
// engine takes no per-openid send lease (its in-process lock is the
// guarantee) and the hot path has no extra write.
func (d *DB) SharedByProcesses() bool { return false }

// AcquireTokenFetch takes the token's fetch lease for holder.
func (a appView) AcquireTokenFetch(ctx context.Context, holder string, now, until time.Time) (bool, error) {
	d := a.d
	var n int64
	err := d.WithTx(ctx, func(q *dbsqlc.Queries) error {
		var err error
		n, err = q.AcquireTokenFetch(ctx, dbsqlc.AcquireTokenFetchParams{Appid: a.appID, Now: now.UnixMilli(), Holder: holder, Until: until.UnixMilli()})
		return err
	})
	if err != nil {
		return false, fmt.Errorf("acquire the token fetch lease: %w", err)
	}
	return n > 0, nil
}

// ReleaseTokenFetch gives holder's fetch lease up.
func (a appView) ReleaseTokenFetch(ctx context.Context, holder string) error {
	d := a.d
	if err := d.WithTx(ctx, func(q *dbsqlc.Queries) error {
		return q.ReleaseTokenFetch(ctx, dbsqlc.ReleaseTokenFetchParams{Appid: a.appID, Holder: holder})
	}); err != nil {
		return fmt.Errorf("release the token fetch lease: %w", err)
	}
	return nil
}

// SaveFetchedToken stores a fetched token and releases holder's lease.
func (a appView) SaveFetchedToken(ctx context.Context, t store.Token, holder string, at time.Time) (int64, error) {
	d := a.d
	var v int64
	err := d.WithTx(ctx, func(q *dbsqlc.Queries) error {
		var err error
		v, err = q.SaveFetchedToken(ctx, dbsqlc.SaveFetchedTokenParams{Appid: a.appID, Value: t.Value, ExpiresAt: t.ExpiresAt.UnixMilli(), Now: at.UnixMilli(), Holder: holder})
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("save access token: %w", err)
	}
	return v, nil
}

// InvalidateToken drops the token if it is still at version.
func (a appView) InvalidateToken(ctx context.Context, version int64, at time.Time) (bool, error) {
	d := a.d
	var n int64
	err := d.WithTx(ctx, func(q *dbsqlc.Queries) error {
		var err error
		n, err = q.InvalidateToken(ctx, dbsqlc.InvalidateTokenParams{Appid: a.appID, Now: at.UnixMilli(), Version: version})
		return err
	})
	if err != nil {
		return false, fmt.Errorf("invalidate access token: %w", err)
	}
	return n > 0, nil
}

// errClaimLost rolls back a send lease taken for a claim that is no longer
// its holder's.
var errClaimLost = errors.New("the claim is no longer the holder's")

// AcquireUserSend takes openID's send lease for holder, and marks the send
// of holder's claim of reminderID started, in one transaction: a claim
// rescued meanwhile takes no lease (false).
func (d *DB) AcquireUserSend(ctx context.Context, openID, holder string, now, until time.Time, reminderID string, attempt int64) (bool, error) {
	var n int64
	err := d.WithTx(ctx, func(q *dbsqlc.Queries) error {
		if err := q.DropExpiredUserSend(ctx, dbsqlc.DropExpiredUserSendParams{Openid: openID, Now: now.UnixMilli()}); err != nil {
			return err
		}
		var err error
		n, err = q.AcquireUserSend(ctx, dbsqlc.AcquireUserSendParams{Openid: openID, Holder: holder, Until: until.UnixMilli()})
		if err != nil || n == 0 || reminderID == "" {
			return err
		}
		marked, err := q.MarkSendStarted(ctx, dbsqlc.MarkSendStartedParams{ID: reminderID, Holder: someStr(holder), Attempts: attempt})
		if err == nil && marked == 0 {
			err = errClaimLost
		}
		return err
	})
	if errors.Is(err, errClaimLost) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("acquire the send lease: %w", err)
	}
	return n > 0, nil
}

// ReleaseUserSend gives holder's send lease of openID up.
func (d *DB) ReleaseUserSend(ctx context.Context, openID, holder string) error {
	err := d.WithTx(ctx, func(q *dbsqlc.Queries) error {
		return q.ReleaseUserSend(ctx, dbsqlc.ReleaseUserSendParams{Openid: openID, Holder: holder})
	})
	if err != nil {
		return fmt.Errorf("release the send lease: %w", err)
	}
	return nil
}
