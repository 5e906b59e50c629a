// The send: a worker's way through one claim (process), the send slot and
// the user's lock (acquire), the decision and the call to WeChat (attempt),
// the verdict (classify) and the retry budget (retryAt, backoff). It waits on
// a send slot, the user's lock, the rate limiter, the breaker and WeChat,
// and on the read pool for the decision's reads; never on the writer, except
// through the record (record.go) after the slot is given back.

package scheduler

import (
	"context"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"time"

	"github.com/sony/gobreaker/v2"

	"github.com/reminderd/reminderd/internal/store"
	"github.com/reminderd/reminderd/internal/wechat"
)

type verdict int

const (
	vSent verdict = iota + 1
	vFailed
	vRetry
	vDefer
	vSkip
	vAbandon
	// vUnknown: the request may have reached WeChat, but no valid answer
	// came back. The reminder waits for WeChat's sent event (UnknownWait).
	vUnknown
	// vSettled: an earlier attempt of unknown outcome turned out sent, by its
	// sent event (no request now) or by a 43101 answered to the resend.
	vSettled
)

// result is what happened to one claim, before it is recorded.
type result struct {
	verdict     verdict
	reason      store.Reason // reminder reason for failed and skipped
	errcode     int64        // WeChat's errcode, when hasErrcode (it answered)
	hasErrcode  bool
	errmsg      string
	msgid       int64 // WeChat's msgid, when hasMsgid
	hasMsgid    bool
	latency     time.Duration
	deferUntil  time.Time
	refused     bool // 43101: zero the ledger
	counted     bool // went to WeChat: counted in e.sending until queued for the writer
	sent        bool // a request went to WeChat
	late        bool // accepted after the window closed
	possibleDup bool // a send after an attempt of unknown outcome
	// For vSettled: the sent event that settled it (hasEvent false: none,
	// a 43101), and whether this claim made a request (the 43101's resend).
	event    store.SentEvent
	hasEvent bool
	resent   bool
	// windowClosed: an unknown outcome whose window closed with no event.
	windowClosed bool
	// alreadySent: a late outcome recorded the occurrence sent meanwhile.
	alreadySent bool
	// invalidAnswer: WeChat's answer arrived malformed (wechat.ErrInvalidAnswer).
	invalidAnswer bool
	quotaUntil    time.Time // a 45009: sending paused until then (persisted with the record)
	// leased: the user's send lease was taken for this claim (fleet.go);
	// the record gives it up in its transaction.
	leased bool
}

// permanentReasons maps permanent errcodes to the contract's reasons.
var permanentReasons = map[int]store.Reason{
	wechat.CodeNoCredit:        store.ReasonUserRefused,
	wechat.CodeInvalidOpenID:   store.ReasonOpenIDInvalid,
	wechat.CodeInvalidTemplate: store.ReasonTemplateInvalid,
	wechat.CodeInvalidPage:     store.ReasonPageInvalid,
	wechat.CodeSensitive:       store.ReasonContentRejected,
	wechat.CodeBanned:          store.ReasonBanned,
	wechat.CodeInvalidArgument: store.ReasonInvalidData,
}

// seriesReasons end a whole recurring series; any other outcome of an
// occurrence moves the series on to its next occurrence. A refused page
// (41030) ends only the occurrence: the page may be published later.
var seriesReasons = map[store.Reason]bool{
	store.ReasonOpenIDInvalid: true, store.ReasonTemplateInvalid: true,
	store.ReasonContentRejected: true, store.ReasonBanned: true, store.ReasonInvalidData: true,
}

// deadline is the last instant the current occurrence may be sent.
func (e *Engine) deadline(r store.Reminder) time.Time {
	if !r.ExpiresAt.IsZero() {
		return r.ExpiresAt
	}
	return r.FireAt.Add(e.cfg.DefaultLateness)
}

