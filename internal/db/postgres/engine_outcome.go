// The record (store.EngineStore.RecordOutcome) on PostgreSQL: one
// transaction per outcome. PostgreSQL commits concurrent transactions
// concurrently (and groups their WAL flushes itself), so the SQLite
// driver's group commit, which exists to share its single writer, is not
// needed: ExpectOutcomes' record wait is a no-op here but for taking the
// counted outcomes off inFlight.

package postgres

import (
	"context"
	"fmt"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/reminderd/reminderd/internal/db/postgres/pgsqlc"
	"github.com/reminderd/reminderd/internal/store"
)

// RecordOutcome writes o in a transaction of its own and reports what it
// wrote.
//
// Across processes: the transition is a compare-and-set on the claim
// (status sending, owner, attempts, claimed fire_at) whose UPDATE holds the
// reminder's row lock to the commit; a record whose claim was lost takes
// that lock (LockReminder) before it writes a delivery, so every writer of
// an occurrence's sent row holds it, and the second sent row of one
// occurrence is written duplicate. A delivery with a msgid takes the
// msgid's advisory lock, as ApplyPushEvent does for its sent event, so that
// the two never miss each other. The credit actions are compare-and-sets
// on the ledger row (credits > 0; zeroed_at before the claim).
func (d *DB) RecordOutcome(ctx context.Context, o store.Outcome) (store.Recorded, error) {
	if o.Counted {
		// It joins the "queue" now: no commit waits for it.
		if n := d.inFlight.Load(); n != nil {
			n.Add(-1)
		}
	}
	id := o.Claim.Reminder.ID
	if (o.Complete == nil) == (o.Reschedule == nil) {
		return store.Recorded{}, fmt.Errorf("record outcome of %s: exactly one of Complete and Reschedule must be set", id)
	}
	var rec store.Recorded
	err := d.withTx(ctx, func(q *pgsqlc.Queries) error {
		var err error
		rec, err = recordOne(ctx, q, o)
		return err
	})
	if err != nil {
		return store.Recorded{}, storeErr(err, "record outcome of "+id)
	}
	return rec, nil
}

// ExpectOutcomes keeps inFlight only to take counted outcomes off it
// (store.EngineStore allows a store that commits each outcome alone to
// ignore the wait): each outcome commits at once, in its own transaction.
func (d *DB) ExpectOutcomes(linger time.Duration, inFlight *atomic.Int64) {
	if linger <= 0 {
		inFlight = nil
	}
	d.inFlight.Store(inFlight)
}

// Advisory lock keys (EngineXactLock): per-key serialisation across
// processes, held to the commit.
func msgidKey(msgid int64) string { return "msgid:" + strconv.FormatInt(msgid, 10) }

// recordOne writes one outcome in q's transaction: the reminder's
// transition, the pause, the delivery row (and a sent event that arrived
// before it), the settle of an unknown attempt, and the credit.
func recordOne(ctx context.Context, q *pgsqlc.Queries, o store.Outcome) (store.Recorded, error) {
	r := o.Claim.Reminder
	now := o.At.UnixMilli()
	var rec store.Recorded
	n, err := transition(ctx, q, o)
	if err != nil {
		return rec, err
	}
	// Lost: the rescuer took the lease back and recorded the attempt
	// abandoned; this is its real outcome after all.
	lost := n == 0
	rec.Lost = lost
	if lost && (o.Delivery != nil || o.Settle != nil) {
		if _, err := q.LockReminder(ctx, r.ID); err != nil {
			return rec, fmt.Errorf("lock reminder: %w", err)
		}
	}
	if p := o.Pause; p != nil {
		if err := q.SetPause(ctx, pgsqlc.SetPauseParams{Name: p.Name, Until: p.Until.UnixMilli(), Reason: p.Reason,
			Now: p.Since.UnixMilli()}); err != nil {
			return rec, err
		}
	}
	if dl := o.Delivery; dl != nil {
		id, status, err := writeDelivery(ctx, q, o, lost)
		if err != nil {
			return rec, fmt.Errorf("record delivery: %w", err)
		}
		rec.Status = status
		if dl.HasMsgID {
			if err := applyPendingSentEvent(ctx, q, dl.MsgID, id, r.ID); err != nil {
				return rec, err
			}
		}
	}
	if s := o.Settle; s != nil {
		p := pgsqlc.SettleUnknownDeliveryParams{Errmsg: s.ErrMsg, EventStatus: s.Event.Status, ReminderID: r.ID,
			OccurrenceAt: r.FireAt.UnixMilli()}
		if s.HasEvent {
			p.Msgid, p.Delivered = &s.Event.MsgID, &s.Event.Delivered
		}
		n, err := q.SettleUnknownDelivery(ctx, p)
		if err != nil {
			return rec, fmt.Errorf("settle the unknown delivery: %w", err)
		}
		// None: recorded sent meanwhile (a late outcome).
		rec.Unsettled = n == 0
		if n > 0 && s.HasEvent {
			if err := q.DeletePendingSentEvent(ctx, s.Event.MsgID); err != nil {
				return rec, err
			}
		}
	}
	return rec, settleCredit(ctx, q, o, lost, now, &rec)
}

