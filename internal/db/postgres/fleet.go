package postgres

import (
	"context"
	"time"

	"github.com/reminderd/reminderd/internal/db/postgres/pgsqlc"
	"github.com/reminderd/reminderd/internal/store"
)

// The fleet operations (store.EngineStore): compare-and-set upserts on one
// row each (the token row, a user's send lease), each its own short
// transaction. No transaction is held across a call to WeChat: the fetch
// lease is a row with an expiry, so a process that dies mid-fetch blocks the
// others only until it runs out.

// SharedByProcesses is true: any number of processes share the database,
// so the engine takes the per-openid send lease around each send.
func (d *DB) SharedByProcesses() bool { return true }

// AcquireTokenFetch takes the token's fetch lease for holder.
func (a appView) AcquireTokenFetch(ctx context.Context, holder string, now, until time.Time) (bool, error) {
	d := a.d
	var n int64
	err := d.withTx(ctx, func(q *pgsqlc.Queries) error {
		var err error
		n, err = q.AcquireTokenFetch(ctx, pgsqlc.AcquireTokenFetchParams{Appid: a.appID, Now: now.UnixMilli(), Holder: holder, Until: until.UnixMilli()})
		return err
	})
	if err != nil {
		return false, storeErr(err, "acquire the token fetch lease")
	}
	return n > 0, nil
}

// ReleaseTokenFetch gives holder's fetch lease up.
func (a appView) ReleaseTokenFetch(ctx context.Context, holder string) error {
	d := a.d
	if err := d.withTx(ctx, func(q *pgsqlc.Queries) error {
		return q.ReleaseTokenFetch(ctx, pgsqlc.ReleaseTokenFetchParams{Appid: a.appID, Holder: holder})
	}); err != nil {
		return storeErr(err, "release the token fetch lease")
	}
	return nil
}

// SaveFetchedToken stores a fetched token and releases holder's lease.
func (a appView) SaveFetchedToken(ctx context.Context, t store.Token, holder string, at time.Time) (int64, error) {
	d := a.d
	var v int64
	err := d.withTx(ctx, func(q *pgsqlc.Queries) error {
		var err error
		v, err = q.SaveFetchedToken(ctx, pgsqlc.SaveFetchedTokenParams{Appid: a.appID, Value: t.Value, ExpiresAt: t.ExpiresAt.UnixMilli(), Now: at.UnixMilli(), Holder: holder})
		return err
	})
	if err != nil {
		return 0, storeErr(err, "save access token")
	}
	return v, nil
}

// InvalidateToken drops the token if it is still at version.
func (a appView) InvalidateToken(ctx context.Context, version int64, at time.Time) (bool, error) {
	d := a.d
	var n int64
	err := d.withTx(ctx, func(q *pgsqlc.Queries) error {
		var err error
		n, err = q.InvalidateToken(ctx, pgsqlc.InvalidateTokenParams{Appid: a.appID, Now: at.UnixMilli(), Version: version})
		return err
	})
	if err != nil {
		return false, storeErr(err, "invalidate access token")
	}
	return n > 0, nil
}

// AcquireUserSend takes openID's send lease for holder, and marks the send
// of holder's claim of reminderID started, in one statement (so one
// implicit transaction: no BEGIN and COMMIT round trips on the send's path,
// which a fleet takes before every send). A claim rescued meanwhile is not
// marked: the lease is given back and it reports false.
func (d *DB) AcquireUserSend(ctx context.Context, openID, holder string, now, until time.Time, reminderID string) (bool, error) {
	r, err := d.q.AcquireUserSend(ctx, pgsqlc.AcquireUserSendParams{Openid: openID, Holder: holder, Until: until.UnixMilli(),
		Now: now.UnixMilli(), ReminderID: reminderID})
	if err != nil {
		return false, storeErr(err, "acquire the send lease")
	}
	if r.Leased > 0 && reminderID != "" && r.Marked == 0 {
		return false, d.ReleaseUserSend(ctx, openID, holder)
	}
	return r.Leased > 0, nil
}

// ReleaseUserSend gives holder's send lease of openID up (one statement,
// as AcquireUserSend).
func (d *DB) ReleaseUserSend(ctx context.Context, openID, holder string) error {
	if err := d.q.ReleaseUserSend(ctx, pgsqlc.ReleaseUserSendParams{Openid: openID, Holder: holder}); err != nil {
		return storeErr(err, "release the send lease")
	}
	return nil
}
