package db

import (
	"context"
	"errors"
	"fmt"

	"github.com/reminderd/reminderd/internal/db/dbsqlc"
	"github.com/reminderd/reminderd/internal/store"
)

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
		ID: r.ID, Openid: r.OpenID, TemplateID: r.TemplateID, FireAt: r.FireAt.UnixMilli(),
		ExpiresAt: msOrNull(r.ExpiresAt), Recurrence: strOrNull(r.Recurrence),
		Timezone: r.Timezone, Data: r.Data, Page: r.Page,
		IdempotencyKey: strOrNull(r.IdempotencyKey), RequestHash: strOrNull(r.RequestHash),
		Now: r.CreatedAt.UnixMilli(),
	}
	if r.HasWindow {
		p.WindowMs.Int64, p.WindowMs.Valid = r.Window.Milliseconds(), true
	}
	if r.IdempotencyKey != "" {
		p.RequestHash.Valid = true // an empty hash is a hash, beside a key
	}
	row := dbsqlc.Reminder{ID: p.ID, Openid: p.Openid, TemplateID: p.TemplateID, Status: string(store.StatusScheduled),
		FireAt: p.FireAt, DueAt: p.FireAt, ExpiresAt: p.ExpiresAt, WindowMs: p.WindowMs, Recurrence: p.Recurrence,
		Timezone: p.Timezone, Data: p.Data, Page: p.Page, IdempotencyKey: p.IdempotencyKey,
		RequestHash: p.RequestHash, CreatedAt: p.Now, UpdatedAt: p.Now}
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
