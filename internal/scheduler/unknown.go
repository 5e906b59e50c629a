// Unknown outcomes: a claim of an occurrence whose earlier attempt may have
// reached WeChat is settled by a parked sent event, waits for one, ends with
// its window, or is sent again (unknownPending, on the read pool under the
// user's lock); a settle is recorded in the record's transaction
// (recordSettled, the writer only). Neither waits on WeChat.

package scheduler

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"github.com/reminderd/reminderd/internal/db/dbsqlc"
	"time"

)

// unknownPending decides a claim of a reminder whose current occurrence
// has an attempt of unknown outcome: settled by a sent event that came,
// still waiting for one, ended by its window, or (done false) due for a
// resend.
func (e *Engine) unknownPending(ctx context.Context, r dbsqlc.Reminder, now time.Time) (result, bool) {
	lookupFailed := func(err error) (result, bool) {
		return result{verdict: vDefer, errmsg: "could not look for a sent event: " + err.Error(), deferUntil: now.Add(e.cfg.BackoffBase)}, true
	}
	// A stalled send's late outcome may have recorded the occurrence sent
	// (checked first: then no event is the occurrence's to take).
	occ := dbsqlc.OccurrenceSentParams{ReminderID: r.ID, OccurrenceAt: r.FireAt}
	if n, err := e.db.Read.OccurrenceSent(ctx, occ); err != nil {
		return lookupFailed(err)
	} else if n > 0 {
		return result{verdict: vSettled, alreadySent: true, errmsg: "the occurrence was recorded sent by a late outcome"}, true
	}
	ev, err := e.db.Read.PendingSentEventFor(ctx, dbsqlc.PendingSentEventForParams{Openid: r.Openid, TemplateID: r.TemplateID,
		Since: r.UnknownAt.Int64})
	switch {
	case err == nil:
		return result{verdict: vSettled, errmsg: "settled by WeChat's sent event", event: sqlInt(ev.Msgid),
			delivered: sqlInt(ev.Delivered), eventStatus: ev.EventStatus}, true
	case !errors.Is(err, sql.ErrNoRows):
		return lookupFailed(err)
	}
	// The wait counts from the latest attempt of unknown outcome: a resend
	// whose answer is lost too waits again before the next.
	last, err := e.db.Read.LastUnknownAttemptAt(ctx, dbsqlc.LastUnknownAttemptAtParams(occ))
	if err != nil {
		return lookupFailed(err)
	}
	deadline := e.deadline(r)
	waitEnd := time.UnixMilli(max(last, r.UnknownAt.Int64)).Add(e.cfg.UnknownWait)
	if now.Before(waitEnd) {
		if now.Before(deadline) {
			return result{verdict: vDefer, errmsg: "waiting for WeChat's sent event", deferUntil: minTime(waitEnd, deadline)}, true
		}
	} else if !now.Add(e.cfg.ClientTimeout).After(deadline) {
		return result{}, false // the wait is over with no event: send again
	}
	// The window closed (or cannot fit a resend) with no event: the request
	// went out, and whether WeChat delivered it is not known.
	return result{verdict: vSettled, windowClosed: true, errmsg: "window closed with the outcome unknown: no sent event came"}, true
}

// recordSettled records a claim that settled an earlier attempt of unknown
// outcome: that attempt's delivery becomes the occurrence's send (unless
// the window closed with no word of it), and a resend answered 43101 is
// recorded beside it. The credit was counted used by the unknown attempt.
func (e *Engine) recordSettled(ctx context.Context, q *dbsqlc.Queries, req *outcomeReq) error {
	c, res, r, now := req.c, req.res, req.c.rem, req.now
	if res.resent {
		d := dbsqlc.InsertDeliveryParams{ReminderID: r.ID, OccurrenceAt: r.FireAt, Attempt: r.Attempts, Status: "failed",
			Errcode: res.errcode, Errmsg: res.errmsg, StartedAt: c.claimedAt, Now: now.UnixMilli(),
			LatencyMs: sqlInt(res.latency.Milliseconds()), PossibleDuplicate: 1}
		if _, err := e.writeDelivery(ctx, q, d, req.lost); err != nil {
			return fmt.Errorf("record delivery: %w", err)
		}
	}
	req.status = "sent"
	if res.windowClosed {
		req.status = "unknown"
		return nil
	}
	if res.alreadySent {
		return nil
	}
	errmsg := res.errmsg
	if res.resent {
		errmsg = "outcome was unknown; WeChat answered 43101 to the resend, so this send used the credit"
	}
	n, err := q.SettleUnknownDelivery(ctx, dbsqlc.SettleUnknownDeliveryParams{Errmsg: errmsg, Msgid: res.event,
		Delivered: res.delivered, EventStatus: res.eventStatus, ReminderID: r.ID, OccurrenceAt: r.FireAt})
	if err != nil {
		return fmt.Errorf("settle the unknown delivery: %w", err)
	}
	if n == 0 {
		// Recorded sent meanwhile (a late outcome): the event is not this
		// occurrence's to take.
		e.log.Warn("no delivery of unknown outcome to settle", "reminder_id", r.ID)
		return nil
	}
	if res.event.Valid {
		return q.DeletePendingSentEvent(ctx, res.event.Int64)
	}
	return nil
}
