// Message push (store.EngineStore.ApplyPushEvent): an event applied to the
// ledger and the delivery records in one transaction with the durable
// record of the pushes applied.

package postgres

import (
	"context"
	"errors"

	"github.com/reminderd/reminderd/internal/db/postgres/pgsqlc"
	"github.com/reminderd/reminderd/internal/store"
)

// errPushSeen rolls back a push that is not to be applied (a duplicate, a
// replay); ApplyPushEvent reports which.
var errPushSeen = errors.New("push seen before")

// ApplyPushEvent applies e once: the same message delivered again (to
// another process too, after a restart too) adds nothing, and a plaintext
// push's signed query admits one body only.
//
// Across processes: push_seen's INSERT … ON CONFLICT DO NOTHING waits for
// a concurrent insert of the same key and counts no row once it commits,
// so exactly one process applies a message; the accepts pair under the
// pair's advisory lock (recordAcceptTx); a sent event takes its msgid's
// advisory lock, as RecordOutcome does for its delivery.
func (d *DB) ApplyPushEvent(ctx context.Context, e store.PushEvent) (store.PushApplied, error) {
	var out store.PushApplied
	err := d.withTx(ctx, func(q *pgsqlc.Queries) error {
		out = store.PushApplied{}
		if err := rememberPush(ctx, q, e, &out); err != nil {
			return err
		}
		if out.Duplicate || out.Replayed {
			return errPushSeen
		}
		done, err := applyPush(ctx, q, e)
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
func rememberPush(ctx context.Context, q *pgsqlc.Queries, e store.PushEvent, out *store.PushApplied) error {
	now := e.At.UnixMilli()
	if e.Query != "" {
		queryKey := "q:" + e.Query
		n, err := q.RememberPush(ctx, pgsqlc.RememberPushParams{Key: queryKey, BodyHash: e.BodyHash, Now: now})
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
	n, err := q.RememberPush(ctx, pgsqlc.RememberPushParams{Key: "m:" + e.BodyHash, Now: now})
	out.Duplicate = err == nil && n == 0
	return err
}

// applyPush applies the event's answers, unsubscribes and sent events; it
// reports what it did (pushDone).
func applyPush(ctx context.Context, q *pgsqlc.Queries, e store.PushEvent) (done pushDone, err error) {
	now := e.At.UnixMilli()
	for _, a := range e.Answers {
		counted := true // a reject changes the status
		if a.Accept {
			counted, err = recordAcceptTx(ctx, q, e.AppID, e.OpenID, a.TemplateID, a.LongTerm, store.SourceEvent, e.At)
		} else {
			err = q.PushSetConsentStatus(ctx, pgsqlc.PushSetConsentStatusParams{Appid: e.AppID, Openid: e.OpenID, TemplateID: a.TemplateID,
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
		if err := q.LedgerZero(ctx, pgsqlc.LedgerZeroParams{Appid: e.AppID, Openid: e.OpenID, TemplateID: tid, Status: "unsubscribed",
			Now: now}); err != nil {
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

// applySentEvent marks the delivery of ev's msgid, or parks the event.
func applySentEvent(ctx context.Context, q *pgsqlc.Queries, e store.PushEvent, ev store.SentEvent) (woken, marked bool, err error) {
	// The record of the send with this msgid takes the same lock before it
	// looks for a parked event: one of the two sees the other's commit.
	if err := q.EngineXactLock(ctx, msgidKey(ev.MsgID)); err != nil {
		return false, false, err
	}
	n, err := q.MarkDelivered(ctx, pgsqlc.MarkDeliveredParams{Msgid: ev.MsgID, Delivered: ev.Delivered, EventStatus: ev.Status})
	if err != nil {
		return false, false, err
	}
	if n > 0 {
		report := store.ReportDelivered
		if !ev.Delivered {
			report = store.ReportFailed
		}
		return false, true, q.SetDeliveryByMsgid(ctx, pgsqlc.SetDeliveryByMsgidParams{Delivery: string(report), Msgid: ev.MsgID})
	}
	// A delivery with this msgid that took no report (not sent, or
	// reported already) is not waiting for this event.
	if known, err := q.DeliveryWithMsgid(ctx, ev.MsgID); err != nil || known > 0 {
		return false, false, err
	}
	// Parked with its app, user and template: the event of a send whose
	// outcome is not recorded yet, or of one whose answer was lost
	// (unknown), of that app's user only.
	if err := q.SavePendingSentEvent(ctx, pgsqlc.SavePendingSentEventParams{Msgid: ev.MsgID, Delivered: ev.Delivered,
		EventStatus: ev.Status, Now: e.At.UnixMilli(), Openid: e.OpenID, TemplateID: ev.TemplateID, Appid: e.AppID}); err != nil {
		return false, false, err
	}
	// A record of an unknown outcome not committed yet is not woken (its
	// row is still sending, as if it came after this push, which is what
	// the SQLite driver's serial order gives too): its claim finds the
	// parked event once its wait is over.
	n, err = q.WakeUnknownReminders(ctx, pgsqlc.WakeUnknownRemindersParams{Now: e.At.UnixMilli(), Openid: e.OpenID,
		TemplateID: ev.TemplateID, Appid: e.AppID})
	return n > 0, false, err
}
