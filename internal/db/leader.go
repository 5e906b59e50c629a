// The fleet on SQLite (store.EngineStore): the leader lease and the
// instances. SQLite serves one process, but the operations are the same
// compare-and-sets as PostgreSQL's, on the caller's clock.

package db

import (
	"context"
	"fmt"
	"time"

	"github.com/reminderd/reminderd/internal/db/dbsqlc"
	"github.com/reminderd/reminderd/internal/store"
)

// ElectLeader takes or renews the lease named name for holder (queries/leader.sql).
func (d *DB) ElectLeader(ctx context.Context, name, holder string, now time.Time, ttl time.Duration) (bool, error) {
	var n int64
	err := d.WithTx(ctx, func(q *dbsqlc.Queries) error {
		var err error
		n, err = q.ElectLeader(ctx, dbsqlc.ElectLeaderParams{Name: name, Holder: holder, Now: now.UnixMilli(),
			ExpiresAt: now.Add(ttl).UnixMilli()})
		return err
	})
	if err != nil {
		return false, fmt.Errorf("elect leader %s: %w", name, err)
	}
	return n == 1, nil
}

// ResignLeader gives the lease named name up if holder holds it.
func (d *DB) ResignLeader(ctx context.Context, name, holder string) error {
	err := d.WithTx(ctx, func(q *dbsqlc.Queries) error {
		_, err := q.ResignLeader(ctx, dbsqlc.ResignLeaderParams{Name: name, Holder: holder})
		return err
	})
	if err != nil {
		return fmt.Errorf("resign leader %s: %w", name, err)
	}
	return nil
}

// Heartbeat records in as seen at now and forgets processes not seen for forget.
func (d *DB) Heartbeat(ctx context.Context, in store.Instance, now time.Time, forget time.Duration) error {
	err := d.WithTx(ctx, func(q *dbsqlc.Queries) error {
		if err := q.HeartbeatInstance(ctx, dbsqlc.HeartbeatInstanceParams{ID: in.ID, Host: in.Host,
			StartedAt: in.StartedAt.UnixMilli(), Now: now.UnixMilli()}); err != nil {
			return err
		}
		_, err := q.ForgetInstances(ctx, dbsqlc.ForgetInstancesParams{Before: now.Add(-forget).UnixMilli(), ID: in.ID})
		return err
	})
	if err != nil {
		return fmt.Errorf("heartbeat of %s: %w", in.ID, err)
	}
	return nil
}

// LeaveFleet deletes the row of the process id.
func (d *DB) LeaveFleet(ctx context.Context, id string) error {
	if err := d.WithTx(ctx, func(q *dbsqlc.Queries) error { return q.DeleteInstance(ctx, id) }); err != nil {
		return fmt.Errorf("leave fleet %s: %w", id, err)
	}
	return nil
}

// Instances lists the processes seen within stale before now.
func (d *DB) Instances(ctx context.Context, leaderName string, now time.Time, stale time.Duration) ([]store.Instance, error) {
	rows, err := d.Read.ListInstances(ctx, dbsqlc.ListInstancesParams{Now: now.UnixMilli(), LeaderName: leaderName,
		Since: now.Add(-stale).UnixMilli()})
	if err != nil {
		return nil, fmt.Errorf("instances: %w", err)
	}
	out := make([]store.Instance, 0, len(rows))
	for _, r := range rows {
		out = append(out, store.Instance{ID: r.ID, Host: r.Host, StartedAt: instant(r.StartedAt),
			LastSeenAt: instant(r.LastSeenAt), Leader: r.Leader == 1})
	}
	return out, nil
}

// SoleSender is one tick of the sole-sender lease for in, with in's
// heartbeat, in one write transaction on the caller's clock.
func (d *DB) SoleSender(ctx context.Context, in store.Instance, want bool, now time.Time, ttl, grace, window time.Duration) (store.SoleState, error) {
	var st store.SoleState
	at := now.UnixMilli()
	err := d.WithTx(ctx, func(q *dbsqlc.Queries) error {
		if err := q.HeartbeatInstance(ctx, dbsqlc.HeartbeatInstanceParams{ID: in.ID, Host: in.Host,
			StartedAt: in.StartedAt.UnixMilli(), Now: at}); err != nil {
			return err
		}
		if err := q.EnsureSoleSender(ctx, store.SoleSenderName); err != nil {
			return err
		}
		row, err := q.GetSoleSender(ctx, store.SoleSenderName)
		if err != nil {
			return err
		}
		others, err := q.OthersMaySend(ctx, dbsqlc.OthersMaySendParams{ID: in.ID, Since: at - window.Milliseconds(), Now: at})
		if err != nil {
			return err
		}
		var holder string
		var until int64
		var write bool
		st, holder, until, write = store.SoleTick(row.Holder, row.ExpiresAt, in.ID, want, others.Seen != 0 || others.Leasing != 0,
			at, ttl.Milliseconds(), grace.Milliseconds())
		if !write {
			return nil
		}
		elected := row.ElectedAt
		if holder != row.Holder {
			elected = at
		}
		return q.SetSoleSender(ctx, dbsqlc.SetSoleSenderParams{Name: store.SoleSenderName, Holder: holder, ElectedAt: elected, ExpiresAt: until})
	})
	if err != nil {
		return store.SoleFree, fmt.Errorf("the sole-sender lease: %w", err)
	}
	return st, nil
}
