// The record: a claim's outcome decided (outcome: the delivery row, the
// reminder's transition, the credit, the quota pause, the settle of an
// unknown attempt) and written by the store's RecordOutcome, which
// group-commits it with the outcomes of other workers; then the observer.
// It waits on the store (the record wait, RecordWait, for sends still at
// WeChat, and the writer), with the user's lock held; never on WeChat.

package scheduler

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/reminderd/reminderd/internal/recur"
	"github.com/reminderd/reminderd/internal/store"
	"github.com/reminderd/reminderd/internal/wechat"
)

// pauseQuota names the persisted quota pause.
const pauseQuota = "quota"

var deliveryStatus = map[verdict]store.DeliveryStatus{
	vSent: store.DeliverySent, vFailed: store.DeliveryFailed, vRetry: store.DeliveryRetry, vDefer: store.DeliveryDeferred,
	vSkip: store.DeliverySkipped, vAbandon: store.DeliveryAbandoned, vUnknown: store.DeliveryUnknown,
}

// nextOccurrence returns the series' next scheduled instant after the
// current one (computed from the scheduled instant, not from now), skipping
// occurrences whose window has already passed. Zero means the series ended.
// After a snooze's extra occurrence the series resumes where the snooze
// found it (SeriesAt, an occurrence of its own; zero: it had ended).
func (e *Engine) nextOccurrence(r store.Reminder, now time.Time) (time.Time, error) {
	if r.Snoozed && r.SeriesAt.IsZero() {
		return time.Time{}, nil
	}
	loc, err := recur.LoadZone(r.Timezone)
	if err != nil {
		return time.Time{}, err
	}
	s, err := recur.Parse(r.Recurrence, loc)
	if err != nil {
		return time.Time{}, err
	}
	window := e.cfg.DefaultLateness
	if r.HasWindow {
		window = r.Window
	}
	next := s.Next(r.FireAt)
	if r.Snoozed {
		next = r.SeriesAt
	}
	for i := 0; !next.IsZero() && next.Add(window).Before(now); i++ {
		if i == 100000 {
			return time.Time{}, fmt.Errorf("recurrence %q: no occurrence within reach", r.Recurrence)
		}
		next = s.Next(next)
	}
	return next, nil
}

// record writes the outcome of one claim: the delivery row, the reminder's
// transition (compare-and-set on the claim), the credit consumed by a
// successful send, the next occurrence of a series, and a sent event that
// arrived early (the store applies it).
func (e *Engine) record(ctx context.Context, c store.Claim, res result) error {
	now := e.now()
	rec, err := e.store.RecordOutcome(ctx, e.outcome(c, res, now))
	if err != nil {
		return err
	}
	r := c.Reminder
	if rec.Lost {
		e.log.Warn("lease lost before the outcome was recorded", "reminder_id", r.ID, "attempt", r.Attempts)
	}
	if rec.NoCredit {
		e.log.Warn("sent without a credit left in the ledger", "reminder_id", r.ID)
	}
	if rec.Unsettled {
		e.log.Warn("no delivery of unknown outcome to settle", "reminder_id", r.ID)
	}
	status := rec.Status
	if rec.EventGone {
		// The event the claim would have settled with turned out another
		// send's: the store deferred the claim to be decided again.
		e.log.Info("sent event taken by its own send: unknown outcome still open", "reminder_id", r.ID)
		e.observe(r, result{verdict: vDefer}, store.DeliveryDeferred, now)
		return nil
	}
	if res.verdict == vSettled {
		// The occurrence's send is the earlier attempt's (or, the window
		// closed with no word of it, unknown).
		status = store.DeliverySent
		if res.windowClosed {
			status = store.DeliveryUnknown
		}
	}
	e.observe(r, res, status, now)
	return nil
}

// outcome is what is to be written of claim c's result at now.
func (e *Engine) outcome(c store.Claim, res result, now time.Time) store.Outcome {
	o := store.Outcome{Claim: c, At: now, Counted: res.counted, Credit: e.credit(c, res)}
	if res.leased {
		o.ReleaseUserSend = e.cfg.Owner
	}
	o.Complete, o.Reschedule = e.transition(c, res, now)
	if !res.quotaUntil.IsZero() {
		o.Pause = &store.Pause{Name: quotaPauseName(e.quotaKey(c.Reminder.AppID)), Until: res.quotaUntil, Reason: "daily quota reached (45009)", Since: now}
	}
	if res.verdict == vSettled {
		o.Delivery, o.Settle = settle(res)
		return o
	}
	o.Delivery = &store.Delivery{Status: deliveryStatus[res.verdict], ErrCode: res.errcode, HasErrCode: res.hasErrcode,
		ErrMsg: res.errmsg, MsgID: res.msgid, HasMsgID: res.hasMsgid, Latency: res.latency, PossibleDuplicate: res.possibleDup}
	return o
}

// longTerm reports whether app appID's template is a long-term one (a send
// uses no credit).
func (e *Engine) longTerm(appID, templateID string) bool {
	t, ok := templateOf(e.cfg.Templates, appID, templateID)
	return ok && t.Kind == wechat.LongTerm
}

