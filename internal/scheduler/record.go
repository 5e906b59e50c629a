// The record: a claim's outcome group-committed with others' (record over
// db.Batcher), the batch of plain sends in a few statements (recordSent), the
// rest one by one (recordTx): the delivery row, the reminder's transition,
// the credit settled, the quota pause; then the observer. It waits on the
// batcher (the record wait, RecordWait, for sends still at WeChat) and the
// writer, with the user's lock held; never on WeChat.

package scheduler

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"github.com/reminderd/reminderd/internal/db/dbsqlc"
	"log/slog"
	"time"

	"github.com/reminderd/reminderd/internal/db"
	"github.com/reminderd/reminderd/internal/recur"
	"github.com/reminderd/reminderd/internal/wechat"
)

// pauseQuota names the persisted quota pause.
const pauseQuota = "quota"

var deliveryStatus = map[verdict]string{
	vSent: "sent", vFailed: "failed", vRetry: "retry", vDefer: "deferred", vSkip: "skipped", vAbandon: "abandoned",
	vUnknown: "unknown",
}

// nextOccurrence returns the series' next scheduled instant after the
// current one (computed from the scheduled instant, not from now), skipping
// occurrences whose window has already passed. Zero means the series ended.
func (e *Engine) nextOccurrence(r dbsqlc.Reminder, now time.Time) (time.Time, error) {
	loc, err := recur.LoadZone(r.Timezone)
	if err != nil {
		return time.Time{}, err
	}
	s, err := recur.Parse(r.Recurrence.String, loc)
	if err != nil {
		return time.Time{}, err
	}
	window := e.cfg.DefaultLateness
	if r.WindowMs.Valid {
		window = time.Duration(r.WindowMs.Int64) * time.Millisecond
	}
	next := s.Next(time.UnixMilli(r.FireAt))
	for i := 0; !next.IsZero() && next.Add(window).Before(now); i++ {
		if i == 100000 {
			return time.Time{}, fmt.Errorf("recurrence %q: no occurrence within reach", r.Recurrence.String)
		}
		next = s.Next(next)
	}
	return next, nil
}

type outcomeReq struct {
	c      claim
	res    result
	status string // the delivery status recorded
	lost   bool   // the lease was taken over before the outcome
	now    time.Time
}

// maxOutcomes bounds one batch of outcomes (one transaction).
const maxOutcomes = 256

// record writes the outcome of one claim, group-committed with the
// outcomes of other workers (recordBatch): the delivery row, the reminder's
// transition (compare-and-set on the claim), the credit consumed by a
// successful send, the next occurrence of a series, and a sent event that
// arrived early.
func (e *Engine) record(ctx context.Context, c claim, res result) error {
	req := &outcomeReq{c: c, res: res, now: e.now()}
	if err := e.outcomes.Do(ctx, req); err != nil {
		return err
	}
	if req.lost {
		e.log.Warn("lease lost before the outcome was recorded", "reminder_id", c.rem.ID, "attempt", c.rem.Attempts)
	}
	e.observe(c.rem, res, req.status, req.now)
	return nil
}

// recordBatch writes a batch of outcomes in one transaction: the sends
// that need nothing but their record with a few statements for the whole
// batch (recordSent), the others one by one (recordTx). If anything fails,
// each outcome is written again in a transaction of its own, so that only
// the failing one gets an error (db.WithTxBatch).
func (e *Engine) recordBatch(ctx context.Context, reqs []*outcomeReq) []error {
	return e.db.WithTxBatch(ctx, len(reqs), func(q *dbsqlc.Queries) error {
		rest, err := e.recordSent(ctx, q, reqs)
		if err != nil {
			return err
		}
		for _, req := range rest {
			if err := e.recordTx(ctx, q, req); err != nil {
				return err
			}
		}
		return nil
	}, func(i int, q *dbsqlc.Queries) error { return e.recordTx(ctx, q, reqs[i]) })
}

