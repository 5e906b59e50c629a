package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/reminderd/reminderd/internal/db/postgres/pgsqlc"
	"github.com/reminderd/reminderd/internal/store"
)

// The reminders' operations of store.ReminderStore (the API's and the
// services'), each one transaction or one read.

// CreateReminderIdempotent creates r after its idempotency key and the
// user's limit, in one transaction that first takes the user's advisory
// lock (LockUserCreates, pg_advisory_xact_lock): under READ COMMITTED each
// statement after the lock sees every create of the user that committed
// before it, so the key's lookup and the count against the limit hold
// across processes. fn may run again (withTx), so it starts from nothing
// each time; a replay or a refusal writes nothing.
func (d *DB) CreateReminderIdempotent(ctx context.Context, r store.NewReminder, opt store.CreateOptions) (store.Created, error) {
	if !r.DueAt.IsZero() && !r.DueAt.Equal(r.FireAt) {
		return store.Created{}, fmt.Errorf("create reminder %s: due_at must be its fire_at (a new reminder is due when it fires)", r.ID)
	}
	p, row := insertReminder(r)
	var out store.Created
	var refused error
	err := d.withTx(ctx, func(q *pgsqlc.Queries) error {
		out, refused = store.Created{}, nil
		if r.IdempotencyKey != "" || opt.MaxScheduled > 0 {
			if err := q.LockUserCreates(ctx, r.OpenID); err != nil {
				return err
			}
		}
		if r.IdempotencyKey != "" {
			prev, err := q.GetReminderByIdempotencyKey(ctx, byKey(r.OpenID, r.IdempotencyKey))
			if err == nil {
				out, refused = replay(prev, r)
				return nil
			} else if !errors.Is(err, pgx.ErrNoRows) {
				return err
			}
		}
		if opt.MaxScheduled > 0 {
			n, err := q.CountScheduledForOwner(ctx, r.OpenID)
			if err != nil {
				return err
			}
			if n >= int64(opt.MaxScheduled) {
				refused = fmt.Errorf("create reminder for %s: %d scheduled: %w", r.OpenID, n, store.ErrLimit)
				return nil
			}
		}
		if err := q.InsertReminder(ctx, p); err != nil {
			return err
		}
		out.Reminder = reminderFromRow(row)
		return prefillCoverage(ctx, q, &out)
	})
	if err != nil && r.IdempotencyKey != "" && errors.Is(storeErr(err, ""), store.ErrConflict) {
		// A create with the key that took no lock (CreateReminder)
		// committed first.
		if prev, err2 := d.q.GetReminderByIdempotencyKey(ctx, byKey(r.OpenID, r.IdempotencyKey)); err2 == nil {
			out, refused = replay(prev, r)
			err = nil
		}
	}
	if err != nil {
		return store.Created{}, createErr(err, "create reminder "+r.ID)
	}
	return out, refused
}

func byKey(openID, key string) pgsqlc.GetReminderByIdempotencyKeyParams {
	return pgsqlc.GetReminderByIdempotencyKeyParams{Openid: openID, IdempotencyKey: &key}
}

// replay answers a create whose key was used before: the same request gets
// its reminder, another one a conflict.
func replay(prev pgsqlc.Reminder, r store.NewReminder) (store.Created, error) {
	if deref(prev.RequestHash) != r.RequestHash {
		return store.Created{}, fmt.Errorf("idempotency key %q was used with a different request: %w", r.IdempotencyKey, store.ErrConflict)
	}
	return store.Created{Reminder: reminderFromRow(prev), Replayed: true}, nil
}

// prefillCoverage reads, in the create's transaction, the ledger's row of
// the reminder's user and template and, when it has credits and no
// long-term grant, the count ahead.
func prefillCoverage(ctx context.Context, q *pgsqlc.Queries, c *store.Created) error {
	r := c.Reminder
	row, err := q.GetConsent(ctx, pgsqlc.GetConsentParams{Appid: r.AppID, Openid: r.OpenID, TemplateID: r.TemplateID})
	if errors.Is(err, pgx.ErrNoRows) {
		return nil
	}
	if err != nil {
		return err
	}
	c.Consent = consentFromRow(row)
	if !row.LongTerm && row.Credits > 0 {
		c.Ahead, err = q.CountAheadOfReminder(ctx, aheadParams(r))
	}
	return err
}