func (e *Engine) process(c store.Claim) {
	defer func() {
		e.inflight.Done()
		if n := e.pending.Add(-1); e.more.Load() && n <= int64(e.cfg.BatchSize/2) {
			e.Wake(time.Time{})
		}
		e.signals.done.signal()
	}()
	ctx := e.sendCtx
	var res result
	release := func() {}
	unlockUser, err := e.acquire(ctx, c.Reminder.OpenID)
	if err != nil {
		res = result{verdict: vDefer, errmsg: "shutdown before sending", deferUntil: e.now()}
	} else if lres, rel, leased, free, ok := e.sendLease(ctx, c); !ok {
		res = lres
		<-e.slots
	} else {
		release = rel // the user's send lease across processes (fleet.go)
		res = e.attempt(ctx, c, free)
		res.leased = leased
		// The send slot bounds the sends in flight to WeChat: it is free
		// once WeChat has answered. The outcome's record queues for the
		// writer without holding it, so the next send starts while the
		// records of the last ones are group-committed.
		<-e.slots
	}
	// Outcomes are recorded even when shutdown interrupted the send, and
	// before the user's lock is released: the next reminder of this user
	// must see the credit this one consumed.
	if err := e.record(context.WithoutCancel(ctx), c, res); err != nil {
		e.log.Error("record outcome", "reminder_id", c.Reminder.ID, "attempt", c.Reminder.Attempts, "error", err)
		release() // the record did not give it up
	} else if !res.leased {
		release()
	}
	// The lease went before the in-process lock: the next worker of this
	// user here takes the lease under the same owner.
	if unlockUser != nil {
		unlockUser()
	}
}

