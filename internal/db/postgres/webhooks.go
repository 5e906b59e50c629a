// The webhook outbox (store.WebhookStore) on PostgreSQL: events are
// written in the transaction of the change they report, when
// EnableWebhooks named the app. Processes claim due rows with FOR UPDATE
// SKIP LOCKED and a lease, so that two never post one row at once.

package postgres

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/reminderd/reminderd/internal/db/postgres/pgsqlc"
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
func insertWebhook(ctx context.Context, q *pgsqlc.Queries, appID, typ, reminderID, openID, payload string, at time.Time) error {
	err := q.InsertWebhook(ctx, pgsqlc.InsertWebhookParams{ID: store.NewWebhookID(at), Appid: appID, Type: typ,
		ReminderID: reminderID, Openid: openID, Payload: payload, Now: at.UnixMilli()})
	if err != nil {
		return fmt.Errorf("webhook outbox: %w", err)
	}
	return nil
}

// outboxOutcomes writes the events of recorded outcomes (as the SQLite
// driver's): what each record reports, and a parked sent event it applied.
func (d *DB) outboxOutcomes(ctx context.Context, q *pgsqlc.Queries, reqs []*outcomeReq) error {
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
func outboxSentEvent(ctx context.Context, q *pgsqlc.Queries, app string, id int64, openID string, at time.Time) error {
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
func (d *DB) outboxConsent(ctx context.Context, q *pgsqlc.Queries, appID, openID, templateID, cause string, at time.Time) error {
	hooks, on := d.outboxOn()
	if !on {
		return nil
	}
	app, kept := hooks.App(appID)
	if !kept {
		return nil
	}
	row, err := q.GetConsent(ctx, pgsqlc.GetConsentParams{Appid: appID, Openid: openID, TemplateID: templateID})
	if isNoRows(err) {
		return nil // nothing changed: the user has no row for it
	}
	if err != nil {
		return fmt.Errorf("webhook outbox: consent %s/%s: %w", openID, templateID, err)
	}
	return insertWebhook(ctx, q, app, store.EventConsentChanged, "", openID, store.NewConsentPayload(consentFromRow(row), cause), at)
}

// outboxPush writes the webhook events of an applied push: consent.changed
// for the answers that changed the ledger and for the unsubscribes,
// reminder.delivered or .undelivered for the sent events applied.
func (d *DB) outboxPush(ctx context.Context, q *pgsqlc.Queries, e store.PushEvent, done pushDone) error {
	hooks, on := d.outboxOn()
	if !on {
		return nil
	}
	for _, tid := range done.answered {
		if err := d.outboxConsent(ctx, q, e.AppID, e.OpenID, tid, store.CausePopup, e.At); err != nil {
			return err
		}
	}
	for _, tid := range e.Unsubscribed {
		if err := d.outboxConsent(ctx, q, e.AppID, e.OpenID, tid, store.CauseUnsubscribe, e.At); err != nil {
			return err
		}
	}
	for _, m := range done.marked {
		row, err := q.DeliveryByMsgid(ctx, &m)
		if err != nil {
			return fmt.Errorf("webhook outbox: delivery of msgid %d: %w", m, err)
		}
		// The event is its reminder's app's.
		rem, err := q.GetReminder(ctx, row.ReminderID)
		if err != nil {
			return fmt.Errorf("webhook outbox: reminder %s: %w", row.ReminderID, err)
		}
		app, kept := hooks.App(rem.Appid)
		if !kept {
			continue
		}
		if err := outboxSentEvent(ctx, q, app, row.ID, e.OpenID, e.At); err != nil {
			return err
		}
	}
	return nil
}

// pushDone is what applyPush did: woken, a reminder waiting out an unknown
// outcome is due now; answered, the templates whose ledger row a popup
// answer changed (an accept paired with a report changes nothing); marked,
// the msgids of the sent events applied to their deliveries.
type pushDone struct {
	woken    bool
	answered []string
	marked   []int64
}

// ClaimWebhooks leases due rows; rows another process is claiming are
// skipped (SKIP LOCKED), and leased ones are not due until the lease ends.
func (d *DB) ClaimWebhooks(ctx context.Context, now time.Time, owner string, leaseUntil time.Time, max int) ([]store.Webhook, error) {
	var rows []pgsqlc.WebhookOutbox
	err := d.withTx(ctx, func(q *pgsqlc.Queries) error {
		var err error
		rows, err = q.ClaimWebhooks(ctx, pgsqlc.ClaimWebhooksParams{Owner: owner, LeaseUntil: leaseUntil.UnixMilli(),
			Now: now.UnixMilli(), Max: int32(min(max, math.MaxInt32))})
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
	return storeErr(d.withTx(ctx, func(q *pgsqlc.Queries) error {
		n, err := q.FinishWebhook(ctx, pgsqlc.FinishWebhookParams{State: string(r.State), NextAt: r.NextAt.UnixMilli(),
			Body: r.Body, LastStatus: r.LastStatus, LastError: r.LastError, Now: r.At.UnixMilli(), ID: r.ID, Owner: r.Owner})
		if err == nil && n == 0 {
			err = fmt.Errorf("webhook %s: lease lost: %w", r.ID, store.ErrConflict)
		}
		return err
	}), "finish webhook "+r.ID)
}

// GetWebhook reads outbox row id.
func (d *DB) GetWebhook(ctx context.Context, id string) (store.Webhook, error) {
	row, err := d.q.GetWebhook(ctx, id)
	if err != nil {
		return store.Webhook{}, storeErr(err, "webhook "+id)
	}
	return webhookFromRow(row), nil
}

// ListWebhooks reads one page, newest first, one row more than the limit
// to know whether another follows.
func (d *DB) ListWebhooks(ctx context.Context, wq store.WebhookQuery) (store.WebhookPage, error) {
	limit := min(max(wq.Limit, 1), math.MaxInt32-1)
	p := pgsqlc.ListWebhooksParams{State: string(wq.State), BeforeCreatedAt: maxMS, MaxRows: int32(limit) + 1}
	if wq.Before != nil {
		p.BeforeCreatedAt, p.BeforeID = wq.Before.CreatedAt.UnixMilli(), wq.Before.ID
	}
	rows, err := d.q.ListWebhooks(ctx, p)
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
	return storeErr(d.withTx(ctx, func(q *pgsqlc.Queries) error {
		n, err := q.RetryWebhook(ctx, pgsqlc.RetryWebhookParams{Now: now.UnixMilli(), ID: id})
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

// WebhookDepth counts the rows not yet delivered nor dead.
func (d *DB) WebhookDepth(ctx context.Context) (int64, error) {
	n, err := d.q.WebhookDepth(ctx)
	return n, storeErr(err, "webhook depth")
}

func webhookFromRow(r pgsqlc.WebhookOutbox) store.Webhook {
	w := store.Webhook{ID: r.ID, AppID: r.Appid, Type: r.Type, ReminderID: r.ReminderID, OpenID: r.Openid, Payload: r.Payload,
		Body: r.Body, State: store.WebhookState(r.State), Attempts: r.Attempts, NextAt: instant(r.NextAt),
		LeaseOwner: r.LeaseOwner, LastStatus: r.LastStatus, LastError: r.LastError,
		CreatedAt: instant(r.CreatedAt), UpdatedAt: instant(r.UpdatedAt), DeliveredAt: nullInstant(r.DeliveredAt)}
	if r.LeaseUntil != 0 {
		w.LeaseUntil = instant(r.LeaseUntil)
	}
	return w
}
