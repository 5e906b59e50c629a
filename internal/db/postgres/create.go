package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/reminderd/reminderd/internal/db/postgres/pgsqlc"
	"github.com/reminderd/reminderd/internal/store"
)

// CreateReminder stores r as a scheduled reminder (InsertReminder) and
// returns it as stored: ErrConflict on a duplicate id or idempotency key.
func (d *DB) CreateReminder(ctx context.Context, r store.NewReminder) (store.Reminder, error) {
	if !r.DueAt.IsZero() && !r.DueAt.Equal(r.FireAt) {
		return store.Reminder{}, fmt.Errorf("create reminder %s: due_at must be its fire_at (a new reminder is due when it fires)", r.ID)
	}
	p, row := insertReminder(r)
	if err := d.withTx(ctx, func(q *pgsqlc.Queries) error { return q.InsertReminder(ctx, p) }); err != nil {
		return store.Reminder{}, createErr(err, "create reminder "+r.ID)
	}
	return reminderFromRow(row), nil
}

// insertReminder is InsertReminder's parameters for r and the row it
// writes: a create answers from the values inserted, without reading them
// back. A new reminder is due at its FireAt.
func insertReminder(r store.NewReminder) (pgsqlc.InsertReminderParams, pgsqlc.Reminder) {
	p := pgsqlc.InsertReminderParams{
		ID: r.ID, Appid: r.AppID, Openid: r.OpenID, TemplateID: r.TemplateID, FireAt: r.FireAt.UnixMilli(),
		ExpiresAt: msOrNull(r.ExpiresAt), Recurrence: strOrNull(r.Recurrence),
		Timezone: r.Timezone, Data: r.Data, Page: r.Page,
		IdempotencyKey: strOrNull(r.IdempotencyKey), RequestHash: strOrNull(r.RequestHash),
		Now:         r.CreatedAt.UnixMilli(),
		ExternalRef: strOrNull(r.ExternalRef), EventID: strOrNull(r.EventID), Lead: r.Lead, Alternatives: store.EncodeAlternatives(r.Alternatives),
	}
	if r.HasWindow {
		ms := r.Window.Milliseconds()
		p.WindowMs = &ms
	}
	if r.IdempotencyKey != "" && p.RequestHash == nil {
		h := "" // an empty hash is a hash, beside a key
		p.RequestHash = &h
	}
	row := pgsqlc.Reminder{ID: p.ID, Appid: p.Appid, Openid: p.Openid, TemplateID: p.TemplateID, Status: string(store.StatusScheduled),
		FireAt: p.FireAt, DueAt: p.FireAt, ExpiresAt: p.ExpiresAt, WindowMs: p.WindowMs, Recurrence: p.Recurrence,
		Timezone: p.Timezone, Data: p.Data, Page: p.Page, IdempotencyKey: p.IdempotencyKey,
		RequestHash: p.RequestHash, CreatedAt: p.Now, UpdatedAt: p.Now,
		ExternalRef: p.ExternalRef, EventID: p.EventID, Lead: p.Lead, Alternatives: p.Alternatives}
	return p, row
}

// createErr is storeErr for a write of a reminder's data: the schema's
// cast of data to json refuses invalid JSON with 22P02, said plainly.
func createErr(err error, what string) error {
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == "22P02" {
		return fmt.Errorf("%s: data is not valid JSON: %w", what, err)
	}
	return storeErr(err, what)
}
