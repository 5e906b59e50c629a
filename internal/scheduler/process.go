package scheduler

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"time"

	"github.com/sony/gobreaker/v2"

	"github.com/reminderd/reminderd/internal/db"
	"github.com/reminderd/reminderd/internal/recur"
	"github.com/reminderd/reminderd/internal/wechat"
)

// claim is a reminder this process holds the lease of.
type claim struct {
	rem       db.Reminder
	claimedAt int64 // unix ms: the claim's instant, the delivery's started_at
	covered   bool  // a consent covered the send when claimed (for a one-time template: a credit is held)
}

// held reports whether the claim reserved a one-time credit.
func (c claim) held() bool { return c.rem.CreditHeld == 1 }

// claimDue claims up to max due reminders in due order, in q's transaction.
// Each gets a lease and, for a one-time template, reserves a consent credit
// if one is left: the credit is taken by the claim and given back if the
// claim ends without a send, so that two reminders never count on the same
// credit and a send never waits on a ledger read.
//
// The batch costs a few statements, not a few per reminder: the due rows,
// the ledger rows and the credits taken (one statement per template, and
// per further credit taken from one user), and the claim.
func claimDue(ctx context.Context, q *db.Queries, tpl Templates, owner string, now, leaseUntil time.Time, max int) ([]claim, error) {
	due, err := q.DueReminders(ctx, db.DueRemindersParams{Now: now.UnixMilli(), MaxRows: int64(max)})
	if err != nil || len(due) == 0 {
		return nil, err
	}
	for _, d := range due {
		// The batch statements take their keys as JSON (db.JSONSafe).
		if !db.JSONSafe(d.ID, d.Openid, d.TemplateID) {
			return claimEach(ctx, q, tpl, owner, due, now, leaseUntil)
		}
	}
	// The batch's users per template, in first-seen order.
	var templates []string
	users := make(map[string][]string)
	type pair struct{ openid, templateID string }
	seen := make(map[pair]bool, len(due))
	for _, d := range due {
		if p := (pair{d.Openid, d.TemplateID}); !seen[p] {
			seen[p] = true
			if users[d.TemplateID] == nil {
				templates = append(templates, d.TemplateID)
			}
			users[d.TemplateID] = append(users[d.TemplateID], d.Openid)
		}
	}
	credits := make(map[pair]int64, len(seen))
	longTerm := make(map[pair]bool)
	for _, tid := range templates {
		ledger, err := q.LedgerFor(ctx, db.LedgerForParams{Openids: db.JSONArg(users[tid]), TemplateID: tid})
		if err != nil {
			return nil, err
		}
		for _, l := range ledger {
			p := pair{l.Openid, tid}
			credits[p] = l.Credits
			longTerm[p] = l.LongTerm == 1
		}
	}
	// Reserve in due order: a user's earlier reminder gets the credit first.
	// rounds[k][template] are the users a (k+1)-th credit is taken from.
	ids := make([]string, len(due))
	held := []string{}
	covered := make(map[string]bool, len(due))
	taken := make(map[pair]int64)
	var rounds []map[string][]string
	for i, d := range due {
		ids[i] = d.ID
		p := pair{d.Openid, d.TemplateID}
		t, ok := tpl.Get(d.TemplateID)
		switch {
		case !ok:
		case d.UnknownAt.Valid:
			// The attempt of unknown outcome used the credit (see attempt).
			covered[d.ID] = true
		case t.Kind == wechat.OneTime && credits[p] > taken[p]:
			k := taken[p]
			taken[p]++
			if int(k) == len(rounds) {
				rounds = append(rounds, map[string][]string{})
			}
			rounds[k][d.TemplateID] = append(rounds[k][d.TemplateID], d.Openid)
			held = append(held, d.ID)
			covered[d.ID] = true
		case t.Kind == wechat.LongTerm:
			covered[d.ID] = longTerm[p]
		}
	}
	for _, r := range rounds {
		for tid, openids := range r {
			n, err := q.TakeCredits(ctx, db.TakeCreditsParams{Openids: db.JSONArg(openids), TemplateID: tid, Now: now.UnixMilli()})
			if err != nil {
				return nil, err
			}
			if n != int64(len(openids)) {
				return nil, fmt.Errorf("claim: reserved %d of %d %s credits: %w", n, len(openids), tid, db.ErrConflict)
			}
		}
	}
	rems, err := q.ClaimReminders(ctx, db.ClaimRemindersParams{Ids: db.JSONArg(ids), Held: db.JSONArg(held),
		LeaseUntil: sqlInt(leaseUntil.UnixMilli()), Owner: sqlStr(owner), Now: now.UnixMilli()})
	if err != nil {
		return nil, err
	}
	if len(rems) != len(due) {
		// The due rows were read in this transaction: only a bug gets here,
		// and the rollback gives the reserved credits back.
		return nil, fmt.Errorf("claim: claimed %d of %d due reminders: %w", len(rems), len(due), db.ErrConflict)
	}
	order := make(map[string]int, len(due))
	for i, id := range ids {
		order[id] = i
	}
	claimed := make([]claim, len(due))
	for _, r := range rems {
		claimed[order[r.ID]] = claim{rem: r, claimedAt: now.UnixMilli(), covered: covered[r.ID]}
	}
	return claimed, nil
}

