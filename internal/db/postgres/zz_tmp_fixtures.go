// Temporary fixtures of the pgb branch: the lead deletes this file at the
// merge, where the other half's CreateReminder (create.go) and
// reminderFromRow (rows.go), of the same names and signatures, replace
// them.

package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/reminderd/reminderd/internal/db/postgres/pgsqlc"
	"github.com/reminderd/reminderd/internal/store"
)

// CreateReminder stores r as a scheduled reminder and returns it as stored:
// ErrConflict on a duplicate id or idempotency key.
func (d *DB) CreateReminder(ctx context.Context, r store.NewReminder) (store.Reminder, error) {
	if !r.DueAt.IsZero() && !r.DueAt.Equal(r.FireAt) {
		return store.Reminder{}, fmt.Errorf("create reminder %s: due_at must be its fire_at", r.ID)
	}
	p := pgsqlc.TmpInsertReminderParams{ID: r.ID, Openid: r.OpenID, TemplateID: r.TemplateID, FireAt: r.FireAt.UnixMilli(),
		ExpiresAt: msOrNull(r.ExpiresAt), Recurrence: strOrNull(r.Recurrence), Timezone: r.Timezone, Data: r.Data, Page: r.Page,
		IdempotencyKey: strOrNull(r.IdempotencyKey), RequestHash: strOrNull(r.RequestHash), Now: r.CreatedAt.UnixMilli()}
	if r.HasWindow {
		ms := r.Window.Milliseconds()
		p.WindowMs = &ms
	}
	if r.IdempotencyKey != "" {
		p.RequestHash = &r.RequestHash
	}
	var row pgsqlc.Reminder
	err := d.withTx(ctx, func(q *pgsqlc.Queries) error {
		var err error
		row, err = q.TmpInsertReminder(ctx, p)
		return err
	})
	if err != nil {
		return store.Reminder{}, storeErr(err, "create reminder "+r.ID)
	}
	return reminderFromRow(row), nil
}

func reminderFromRow(r pgsqlc.Reminder) store.Reminder {
	deref := func(s *string) string {
		if s == nil {
			return ""
		}
		return *s
	}
	out := store.Reminder{ID: r.ID, OpenID: r.Openid, TemplateID: r.TemplateID, Status: store.Status(r.Status),
		Reason: store.Reason(deref(r.Reason)), FireAt: instant(r.FireAt), DueAt: instant(r.DueAt), ExpiresAt: nullInstant(r.ExpiresAt),
		Recurrence: deref(r.Recurrence), Timezone: r.Timezone, Data: r.Data, Page: r.Page, Attempts: r.Attempts,
		LeaseUntil: nullInstant(r.LeaseUntil), LeaseOwner: deref(r.LeaseOwner), IdempotencyKey: deref(r.IdempotencyKey),
		RequestHash: deref(r.RequestHash), CreatedAt: instant(r.CreatedAt), UpdatedAt: instant(r.UpdatedAt), CreditHeld: r.CreditHeld,
		UnknownAt: nullInstant(r.UnknownAt), Delivery: store.Report(r.Delivery)}
	if r.WindowMs != nil {
		out.Window, out.HasWindow = time.Duration(*r.WindowMs)*time.Millisecond, true
	}
	return out
}
