// Message push (store.EngineStore.ApplyPushEvent): an event applied to the
// ledger and the delivery records in one transaction with the durable
// record of the pushes applied.

package db

import (
	"context"
	"errors"
	"fmt"

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
		var done pushDone
		done, err = applyPush(ctx, q, e)
		if err != nil {
			return err
		}
		out.Woken = done.woken
		return d.outboxPush(ctx, q, e, done)
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
// reports what it did (pushDone).
func applyPush(ctx context.Context, q *dbsqlc.Queries, e store.PushEvent) (done pushDone, err error) {
	now := e.At.UnixMilli()
	for _, a := range e.Answers {
		counted := true // a reject changes the status
		if a.Accept {
			counted, err = recordAcceptTx(ctx, q, e.AppID, e.OpenID, a.TemplateID, a.LongTerm, sourceEvent, e.At)
		} else {
			err = q.SetConsentStatus(ctx, dbsqlc.SetConsentStatusParams{Appid: e.AppID, Openid: e.OpenID, TemplateID: a.TemplateID,
				Status: "reject", Now: now})
		}
		if err != nil {
			return done, err
		}
		if counted {
			done.answered = append(done.answered, a.TemplateID)
		}
	}
	for _, tid := range e.Unsubscribed {
		if err := q.ZeroConsent(ctx, dbsqlc.ZeroConsentParams{Appid: e.AppID, Openid: e.OpenID, TemplateID: tid,
			Status: "unsubscribed", Now: now}); err != nil {
			return done, err
		}
	}
	for _, ev := range e.Sent {
		w, m, err := applySentEvent(ctx, q, e, ev)
		if err != nil {
			return done, err
		}
		done.woken = done.woken || w
		if m {
			done.marked = append(done.marked, ev.MsgID)
		}
	}
	return done, nil
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

// outboxPush writes the webhook events of an applied push: consent.changed
// for the answers that changed the ledger and for the unsubscribes,
// reminder.delivered or .undelivered for the sent events applied.
func (d *DB) outboxPush(ctx context.Context, q *dbsqlc.Queries, e store.PushEvent, done pushDone) error {
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
		row, err := q.DeliveryByMsgid(ctx, someInt(m))
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

// applySentEvent marks the delivery of ev's msgid, or parks the event. The
// record of an outcome applies parked events in its transaction
// (applyPendingSentEvent), so that the two cannot miss each other.
func applySentEvent(ctx context.Context, q *dbsqlc.Queries, e store.PushEvent, ev store.SentEvent) (woken, marked bool, err error) {
	n, err := q.MarkDelivered(ctx, dbsqlc.MarkDeliveredParams{Msgid: someInt(ev.MsgID), Delivered: someInt(b2i(ev.Delivered)),
		EventStatus: ev.Status})
	if err != nil {
		return false, false, err
	}
	if n > 0 {
		report := store.ReportDelivered
		if !ev.Delivered {
			report = store.ReportFailed
		}
		return false, true, q.SetDeliveryByMsgid(ctx, dbsqlc.SetDeliveryByMsgidParams{Delivery: string(report), Msgid: someInt(ev.MsgID)})
	}
	// A delivery with this msgid that took no report (not sent, or
	// reported already) is not waiting for this event.
	if known, err := q.DeliveryWithMsgid(ctx, someInt(ev.MsgID)); err != nil || known > 0 {
		return false, false, err
	}
	// Parked with its app, user and template: it may be the event of a
	// send whose outcome is not recorded yet, or of one whose answer was
	// lost (unknown), which it then settles. Another app's reminder of the
	// same openid and template id is another user's.
	if err := q.SavePendingSentEvent(ctx, dbsqlc.SavePendingSentEventParams{Msgid: ev.MsgID, Delivered: b2i(ev.Delivered),
		EventStatus: ev.Status, Now: e.At.UnixMilli(), Openid: e.OpenID, TemplateID: ev.TemplateID, Appid: e.AppID}); err != nil {
		return false, false, err
	}
	n, err = q.WakeUnknownReminders(ctx, dbsqlc.WakeUnknownRemindersParams{Now: e.At.UnixMilli(), Openid: e.OpenID,
		TemplateID: ev.TemplateID, Appid: e.AppID})
	return n > 0, false, err
}
