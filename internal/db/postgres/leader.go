// The fleet on PostgreSQL (store.EngineStore): the leader lease and the
// instances, on the database's clock (queries/postgres/leader.sql): the
// now the caller passes is ignored, so that a process whose machine's
// clock runs ahead cannot take a live lease, nor one whose clock lags
// look stale.

package postgres

import (
	"context"
	"strconv"
	"time"

	"github.com/reminderd/reminderd/internal/db/postgres/pgsqlc"
	"github.com/reminderd/reminderd/internal/store"
)

// ElectLeader takes or renews the lease named name for holder, for ttl
// from the database's now(). The compare-and-set is one INSERT … ON
// CONFLICT DO UPDATE … WHERE: the conflicting row is locked while its
// condition is judged, so two candidates never both win.
func (d *DB) ElectLeader(ctx context.Context, name, holder string, _ time.Time, ttl time.Duration) (bool, error) {
	var n int64
	err := d.withTx(ctx, func(q *pgsqlc.Queries) error {
		var err error
		n, err = q.ElectLeader(ctx, pgsqlc.ElectLeaderParams{Name: name, Holder: holder, TtlMs: ttl.Milliseconds()})
		return err
	})
	if err != nil {
		return false, storeErr(err, "elect leader "+name)
	}
	return n == 1, nil
}

// ResignLeader gives the lease named name up if holder holds it.
func (d *DB) ResignLeader(ctx context.Context, name, holder string) error {
	err := d.withTx(ctx, func(q *pgsqlc.Queries) error {
		_, err := q.ResignLeader(ctx, pgsqlc.ResignLeaderParams{Name: name, Holder: holder})
		return err
	})
	return storeErr(err, "resign leader "+name)
}

// Heartbeat records in as seen at the database's now() (its started_at
// too, on its first heartbeat) and forgets processes not seen for forget.
func (d *DB) Heartbeat(ctx context.Context, in store.Instance, _ time.Time, forget time.Duration) error {
	err := d.withTx(ctx, func(q *pgsqlc.Queries) error {
		if err := q.HeartbeatInstance(ctx, pgsqlc.HeartbeatInstanceParams{ID: in.ID, Host: in.Host}); err != nil {
			return err
		}
		_, err := q.ForgetInstances(ctx, pgsqlc.ForgetInstancesParams{ForgetMs: forget.Milliseconds(), ID: in.ID})
		return err
	})
	return storeErr(err, "heartbeat of "+in.ID)
}

// LeaveFleet deletes the row of the process id.
func (d *DB) LeaveFleet(ctx context.Context, id string) error {
	err := d.withTx(ctx, func(q *pgsqlc.Queries) error { return q.DeleteInstance(ctx, id) })
	return storeErr(err, "leave fleet "+id)
}

// Instances lists the processes seen within stale before the database's now().
func (d *DB) Instances(ctx context.Context, leaderName string, _ time.Time, stale time.Duration) ([]store.Instance, error) {
	rows, err := d.q.ListInstances(ctx, pgsqlc.ListInstancesParams{LeaderName: leaderName, StaleMs: stale.Milliseconds()})
	if err != nil {
		return nil, storeErr(err, "instances")
	}
	out := make([]store.Instance, 0, len(rows))
	for _, r := range rows {
		out = append(out, store.Instance{ID: r.ID, Host: r.Host, StartedAt: instant(r.StartedAt),
			LastSeenAt: instant(r.LastSeenAt), Leader: r.Leader})
	}
	return out, nil
}

// The sole-sender tick's bounds on its row lock (SoleSenderTimeouts): every
// process's tick waits for that one row, so a tick never waits for it long,
// and a process that dies holding it (a VM cut off mid-transaction) loses
// it within seconds, not when TCP keepalives notice.
const (
	soleLockTimeout = 2 * time.Second
	soleIdleTimeout = 5 * time.Second
)

// SoleSender is one tick of the sole-sender lease for in, with in's
// heartbeat, in one transaction on the database's clock (the now passed
// in is ignored). The heartbeat commits with the read: a process that
// appears is seen by every later tick, and the row's lock serialises a
// newcomer's read with a lone process's take.
func (d *DB) SoleSender(ctx context.Context, in store.Instance, want bool, _ time.Time, ttl, grace, window time.Duration) (store.SoleState, error) {
	var st store.SoleState
	err := d.withTx(ctx, func(q *pgsqlc.Queries) error {
		if err := q.SoleSenderTimeouts(ctx, pgsqlc.SoleSenderTimeoutsParams{LockMs: strconv.FormatInt(soleLockTimeout.Milliseconds(), 10),
			IdleMs: strconv.FormatInt(soleIdleTimeout.Milliseconds(), 10)}); err != nil {
			return err
		}
		if err := q.HeartbeatInstance(ctx, pgsqlc.HeartbeatInstanceParams{ID: in.ID, Host: in.Host}); err != nil {
			return err
		}
		if err := q.EnsureSoleSender(ctx, store.SoleSenderName); err != nil {
			return err
		}
		row, err := q.LockSoleSender(ctx, store.SoleSenderName)
		if err != nil {
			return err
		}
		others, err := q.OthersMaySend(ctx, pgsqlc.OthersMaySendParams{ID: in.ID, Since: row.Now - window.Milliseconds(), Now: row.Now})
		if err != nil {
			return err
		}
		var holder string
		var until int64
		var write bool
		st, holder, until, write = store.SoleTick(row.Holder, row.ExpiresAt, in.ID, want, others.Seen || others.Leasing,
			row.Now, ttl.Milliseconds(), grace.Milliseconds())
		if !write {
			return nil
		}
		elected := row.ElectedAt
		if holder != row.Holder {
			elected = row.Now
		}
		return q.SetSoleSender(ctx, pgsqlc.SetSoleSenderParams{Name: store.SoleSenderName, Holder: holder, ElectedAt: elected, ExpiresAt: until})
	})
	if err != nil {
		return store.SoleFree, storeErr(err, "the sole-sender lease")
	}
	return st, nil
}
