// Unknown outcomes: a claim of an occurrence whose earlier attempt may have
// reached WeChat is settled by a parked sent event, waits for one, ends with
// its window, or is sent again (unknownPending, on the store's reads under
// the user's lock); a settle is written with the record (settle, in the
// store's RecordOutcome). Neither waits on WeChat.

package scheduler

import (
	"context"
	"errors"
	"time"

	"github.com/reminderd/reminderd/internal/store"
)

// unknownPending decides a claim of a reminder whose current occurrence
// has an attempt of unknown outcome: settled by a sent event that came,
// still waiting for one, ended by its window, or (done false) due for a
// resend.
func (e *Engine) unknownPending(ctx context.Context, r store.Reminder, now time.Time) (result, bool) {
	lookupFailed := func(err error) (result, bool) {
		return result{verdict: vDefer, errmsg: "could not look for a sent event: " + err.Error(), deferUntil: now.Add(e.cfg.BackoffBase)}, true
	}
	// A stalled send's late outcome may have recorded the occurrence sent
	// (checked first: then no event is the occurrence's to take).
	if sent, err := e.store.OccurrenceSent(ctx, r.ID, r.FireAt); err != nil {
		return lookupFailed(err)
	} else if sent {
		return result{verdict: vSettled, alreadySent: true, errmsg: "the occurrence was recorded sent by a late outcome"}, true
	}
	ev, err := e.store.PendingSentEvent(ctx, r.AppID, r.OpenID, r.TemplateID, r.UnknownAt)
	switch {
	case err == nil:
		return result{verdict: vSettled, errmsg: "settled by WeChat's sent event", event: ev, hasEvent: true}, true
	case !errors.Is(err, store.ErrNotFound):
		return lookupFailed(err)
	}
	// The wait counts from the latest attempt of unknown outcome: a resend
	// whose answer is lost too waits again before the next.
	last, err := e.store.LastUnknownAttempt(ctx, r.ID, r.FireAt)
	if err != nil {
		return lookupFailed(err)
	}
	deadline := e.deadline(r)
	waitEnd := maxTime(last, r.UnknownAt).Add(e.cfg.UnknownWait)
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

// settle is what a claim that settled an earlier attempt of unknown outcome
// writes: that attempt's delivery becomes the occurrence's send (unless the
// window closed with no word of it, or a late outcome recorded it sent),
// and a resend answered 43101 is recorded beside it. The credit was counted
// used by the unknown attempt.
func settle(res result) (*store.Delivery, *store.Settle) {
	var resend *store.Delivery
	if res.resent {
		resend = &store.Delivery{Status: store.DeliveryFailed, ErrCode: res.errcode, HasErrCode: res.hasErrcode, ErrMsg: res.errmsg,
			Latency: res.latency, PossibleDuplicate: true}
	}
	if res.windowClosed || res.alreadySent {
		return resend, nil
	}
	errmsg := res.errmsg
	if res.resent {
		errmsg = "outcome was unknown; WeChat answered 43101 to the resend, so this send used the credit"
	}
	return resend, &store.Settle{ErrMsg: errmsg, Event: res.event, HasEvent: res.hasEvent}
}
