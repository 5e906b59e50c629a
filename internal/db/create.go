package db

import (
	"context"
	"fmt"
	"time"

	"github.com/reminderd/reminderd/internal/db/dbsqlc"
	"github.com/reminderd/reminderd/internal/store"
)

// CreateReminder stores r, scheduled, due at its FireAt (InsertReminder
// writes due_at = fire_at: a DueAt other than zero or FireAt is refused).
func (d *DB) CreateReminder(ctx context.Context, r store.NewReminder) (store.Reminder, error) {
	if !r.DueAt.IsZero() && !r.DueAt.Equal(r.FireAt) {
		return store.Reminder{}, fmt.Errorf("create reminder %s: due_at must be its fire_at", r.ID)
	}
	window := msOrNull(time.Time{})
	if r.HasWindow {
		window = someInt(r.Window.Milliseconds())
	}
	var row dbsqlc.Reminder
	err := d.WithTx(ctx, func(q *dbsqlc.Queries) error {
		if err := q.InsertReminder(ctx, dbsqlc.InsertReminderParams{ID: r.ID, Openid: r.OpenID, TemplateID: r.TemplateID,
			FireAt: r.FireAt.UnixMilli(), ExpiresAt: msOrNull(r.ExpiresAt), WindowMs: window, Recurrence: strOrNull(r.Recurrence),
			Timezone: r.Timezone, Data: r.Data, Page: r.Page, IdempotencyKey: strOrNull(r.IdempotencyKey),
			RequestHash: strOrNull(r.RequestHash), Now: r.CreatedAt.UnixMilli()}); err != nil {
			if IsUniqueViolation(err) {
				return ErrConflict
			}
			return err
		}
		var err error
		row, err = q.GetReminder(ctx, r.ID)
		return err
	})
	if err != nil {
		return store.Reminder{}, fmt.Errorf("create reminder %s: %w", r.ID, err)
	}
	return reminderFromRow(row), nil
}
