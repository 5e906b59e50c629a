// The record (store.EngineStore.RecordOutcome) on PostgreSQL: the
// outcomes of concurrent sends are group-committed (batch.Batcher: one
// transaction for many, so one commit and far fewer round trips), the
// plain sends of a batch with four statements for all of them (recordSent),
// every other outcome by the one-row path (recordOne). If anything in a
// batch fails, it is rolled back and each outcome written again in a
// transaction of its own, so that only the failing one gets an error.

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

// maxOutcomes bounds one batch of outcomes (one transaction).
const maxOutcomes = 256

// outcomeReq is one RecordOutcome call in a batch.
type outcomeReq struct {
	o   store.Outcome
	rec store.Recorded
	// eventDelivery is the delivery a sent event parked before the record
	// was applied to (0: none), for the webhook outbox.
	eventDelivery int64
}

// RecordOutcome writes o, group-committed with the outcomes of concurrent
// callers of this process, and reports what it wrote.
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
	id := o.Claim.Reminder.ID
	if (o.Complete == nil) == (o.Reschedule == nil) {
		return store.Recorded{}, fmt.Errorf("record outcome of %s: exactly one of Complete and Reschedule must be set", id)
	}
	req := &outcomeReq{o: o}
	if err := d.outcomes.Do(ctx, req); err != nil {
		return store.Recorded{}, storeErr(err, "record outcome of "+id)
	}
	return req.rec, nil
}

// ExpectOutcomes turns on the record wait (see store.EngineStore): the
// batch's leader lingers while inFlight says outcomes are about to come,
// and a counted outcome leaves inFlight as it joins the queue, under the
// batcher's lock, so that a leader never waits for one already queued.
func (d *DB) ExpectOutcomes(linger time.Duration, inFlight *atomic.Int64) {
	if linger <= 0 || inFlight == nil {
		d.outcomes.Gather(0, nil, nil)
		return
	}
	d.outcomes.Gather(linger, func() int { return int(inFlight.Load()) }, func(req *outcomeReq) {
		if req.o.Counted {
			inFlight.Add(-1)
		}
	})
}

// recordBatch writes a batch of outcomes in one transaction: the plain
// sends with a few statements for the whole batch (recordSent), the others
// one by one (recordOne). If that fails, each outcome is written again in a
// transaction of its own.
func (d *DB) recordBatch(ctx context.Context, reqs []*outcomeReq) []error {
	errs := make([]error, len(reqs))
	if len(reqs) > 1 {
		err := d.withTx(ctx, func(q *pgsqlc.Queries) error {
			rest, err := recordSent(ctx, q, reqs)
			if err != nil {
				return err
			}
			for _, req := range rest {
				if err := recordOne(ctx, q, req); err != nil {
					return err
				}
			}
			if err := releaseUserSends(ctx, q, reqs); err != nil {
				return err
			}
			return d.outboxOutcomes(ctx, q, reqs)
		})
		if err == nil {
			return errs
		}
	}
	for i, req := range reqs {
		errs[i] = d.withTx(ctx, func(q *pgsqlc.Queries) error {
			if err := recordOne(ctx, q, req); err != nil {
				return err
			}
			if err := releaseUserSends(ctx, q, []*outcomeReq{req}); err != nil {
				return err
			}
			return d.outboxOutcomes(ctx, q, []*outcomeReq{req})
		})
	}
	return errs
}

// releaseUserSends gives up the send leases of the batch's outcomes
// (Outcome.ReleaseUserSend), and their claims' start marks, with one
// statement.
func releaseUserSends(ctx context.Context, q *pgsqlc.Queries, reqs []*outcomeReq) error {
	var p pgsqlc.ReleaseUserSendsParams
	for _, req := range reqs {
		if h := req.o.ReleaseUserSend; h != "" {
			p.Openids, p.Holders = append(p.Openids, req.o.Claim.Reminder.OpenID), append(p.Holders, h)
			p.ReminderIds = append(p.ReminderIds, req.o.Claim.Reminder.ID)
			p.Attempts = append(p.Attempts, req.o.Claim.Reminder.Attempts)
		}
	}
	if len(p.Openids) == 0 {
		return nil
	}
	return q.ReleaseUserSends(ctx, p)
}

// Advisory lock keys (EngineXactLock): per-key serialisation across
// processes, held to the commit. LockMsgids builds the same key in SQL.
func msgidKey(msgid int64) string { return "msgid:" + strconv.FormatInt(msgid, 10) }