// credit settles the credit the claim reserved: a send keeps it, any other
// outcome gives it back, and a 43101 empties the ledger. An attempt of
// unknown outcome keeps it too (WeChat may have used it): the reminder's
// later sends of that occurrence need and take none. (A claim whose lease
// was lost neither consumes nor refunds: the store sees to that.)
func (e *Engine) credit(c store.Claim, res result) store.CreditAction {
	r := c.Reminder
	switch {
	case res.verdict == vUnknown || res.verdict == vAbandon || res.verdict == vSettled:
		return store.CreditKeep
	case !r.UnknownAt.IsZero():
		return store.CreditKeep // the attempt of unknown outcome counted the credit used
	case res.refused:
		return store.CreditZero
	case res.verdict == vSent && !r.CreditHeld:
		// Nothing held: take one now.
		if e.longTerm(r.AppID, r.TemplateID) {
			return store.CreditKeep
		}
		return store.CreditConsume
	case res.verdict != vSent && r.CreditHeld:
		return store.CreditRefund
	}
	return store.CreditKeep
}

// transition moves the reminder out of sending: it ends (complete) or is
// scheduled again (reschedule).
func (e *Engine) transition(c store.Claim, res result, now time.Time) (complete *store.Completion, reschedule *store.Reschedule) {
	r := c.Reminder
	again := func(fireAt, dueAt, expires time.Time, attempts int64) (*store.Completion, *store.Reschedule) {
		return nil, &store.Reschedule{FireAt: fireAt, DueAt: dueAt, ExpiresAt: expires, Attempts: attempts}
	}
	switch res.verdict {
	case vRetry:
		return again(r.FireAt, res.deferUntil, r.ExpiresAt, r.Attempts)
	case vDefer:
		// Not an attempt: the counter goes back.
		return again(r.FireAt, res.deferUntil, r.ExpiresAt, r.Attempts-1)
	case vUnknown, vAbandon:
		// WeChat may have it: wait for its sent event before sending again,
		// never past the window. The store keeps the occurrence's first
		// unknown instant (sent events from then on may settle it); the
		// wait counts from this one.
		due := minTime(maxTime(now, c.ClaimedAt.Add(e.cfg.UnknownWait)), e.deadline(r))
		_, s := again(r.FireAt, due, r.ExpiresAt, r.Attempts)
		s.UnknownAt = c.ClaimedAt
		return nil, s
	}
	report := store.Report("")
	switch {
	case res.windowClosed:
		report = store.ReportUnknown
	case res.hasEvent && res.event.Delivered:
		report = store.ReportDelivered
	case res.hasEvent:
		report = store.ReportFailed
	}
	terminal := map[verdict]store.Status{vSent: store.StatusSent, vFailed: store.StatusFailed, vSkip: store.StatusSkipped,
		vSettled: store.StatusSent}[res.verdict]
	end := &store.Completion{Status: terminal, Reason: res.reason, Report: report}
	if r.Recurrence == "" || seriesReasons[res.reason] {
		return end, nil
	}
	next, err := e.nextOccurrence(r, now)
	if err != nil || next.IsZero() {
		if err != nil {
			e.log.Warn("recurrence ended", "reminder_id", r.ID, "error", err)
		}
		return end, nil
	}
	expires := time.Time{}
	if r.HasWindow {
		expires = next.Add(r.Window)
	}
	return again(next, next, expires, 0)
}

func (e *Engine) observe(r store.Reminder, res result, status store.DeliveryStatus, now time.Time) {
	o := Outcome{ReminderID: r.ID, AppID: r.AppID, OpenID: r.OpenID, TemplateID: r.TemplateID, Attempt: r.Attempts, Status: string(status),
		Reason: string(res.reason), ErrCode: -2, Latency: res.latency, Sent: res.sent, Late: res.late,
		PossibleDuplicate: res.possibleDup && res.sent, Settled: res.verdict == vSettled && !res.windowClosed,
		InvalidAnswer: res.invalidAnswer}
	if res.hasErrcode {
		o.ErrCode = res.errcode
	}
	if res.verdict == vSent {
		o.Lateness = now.Sub(r.FireAt)
	}
	level := slog.LevelInfo
	if res.verdict == vFailed || res.verdict == vAbandon || res.verdict == vUnknown || res.late || o.PossibleDuplicate {
		level = slog.LevelWarn
	}
	// The metrics first: whoever reads the log line (an operator, a test)
	// then finds the send counted.
	if e.cfg.Observer != nil {
		e.cfg.Observer(o)
	}
	e.log.LogAttrs(context.Background(), level, "send", slog.String("reminder_id", r.ID), slog.Int64("attempt", r.Attempts),
		slog.String("status", o.Status), slog.String("reason", o.Reason), slog.Int64("errcode", o.ErrCode),
		slog.Int64("latency_ms", res.latency.Milliseconds()), slog.Bool("late", res.late), slog.Bool("possible_duplicate", o.PossibleDuplicate))
}
