// Message push (store.EngineStore.ApplyPushEvent): an event applied to the
// ledger and the delivery records in one transaction with the durable
// record of the pushes applied.

package db

import (
	"context"
	"errors"

	"github.com/reminderd/reminderd/internal/db/dbsqlc"
	"github.com/reminderd/reminderd/internal/store"
)

// errPushSeen rolls back a push that is not to be applied (a duplicate, a
// replay); ApplyPushEvent reports which.
var errPushSeen = errors.New("push seen before")

// ApplyPushEvent applies e once: the same message delivered again, after a
// restart too, adds nothing, and a plaintext push's signed query admits
// one body only.
func (d *DB) ApplyPushEvent(ctx context.Context, e store.PushEvent) (store.PushApplied, error) {
	var out store.PushApplied
	err := d.WithTx(ctx, func(q *dbsqlc.Queries) error {
		out = store.PushApplied{}
		if err := rememberPush(ctx, q, e, &out); err != nil {
			return err
		}
		if out.Duplicate || out.Replayed {
			return errPushSeen
		}
		var err error
		out.Woken, err = applyPush(ctx, q, e)
		return err
	})
	if errors.Is(err, errPushSeen) {
		return out, nil
	}
	if err != nil {
		return store.PushApplied{}, storeErr(err, "apply push event")
	}
	return out, nil
}

// rememberPush records the push as applied, or says it was seen before.
func rememberPush(ctx context.Context, q *dbsqlc.Queries, e store.PushEvent, out *store.PushApplied) error {
	now := e.At.UnixMilli()
	if e.Query != "" {
		queryKey := "q:" + e.Query
		n, err := q.RememberPush(ctx, dbsqlc.RememberPushParams{Key: queryKey, BodyHash: e.BodyHash, Now: now})
		if err != nil {
			return err
		}
		if n == 0 {
			first, err := q.PushSeenBody(ctx, queryKey)
			if err != nil {
				return err
			}
			if first != e.BodyHash {
				out.Replayed = true
				return nil
			}
		}
	}
	n, err := q.RememberPush(ctx, dbsqlc.RememberPushParams{Key: "m:" + e.BodyHash, Now: now})
	out.Duplicate = err == nil && n == 0
	return err
}

// applyPush applies the event's answers, unsubscribes and sent events; it
// reports whether a reminder waiting out an unknown outcome is due now.
func applyPush(ctx context.Context, q *dbsqlc.Queries, e store.PushEvent) (woken bool, err error) {
	now := e.At.UnixMilli()
	for _, a := range e.Answers {
		if a.Accept {
			_, err = recordAcceptTx(ctx, q, e.OpenID, a.TemplateID, a.LongTerm, sourceEvent, e.At)
		} else {
			err = q.SetConsentStatus(ctx, dbsqlc.SetConsentStatusParams{Openid: e.OpenID, TemplateID: a.TemplateID,
				Status: "reject", Now: now})
		}
		if err != nil {
			return false, err
		}
	}
	for _, tid := range e.Unsubscribed {
		if err := q.ZeroConsent(ctx, dbsqlc.ZeroConsentParams{Openid: e.OpenID, TemplateID: tid,
			Status: "unsubscribed", Now: now}); err != nil {
			return false, err
		}
	}
	for _, ev := range e.Sent {
		w, err := applySentEvent(ctx, q, e, ev)
		if err != nil {
			return false, err
		}
		woken = woken || w
	}
	return woken, nil
}

// applySentEvent marks the delivery of ev's msgid, or parks the event. The
// record of an outcome applies parked events in its transaction
// (applyPendingSentEvent), so that the two cannot miss each other.
func applySentEvent(ctx context.Context, q *dbsqlc.Queries, e store.PushEvent, ev store.SentEvent) (woken bool, err error) {
	n, err := q.MarkDelivered(ctx, dbsqlc.MarkDeliveredParams{Msgid: someInt(ev.MsgID), Delivered: someInt(b2i(ev.Delivered)),
		EventStatus: ev.Status})
	if err != nil {
		return false, err
	}
	if n > 0 {
		report := store.ReportDelivered
		if !ev.Delivered {
			report = store.ReportFailed
		}
		return false, q.SetDeliveryByMsgid(ctx, dbsqlc.SetDeliveryByMsgidParams{Delivery: string(report), Msgid: someInt(ev.MsgID)})
	}
	// A delivery with this msgid that took no report (not sent, or
	// reported already) is not waiting for this event.
	if known, err := q.DeliveryWithMsgid(ctx, someInt(ev.MsgID)); err != nil || known > 0 {
		return false, err
	}
	// Parked with its user and template: it may be the event of a send
	// whose outcome is not recorded yet, or of one whose answer was lost
	// (unknown), which it then settles.
	if err := q.SavePendingSentEvent(ctx, dbsqlc.SavePendingSentEventParams{Msgid: ev.MsgID, Delivered: b2i(ev.Delivered),
		EventStatus: ev.Status, Now: e.At.UnixMilli(), Openid: e.OpenID, TemplateID: ev.TemplateID}); err != nil {
		return false, err
	}
	n, err = q.WakeUnknownReminders(ctx, dbsqlc.WakeUnknownRemindersParams{Now: e.At.UnixMilli(), Openid: e.OpenID, TemplateID: ev.TemplateID})
	return n > 0, err
}