// plainSent reports whether o is a send whose record is all there is to
// write: WeChat accepted it with nothing to note, the reminder ends, the
// credit stays as the claim left it, and nothing else is to be written.
// That is the bulk of the traffic.
func plainSent(o store.Outcome) bool {
	dl, c := o.Delivery, o.Complete
	return dl != nil && dl.Status == store.DeliverySent && dl.HasErrCode && dl.ErrCode == 0 && dl.ErrMsg == "" && !dl.PossibleDuplicate &&
		c != nil && c.Status == store.StatusSent && c.Reason == "" && c.Report == "" &&
		o.Credit == store.CreditKeep && o.Pause == nil && o.Settle == nil && o.Claim.Reminder.UnknownAt.IsZero()
}

// recordSent records the batch's plain sends with four statements: the
// advisory locks of their msgids (as applyPendingSentEvent), the pending
// sent events of those msgids (usually none), the reminders completed
// (compare-and-set on each claim, as CompleteReminder; the UPDATE holds
// their row locks), and the delivery rows (duplicate where the occurrence
// has a sent row, as writeDelivery). It returns the outcomes left to
// recordOne: the others, a claim whose lease was lost, a send whose sent
// event arrived first, and a second claim of one reminder.
func recordSent(ctx context.Context, q *pgsqlc.Queries, reqs []*outcomeReq) ([]*outcomeReq, error) {
	var bulk, rest []*outcomeReq
	ids := make(map[string]bool, len(reqs))
	var msgids []int64
	for _, req := range reqs {
		req.rec = store.Recorded{} // a batch rolled back may have set it
		r := req.o.Claim.Reminder
		if plainSent(req.o) && !ids[r.ID] {
			ids[r.ID] = true
			bulk = append(bulk, req)
			if req.o.Delivery.HasMsgID {
				msgids = append(msgids, req.o.Delivery.MsgID)
			}
		} else {
			rest = append(rest, req)
		}
	}
	if len(bulk) < 2 {
		return reqs, nil
	}
	early := map[int64]bool{}
	if len(msgids) > 0 {
		if err := q.LockMsgids(ctx, msgids); err != nil {
			return nil, err
		}
		pending, err := q.PendingSentEvents(ctx, msgids)
		if err != nil {
			return nil, err
		}
		for _, m := range pending {
			early[m] = true
		}
	}
	// One instant for the batch, the latest outcome's: the reminders'
	// updated_at and the deliveries' finished_at, equal as on the one-row path.
	var now time.Time
	var c pgsqlc.CompleteSentRemindersParams
	for _, req := range bulk {
		dl, r := req.o.Delivery, req.o.Claim.Reminder
		if dl.HasMsgID && early[dl.MsgID] {
			continue
		}
		c.Ids, c.Owners = append(c.Ids, r.ID), append(c.Owners, r.LeaseOwner)
		c.Attempts, c.FireAts = append(c.Attempts, r.Attempts), append(c.FireAts, r.FireAt.UnixMilli())
		if req.o.At.After(now) {
			now = req.o.At
		}
	}
	done := make(map[string]bool, len(bulk))
	if len(c.Ids) > 0 {
		c.Now = now.UnixMilli()
		completed, err := q.CompleteSentReminders(ctx, c)
		if err != nil {
			return nil, err
		}
		for _, id := range completed {
			done[id] = true
		}
	}
	p := pgsqlc.InsertSentDeliveriesParams{Now: now.UnixMilli(), Status: string(store.DeliverySent)}
	var sent []*outcomeReq
	for _, req := range bulk {
		dl, r := req.o.Delivery, req.o.Claim.Reminder
		if !done[r.ID] {
			rest = append(rest, req)
			continue
		}
		sent = append(sent, req)
		p.Ids, p.OccurrenceAts, p.Attempts = append(p.Ids, r.ID), append(p.OccurrenceAts, r.FireAt.UnixMilli()), append(p.Attempts, r.Attempts)
		p.Msgids, p.HasMsgids = append(p.Msgids, dl.MsgID), append(p.HasMsgids, dl.HasMsgID)
		p.StartedAts, p.LatencyMs = append(p.StartedAts, req.o.Claim.ClaimedAt.UnixMilli()), append(p.LatencyMs, dl.Latency.Milliseconds())
	}
	if len(sent) > 0 {
		written, err := q.InsertSentDeliveries(ctx, p)
		if err != nil {
			return nil, fmt.Errorf("record deliveries: %w", err)
		}
		isSent := make(map[string]bool, len(written))
		for _, id := range written {
			isSent[id] = true
		}
		dup := pgsqlc.InsertSentDeliveriesParams{Now: p.Now, Status: string(store.DeliveryDuplicate)}
		for i, req := range sent {
			st := store.DeliverySent
			if !isSent[req.o.Claim.Reminder.ID] {
				st = store.DeliveryDuplicate
				dup.Ids, dup.OccurrenceAts, dup.Attempts = append(dup.Ids, p.Ids[i]), append(dup.OccurrenceAts, p.OccurrenceAts[i]), append(dup.Attempts, p.Attempts[i])
				dup.Msgids, dup.HasMsgids = append(dup.Msgids, p.Msgids[i]), append(dup.HasMsgids, p.HasMsgids[i])
				dup.StartedAts, dup.LatencyMs = append(dup.StartedAts, p.StartedAts[i]), append(dup.LatencyMs, p.LatencyMs[i])
			}
			req.rec = store.Recorded{Status: st}
		}
		if len(dup.Ids) > 0 {
			if _, err := q.InsertSentDeliveries(ctx, dup); err != nil {
				return nil, fmt.Errorf("record duplicate deliveries: %w", err)
			}
		}
	}
	return rest, nil
}

