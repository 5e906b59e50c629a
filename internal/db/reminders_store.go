package db

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/reminderd/reminderd/internal/db/dbsqlc"
	"github.com/reminderd/reminderd/internal/store"
)

// The reminders' operations of store.ReminderStore (the API's and the
// services'), each one transaction of the single writer or one read.

// CreateReminderIdempotent creates r after its idempotency key and the
// user's limit, in a group commit (inGroup): its fn may run twice, so it
// starts from nothing each time. A replay and a refusal return nil from
// fn, so that they do not roll back the group's other creates.
func (d *DB) CreateReminderIdempotent(ctx context.Context, r store.NewReminder, opt store.CreateOptions) (store.Created, error) {
	p, row := insertReminder(r)
	var out store.Created
	var refused error
	err := d.inGroup(ctx, func(q *dbsqlc.Queries) error {
		out, refused = store.Created{}, nil
		if r.IdempotencyKey != "" {
			prev, err := q.GetReminderByIdempotencyKey(ctx, byKey(r.OpenID, r.IdempotencyKey))
			if err == nil {
				out, refused = replay(prev, r)
				return nil
			} else if !isNotFound(err) {
				return err
			}
		}
		if opt.MaxScheduled > 0 {
			// Counted in the insert's transaction: concurrent creates of
			// one user are serialized by the single writer.
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
	if err != nil && r.IdempotencyKey != "" && isUniqueViolation(err) {
		// Another create with the key committed first.
		prev, err2 := d.Write.GetReminderByIdempotencyKey(ctx, byKey(r.OpenID, r.IdempotencyKey))
		if err2 == nil {
			out, refused = replay(prev, r)
			err = nil
		}
	}
	if err != nil {
		return store.Created{}, storeErr(err, "create reminder "+r.ID)
	}
	return out, refused
}

func byKey(openID, key string) dbsqlc.GetReminderByIdempotencyKeyParams {
	return dbsqlc.GetReminderByIdempotencyKeyParams{Openid: openID, IdempotencyKey: strOrNull(key)}
}

// replay answers a create whose key was used before: the same request gets
// its reminder, another one a conflict.
func replay(prev dbsqlc.Reminder, r store.NewReminder) (store.Created, error) {
	if prev.RequestHash.String != r.RequestHash {
		return store.Created{}, fmt.Errorf("idempotency key %q was used with a different request: %w", r.IdempotencyKey, store.ErrConflict)
	}
	return store.Created{Reminder: reminderFromRow(prev), Replayed: true}, nil
}

// prefillCoverage reads, in the create's transaction, what the coverage of
// the reminder just written needs: on the writer, where the pages are warm,
// instead of on the read pool after the commit.
func prefillCoverage(ctx context.Context, q *dbsqlc.Queries, c *store.Created) error {
	r := c.Reminder
	row, err := q.GetConsent(ctx, dbsqlc.GetConsentParams{Appid: r.AppID, Openid: r.OpenID, TemplateID: r.TemplateID})
	if isNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	c.Consent = consentFromRow(row)
	if row.LongTerm == 0 && row.Credits > 0 {
		c.Ahead, err = q.CountAheadOfReminder(ctx, aheadParams(r))
	}
	return err
}

// ReminderByIdempotencyKey reads on the writer: the key's create may have
// committed a moment ago.
func (d *DB) ReminderByIdempotencyKey(ctx context.Context, openID, key string) (store.Reminder, error) {
	row, err := d.Write.GetReminderByIdempotencyKey(ctx, byKey(openID, key))
	if err != nil {
		return store.Reminder{}, storeErr(err, "reminder of idempotency key "+key)
	}
	return reminderFromRow(row), nil
}

// GetReminder reads on the read pool, which sees every committed write
// (WAL): the single writer stays free for writes.
func (d *DB) GetReminder(ctx context.Context, id string) (store.Reminder, error) {
	row, err := d.Read.GetReminder(ctx, id)
	if err != nil {
		return store.Reminder{}, storeErr(err, "reminder "+id)
	}
	return reminderFromRow(row), nil
}

// ListReminders lists through listRemindersPage (or the delivery index),
// one row more than the limit to know whether a next page follows.
func (d *DB) ListReminders(ctx context.Context, lq store.ListQuery) (store.Page, error) {
	limit := max(lq.Limit, 1)
	p := dbsqlc.ListUserRemindersParams{Appid: lq.AppID, Openid: lq.OpenID, Status: string(lq.Status), TemplateID: lq.TemplateID, Text: lq.Text,
		FromMs: minMS, ToMs: maxMS, AfterFireAt: minMS, MaxRows: int64(limit) + 1}
	if !lq.From.IsZero() {
		p.FromMs = lq.From.UnixMilli()
	}
	if !lq.To.IsZero() {
		p.ToMs = lq.To.UnixMilli()
	}
	if lq.After != nil {
		p.AfterFireAt, p.AfterID = lq.After.FireAt.UnixMilli(), lq.After.ID
	}
	var rows []dbsqlc.Reminder
	var resume *position
	var err error
	if lq.ExternalRef != "" {
		rows, err = d.Read.ListExternalRefReminders(ctx, dbsqlc.ListExternalRefRemindersParams{ExternalRef: strOrNull(lq.ExternalRef), Appid: p.Appid,
			Openid: p.Openid, Status: p.Status, AfterFireAt: p.AfterFireAt, AfterID: p.AfterID, MaxRows: p.MaxRows})
	} else if lq.Delivery != "" {
		rows, err = d.Read.ListDeliveryReminders(ctx, dbsqlc.ListDeliveryRemindersParams{Delivery: string(lq.Delivery),
			Appid: p.Appid, Openid: p.Openid, Status: p.Status, TemplateID: p.TemplateID, Text: p.Text, FromMs: p.FromMs, ToMs: p.ToMs,
			AfterFireAt: p.AfterFireAt, AfterID: p.AfterID, MaxRows: p.MaxRows})
	} else {
		rows, resume, err = listRemindersPage(ctx, d.Read, p)
	}
	if err != nil {
		return store.Page{}, storeErr(err, "list reminders")
	}
	rows, next := nextPage(rows, limit, resume)
	page := store.Page{Reminders: remindersFromRows(rows), WalkLimit: MaxWalk}
	if next != nil {
		page.Next = &store.Cursor{FireAt: instant(next.FireAt), ID: next.ID}
	}
	return page, nil
}

// The bounds of an unbounded listing, in unix milliseconds.
const (
	minMS = -1 << 62
	maxMS = 1 << 62
)

// UpdateScheduled is a compare-and-set on the status; on no rows it reads
// the reminder to say why.
func (d *DB) UpdateScheduled(ctx context.Context, u store.ReminderUpdate, now time.Time) error {
	p := dbsqlc.UpdateScheduledReminderParams{ID: u.ID, FireAt: u.FireAt.UnixMilli(), ExpiresAt: msOrNull(u.ExpiresAt),
		Data: u.Data, Page: u.Page, Now: now.UnixMilli()}
	if u.HasWindow {
		p.WindowMs.Int64, p.WindowMs.Valid = u.Window.Milliseconds(), true
	}
	return d.casReminder(ctx, "update reminder "+u.ID, u.ID, func(q *dbsqlc.Queries) (int64, error) {
		return q.UpdateScheduledReminder(ctx, p)
	})
}

// CancelReminder cancels a scheduled reminder.
func (d *DB) CancelReminder(ctx context.Context, id string, now time.Time) error {
	return d.casReminder(ctx, "cancel reminder "+id, id, func(q *dbsqlc.Queries) (int64, error) {
		return q.CancelReminder(ctx, dbsqlc.CancelReminderParams{ID: id, Now: now.UnixMilli()})
	})
}

// RetryReminder schedules a failed or skipped reminder again at now.
func (d *DB) RetryReminder(ctx context.Context, id string, now time.Time) error {
	return d.casReminder(ctx, "retry reminder "+id, id, func(q *dbsqlc.Queries) (int64, error) {
		return q.RetryReminder(ctx, dbsqlc.RetryReminderParams{ID: id, Now: now.UnixMilli()})
	})
}

// casReminder runs the compare-and-set set on reminder id; when it changed
// no row, it reads the reminder in the same transaction: ErrNotFound, or a
// *store.StateError with the status that refused it.
func (d *DB) casReminder(ctx context.Context, what, id string, set func(q *dbsqlc.Queries) (int64, error)) error {
	return storeErr(d.WithTx(ctx, func(q *dbsqlc.Queries) error {
		n, err := set(q)
		if err != nil || n == 1 {
			return err
		}
		rem, err := q.GetReminder(ctx, id)
		if err != nil {
			return err
		}
		return &store.StateError{ID: id, Status: store.Status(rem.Status)}
	}), what)
}

// CancelReminders cancels the scheduled ones among ids in one transaction.
func (d *DB) CancelReminders(ctx context.Context, ids []string, now time.Time) (store.CancelCounts, error) {
	var c store.CancelCounts
	err := d.WithTx(ctx, func(q *dbsqlc.Queries) error {
		c = store.CancelCounts{Matched: len(ids)}
		for _, id := range ids {
			n, err := q.CancelReminder(ctx, dbsqlc.CancelReminderParams{ID: id, Now: now.UnixMilli()})
			if err != nil {
				return err
			}
			if n == 1 {
				c.Canceled++
				continue
			}
			if _, err := q.GetReminder(ctx, id); isNotFound(err) {
				c.NotFound++
			} else if err != nil {
				return err
			} else {
				c.Conflict++
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
// retry can fix, in one transaction.
func (d *DB) RetryReminders(ctx context.Context, ids []string, now time.Time) (store.RetryCounts, error) {
	var c store.RetryCounts
	err := d.WithTx(ctx, func(q *dbsqlc.Queries) error {
		c = store.RetryCounts{Matched: len(ids)}
		for _, id := range ids {
			rem, err := q.GetReminder(ctx, id)
			switch {
			case isNotFound(err):
				c.NotFound++
				continue
			case err != nil:
				return err
			case !store.Status(rem.Status).Ended():
				c.Conflict++
				continue
			case store.Reason(rem.Reason.String).Permanent():
				c.Permanent++
				continue
			}
			n, err := q.RetryReminder(ctx, dbsqlc.RetryReminderParams{ID: id, Now: now.UnixMilli()})
			if err != nil {
				return err
			}
			if n == 1 {
				c.Retried++
			} else {
				c.Conflict++
			}
		}
		return nil
	})
	if err != nil {
		return store.RetryCounts{}, storeErr(err, fmt.Sprintf("retry %d reminders", len(ids)))
	}
	return c, nil
}

// CountReminders reads the counts on the read pool.
func (d *DB) CountReminders(ctx context.Context, now time.Time) (store.Counts, error) {
	counts, err := d.Read.CountRemindersByStatus(ctx)
	if err != nil {
		return store.Counts{}, storeErr(err, "count reminders")
	}
	c := store.Counts{ByStatus: make(map[store.Status]int64, len(counts))}
	for _, row := range counts {
		c.ByStatus[store.Status(row.Status)] = row.N
	}
	backlog, err := d.Read.DueBacklog(ctx, now.UnixMilli())
	if err != nil {
		return store.Counts{}, storeErr(err, "count due reminders")
	}
	c.DueBacklog = backlog.N
	if backlog.N > 0 {
		c.OldestDueAt = instant(backlog.OldestDueAt)
	}
	return c, nil
}

// CountAhead reads on the read pool, through the user's own index.
func (d *DB) CountAhead(ctx context.Context, r store.Reminder) (int64, error) {
	n, err := d.Read.CountAheadOfReminder(ctx, aheadParams(r))
	return n, storeErr(err, "count reminders ahead of "+r.ID)
}

func aheadParams(r store.Reminder) dbsqlc.CountAheadOfReminderParams {
	return dbsqlc.CountAheadOfReminderParams{Openid: r.OpenID, Appid: r.AppID, TemplateID: r.TemplateID, FireAt: r.FireAt.UnixMilli(), ID: r.ID}
}

// CreateReminder stores r as a scheduled reminder (InsertReminder) and
// returns it as stored: ErrConflict on a duplicate id or idempotency key.
func (d *DB) CreateReminder(ctx context.Context, r store.NewReminder) (store.Reminder, error) {
	if !r.DueAt.IsZero() && !r.DueAt.Equal(r.FireAt) {
		return store.Reminder{}, fmt.Errorf("create reminder %s: due_at must be its fire_at (a new reminder is due when it fires)", r.ID)
	}
	p, row := insertReminder(r)
	if err := d.WithTx(ctx, func(q *dbsqlc.Queries) error { return q.InsertReminder(ctx, p) }); err != nil {
		return store.Reminder{}, storeErr(err, "create reminder "+r.ID)
	}
	return reminderFromRow(row), nil
}

// insertReminder is InsertReminder's parameters for r and the row it
// writes: a create answers from the values inserted, without reading them
// back. A new reminder is due at its FireAt.
func insertReminder(r store.NewReminder) (dbsqlc.InsertReminderParams, dbsqlc.Reminder) {
	p := dbsqlc.InsertReminderParams{
		ID: r.ID, Appid: r.AppID, Openid: r.OpenID, TemplateID: r.TemplateID, FireAt: r.FireAt.UnixMilli(),
		ExpiresAt: msOrNull(r.ExpiresAt), Recurrence: strOrNull(r.Recurrence),
		Timezone: r.Timezone, Data: r.Data, Page: r.Page,
		IdempotencyKey: strOrNull(r.IdempotencyKey), RequestHash: strOrNull(r.RequestHash),
		Now:         r.CreatedAt.UnixMilli(),
		ExternalRef: strOrNull(r.ExternalRef), EventID: strOrNull(r.EventID), Lead: r.Lead, Alternatives: store.EncodeAlternatives(r.Alternatives),
	}
	if r.HasWindow {
		p.WindowMs.Int64, p.WindowMs.Valid = r.Window.Milliseconds(), true
	}
	if r.IdempotencyKey != "" {
		p.RequestHash.Valid = true // an empty hash is a hash, beside a key
	}
	row := dbsqlc.Reminder{ID: p.ID, Appid: p.Appid, Openid: p.Openid, TemplateID: p.TemplateID, Status: string(store.StatusScheduled),
		FireAt: p.FireAt, DueAt: p.FireAt, ExpiresAt: p.ExpiresAt, WindowMs: p.WindowMs, Recurrence: p.Recurrence,
		Timezone: p.Timezone, Data: p.Data, Page: p.Page, IdempotencyKey: p.IdempotencyKey,
		RequestHash: p.RequestHash, CreatedAt: p.Now, UpdatedAt: p.Now,
		ExternalRef: p.ExternalRef, EventID: p.EventID, Lead: p.Lead, Alternatives: p.Alternatives}
	return p, row
}

// storeErr maps a driver error to the store's, once, wrapped with what was
// done: no rows is ErrNotFound, a UNIQUE violation ErrConflict, a write
// refused for want of space ErrFull (the SQLite error stays reachable).
func storeErr(err error, what string) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, store.ErrNotFound), errors.Is(err, store.ErrConflict), errors.Is(err, store.ErrFull):
	case isNotFound(err):
		return fmt.Errorf("%s: %w", what, store.ErrNotFound)
	case isUniqueViolation(err):
		return fmt.Errorf("%s: %w: %w", what, store.ErrConflict, err)
	case isFull(err):
		return fmt.Errorf("%s: %w: %w", what, store.ErrFull, err)
	}
	return fmt.Errorf("%s: %w", what, err)
}
