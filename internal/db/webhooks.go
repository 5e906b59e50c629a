// The webhook outbox (store.WebhookStore) on SQLite: events are written in
// the transaction of the change they report, when EnableWebhooks named the
// app; the dispatcher's leases and results are writes of the single writer.

package db

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"slices"
	"time"

	"github.com/reminderd/reminderd/internal/db/dbsqlc"
	"github.com/reminderd/reminderd/internal/store"
)

// EnableWebhooks turns the outbox on for the apps of hooks.
func (d *DB) EnableWebhooks(hooks store.WebhookApps) { d.outbox.Store(&hooks) }

// outboxOn is whose events the outbox keeps, and whether it is on.
func (d *DB) outboxOn() (store.WebhookApps, bool) {
	p := d.outbox.Load()
	if p == nil {
		return store.WebhookApps{}, false
	}
	return *p, true
}

// insertWebhook writes one event in q's transaction.
func insertWebhook(ctx context.Context, q *dbsqlc.Queries, appID, typ, reminderID, openID, payload string, at time.Time) error {
	err := q.InsertWebhook(ctx, dbsqlc.InsertWebhookParams{ID: store.NewWebhookID(at), Appid: appID, Type: typ,
		ReminderID: reminderID, Openid: openID, Payload: payload, Now: at.UnixMilli()})
	if err != nil {
		return fmt.Errorf("webhook outbox: %w", err)
	}
	return nil
}

// outboxOutcomes writes the events of recorded outcomes: what each record
// reports (store.OutcomeWebhook), and the sent event parked before it
// that the record applied (reminder.delivered or .undelivered).
func (d *DB) outboxOutcomes(ctx context.Context, q *dbsqlc.Queries, reqs []*outcomeReq) error {
	hooks, on := d.outboxOn()
	if !on {
		return nil
	}
	for _, req := range reqs {
		r := req.o.Claim.Reminder
		app, kept := hooks.App(r.AppID)
		if !kept {
			continue
		}
		if typ, dl, ok := store.OutcomeWebhook(req.o, req.rec); ok {
			if err := insertWebhook(ctx, q, app, typ, r.ID, r.OpenID, store.NewDeliveryPayload(dl), req.o.At); err != nil {
				return err
			}
		}
		if req.eventDelivery != 0 {
			if err := outboxSentEvent(ctx, q, app, req.eventDelivery, r.OpenID, req.o.At); err != nil {
				return err
			}
		}
	}
	return nil
}

// outboxSentEvent writes the event of a sent event applied to delivery id.
func outboxSentEvent(ctx context.Context, q *dbsqlc.Queries, app string, id int64, openID string, at time.Time) error {
	row, err := q.DeliveryByID(ctx, id)
	if err != nil {
		return fmt.Errorf("webhook outbox: delivery %d: %w", id, err)
	}
	dl := deliveryFromRow(row)
	return insertWebhook(ctx, q, app, store.SentEventWebhook(dl), dl.ReminderID, openID, store.NewDeliveryPayload(dl), at)
}

// outboxConsent writes a consent.changed event for appID's ledger row of
// (openID, templateID) as it is now in q's transaction: the row's app's
// event (Default's for a row written before apps existed).
func (d *DB) outboxConsent(ctx context.Context, q *dbsqlc.Queries, appID, openID, templateID, cause string, at time.Time) error {
	hooks, on := d.outboxOn()
	if !on {
		return nil
	}
	app, kept := hooks.App(appID)
	if !kept {
		return nil
	}
	row, err := q.GetConsent(ctx, dbsqlc.GetConsentParams{Appid: appID, Openid: openID, TemplateID: templateID})
	if isNotFound(err) {
		return nil // nothing changed: the user has no row for it
	}
	if err != nil {
		return fmt.Errorf("webhook outbox: consent %s/%s: %w", openID, templateID, err)
	}
	return insertWebhook(ctx, q, app, store.EventConsentChanged, "", openID, store.NewConsentPayload(consentFromRow(row), cause), at)
}