// transition moves the reminder out of sending: compare-and-set on the
// claim (owner, attempts, claimed fire_at). It returns the rows changed.
func transition(ctx context.Context, q *pgsqlc.Queries, o store.Outcome) (int64, error) {
	r := o.Claim.Reminder
	now := o.At.UnixMilli()
	if c := o.Complete; c != nil {
		return q.CompleteReminder(ctx, pgsqlc.CompleteReminderParams{ID: r.ID, Status: string(c.Status),
			Reason: strOrNull(string(c.Reason)), Owner: r.LeaseOwner, Attempts: r.Attempts, ClaimedFireAt: r.FireAt.UnixMilli(),
			Now: now, Delivery: string(c.Report)})
	}
	s := o.Reschedule
	return q.RescheduleReminder(ctx, pgsqlc.RescheduleReminderParams{ID: r.ID, FireAt: s.FireAt.UnixMilli(), DueAt: s.DueAt.UnixMilli(),
		ExpiresAt: msOrNull(s.ExpiresAt), NewAttempts: s.Attempts, Owner: r.LeaseOwner, Attempts: r.Attempts,
		ClaimedFireAt: r.FireAt.UnixMilli(), Now: now, UnknownAt: msOrNull(s.UnknownAt)})
}

// writeDelivery records the attempt: a new row, or the abandoned row the
// rescuer wrote for it when the lease was lost. A send of an occurrence
// recorded sent already is written duplicate: the reminder's row lock is
// held (see RecordOutcome), so the check sees every committed sent row and
// no other can be written meanwhile. It returns the row's id and the
// status written.
func writeDelivery(ctx context.Context, q *pgsqlc.Queries, o store.Outcome, lost bool) (int64, store.DeliveryStatus, error) {
	dl, r := o.Delivery, o.Claim.Reminder
	status := dl.Status
	if status == store.DeliverySent {
		n, err := q.OccurrenceSent(ctx, pgsqlc.OccurrenceSentParams{ReminderID: r.ID, OccurrenceAt: r.FireAt.UnixMilli()})
		if err != nil {
			return 0, "", err
		}
		if n > 0 {
			status = store.DeliveryDuplicate
		}
	}
	p := pgsqlc.InsertDeliveryParams{ReminderID: r.ID, OccurrenceAt: r.FireAt.UnixMilli(), Attempt: r.Attempts, Status: string(status),
		Errmsg: dl.ErrMsg, StartedAt: o.Claim.ClaimedAt.UnixMilli(), Now: o.At.UnixMilli(), PossibleDuplicate: dl.PossibleDuplicate}
	if dl.HasErrCode {
		p.Errcode = &dl.ErrCode
	}
	if dl.HasMsgID {
		p.Msgid = &dl.MsgID
	}
	latency := dl.Latency.Milliseconds()
	p.LatencyMs = &latency
	if lost {
		id, err := q.FinishAbandonedDelivery(ctx, pgsqlc.FinishAbandonedDeliveryParams{Status: p.Status, Errcode: p.Errcode,
			Errmsg: p.Errmsg, Msgid: p.Msgid, Now: p.Now, LatencyMs: p.LatencyMs, ReminderID: p.ReminderID,
			OccurrenceAt: p.OccurrenceAt, Attempt: p.Attempt, StartedAt: p.StartedAt, PossibleDuplicate: p.PossibleDuplicate})
		if err == nil || !isNoRows(err) {
			return id, status, err
		}
	}
	id, err := q.InsertDelivery(ctx, p)
	return id, status, err
}

// applyPendingSentEvent applies WeChat's sent event for msgid to delivery
// id if it arrived before the outcome was recorded. The msgid's advisory
// lock orders this against ApplyPushEvent's sent event: whichever takes it
// second sees what the first committed.
func applyPendingSentEvent(ctx context.Context, q *pgsqlc.Queries, msgid, id int64, reminderID string) error {
	if err := q.EngineXactLock(ctx, msgidKey(msgid)); err != nil {
		return err
	}
	applied, err := q.ApplyPendingSentEvent(ctx, pgsqlc.ApplyPendingSentEventParams{Msgid: msgid, ID: id})
	if err != nil || applied == 0 {
		return err
	}
	if err := q.SyncReminderDelivery(ctx, pgsqlc.SyncReminderDeliveryParams{DeliveryID: id, ReminderID: reminderID}); err != nil {
		return err
	}
	return q.DeletePendingSentEvent(ctx, msgid)
}

// settleCredit does o.Credit. A claim whose lease was lost neither
// consumes nor refunds: the rescuer counted its credit used.
func settleCredit(ctx context.Context, q *pgsqlc.Queries, o store.Outcome, lost bool, now int64, rec *store.Recorded) error {
	r := o.Claim.Reminder
	switch {
	case o.Credit == store.CreditZero:
		return q.LedgerZero(ctx, pgsqlc.LedgerZeroParams{Openid: r.OpenID, TemplateID: r.TemplateID, Status: "refused", Now: now})
	case lost:
	case o.Credit == store.CreditConsume:
		n, err := q.OutcomeConsumeCredit(ctx, pgsqlc.OutcomeConsumeCreditParams{Openid: r.OpenID, TemplateID: r.TemplateID, Now: now})
		rec.NoCredit = err == nil && n == 0
		return err
	case o.Credit == store.CreditRefund:
		_, err := q.OutcomeRefundCredit(ctx, pgsqlc.OutcomeRefundCreditParams{Openid: r.OpenID, TemplateID: r.TemplateID, Now: now,
			ClaimedAt: o.Claim.ClaimedAt.UnixMilli()})
		return err
	}
	return nil
}
