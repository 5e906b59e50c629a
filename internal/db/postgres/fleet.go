package postgres

import (
	"context"
	"fmt"
	"slices"
	"strings"
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
// of holder's claim of reminderID started, in one statement. A fleet takes
// it before every send, and one commit per send (its fsync) was the largest
// cost of a send on PostgreSQL: so concurrent calls of this process are
// group-committed (d.leases, acquireBatch), one statement and one commit
// for all of them. A claim rescued meanwhile is not marked: the lease is
// given back and it reports false.
func (d *DB) AcquireUserSend(ctx context.Context, openID, holder string, now, until time.Time, reminderID string, attempt int64) (bool, error) {
	req := &leaseReq{openID: openID, holder: holder, now: now, until: until, reminderID: reminderID, attempt: attempt}
	if err := d.leases.Do(ctx, req); err != nil {
		return false, storeErr(err, "acquire the send lease")
	}
	return req.got, nil
}

// maxLeases bounds one batch of send leases (one statement).
const maxLeases = 256

// leaseReq is one AcquireUserSend call in a batch.
type leaseReq struct {
	openID, holder string
	now, until     time.Time
	reminderID     string
	attempt        int64
	got            bool
}

// acquireBatch takes the leases of a batch with one statement per round, a
// round holding each openid once (the upsert cannot touch one row twice),
// in openid order, so that two processes' batches lock their rows in one
// order. The batch's earliest now judges whether another holder's lease
// has run out: never one that ran out only at a later caller's instant. A
// claim that was not marked gives its lease back at once. If a round fails
// (a deadlock with another process), its requests are taken one by one, so
// that only a failing one gets an error.
func (d *DB) acquireBatch(ctx context.Context, reqs []*leaseReq) []error {
	errs := make([]error, len(reqs))
	order := make([]int, len(reqs))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return strings.Compare(reqs[a].openID, reqs[b].openID) })
	for len(order) > 0 {
		var round, rest []int
		for k, i := range order {
			if k > 0 && reqs[i].openID == reqs[order[k-1]].openID {
				rest = append(rest, i)
			} else {
				round = append(round, i)
			}
		}
		if err := d.acquireRound(ctx, reqs, round); err != nil {
			for _, i := range round {
				errs[i] = d.acquireRound(ctx, reqs, []int{i})
			}
		}
		order = rest
	}
	return errs
}

// acquireRound runs the batch statement for reqs[round], whose openids are
// distinct, and gives back the leases of claims rescued meanwhile.
func (d *DB) acquireRound(ctx context.Context, reqs []*leaseReq, round []int) error {
	p := pgsqlc.AcquireUserSendsParams{Now: reqs[round[0]].now.UnixMilli()}
	for _, i := range round {
		r := reqs[i]
		p.Openids = append(p.Openids, r.openID)
		p.Holders = append(p.Holders, r.holder)
		p.Untils = append(p.Untils, r.until.UnixMilli())
		p.ReminderIds = append(p.ReminderIds, r.reminderID)
		p.Attempts = append(p.Attempts, r.attempt)
		p.Now = min(p.Now, r.now.UnixMilli())
	}
	rows, err := d.q.AcquireUserSends(ctx, p)
	if err != nil {
		return err
	}
	if len(rows) != len(round) {
		return fmt.Errorf("the send leases answered %d rows for %d requests", len(rows), len(round))
	}
	var back pgsqlc.ReleaseUserSendsParams
	for k, i := range round {
		r, row := reqs[i], rows[k]
		if row.Openid != r.openID {
			return fmt.Errorf("the send leases answered out of order")
		}
		r.got = row.Leased && (r.reminderID == "" || row.Marked)
		if row.Leased && !r.got {
			back.Openids = append(back.Openids, r.openID)
			back.Holders = append(back.Holders, r.holder)
		}
	}
	if len(back.Openids) > 0 {
		return d.q.ReleaseUserSends(ctx, back)
	}
	return nil
}

// ReleaseUserSend gives holder's send lease of openID up (one statement,
// as AcquireUserSend).
func (d *DB) ReleaseUserSend(ctx context.Context, openID, holder string) error {
	if err := d.q.ReleaseUserSend(ctx, pgsqlc.ReleaseUserSendParams{Openid: openID, Holder: holder}); err != nil {
		return storeErr(err, "release the send lease")
	}
	return nil
}