// claimEach claims the due rows one statement at a time: the path for keys
// that JSON cannot carry unchanged (see claimDue).
func claimEach(ctx context.Context, q *db.Queries, tpl Templates, owner string, due []db.DueRemindersRow, now, leaseUntil time.Time) ([]claim, error) {
	var err error
	claimed := make([]claim, 0, len(due))
	for _, d := range due {
		c := claim{claimedAt: now.UnixMilli()}
		held := int64(0)
		if t, ok := tpl.Get(d.TemplateID); ok {
			switch {
			case d.UnknownAt.Valid:
				c.covered = true // the attempt of unknown outcome used the credit
			case t.Kind == wechat.OneTime:
				n, err := q.ConsumeCredit(ctx, db.ConsumeCreditParams{Openid: d.Openid, TemplateID: d.TemplateID, Now: c.claimedAt})
				if err != nil {
					return nil, err
				}
				c.covered, held = n == 1, n
			case t.Kind == wechat.LongTerm:
				g, err := q.GetConsent(ctx, db.GetConsentParams{Openid: d.Openid, TemplateID: d.TemplateID})
				if err != nil && !errors.Is(err, sql.ErrNoRows) {
					return nil, err
				}
				c.covered = g.LongTerm == 1
			}
		}
		c.rem, err = q.ClaimReminder(ctx, db.ClaimReminderParams{ID: d.ID, LeaseUntil: sqlInt(leaseUntil.UnixMilli()),
			Owner: sqlStr(owner), CreditHeld: held, Now: c.claimedAt})
		if err != nil {
			return nil, fmt.Errorf("claim %s: %w", d.ID, err)
		}
		claimed = append(claimed, c)
	}
	return claimed, nil
}

// ClaimDue claims up to max due reminders in q's transaction as the engine
// does, and returns how many it claimed (for reminderd bench, which times
// it in a transaction it rolls back).
func ClaimDue(ctx context.Context, q *db.Queries, tpl Templates, owner string, now, leaseUntil time.Time, max int) (int, error) {
	cs, err := claimDue(ctx, q, tpl, owner, now, leaseUntil, max)
	return len(cs), err
}

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
	reason      string // reminder reason for failed and skipped
	errcode     sql.NullInt64
	errmsg      string
	msgid       sql.NullInt64
	latency     time.Duration
	deferUntil  time.Time
	refused     bool // 43101: zero the ledger
	counted     bool // went to WeChat: counted in e.sending until queued for the writer
	sent        bool // a request went to WeChat
	late        bool // accepted after the window closed
	possibleDup bool // a send after an attempt of unknown outcome
	// For vSettled: the sent event that settled it (msgid 0: none, a 43101),
	// and whether this claim made a request (the 43101's resend).
	event       sql.NullInt64
	delivered   sql.NullInt64
	eventStatus string
	resent      bool
	// windowClosed: an unknown outcome whose window closed with no event.
	windowClosed bool
	// alreadySent: a late outcome recorded the occurrence sent meanwhile.
	alreadySent bool
	// invalidAnswer: WeChat's answer arrived malformed (wechat.ErrInvalidAnswer).
	invalidAnswer bool
	quotaUntil    time.Time // a 45009: sending paused until then (persisted with the record)
}

// permanentReasons maps permanent errcodes to the contract's reasons.
var permanentReasons = map[int]string{
	wechat.CodeNoCredit:        "user_refused",
	wechat.CodeInvalidOpenID:   "openid_invalid",
	wechat.CodeInvalidTemplate: "template_invalid",
	wechat.CodeInvalidPage:     "page_invalid",
	wechat.CodeSensitive:       "content_rejected",
	wechat.CodeBanned:          "banned",
	wechat.CodeInvalidArgument: "invalid_data",
}