// ClaimWebhooks reads first whether anything is due, on the read pool, so
// that an idle outbox costs the writer nothing.
func (d *DB) ClaimWebhooks(ctx context.Context, now time.Time, owner string, leaseUntil time.Time, max int) ([]store.Webhook, error) {
	n, err := d.Read.DueWebhook(ctx, now.UnixMilli())
	if err != nil || n == 0 {
		return nil, storeErr(err, "due webhooks")
	}
	var rows []dbsqlc.WebhookOutbox
	err = d.WithTx(ctx, func(q *dbsqlc.Queries) error {
		rows, err = q.ClaimWebhooks(ctx, dbsqlc.ClaimWebhooksParams{Owner: owner, LeaseUntil: leaseUntil.UnixMilli(),
			Now: now.UnixMilli(), Max: int64(max)})
		return err
	})
	if err != nil {
		return nil, storeErr(err, "claim webhooks")
	}
	out := make([]store.Webhook, len(rows))
	for i, r := range rows {
		out[i] = webhookFromRow(r)
	}
	// RETURNING keeps no order: the claim's is the due order.
	slices.SortFunc(out, func(a, b store.Webhook) int {
		return cmp.Or(a.NextAt.Compare(b.NextAt), cmp.Compare(a.ID, b.ID))
	})
	return out, nil
}

// FinishWebhook records a post's result if owner still holds the lease.
func (d *DB) FinishWebhook(ctx context.Context, r store.WebhookResult) error {
	return storeErr(d.WithTx(ctx, func(q *dbsqlc.Queries) error {
		n, err := q.FinishWebhook(ctx, dbsqlc.FinishWebhookParams{State: string(r.State), NextAt: r.NextAt.UnixMilli(),
			Body: r.Body, LastStatus: r.LastStatus, LastError: r.LastError, Now: r.At.UnixMilli(), ID: r.ID, Owner: r.Owner})
		if err == nil && n == 0 {
			err = fmt.Errorf("webhook %s: lease lost: %w", r.ID, store.ErrConflict)
		}
		return err
	}), "finish webhook "+r.ID)
}

// GetWebhook reads on the read pool.
func (d *DB) GetWebhook(ctx context.Context, id string) (store.Webhook, error) {
	row, err := d.Read.GetWebhook(ctx, id)
	if err != nil {
		return store.Webhook{}, storeErr(err, "webhook "+id)
	}
	return webhookFromRow(row), nil
}

// ListWebhooks reads one page, newest first, one row more than the limit
// to know whether another follows.
func (d *DB) ListWebhooks(ctx context.Context, wq store.WebhookQuery) (store.WebhookPage, error) {
	limit := max(wq.Limit, 1)
	p := dbsqlc.ListWebhooksParams{State: string(wq.State), BeforeCreatedAt: maxMS, MaxRows: int64(limit) + 1}
	if wq.Before != nil {
		p.BeforeCreatedAt, p.BeforeID = wq.Before.CreatedAt.UnixMilli(), wq.Before.ID
	}
	rows, err := d.Read.ListWebhooks(ctx, p)
	if err != nil {
		return store.WebhookPage{}, storeErr(err, "list webhooks")
	}
	var page store.WebhookPage
	for i, r := range rows {
		if i == limit {
			last := page.Webhooks[limit-1]
			page.Next = &store.WebhookCursor{CreatedAt: last.CreatedAt, ID: last.ID}
			break
		}
		page.Webhooks = append(page.Webhooks, webhookFromRow(r))
	}
	return page, nil
}

// RetryWebhook makes a failing or dead row due now.
func (d *DB) RetryWebhook(ctx context.Context, id string, now time.Time) error {
	return storeErr(d.WithTx(ctx, func(q *dbsqlc.Queries) error {
		n, err := q.RetryWebhook(ctx, dbsqlc.RetryWebhookParams{Now: now.UnixMilli(), ID: id})
		if err != nil || n == 1 {
			return err
		}
		row, err := q.GetWebhook(ctx, id)
		if err != nil {
			return err
		}
		return fmt.Errorf("webhook %s is %s: %w", id, row.State, store.ErrConflict)
	}), "retry webhook "+id)
}

// WebhookDepth counts on the read pool.
func (d *DB) WebhookDepth(ctx context.Context) (int64, error) {
	n, err := d.Read.WebhookDepth(ctx)
	return n, storeErr(err, "webhook depth")
}

func webhookFromRow(r dbsqlc.WebhookOutbox) store.Webhook {
	return store.Webhook{ID: r.ID, AppID: r.Appid, Type: r.Type, ReminderID: r.ReminderID, OpenID: r.Openid, Payload: r.Payload,
		Body: r.Body, State: store.WebhookState(r.State), Attempts: r.Attempts, NextAt: instant(r.NextAt),
		LeaseOwner: r.LeaseOwner, LeaseUntil: nullInstant(sql.NullInt64{Int64: r.LeaseUntil, Valid: r.LeaseUntil != 0}), LastStatus: r.LastStatus, LastError: r.LastError,
		CreatedAt: instant(r.CreatedAt), UpdatedAt: instant(r.UpdatedAt), DeliveredAt: nullInstant(r.DeliveredAt)}
}