// ReminderByIdempotencyKey returns openID's reminder created with key.
func (d *DB) ReminderByIdempotencyKey(ctx context.Context, openID, key string) (store.Reminder, error) {
	row, err := d.q.GetReminderByIdempotencyKey(ctx, byKey(openID, key))
	if err != nil {
		return store.Reminder{}, storeErr(err, "reminder of idempotency key "+key)
	}
	return reminderFromRow(row), nil
}

// GetReminder returns reminder id.
func (d *DB) GetReminder(ctx context.Context, id string) (store.Reminder, error) {
	row, err := d.q.GetReminder(ctx, id)
	if err != nil {
		return store.Reminder{}, storeErr(err, "reminder "+id)
	}
	return reminderFromRow(row), nil
}

// UpdateScheduled changes a reminder while it is scheduled.
func (d *DB) UpdateScheduled(ctx context.Context, u store.ReminderUpdate, now time.Time) error {
	p := pgsqlc.UpdateScheduledReminderParams{ID: u.ID, FireAt: u.FireAt.UnixMilli(), ExpiresAt: msOrNull(u.ExpiresAt),
		Data: u.Data, Page: u.Page, Now: now.UnixMilli()}
	if u.HasWindow {
		ms := u.Window.Milliseconds()
		p.WindowMs = &ms
	}
	err := d.casReminder(ctx, u.ID, func(q *pgsqlc.Queries) (int64, error) {
		return q.UpdateScheduledReminder(ctx, p)
	})
	return createErr(err, "update reminder "+u.ID)
}

// CancelReminder cancels a scheduled reminder.
func (d *DB) CancelReminder(ctx context.Context, id string, now time.Time) error {
	err := d.casReminder(ctx, id, func(q *pgsqlc.Queries) (int64, error) {
		return q.CancelReminder(ctx, pgsqlc.CancelReminderParams{ID: id, Now: now.UnixMilli()})
	})
	return storeErr(err, "cancel reminder "+id)
}

// RetryReminder schedules a failed or skipped reminder again at now.
func (d *DB) RetryReminder(ctx context.Context, id string, now time.Time) error {
	err := d.casReminder(ctx, id, func(q *pgsqlc.Queries) (int64, error) {
		return q.RetryReminder(ctx, pgsqlc.RetryReminderParams{ID: id, Now: now.UnixMilli()})
	})
	return storeErr(err, "retry reminder "+id)
}

// casReminder runs the compare-and-set set on reminder id after locking
// its row (LockReminderStatus, SELECT … FOR UPDATE): under READ COMMITTED
// the status read and the one the compare-and-set sees are then the same,
// so a refusal is a *store.StateError naming the status that refused it
// (no row: ErrNotFound).
func (d *DB) casReminder(ctx context.Context, id string, set func(q *pgsqlc.Queries) (int64, error)) error {
	return d.withTx(ctx, func(q *pgsqlc.Queries) error {
		status, err := q.LockReminderStatus(ctx, id)
		if err != nil {
			return err
		}
		n, err := set(q)
		if err != nil || n == 1 {
			return err
		}
		return &store.StateError{ID: id, Status: store.Status(status)}
	})
}

// CancelReminders cancels the scheduled ones among ids in one transaction:
// it locks their rows in id order (LockReminders), then cancels the ones it
// found scheduled in one statement.
func (d *DB) CancelReminders(ctx context.Context, ids []string, now time.Time) (store.CancelCounts, error) {
	if len(ids) == 0 {
		return store.CancelCounts{}, nil
	}
	var c store.CancelCounts
	err := d.withTx(ctx, func(q *pgsqlc.Queries) error {
		found, err := lockReminders(ctx, q, ids)
		if err != nil {
			return err
		}
		var scheduled []string
		for id, r := range found {
			if r.Status == string(store.StatusScheduled) {
				scheduled = append(scheduled, id)
			}
		}
		canceled, err := q.CancelReminders(ctx, pgsqlc.CancelRemindersParams{Ids: scheduled, Now: now.UnixMilli()})
		if err != nil {
			return err
		}
		done := setOf(canceled)
		c = store.CancelCounts{Matched: len(ids)}
		for _, id := range ids {
			switch _, ok := found[id]; {
			case done[id]:
				c.Canceled++
				delete(done, id) // a repeated id is a conflict, as its second cancel would be
			case ok:
				c.Conflict++
			default:
				c.NotFound++
			}
		}
		return nil
	})
	if err != nil {
		return store.CancelCounts{}, storeErr(err, fmt.Sprintf("cancel %d reminders", len(ids)))
	}
	return c, nil
}

