package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/reminderd/reminderd/internal/db/postgres/pgsqlc"
	"github.com/reminderd/reminderd/internal/store"
)

// The operations of store.Apps.

// AdoptRows gives appID the sessions, reminders, events, templates and token
// without an app, then the parked sent events and ledger rows without an app
// to their users' apps (appID for a user known to no app), in one
// transaction.
func (d *DB) AdoptRows(ctx context.Context, appID string) (int64, error) {
	var n int64
	err := d.withTx(ctx, func(q *pgsqlc.Queries) error {
		r, err := q.AdoptReminders(ctx, appID)
		if err != nil {
			return err
		}
		s, err := q.AdoptSessions(ctx, appID)
		if err != nil {
			return err
		}
		tm, err := q.AdoptTemplates(ctx, appID)
		if err != nil {
			return err
		}
		ev, err := q.AdoptEvents(ctx, appID)
		if err != nil {
			return err
		}
		tk, err := q.AdoptToken(ctx, appID)
		if err != nil {
			return err
		}
		pe, err := q.AdoptPendingSentEvents(ctx, appID)
		if err != nil {
			return err
		}
		l, err := adoptLedger(ctx, q, appID)
		n = r + s + tm + tk + ev + pe + l
		return err
	})
	return n, storeErr(err, "adopt rows for app "+appID)
}

// adoptLedger gives the consent ledger's rows without an app (its consents,
// main switches, accepts and snooze keys) to their users' apps, appID for a
// user known to no app (the queries decide, per row). A row whose app has
// one with the same key already is merged into it and the unowned one
// deleted, so no row is left behind without an app.
func adoptLedger(ctx context.Context, q *pgsqlc.Queries, appID string) (int64, error) {
	var n int64
	for _, step := range []struct {
		adopt  func(context.Context, string) (int64, error)
		delete func(context.Context) (int64, error)
	}{
		{q.AdoptConsents, q.DeleteUnownedConsents},
		{q.AdoptConsentSettings, q.DeleteUnownedConsentSettings},
		{q.AdoptGrants, nil},
		{q.AdoptSnoozes, q.DeleteUnownedSnoozes},
	} {
		m, err := step.adopt(ctx, appID)
		if err != nil {
			return n, err
		}
		n += m
		if step.delete == nil {
			continue
		}
		if _, err := step.delete(ctx); err != nil {
			return n, err
		}
	}
	return n, nil
}

// CountRemindersByApp counts from the app index.
func (d *DB) CountRemindersByApp(ctx context.Context) (map[string]map[store.Status]int64, error) {
	rows, err := d.q.CountRemindersByApp(ctx)
	if err != nil {
		return nil, storeErr(err, "count reminders by app")
	}
	out := map[string]map[store.Status]int64{}
	for _, r := range rows {
		if out[r.Appid] == nil {
			out[r.Appid] = map[store.Status]int64{}
		}
		out[r.Appid][store.Status(r.Status)] = r.N
	}
	return out, nil
}

// CountAppReminders reads both counts in one snapshot, as CountReminders.
func (d *DB) CountAppReminders(ctx context.Context, appID string, now time.Time) (store.Counts, error) {
	var c store.Counts
	err := pgx.BeginTxFunc(ctx, d.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		q := d.q.WithTx(tx)
		counts, err := q.CountAppRemindersByStatus(ctx, appID)
		if err != nil {
			return err
		}
		c = store.Counts{ByStatus: make(map[store.Status]int64, len(counts))}
		for _, row := range counts {
			c.ByStatus[store.Status(row.Status)] = row.N
		}
		backlog, err := q.AppDueBacklog(ctx, pgsqlc.AppDueBacklogParams{Appid: appID, Now: now.UnixMilli()})
		if err != nil {
			return err
		}
		c.DueBacklog = backlog.N
		if backlog.N > 0 {
			c.OldestDueAt = instant(backlog.OldestDueAt)
		}
		return nil
	})
	if err != nil {
		return store.Counts{}, storeErr(err, "count reminders of app "+appID)
	}
	return c, nil
}