// seriesReasons end a whole recurring series; any other outcome of an
// occurrence moves the series on to its next occurrence. A refused page
// (41030) ends only the occurrence: the page may be published later.
var seriesReasons = map[string]bool{
	"openid_invalid": true, "template_invalid": true,
	"content_rejected": true, "banned": true, "invalid_data": true,
}

// pauseQuota names the persisted quota pause.
const pauseQuota = "quota"

// deadline is the last instant the current occurrence may be sent.
func (e *Engine) deadline(r db.Reminder) time.Time {
	if r.ExpiresAt.Valid {
		return time.UnixMilli(r.ExpiresAt.Int64)
	}
	return time.UnixMilli(r.FireAt).Add(e.cfg.DefaultLateness)
}

func (e *Engine) process(c claim) {
	defer func() {
		e.inflight.Done()
		if n := e.pending.Add(-1); e.more.Load() && n <= int64(e.cfg.BatchSize/2) {
			e.Wake(time.Time{})
		}
	}()
	ctx := e.sendCtx
	var res result
	unlockUser, err := e.acquire(ctx, c.rem.Openid)
	if err != nil {
		res = result{verdict: vDefer, errmsg: "shutdown before sending", deferUntil: e.now()}
	} else {
		res = e.attempt(ctx, c)
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
		e.log.Error("record outcome", "reminder_id", c.rem.ID, "attempt", c.rem.Attempts, "error", err)
	}
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

// attempt decides and, when everything allows it, sends.
func (e *Engine) attempt(ctx context.Context, c claim) result {
	r := c.rem
	now := e.now()
	if r.UnknownAt.Valid {
		if res, done := e.unknownPending(ctx, r, now); done {
			return res
		}
	}
	if now.After(e.deadline(r)) {
		return result{verdict: vSkip, reason: "expired", errmsg: "past its window: not sent late"}
	}
	if now.Add(e.cfg.ClientTimeout).After(e.deadline(r)) {
		return result{verdict: vSkip, reason: "expired", errmsg: "less than the WeChat client timeout left in its window: not started"}
	}
	_, ok := e.cfg.Templates.Get(r.TemplateID)
	if !ok {
		return result{verdict: vFailed, reason: "template_invalid", errmsg: "template no longer in the account's template list"}
	}
	if until := e.quotaUntil.Load(); now.UnixMilli() < until {
		return result{verdict: vDefer, errmsg: "daily quota reached", deferUntil: time.UnixMilli(until)}
	}
	if !c.covered {
		return result{verdict: vSkip, reason: "no_consent", errmsg: "no consent credit at fire time"}
	}
	var data map[string]string
	if err := json.Unmarshal([]byte(r.Data), &data); err != nil {
		return result{verdict: vFailed, reason: "invalid_data", errmsg: "stored data is not a JSON object"}
	}
	// Never send past the window, nor with too little lease left: the wait
	// for the rate limiter is bounded by both.
	deadline := e.deadline(r)
	sendBy := time.UnixMilli(r.LeaseUntil.Int64).Add(-e.cfg.SendBudget)
	if e.limiter != nil {
		wctx, cancel := context.WithDeadline(ctx, realDeadline(e.now(), minTime(deadline, sendBy)))
		err := e.limiter.Wait(wctx)
		cancel()
		if ctx.Err() != nil {
			return result{verdict: vDefer, errmsg: "shutdown before sending", deferUntil: e.now()}
		}
		if err != nil {
			if !e.now().Before(deadline) || deadline.Before(sendBy) {
				return result{verdict: vSkip, reason: "expired", errmsg: "rate limit: no send slot before the window closed"}
			}
			return result{verdict: vDefer, errmsg: "rate limit: no send slot within the lease", deferUntil: e.now()}
		}
	}
	now = e.now()
	if now.After(deadline) {
		return result{verdict: vSkip, reason: "expired", errmsg: "past its window: not sent late"}
	}
	if now.Add(e.cfg.ClientTimeout).After(deadline) {
		return result{verdict: vSkip, reason: "expired", errmsg: "less than the WeChat client timeout left in its window: not started"}
	}
	if now.After(sendBy) {
		return result{verdict: vDefer, errmsg: "too little lease left to send safely", deferUntil: now}
	}
	req := wechat.SendRequest{ToUser: r.Openid, TemplateID: r.TemplateID, Page: r.Page, Data: data}
	start := time.Now()
	counted := e.cfg.RecordWait > 0 // records wait for the sends counted (New)
	if counted {
		e.sending.Add(1) // until its outcome joins the writer's queue (record)
	}
	send := func() (wechat.SendResult, error) {
		return e.cb.Execute(func() (wechat.SendResult, error) { return e.cfg.Sender.Send(ctx, req) })
	}
	sent, err := send()
	note := ""
	var apiErr *wechat.APIError
	if e.cfg.ResendWithoutPage && req.Page != "" && errors.As(err, &apiErr) && apiErr.Code == wechat.CodeInvalidPage {
		// WeChat refused the page, so nothing was delivered: the card
		// without its page is better than none, if the window and the
		// lease still have room for a second send (else the 41030 stands).
		if now := e.now(); !now.Add(e.cfg.ClientTimeout).After(deadline) && !now.After(sendBy) {
			req.Page = ""
			sent, err = send()
			note = "page refused by WeChat (41030): sent without it; "
		}
	}
	lat := time.Since(start)
	res := e.classify(sent, err, lat, r)
	res.invalidAnswer = errors.Is(err, wechat.ErrInvalidAnswer)
	res.errmsg = note + res.errmsg
	res.counted = counted
	res.sent = true
	res.possibleDup = r.UnknownAt.Valid
	if res.verdict == vSent && e.now().After(deadline) {
		res.late = true // WeChat has it: recorded as sent, counted as late
	}
	return res
}

// unknownPending decides a claim of a reminder whose current occurrence
// has an attempt of unknown outcome: settled by a sent event that came,
// still waiting for one, ended by its window, or (done false) due for a
// resend.
func (e *Engine) unknownPending(ctx context.Context, r db.Reminder, now time.Time) (result, bool) {
	lookupFailed := func(err error) (result, bool) {
		return result{verdict: vDefer, errmsg: "could not look for a sent event: " + err.Error(), deferUntil: now.Add(e.cfg.BackoffBase)}, true
	}
	// A stalled send's late outcome may have recorded the occurrence sent
	// (checked first: then no event is the occurrence's to take).
	occ := db.OccurrenceSentParams{ReminderID: r.ID, OccurrenceAt: r.FireAt}
	if n, err := e.db.Read.OccurrenceSent(ctx, occ); err != nil {
		return lookupFailed(err)
	} else if n > 0 {
		return result{verdict: vSettled, alreadySent: true, errmsg: "the occurrence was recorded sent by a late outcome"}, true
	}
	ev, err := e.db.Read.PendingSentEventFor(ctx, db.PendingSentEventForParams{Openid: r.Openid, TemplateID: r.TemplateID,
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
	last, err := e.db.Read.LastUnknownAttemptAt(ctx, db.LastUnknownAttemptAtParams(occ))
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
func (e *Engine) classify(sent wechat.SendResult, err error, lat time.Duration, r db.Reminder) result {
	now := e.now()
	res := result{latency: lat}
	var apiErr *wechat.APIError
	if errors.As(err, &apiErr) {
		res.errcode = sqlInt(int64(apiErr.Code))
		res.errmsg = apiErr.Msg
	} else if err != nil {
		res.errmsg = err.Error()
	}
	switch {
	case err == nil:
		res.verdict = vSent
		res.errcode = sqlInt(0)
		if sent.HasMsgID {
			res.msgid = sqlInt(sent.MsgID)
		}
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
		res.verdict, res.reason = vFailed, "invalid_data"
	case apiErr != nil && apiErr.Code == wechat.CodeNoCredit && r.UnknownAt.Valid:
		// The user's credit is gone: the attempt of unknown outcome used it.
		res.verdict, res.resent = vSettled, true
		res.errmsg = "43101 to the resend: the earlier attempt of unknown outcome was sent"
	default:
		switch wechat.Classify(err) {
		case wechat.ClassUnknown:
			res.verdict = vUnknown
		case wechat.ClassQuota:
			until := e.cfg.QuotaReset(now)
			e.quotaUntil.Store(until.UnixMilli())
			e.log.Warn("daily quota reached; sending paused", "until", until)
			res.verdict, res.deferUntil, res.quotaUntil = vDefer, until, until
		case wechat.ClassUserBusy:
			res.verdict, res.deferUntil = vDefer, now.Add(e.cfg.UserBusyDelay)
		case wechat.ClassTransient, wechat.ClassToken:
			res.verdict = vRetry
		default:
			res.verdict, res.reason = vFailed, "invalid_data"
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
			res.verdict, res.reason = vFailed, "retries_exhausted"
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
func (e *Engine) retryAt(r db.Reminder, n int64, now time.Time) (time.Time, bool) {
	deadline := e.deadline(r)
	retryAt := minTime(now.Add(e.backoff(n)), deadline.Add(-e.cfg.ClientTimeout))
	if !retryAt.After(now) {
		return time.Time{}, false
	}
	window := deadline.Sub(time.UnixMilli(r.FireAt))
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
func (e *Engine) occurrenceAttempts(ctx context.Context, r db.Reminder) int64 {
	if r.Attempts <= 1 {
		return r.Attempts
	}
	first, err := e.db.Read.OccurrenceFirstAttempt(ctx, db.OccurrenceFirstAttemptParams{ReminderID: r.ID, OccurrenceAt: r.FireAt})
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

var deliveryStatus = map[verdict]string{
	vSent: "sent", vFailed: "failed", vRetry: "retry", vDefer: "deferred", vSkip: "skipped", vAbandon: "abandoned",
	vUnknown: "unknown",
}

// nextOccurrence returns the series' next scheduled instant after the
// current one (computed from the scheduled instant, not from now), skipping
// occurrences whose window has already passed. Zero means the series ended.
func (e *Engine) nextOccurrence(r db.Reminder, now time.Time) (time.Time, error) {
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
	return e.db.WithTxBatch(ctx, len(reqs), func(q *db.Queries) error {
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
	}, func(i int, q *db.Queries) error { return e.recordTx(ctx, q, reqs[i]) })
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
func (e *Engine) recordSent(ctx context.Context, q *db.Queries, reqs []*outcomeReq) ([]*outcomeReq, error) {
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
	completed, err := q.CompleteSentReminders(ctx, db.CompleteSentRemindersParams{Claims: db.JSONArg(claims),
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

func (e *Engine) recordTx(ctx context.Context, q *db.Queries, req *outcomeReq) error {
	c, res, r, now := req.c, req.res, req.c.rem, req.now
	n, err := e.transition(ctx, q, c, res, now)
	if err != nil {
		return err
	}
	// Lost: the rescuer took the lease back and recorded the attempt
	// abandoned; this is its real outcome after all.
	req.lost = n == 0
	if !res.quotaUntil.IsZero() {
		if err := q.SetPause(ctx, db.SetPauseParams{Name: pauseQuota, Until: res.quotaUntil.UnixMilli(),
			Reason: "daily quota reached (45009)", Now: now.UnixMilli()}); err != nil {
			return err
		}
	}
	if res.verdict == vSettled {
		return e.recordSettled(ctx, q, req)
	}
	d := db.InsertDeliveryParams{ReminderID: r.ID, OccurrenceAt: r.FireAt, Attempt: r.Attempts, Status: deliveryStatus[res.verdict],
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
		applied, err := q.ApplyPendingSentEvent(ctx, db.ApplyPendingSentEventParams{Msgid: res.msgid.Int64, ID: id})
		if err != nil {
			return err
		}
		if applied > 0 {
			if err := q.SyncReminderDelivery(ctx, db.SyncReminderDeliveryParams{DeliveryID: id, ReminderID: r.ID}); err != nil {
				return err
			}
			if err := q.DeletePendingSentEvent(ctx, res.msgid.Int64); err != nil {
				return err
			}
		}
	}
	return e.settleCredit(ctx, q, c, res, req.lost, now)
}

// recordSettled records a claim that settled an earlier attempt of unknown
// outcome: that attempt's delivery becomes the occurrence's send (unless
// the window closed with no word of it), and a resend answered 43101 is
// recorded beside it. The credit was counted used by the unknown attempt.
func (e *Engine) recordSettled(ctx context.Context, q *db.Queries, req *outcomeReq) error {
	c, res, r, now := req.c, req.res, req.c.rem, req.now
	if res.resent {
		d := db.InsertDeliveryParams{ReminderID: r.ID, OccurrenceAt: r.FireAt, Attempt: r.Attempts, Status: "failed",
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
	n, err := q.SettleUnknownDelivery(ctx, db.SettleUnknownDeliveryParams{Errmsg: errmsg, Msgid: res.event,
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

func b2i(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

// writeDelivery records the attempt: a new row, or the abandoned row the
// rescuer wrote for it when the lease was lost.
func (e *Engine) writeDelivery(ctx context.Context, q *db.Queries, d db.InsertDeliveryParams, lost bool) (int64, error) {
	if lost {
		id, err := q.FinishAbandonedDelivery(ctx, db.FinishAbandonedDeliveryParams{Status: d.Status, Errcode: d.Errcode,
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
func (e *Engine) settleCredit(ctx context.Context, q *db.Queries, c claim, res result, lost bool, now time.Time) error {
	r := c.rem
	switch {
	case res.verdict == vUnknown || res.verdict == vAbandon || res.verdict == vSettled:
		return nil
	case r.UnknownAt.Valid:
		return nil // the attempt of unknown outcome counted the credit used
	case res.refused:
		return q.ZeroConsent(ctx, db.ZeroConsentParams{Openid: r.Openid, TemplateID: r.TemplateID, Status: "refused", Now: now.UnixMilli()})
	case lost:
		return nil // the rescuer counted the held credit as used
	case res.verdict == vSent && !c.held():
		// Nothing held: take one now.
		if e.longTerm(r.TemplateID) {
			return nil
		}
		n, err := q.ConsumeCredit(ctx, db.ConsumeCreditParams{Openid: r.Openid, TemplateID: r.TemplateID, Now: now.UnixMilli()})
		if err == nil && n == 0 {
			e.log.Warn("sent without a credit left in the ledger", "reminder_id", r.ID)
		}
		return err
	case res.verdict != vSent && c.held():
		_, err := q.RefundCredit(ctx, db.RefundCreditParams{Openid: r.Openid, TemplateID: r.TemplateID, Now: now.UnixMilli(), ClaimedAt: c.claimedAt})
		return err
	}
	return nil
}

// transition moves the reminder out of sending.
func (e *Engine) transition(ctx context.Context, q *db.Queries, c claim, res result, now time.Time) (int64, error) {
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
		return q.CompleteReminder(ctx, db.CompleteReminderParams{ID: r.ID, Status: status,
			Reason: sql.NullString{String: reason, Valid: reason != ""}, Owner: owner, Attempts: r.Attempts,
			ClaimedFireAt: r.FireAt, Now: now.UnixMilli(), Delivery: delivery})
	}
	unknownAt := sql.NullInt64{}
	reschedule := func(fireAt, dueAt time.Time, expires sql.NullInt64, attempts int64) (int64, error) {
		return q.RescheduleReminder(ctx, db.RescheduleReminderParams{ID: r.ID, FireAt: fireAt.UnixMilli(), DueAt: dueAt.UnixMilli(),
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

func (e *Engine) observe(r db.Reminder, res result, status string, now time.Time) {
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

// RescueLeases returns reminders whose lease expired (their process died
// mid-send) to scheduled, due now, and marks their in-flight delivery rows
// abandoned: WeChat may have accepted them. It returns how many it rescued.
func (e *Engine) RescueLeases(ctx context.Context) (int, error) {
	now := e.now().UnixMilli()
	var n int
	err := e.db.WithTx(ctx, func(q *db.Queries) error {
		n = 0
		expired, err := q.ExpiredLeases(ctx, sqlInt(now))
		if err != nil {
			return err
		}
		for _, x := range expired {
			// WeChat may have the claim's send: the credit it held counts
			// as used, and the reminder waits out the unknown wait since the
			// claim before it is sent again (see unknownPending).
			due := max(now, x.ClaimedAt+e.cfg.UnknownWait.Milliseconds())
			ok, err := q.RescueReminder(ctx, db.RescueReminderParams{ID: x.ID, Now: now, Attempts: x.Attempts, DueAt: due})
			if err != nil {
				return err
			}
			if ok == 0 {
				continue
			}
			n++
			// The rescuer writes the attempt's record. A database
			// written by a binary that recorded a claim as a 'sending'
			// delivery row still holds such rows: that row becomes the
			// record, so that the attempt has one row, not two.
			legacy, err := q.AbandonDeliveries(ctx, db.AbandonDeliveriesParams{ReminderID: x.ID, Now: now})
			if err != nil {
				return err
			}
			if legacy == 0 {
				if err := q.InsertAbandonedDelivery(ctx, db.InsertAbandonedDeliveryParams{ReminderID: x.ID, OccurrenceAt: x.FireAt,
					Attempt: x.Attempts, StartedAt: x.ClaimedAt, Now: now, PossibleDuplicate: b2i(x.UnknownAt.Valid)}); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("rescue leases: %w", err)
	}
	if n > 0 {
		if e.cfg.OnRescue != nil {
			e.cfg.OnRescue(n)
		}
		e.log.Warn("rescued reminders whose lease expired", "count", n)
		e.Wake(time.Time{})
	}
	return n, nil
}