// RetryReminders retries the failed and skipped ones among ids that a
// retry can fix, in one transaction: it locks their rows in id order
// (LockReminders), sorts them by status and reason, and retries the
// retryable ones in one statement.
func (d *DB) RetryReminders(ctx context.Context, ids []string, now time.Time) (store.RetryCounts, error) {
	if len(ids) == 0 {
		return store.RetryCounts{}, nil
	}
	var c store.RetryCounts
	err := d.withTx(ctx, func(q *pgsqlc.Queries) error {
		found, err := lockReminders(ctx, q, ids)
		if err != nil {
			return err
		}
		c = store.RetryCounts{Matched: len(ids)}
		var retry []string
		seen := map[string]bool{}
		for _, id := range ids {
			r, ok := found[id]
			switch {
			case !ok:
				c.NotFound++
			case seen[id] || !store.Status(r.Status).Ended():
				c.Conflict++ // a repeated id is scheduled by its first retry
			case store.Reason(deref(r.Reason)).Permanent():
				c.Permanent++
			default:
				retry = append(retry, id)
			}
			seen[id] = true
		}
		if len(retry) == 0 {
			return nil
		}
		retried, err := q.RetryReminders(ctx, pgsqlc.RetryRemindersParams{Ids: retry, Now: now.UnixMilli()})
		if err != nil {
			return err
		}
		c.Retried = len(retried)
		c.Conflict += len(retry) - len(retried) // cannot happen under the locks
		return nil
	})
	if err != nil {
		return store.RetryCounts{}, storeErr(err, fmt.Sprintf("retry %d reminders", len(ids)))
	}
	return c, nil
}

// lockReminders locks the rows of the reminders among ids and returns them
// by id.
func lockReminders(ctx context.Context, q *pgsqlc.Queries, ids []string) (map[string]pgsqlc.LockRemindersRow, error) {
	rows, err := q.LockReminders(ctx, ids)
	if err != nil {
		return nil, err
	}
	out := make(map[string]pgsqlc.LockRemindersRow, len(rows))
	for _, r := range rows {
		out[r.ID] = r
	}
	return out, nil
}

func setOf(ss []string) map[string]bool {
	m := make(map[string]bool, len(ss))
	for _, s := range ss {
		m[s] = true
	}
	return m
}

// CountReminders counts the reminders by status and the scheduled ones due
// at now, in one read-only transaction (one snapshot for both counts).
func (d *DB) CountReminders(ctx context.Context, now time.Time) (store.Counts, error) {
	var c store.Counts
	err := pgx.BeginTxFunc(ctx, d.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		q := d.q.WithTx(tx)
		counts, err := q.CountRemindersByStatus(ctx)
		if err != nil {
			return err
		}
		c = store.Counts{ByStatus: make(map[store.Status]int64, len(counts))}
		for _, row := range counts {
			c.ByStatus[store.Status(row.Status)] = row.N
		}
		backlog, err := q.DueBacklog(ctx, now.UnixMilli())
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
		return store.Counts{}, storeErr(err, "count reminders")
	}
	return c, nil
}

// CountAhead counts the pending reminders of r's user and template before
// r that still need a credit.
func (d *DB) CountAhead(ctx context.Context, r store.Reminder) (int64, error) {
	n, err := d.q.CountAheadOfReminder(ctx, aheadParams(r))
	return n, storeErr(err, "count reminders ahead of "+r.ID)
}

func aheadParams(r store.Reminder) pgsqlc.CountAheadOfReminderParams {
	return pgsqlc.CountAheadOfReminderParams{Openid: r.OpenID, Appid: r.AppID, TemplateID: r.TemplateID, FireAt: r.FireAt.UnixMilli(), ID: r.ID}
}