// acquire takes a send slot and the user's lock; the caller frees the slot
// (<-e.slots) and calls the returned func to unlock the user.
func (e *Engine) acquire(ctx context.Context, openID string) (func(), error) {
	select {
	case e.slots <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	unlockUser, err := e.users.lock(ctx, openID)
	if err != nil {
		<-e.slots
		return nil, err
	}
	return unlockUser, nil
}

// attempt decides and, when everything allows it, sends. free: it goes
// without the user's send lease as the fleet's sole sender, as long as
// that lease still holds just before each request (sole.go).
func (e *Engine) attempt(ctx context.Context, c store.Claim, free bool) result {
	r := c.Reminder
	now := e.now()
	if !r.UnknownAt.IsZero() {
		if res, done := e.unknownPending(ctx, r, now); done {
			return res
		}
	}
	if now.After(e.deadline(r)) {
		return result{verdict: vSkip, reason: store.ReasonExpired, errmsg: "past its window: not sent late"}
	}
	if now.Add(e.cfg.ClientTimeout).After(e.deadline(r)) {
		return result{verdict: vSkip, reason: store.ReasonExpired, errmsg: "less than the WeChat client timeout left in its window: not started"}
	}
	if res, stop := e.appNotServed(r, now); stop {
		return res
	}
	if res, stop := e.breakerOpen(r, now); stop {
		return res
	}
	_, ok := templateOf(e.cfg.Templates, r.AppID, r.TemplateID)
	if !ok {
		return result{verdict: vFailed, reason: store.ReasonTemplateInvalid, errmsg: "template no longer in the account's template list"}
	}
	if until := e.quotaUntilFor(r.AppID); now.UnixMilli() < until {
		return result{verdict: vDefer, errmsg: "daily quota reached", deferUntil: time.UnixMilli(until)}
	}
	if !c.Covered {
		return result{verdict: vSkip, reason: store.ReasonNoConsent, errmsg: "no consent credit at fire time"}
	}
	var data map[string]string
	if err := json.Unmarshal([]byte(r.Data), &data); err != nil {
		return result{verdict: vFailed, reason: store.ReasonInvalidData, errmsg: "stored data is not a JSON object"}
	}
	// Never send past the window, nor with too little lease left: the wait
	// for the rate limiter is bounded by both.
	deadline := e.deadline(r)
	sendBy := r.LeaseUntil.Add(-e.cfg.SendBudget)
	if e.limiter != nil {
		wctx, cancel := context.WithDeadline(ctx, realDeadline(e.now(), minTime(deadline, sendBy)))
		err := e.limiter.Wait(wctx)
		cancel()
		if ctx.Err() != nil {
			return result{verdict: vDefer, errmsg: "shutdown before sending", deferUntil: e.now()}
		}
		if err != nil {
			if !e.now().Before(deadline) || deadline.Before(sendBy) {
				return result{verdict: vSkip, reason: store.ReasonExpired, errmsg: "rate limit: no send slot before the window closed"}
			}
			return result{verdict: vDefer, errmsg: "rate limit: no send slot within the lease", deferUntil: e.now()}
		}
	}
	now = e.now()
	if now.After(deadline) {
		return result{verdict: vSkip, reason: store.ReasonExpired, errmsg: "past its window: not sent late"}
	}
	if now.Add(e.cfg.ClientTimeout).After(deadline) {
		return result{verdict: vSkip, reason: store.ReasonExpired, errmsg: "less than the WeChat client timeout left in its window: not started"}
	}
	if now.After(sendBy) {
		return result{verdict: vDefer, errmsg: "too little lease left to send safely", deferUntil: now}
	}
	if free && !e.sole.stillHeld(now) {
		return result{verdict: vDefer, errmsg: "the sole-sender lease ran out before the send", deferUntil: now}
	}
	req := wechat.SendRequest{AppID: r.AppID, ToUser: r.OpenID, TemplateID: r.TemplateID, Page: r.Page, Data: data}
	start := time.Now()
	counted := e.cfg.RecordWait > 0 // records wait for the sends counted (New)
	if counted {
		e.sending.Add(1) // until the store queues its outcome (ExpectOutcomes)
	}
	// A send without the per-send lease runs in the sole-sender lease's
	// term: interrupted if the lease runs out unrenewed (sole.go).
	sendCtx, termRan := ctx, func() bool { return false }
	if free {
		var stop func()
		sendCtx, stop, termRan = e.sole.freeContext(ctx)
		defer stop()
	}
	send := func() (wechat.SendResult, error) {
		return e.breaker(req.AppID).Execute(func() (wechat.SendResult, error) { return e.cfg.Sender.Send(sendCtx, req) })
	}
	sent, err := send()
	note := ""
	var apiErr *wechat.APIError
	if e.cfg.ResendWithoutPage && req.Page != "" && errors.As(err, &apiErr) && apiErr.Code == wechat.CodeInvalidPage {
		// WeChat refused the page, so nothing was delivered: the card
		// without its page is better than none, if the window and the
		// lease still have room for a second send (else the 41030 stands).
		if now := e.now(); !now.Add(e.cfg.ClientTimeout).After(deadline) && !now.After(sendBy) && (!free || e.sole.stillHeld(now)) {
			req.Page = ""
			sent, err = send()
			note = "page refused by WeChat (41030): sent without it; "
		}
	}
	lat := time.Since(start)
	res := e.classify(sent, err, lat, r)
	if termRan() && errors.Is(err, context.Canceled) {
		if errors.Is(err, wechat.ErrOutcomeUnknown) {
			res.verdict, res.errmsg = vAbandon, "the sole-sender lease ran out during the send; outcome unknown"
		} else {
			res.verdict, res.errmsg, res.deferUntil = vDefer, "the sole-sender lease ran out before the request was sent", e.now()
		}
	}
	res.invalidAnswer = errors.Is(err, wechat.ErrInvalidAnswer)
	res.errmsg = note + res.errmsg
	res.counted = counted
	res.sent = true
	res.possibleDup = !r.UnknownAt.IsZero()
	if res.verdict == vSent && e.now().After(deadline) {
		res.late = true // WeChat has it: recorded as sent, counted as late
	}
	return res
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// realDeadline converts an instant on the engine's clock into one on the
// wall clock, which context deadlines use.
func realDeadline(now, t time.Time) time.Time { return time.Now().Add(t.Sub(now)) }

// classify maps a send's answer to a verdict.
func (e *Engine) classify(sent wechat.SendResult, err error, lat time.Duration, r store.Reminder) result {
	now := e.now()
	res := result{latency: lat}
	var apiErr *wechat.APIError
	if errors.As(err, &apiErr) {
		res.errcode, res.hasErrcode = int64(apiErr.Code), true
		res.errmsg = apiErr.Msg
	} else if err != nil {
		res.errmsg = err.Error()
	}
	switch {
	case err == nil:
		res.verdict = vSent
		res.errcode, res.hasErrcode = 0, true
		res.msgid, res.hasMsgid = sent.MsgID, sent.HasMsgID
	case errors.Is(err, gobreaker.ErrOpenState), errors.Is(err, gobreaker.ErrTooManyRequests):
		res.verdict, res.errmsg = vDefer, "circuit breaker open: not sent"
		res.deferUntil = now.Add(e.cfg.BackoffBase)
	case errors.Is(err, context.Canceled) && e.sendCtx.Err() != nil && errors.Is(err, wechat.ErrOutcomeUnknown):
		// Shutdown interrupted the request after it was written: WeChat
		// may or may not have it.
		res.verdict, res.errmsg = vAbandon, "shutdown interrupted the send; outcome unknown"
	case errors.Is(err, context.Canceled) && e.sendCtx.Err() != nil:
		// Interrupted before the request was written (the token fetch, the
		// connection): nothing reached WeChat.
		res.verdict, res.errmsg, res.deferUntil = vDefer, "shutdown before the request was sent", now
	case errors.Is(err, wechat.ErrBadRequest):
		res.verdict, res.reason = vFailed, store.ReasonInvalidData
	case apiErr != nil && apiErr.Code == wechat.CodeNoCredit && !r.UnknownAt.IsZero():
		// The user's credit is gone: the attempt of unknown outcome used it.
		res.verdict, res.resent = vSettled, true
		res.errmsg = "43101 to the resend: the earlier attempt of unknown outcome was sent"
	default:
		switch wechat.Classify(err) {
		case wechat.ClassUnknown:
			res.verdict = vUnknown
		case wechat.ClassQuota:
			until := e.cfg.QuotaReset(now)
			extendQuota(e.appQuota(e.quotaKey(r.AppID)), until.UnixMilli())
			e.log.Warn("daily quota reached; sending paused", "appid", r.AppID, "until", until)
			res.verdict, res.deferUntil, res.quotaUntil = vDefer, until, until
		case wechat.ClassUserBusy:
			res.verdict, res.deferUntil = vDefer, now.Add(e.cfg.UserBusyDelay)
		case wechat.ClassTransient, wechat.ClassToken:
			res.verdict = vRetry
		default:
			res.verdict, res.reason = vFailed, store.ReasonInvalidData
			if apiErr != nil {
				if reason, ok := permanentReasons[apiErr.Code]; ok {
					res.reason = reason
				}
				res.refused = apiErr.Code == wechat.CodeNoCredit
			}
		}
	}
	if res.verdict == vRetry {
		if retryAt, ok := e.retryAt(r, e.occurrenceAttempts(context.WithoutCancel(e.sendCtx), r), now); ok {
			res.deferUntil = retryAt
		} else {
			res.verdict, res.reason = vFailed, store.ReasonRetriesExhausted
		}
	}
	return res
}

// retryAt says when a transient failure is tried again, or that it is not.
// n is the attempts made at this occurrence (occurrenceAttempts).
// Retries are a budget of time over the reminder's window: the attempt count
// ends them only once no more than a quarter of the window is left, so an
// outage that burns attempts early does not fail a reminder whose window is
// still wide open. A backoff that would pass the last instant a send may
// start (the client timeout before the window closes) is cut short to it, so
// that the window's end still gets its try; past that instant there is none.
func (e *Engine) retryAt(r store.Reminder, n int64, now time.Time) (time.Time, bool) {
	deadline := e.deadline(r)
	retryAt := minTime(now.Add(e.backoff(n)), deadline.Add(-e.cfg.ClientTimeout))
	if !retryAt.After(now) {
		return time.Time{}, false
	}
	window := deadline.Sub(r.FireAt)
	if n >= int64(e.cfg.MaxAttempts) && deadline.Sub(now) <= window/4 {
		return time.Time{}, false
	}
	return retryAt, true
}

// occurrenceAttempts is how many attempts the claimed occurrence has had,
// this one included. A reminder's attempt numbers continue across an admin
// retry (a new occurrence at the retry's instant), so the budget of
// MaxAttempts and the backoff count from the occurrence's first recorded
// attempt, not from 1. Only a transient failure asks (one indexed read of
// the reminder's deliveries); a database error falls back to the reminder's
// own count, the stricter of the two.
func (e *Engine) occurrenceAttempts(ctx context.Context, r store.Reminder) int64 {
	if r.Attempts <= 1 {
		return r.Attempts
	}
	first, err := e.store.OccurrenceFirstAttempt(ctx, r.ID, r.FireAt)
	switch {
	case err != nil || first > r.Attempts:
		return r.Attempts
	case first == 0:
		return 1 // the occurrence's first attempt: none recorded yet
	}
	return r.Attempts - first + 1
}

// backoff is the delay before the attempt after attempt n (n ≥ 1): about
// base·2^(n-1), capped, with ±25 % jitter.
func (e *Engine) backoff(n int64) time.Duration {
	d := e.cfg.BackoffBase << min(max(n-1, 0), 20)
	if d > e.cfg.BackoffMax || d <= 0 {
		d = e.cfg.BackoffMax
	}
	jitter := time.Duration(rand.Int64N(int64(d)/2+1)) - d/4
	return d + jitter
}