// recordOne writes one outcome in q's transaction: the reminder's
// transition, the pause, the delivery row (and a sent event that arrived
// before it), the settle of an unknown attempt, and the credit; it sets
// req.rec to what it wrote.
func recordOne(ctx context.Context, q *pgsqlc.Queries, req *outcomeReq) error {
	req.eventDelivery = 0
	rec, err := recordOutcome(ctx, q, req.o, &req.eventDelivery)
	req.rec = rec
	return err
}

// recordOutcome is recordOne's write, returning what it wrote; a parked
// sent event it applied sets *event to its delivery.
func recordOutcome(ctx context.Context, q *pgsqlc.Queries, o store.Outcome, event *int64) (store.Recorded, error) {
	r := o.Claim.Reminder
	now := o.At.UnixMilli()
	var rec store.Recorded
	if s := o.Settle; s != nil && s.HasEvent {
		// The claim saw the event parked; the send it belongs to may have
		// had its outcome recorded since (on any process) and taken it.
		// Under the msgid's lock, as applyPendingSentEvent takes it, one of
		// the two sees the other's commit.
		if err := q.EngineXactLock(ctx, msgidKey(s.Event.MsgID)); err != nil {
			return rec, err
		}
		parked, err := q.SentEventParked(ctx, s.Event.MsgID)
		if err != nil {
			return rec, err
		}
		if parked == 0 {
			o = store.EventGoneOutcome(o)
			rec.EventGone = true
		}
	}
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
			applied, err := applyPendingSentEvent(ctx, q, dl.MsgID, id, r.ID)
			if err != nil {
				return rec, err
			}
			if applied {
				*event = id
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
		Errmsg: store.LostLeaseNote(dl.ErrMsg, lost), StartedAt: o.Claim.ClaimedAt.UnixMilli(), Now: o.At.UnixMilli(), PossibleDuplicate: dl.PossibleDuplicate}
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
func applyPendingSentEvent(ctx context.Context, q *pgsqlc.Queries, msgid, id int64, reminderID string) (bool, error) {
	if err := q.EngineXactLock(ctx, msgidKey(msgid)); err != nil {
		return false, err
	}
	applied, err := q.ApplyPendingSentEvent(ctx, pgsqlc.ApplyPendingSentEventParams{Msgid: msgid, ID: id})
	if err != nil || applied == 0 {
		return false, err
	}
	if err := q.SyncReminderDelivery(ctx, pgsqlc.SyncReminderDeliveryParams{DeliveryID: id, ReminderID: reminderID}); err != nil {
		return false, err
	}
	return true, q.DeletePendingSentEvent(ctx, msgid)
}

// settleCredit does o.Credit. A claim whose lease was lost neither
// consumes nor refunds: the rescuer counted its credit used.
func settleCredit(ctx context.Context, q *pgsqlc.Queries, o store.Outcome, lost bool, now int64, rec *store.Recorded) error {
	r := o.Claim.Reminder
	switch {
	case o.Credit == store.CreditZero:
		return q.LedgerZero(ctx, pgsqlc.LedgerZeroParams{Appid: r.AppID, Openid: r.OpenID, TemplateID: r.TemplateID, Status: "refused", Now: now})
	case lost:
	case o.Credit == store.CreditConsume:
		n, err := q.OutcomeConsumeCredit(ctx, pgsqlc.OutcomeConsumeCreditParams{Appid: r.AppID, Openid: r.OpenID, TemplateID: r.TemplateID, Now: now})
		rec.NoCredit = err == nil && n == 0
		return err
	case o.Credit == store.CreditRefund:
		_, err := q.OutcomeRefundCredit(ctx, pgsqlc.OutcomeRefundCreditParams{Appid: r.AppID, Openid: r.OpenID, TemplateID: r.TemplateID, Now: now,
			ClaimedAt: o.Claim.ClaimedAt.UnixMilli()})
		return err
	}
	return nil
}
