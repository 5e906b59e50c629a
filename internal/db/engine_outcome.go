// The record (store.EngineStore.RecordOutcome): the outcomes of concurrent
// sends are group-committed (one transaction, one commit for many), the
// plain sends of a batch with three statements for all of them
// (recordSent), every other outcome by the one-row path (recordOne).
//
// The path of one outcome: RecordOutcome queues it on d.outcomes, a
// batch.Batcher; the caller that finds the writer free leads and runs the batch
// (recordBatch) in one transaction; if anything in it fails, the batch is
// rolled back and each outcome written again alone (withTxBatch), so that
// only the failing one gets an error.

package db

import (
	"context"
	"database/sql"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/reminderd/reminderd/internal/db/dbsqlc"
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
// callers, and reports what it wrote.
func (d *DB) RecordOutcome(ctx context.Context, o store.Outcome) (store.Recorded, error) {
	if (o.Complete == nil) == (o.Reschedule == nil) {
		return store.Recorded{}, fmt.Errorf("record outcome of %s: exactly one of Complete and Reschedule must be set", o.Claim.Reminder.ID)
	}
	req := &outcomeReq{o: o}
	if err := d.outcomes.Do(ctx, req); err != nil {
		return store.Recorded{}, fmt.Errorf("record outcome of %s: %w", o.Claim.Reminder.ID, err)
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
// one by one (recordOne).
func (d *DB) recordBatch(ctx context.Context, reqs []*outcomeReq) []error {
	return d.withTxBatch(ctx, len(reqs), func(q *dbsqlc.Queries) error {
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
	}, func(i int, q *dbsqlc.Queries) error {
		if err := recordOne(ctx, q, reqs[i]); err != nil {
			return err
		}
		if err := releaseUserSends(ctx, q, reqs[i:i+1]); err != nil {
			return err
		}
		return d.outboxOutcomes(ctx, q, reqs[i:i+1])
	})
}

// releaseUserSends gives up the send leases of the batch's outcomes
// (Outcome.ReleaseUserSend; one process on SQLite takes none).
func releaseUserSends(ctx context.Context, q *dbsqlc.Queries, reqs []*outcomeReq) error {
	for _, req := range reqs {
		if h := req.o.ReleaseUserSend; h != "" {
			if err := q.ReleaseUserSend(ctx, dbsqlc.ReleaseUserSendParams{Openid: req.o.Claim.Reminder.OpenID, Holder: h}); err != nil {
				return err
			}
		}
	}
	return nil
}

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

// recordSent records the batch's plain sends with three statements: the
// pending sent events of their msgids (usually none), the reminders
// completed (compare-and-set on each claim, as CompleteReminder), and the
// delivery rows. It returns the outcomes left to recordOne: the others, a
// claim whose lease was lost, a send whose sent event arrived first, a
// second claim of one reminder, and an id that JSON cannot carry.
func recordSent(ctx context.Context, q *dbsqlc.Queries, reqs []*outcomeReq) ([]*outcomeReq, error) {
	var bulk, rest []*outcomeReq
	ids := make(map[string]bool, len(reqs))
	var msgids []int64
	for _, req := range reqs {
		r := req.o.Claim.Reminder
		if plainSent(req.o) && !ids[r.ID] && jsonSafe(r.ID) {
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
		pending, err := q.PendingSentEvents(ctx, jsonArg(msgids))
		if err != nil {
			return nil, err
		}
		for _, m := range pending {
			early[m] = true
		}
	}
	// One statement per owner (one, but for a database two engines share).
	byOwner := map[string][][3]any{}
	var owners []string
	// One instant for the batch, the latest outcome's: the reminders'
	// updated_at and the deliveries' finished_at, equal as on the one-row path.
	var now time.Time
	for _, req := range bulk {
		dl, r := req.o.Delivery, req.o.Claim.Reminder
		if dl.HasMsgID && early[dl.MsgID] {
			continue
		}
		if byOwner[r.LeaseOwner] == nil {
			owners = append(owners, r.LeaseOwner)
		}
		byOwner[r.LeaseOwner] = append(byOwner[r.LeaseOwner], [3]any{r.ID, r.Attempts, r.FireAt.UnixMilli()})
		if req.o.At.After(now) {
			now = req.o.At
		}
	}
	done := make(map[string]bool, len(bulk))
	for _, owner := range owners {
		completed, err := q.CompleteSentReminders(ctx, dbsqlc.CompleteSentRemindersParams{Claims: jsonArg(byOwner[owner]),
			Owner: someStr(owner), Now: now.UnixMilli()})
		if err != nil {
			return nil, err
		}
		for _, id := range completed {
			done[id] = true
		}
	}
	rows := make([][7]any, 0, len(done))
	for _, req := range bulk {
		dl, r := req.o.Delivery, req.o.Claim.Reminder
		if !done[r.ID] {
			rest = append(rest, req)
			continue
		}
		var msgid any
		if dl.HasMsgID {
			msgid = dl.MsgID
		}
		rows = append(rows, [7]any{r.ID, r.FireAt.UnixMilli(), r.Attempts, msgid, req.o.Claim.ClaimedAt.UnixMilli(), now.UnixMilli(),
			dl.Latency.Milliseconds()})
		req.rec = store.Recorded{Status: store.DeliverySent}
	}
	if len(rows) > 0 {
		if err := q.InsertSentDeliveries(ctx, jsonArg(rows)); err != nil {
			return nil, fmt.Errorf("record deliveries: %w", err)
		}
	}
	return rest, nil
}

// recordOne writes one outcome in q's transaction: the reminder's
// transition (compare-and-set on the claim), the pause, the delivery row
// (and a sent event that arrived before it), the settle of an unknown
// attempt, and the credit.
func recordOne(ctx context.Context, q *dbsqlc.Queries, req *outcomeReq) error {
	o, r := req.o, req.o.Claim.Reminder
	now := o.At.UnixMilli()
	req.rec, req.eventDelivery = store.Recorded{}, 0 // a batch rolled back may have set them
	if s := o.Settle; s != nil && s.HasEvent {
		// The claim saw the event parked; the send it belongs to may have
		// had its outcome recorded since and taken it.
		parked, err := q.SentEventParked(ctx, s.Event.MsgID)
		if err != nil {
			return err
		}
		if parked == 0 {
			o = store.EventGoneOutcome(o)
			req.rec.EventGone = true
		}
	}
	n, err := transition(ctx, q, o)
	if err != nil {
		return err
	}
	// Lost: the rescuer took the lease back and recorded the attempt
	// abandoned; this is its real outcome after all.
	lost := n == 0
	req.rec.Lost = lost
	if p := o.Pause; p != nil {
		if err := q.SetPause(ctx, dbsqlc.SetPauseParams{Name: p.Name, Until: p.Until.UnixMilli(), Reason: p.Reason, Now: p.Since.UnixMilli()}); err != nil {
			return err
		}
	}
	if dl := o.Delivery; dl != nil {
		id, status, err := writeDelivery(ctx, q, o, lost)
		if err != nil {
			return fmt.Errorf("record delivery: %w", err)
		}
		req.rec.Status = status
		if dl.HasMsgID {
			applied, err := applyPendingSentEvent(ctx, q, dl.MsgID, id, r.ID)
			if err != nil {
				return err
			}
			if applied {
				req.eventDelivery = id
			}
		}
	}
	if s := o.Settle; s != nil {
		n, err := q.SettleUnknownDelivery(ctx, dbsqlc.SettleUnknownDeliveryParams{Errmsg: s.ErrMsg,
			Msgid: maybeInt(s.Event.MsgID, s.HasEvent), Delivered: maybeInt(b2i(s.Event.Delivered), s.HasEvent),
			EventStatus: s.Event.Status, ReminderID: r.ID, OccurrenceAt: r.FireAt.UnixMilli()})
		if err != nil {
			return fmt.Errorf("settle the unknown delivery: %w", err)
		}
		// None: recorded sent meanwhile (a late outcome); the event is not
		// this occurrence's to take.
		req.rec.Unsettled = n == 0
		if n > 0 && s.HasEvent {
			if err := q.DeletePendingSentEvent(ctx, s.Event.MsgID); err != nil {
				return err
			}
		}
	}
	return settleCredit(ctx, q, o, lost, now, &req.rec)
}

// transition moves the reminder out of sending: compare-and-set on the
// claim (owner, attempts, claimed fire_at), so that a stalled worker cannot
// match a later claim of the same reminder. It returns the rows changed.
func transition(ctx context.Context, q *dbsqlc.Queries, o store.Outcome) (int64, error) {
	r := o.Claim.Reminder
	owner, now := someStr(r.LeaseOwner), o.At.UnixMilli()
	if c := o.Complete; c != nil {
		return q.CompleteReminder(ctx, dbsqlc.CompleteReminderParams{ID: r.ID, Status: string(c.Status),
			Reason: strOrNull(string(c.Reason)), Owner: owner, Attempts: r.Attempts, ClaimedFireAt: r.FireAt.UnixMilli(),
			Now: now, Delivery: string(c.Report)})
	}
	s := o.Reschedule
	return q.RescheduleReminder(ctx, dbsqlc.RescheduleReminderParams{ID: r.ID, FireAt: s.FireAt.UnixMilli(), DueAt: s.DueAt.UnixMilli(),
		ExpiresAt: msOrNull(s.ExpiresAt), NewAttempts: s.Attempts, Owner: owner, Attempts: r.Attempts,
		ClaimedFireAt: r.FireAt.UnixMilli(), Now: now, UnknownAt: msOrNull(s.UnknownAt)})
}

// writeDelivery records the attempt: a new row, or the abandoned row the
// rescuer wrote for it when the lease was lost. A send of an occurrence
// already recorded sent (the one sent row an occurrence may have) is
// written duplicate. It returns the row's id and the status written.
func writeDelivery(ctx context.Context, q *dbsqlc.Queries, o store.Outcome, lost bool) (int64, store.DeliveryStatus, error) {
	dl, r := o.Delivery, o.Claim.Reminder
	p := dbsqlc.InsertDeliveryParams{ReminderID: r.ID, OccurrenceAt: r.FireAt.UnixMilli(), Attempt: r.Attempts, Status: string(dl.Status),
		Errcode: maybeInt(dl.ErrCode, dl.HasErrCode), Errmsg: store.LostLeaseNote(dl.ErrMsg, lost), Msgid: maybeInt(dl.MsgID, dl.HasMsgID),
		StartedAt: o.Claim.ClaimedAt.UnixMilli(), Now: o.At.UnixMilli(), LatencyMs: someInt(dl.Latency.Milliseconds()),
		PossibleDuplicate: b2i(dl.PossibleDuplicate)}
	id, err := insertDelivery(ctx, q, p, lost)
	if err != nil && dl.Status == store.DeliverySent && isUniqueViolation(err) {
		p.Status = string(store.DeliveryDuplicate)
		id, err = insertDelivery(ctx, q, p, lost)
	}
	return id, store.DeliveryStatus(p.Status), err
}

func insertDelivery(ctx context.Context, q *dbsqlc.Queries, d dbsqlc.InsertDeliveryParams, lost bool) (int64, error) {
	if lost {
		id, err := q.FinishAbandonedDelivery(ctx, dbsqlc.FinishAbandonedDeliveryParams{Status: d.Status, Errcode: d.Errcode,
			Errmsg: d.Errmsg, Msgid: d.Msgid, Now: d.Now, LatencyMs: d.LatencyMs, ReminderID: d.ReminderID,
			OccurrenceAt: d.OccurrenceAt, Attempt: d.Attempt, StartedAt: d.StartedAt, PossibleDuplicate: d.PossibleDuplicate})
		if !isNotFound(err) {
			return id, err
		}
	}
	return q.InsertDelivery(ctx, d)
}

// applyPendingSentEvent applies WeChat's sent event for msgid to delivery
// id if it arrived before the outcome was recorded (ApplyPushEvent parked
// it; the two run in transactions of the writer, so they cannot miss each
// other).
// It reports whether one was applied.
func applyPendingSentEvent(ctx context.Context, q *dbsqlc.Queries, msgid, id int64, reminderID string) (bool, error) {
	applied, err := q.ApplyPendingSentEvent(ctx, dbsqlc.ApplyPendingSentEventParams{Msgid: msgid, ID: id})
	if err != nil || applied == 0 {
		return false, err
	}
	if err := q.SyncReminderDelivery(ctx, dbsqlc.SyncReminderDeliveryParams{DeliveryID: id, ReminderID: reminderID}); err != nil {
		return false, err
	}
	return true, q.DeletePendingSentEvent(ctx, msgid)
}

// settleCredit does o.Credit. A claim whose lease was lost neither
// consumes nor refunds: the rescuer counted its credit used.
func settleCredit(ctx context.Context, q *dbsqlc.Queries, o store.Outcome, lost bool, now int64, rec *store.Recorded) error {
	r := o.Claim.Reminder
	switch {
	case o.Credit == store.CreditZero:
		return q.ZeroConsent(ctx, dbsqlc.ZeroConsentParams{Appid: r.AppID, Openid: r.OpenID, TemplateID: r.TemplateID,
			Status: "refused", Now: now})
	case lost:
	case o.Credit == store.CreditConsume:
		n, err := q.ConsumeCredit(ctx, dbsqlc.ConsumeCreditParams{Appid: r.AppID, Openid: r.OpenID, TemplateID: r.TemplateID, Now: now})
		rec.NoCredit = err == nil && n == 0
		return err
	case o.Credit == store.CreditRefund:
		_, err := q.RefundCredit(ctx, dbsqlc.RefundCreditParams{Appid: r.AppID, Openid: r.OpenID, TemplateID: r.TemplateID, Now: now,
			ClaimedAt: o.Claim.ClaimedAt.UnixMilli()})
		return err
	}
	return nil
}

// someInt and someStr are set column values; maybeInt is v when ok, NULL
// otherwise.
func someInt(v int64) sql.NullInt64   { return sql.NullInt64{Int64: v, Valid: true} }
func someStr(v string) sql.NullString { return sql.NullString{String: v, Valid: true} }
func maybeInt(v int64, ok bool) sql.NullInt64 {
	return sql.NullInt64{Int64: v, Valid: ok}
}

func b2i(b bool) int64 {
	if b {
		return 1
	}
	return 0
}