// recordSent records, with three statements for the whole batch, the sends
// whose record is all there is to write: WeChat accepted them, the claim
// settled the credit (it holds the one-time credit, or the template is
// long-term), and the reminder ends (no series). That is the bulk of the
// traffic. The statements: the pending sent events of their msgids (usually
// none), the reminders completed (compare-and-set on each claim, as
// CompleteReminder), and the delivery rows. It returns the outcomes left to
// recordTx: the others, a claim whose lease was lost, a send whose sent event
// arrived first, a second claim of one reminder, and an id that JSON cannot
// carry (see claimDue).
func (e *Engine) recordSent(ctx context.Context, q *dbsqlc.Queries, reqs []*outcomeReq) ([]*outcomeReq, error) {
	var bulk, rest []*outcomeReq
	ids := make(map[string]bool, len(reqs))
	var msgids []int64
	for _, req := range reqs {
		r := req.c.rem
		// (The bulk statements write no errmsg: an outcome with a note
		// takes the one-row path.)
		if req.res.verdict == vSent && req.res.errmsg == "" && !req.res.refused && !r.Recurrence.Valid && !r.UnknownAt.Valid &&
			e.settled(req.c) && !ids[r.ID] && db.JSONSafe(r.ID) {
			ids[r.ID] = true
			bulk = append(bulk, req)
			if req.res.msgid.Valid {
				msgids = append(msgids, req.res.msgid.Int64)
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
		pending, err := q.PendingSentEvents(ctx, db.JSONArg(msgids))
		if err != nil {
			return nil, err
		}
		for _, m := range pending {
			early[m] = true
		}
	}
	claims := make([][3]any, 0, len(bulk))
	// One instant for the batch, the latest outcome's: the reminders'
	// updated_at and the deliveries' finished_at, equal as on the one-row path.
	var now time.Time
	for _, req := range bulk {
		if req.res.msgid.Valid && early[req.res.msgid.Int64] {
			continue
		}
		claims = append(claims, [3]any{req.c.rem.ID, req.c.rem.Attempts, req.c.rem.FireAt})
		if req.now.After(now) {
			now = req.now
		}
	}
	if len(claims) == 0 {
		return reqs, nil
	}
	completed, err := q.CompleteSentReminders(ctx, dbsqlc.CompleteSentRemindersParams{Claims: db.JSONArg(claims),
		Owner: sqlStr(e.cfg.Owner), Now: now.UnixMilli()})
	if err != nil {
		return nil, err
	}
	done := make(map[string]bool, len(completed))
	for _, id := range completed {
		done[id] = true
	}
	rows := make([][7]any, 0, len(completed))
	for _, req := range bulk {
		r, res := req.c.rem, req.res
		if !done[r.ID] {
			rest = append(rest, req)
			continue
		}
		var msgid any
		if res.msgid.Valid {
			msgid = res.msgid.Int64
		}
		rows = append(rows, [7]any{r.ID, r.FireAt, r.Attempts, msgid, req.c.claimedAt, now.UnixMilli(), res.latency.Milliseconds()})
		req.status, req.lost = "sent", false
	}
	if len(rows) > 0 {
		if err := q.InsertSentDeliveries(ctx, db.JSONArg(rows)); err != nil {
			return nil, fmt.Errorf("record deliveries: %w", err)
		}
	}
	return rest, nil
}

// settled reports whether a send of c leaves the ledger as it is: the
// claim holds the one-time credit the send consumes, or the template is
// long-term (see settleCredit).
func (e *Engine) settled(c claim) bool { return c.held() || e.longTerm(c.rem.TemplateID) }

// longTerm reports whether the template is a long-term one (a send uses no
// credit).
func (e *Engine) longTerm(templateID string) bool {
	t, ok := e.cfg.Templates.Get(templateID)
	return ok && t.Kind == wechat.LongTerm
}

func (e *Engine) recordTx(ctx context.Context, q *dbsqlc.Queries, req *outcomeReq) error {
	c, res, r, now := req.c, req.res, req.c.rem, req.now
	n, err := e.transition(ctx, q, c, res, now)
	if err != nil {
		return err
	}
	// Lost: the rescuer took the lease back and recorded the attempt
	// abandoned; this is its real outcome after all.
	req.lost = n == 0
	if !res.quotaUntil.IsZero() {
		if err := q.SetPause(ctx, dbsqlc.SetPauseParams{Name: pauseQuota, Until: res.quotaUntil.UnixMilli(),
			Reason: "daily quota reached (45009)", Now: now.UnixMilli()}); err != nil {
			return err
		}
	}
	if res.verdict == vSettled {
		return e.recordSettled(ctx, q, req)
	}
	d := dbsqlc.InsertDeliveryParams{ReminderID: r.ID, OccurrenceAt: r.FireAt, Attempt: r.Attempts, Status: deliveryStatus[res.verdict],
		Errcode: res.errcode, Errmsg: res.errmsg, Msgid: res.msgid, StartedAt: c.claimedAt, Now: now.UnixMilli(),
		LatencyMs: sqlInt(res.latency.Milliseconds()), PossibleDuplicate: b2i(res.possibleDup)}
	id, err := e.writeDelivery(ctx, q, d, req.lost)
	if err != nil && res.verdict == vSent && db.IsUniqueViolation(err) {
		// WeChat accepted an occurrence that is already recorded as sent.
		d.Status = "duplicate"
		id, err = e.writeDelivery(ctx, q, d, req.lost)
	}
	if err != nil {
		return fmt.Errorf("record delivery: %w", err)
	}
	req.status = d.Status
	if res.msgid.Valid {
		// WeChat's sent event may have arrived before this outcome.
		applied, err := q.ApplyPendingSentEvent(ctx, dbsqlc.ApplyPendingSentEventParams{Msgid: res.msgid.Int64, ID: id})
		if err != nil {
			return err
		}
		if applied > 0 {
			if err := q.SyncReminderDelivery(ctx, dbsqlc.SyncReminderDeliveryParams{DeliveryID: id, ReminderID: r.ID}); err != nil {
				return err
			}
			if err := q.DeletePendingSentEvent(ctx, res.msgid.Int64); err != nil {
				return err
			}
		}
	}
	return e.settleCredit(ctx, q, c, res, req.lost, now)
}

func b2i(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

// writeDelivery records the attempt: a new row, or the abandoned row the
// rescuer wrote for it when the lease was lost.
func (e *Engine) writeDelivery(ctx context.Context, q *dbsqlc.Queries, d dbsqlc.InsertDeliveryParams, lost bool) (int64, error) {
	if lost {
		id, err := q.FinishAbandonedDelivery(ctx, dbsqlc.FinishAbandonedDeliveryParams{Status: d.Status, Errcode: d.Errcode,
			Errmsg: d.Errmsg, Msgid: d.Msgid, Now: d.Now, LatencyMs: d.LatencyMs, ReminderID: d.ReminderID,
			OccurrenceAt: d.OccurrenceAt, Attempt: d.Attempt, StartedAt: d.StartedAt, PossibleDuplicate: d.PossibleDuplicate})
		if !errors.Is(err, sql.ErrNoRows) {
			return id, err
		}
	}
	return q.InsertDelivery(ctx, d)
}

// settleCredit settles the credit the claim reserved: a send keeps it, any
// other outcome gives it back, and a 43101 empties the ledger. An attempt of
// unknown outcome keeps it too (WeChat may have used it): the reminder's
// later sends of that occurrence need and take none.
func (e *Engine) settleCredit(ctx context.Context, q *dbsqlc.Queries, c claim, res result, lost bool, now time.Time) error {
	r := c.rem
	switch {
	case res.verdict == vUnknown || res.verdict == vAbandon || res.verdict == vSettled:
		return nil
	case r.UnknownAt.Valid:
		return nil // the attempt of unknown outcome counted the credit used
	case res.refused:
		return q.ZeroConsent(ctx, dbsqlc.ZeroConsentParams{Openid: r.Openid, TemplateID: r.TemplateID, Status: "refused", Now: now.UnixMilli()})
	case lost:
		return nil // the rescuer counted the held credit as used
	case res.verdict == vSent && !c.held():
		// Nothing held: take one now.
		if e.longTerm(r.TemplateID) {
			return nil
		}
		n, err := q.ConsumeCredit(ctx, dbsqlc.ConsumeCreditParams{Openid: r.Openid, TemplateID: r.TemplateID, Now: now.UnixMilli()})
		if err == nil && n == 0 {
			e.log.Warn("sent without a credit left in the ledger", "reminder_id", r.ID)
		}
		return err
	case res.verdict != vSent && c.held():
		_, err := q.RefundCredit(ctx, dbsqlc.RefundCreditParams{Openid: r.Openid, TemplateID: r.TemplateID, Now: now.UnixMilli(), ClaimedAt: c.claimedAt})
		return err
	}
	return nil
}

// transition moves the reminder out of sending.
func (e *Engine) transition(ctx context.Context, q *dbsqlc.Queries, c claim, res result, now time.Time) (int64, error) {
	r := c.rem
	owner := sqlStr(e.cfg.Owner)
	delivery := ""
	switch {
	case res.windowClosed:
		delivery = "unknown"
	case res.delivered.Valid && res.delivered.Int64 == 1:
		delivery = "delivered"
	case res.delivered.Valid:
		delivery = "failed"
	}
	complete := func(status, reason string) (int64, error) {
		return q.CompleteReminder(ctx, dbsqlc.CompleteReminderParams{ID: r.ID, Status: status,
			Reason: sql.NullString{String: reason, Valid: reason != ""}, Owner: owner, Attempts: r.Attempts,
			ClaimedFireAt: r.FireAt, Now: now.UnixMilli(), Delivery: delivery})
	}
	unknownAt := sql.NullInt64{}
	reschedule := func(fireAt, dueAt time.Time, expires sql.NullInt64, attempts int64) (int64, error) {
		return q.RescheduleReminder(ctx, dbsqlc.RescheduleReminderParams{ID: r.ID, FireAt: fireAt.UnixMilli(), DueAt: dueAt.UnixMilli(),
			ExpiresAt: expires, NewAttempts: attempts, Owner: owner, Attempts: r.Attempts, ClaimedFireAt: r.FireAt, Now: now.UnixMilli(),
			UnknownAt: unknownAt})
	}
	switch res.verdict {
	case vRetry:
		return reschedule(time.UnixMilli(r.FireAt), res.deferUntil, r.ExpiresAt, r.Attempts)
	case vDefer:
		// Not an attempt: the counter goes back.
		return reschedule(time.UnixMilli(r.FireAt), res.deferUntil, r.ExpiresAt, r.Attempts-1)
	case vUnknown, vAbandon:
		// WeChat may have it: wait for its sent event before sending again,
		// never past the window.
		// unknown_at keeps the occurrence's first such attempt (sent events
		// from then on may settle it); the wait counts from this one.
		unknownAt = sqlInt(c.claimedAt)
		due := minTime(maxTime(now, time.UnixMilli(c.claimedAt).Add(e.cfg.UnknownWait)), e.deadline(r))
		return reschedule(time.UnixMilli(r.FireAt), due, r.ExpiresAt, r.Attempts)
	}
	terminal := map[verdict]string{vSent: "sent", vFailed: "failed", vSkip: "skipped", vSettled: "sent"}[res.verdict]
	if !r.Recurrence.Valid || seriesReasons[res.reason] {
		return complete(terminal, res.reason)
	}
	next, err := e.nextOccurrence(r, now)
	if err != nil || next.IsZero() {
		if err != nil {
			e.log.Warn("recurrence ended", "reminder_id", r.ID, "error", err)
		}
		return complete(terminal, res.reason)
	}
	expires := sql.NullInt64{}
	if r.WindowMs.Valid {
		expires = sqlInt(next.UnixMilli() + r.WindowMs.Int64)
	}
	return reschedule(next, next, expires, 0)
}

func (e *Engine) observe(r dbsqlc.Reminder, res result, status string, now time.Time) {
	o := Outcome{ReminderID: r.ID, OpenID: r.Openid, TemplateID: r.TemplateID, Attempt: r.Attempts, Status: status,
		Reason: res.reason, ErrCode: -2, Latency: res.latency, Sent: res.sent, Late: res.late,
		PossibleDuplicate: res.possibleDup && res.sent, Settled: res.verdict == vSettled && !res.windowClosed,
		InvalidAnswer: res.invalidAnswer}
	if res.errcode.Valid {
		o.ErrCode = res.errcode.Int64
	}
	if res.verdict == vSent {
		o.Lateness = now.Sub(time.UnixMilli(r.FireAt))
	}
	level := slog.LevelInfo
	if res.verdict == vFailed || res.verdict == vAbandon || res.verdict == vUnknown || res.late || o.PossibleDuplicate {
		level = slog.LevelWarn
	}
	e.log.LogAttrs(context.Background(), level, "send", slog.String("reminder_id", r.ID), slog.Int64("attempt", r.Attempts),
		slog.String("status", status), slog.String("reason", res.reason), slog.Int64("errcode", o.ErrCode),
		slog.Int64("latency_ms", res.latency.Milliseconds()), slog.Bool("late", res.late), slog.Bool("possible_duplicate", o.PossibleDuplicate))
	if e.cfg.Observer != nil {
		e.cfg.Observer(o)
	}
}
