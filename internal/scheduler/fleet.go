package scheduler

import (
	"context"
	"time"

	"github.com/reminderd/reminderd/internal/store"
)

// The fleet: what holds across processes on one database.
//
// At most one send per openid in flight across the fleet (WeChat answers
// 43108 to concurrent sends to one user). The in-process per-user lock
// (keyedMutex) stays the cheap first gate; on a store that several
// processes share (store.SharedByProcesses) the worker then takes the
// user's send lease in the store (a row: holder until), releases it once the
// outcome is recorded (in the record's own transaction:
// Outcome.ReleaseUserSend), and defers the claim briefly (UserBusyDelay, no
// attempt used) when another process holds it. The lease outlasts the
// claim's lease (userSendUntil), so that it holds until the send and its
// record are done, and a process that dies mid-send blocks the user only
// until it runs out. On SQLite (one process) no lease
// is taken: the hot path there has no extra write; on PostgreSQL the
// lease's upsert with the claim's start mark is one statement, which the
// driver group-commits for the concurrent sends of the process, and the
// lease's delete rides in the record's batch. A process alone on the
// database takes none either: it holds the sole-sender lease (sole.go).
//
// The quota pause holds across processes: a 45009 is recorded as the
// "quota" pause row with the outcome, and every engine re-reads that row at
// most once a second (quotaReadEvery, on the engine's clock) at the start
// of a due scan, so an engine stops claiming within about a second of
// another hitting the quota, until the pause ends.

// quotaReadEvery is how often a due scan re-reads the quota pause row.
const quotaReadEvery = time.Second

// sendLease takes c's user's send lease when the store is shared. ok false
// means the claim must not be sent now: res is its deferral. release (never
// nil) gives the lease up; call it after the outcome is recorded. leased:
// the lease is the store's (the record gives it up). Without it (free) the
// send goes without one: one process on SQLite, or the fleet's sole sender
// (sole.go), whose send must check sole.stillHeld just before WeChat.
func (e *Engine) sendLease(ctx context.Context, c store.Claim) (res result, release func(), leased, free, ok bool) {
	if !e.store.SharedByProcesses() {
		return result{}, func() {}, false, false, true
	}
	now := e.now()
	if e.sole.startFree(c, now) {
		return result{}, e.sole.doneFree, false, true, true
	}
	busy := func(msg string) (result, func(), bool, bool, bool) {
		return result{verdict: vDefer, errmsg: msg, deferUntil: now.Add(e.cfg.UserBusyDelay)}, func() {}, false, false, false
	}
	if !e.sole.mayShare(now) {
		return busy("not sending: another process holds the fleet's sole-sender lease, or it could not be read")
	}
	openID := c.Reminder.OpenID
	got, err := e.store.AcquireUserSend(ctx, openID, e.cfg.Owner, now, userSendUntil(now, c.Reminder.LeaseUntil, e.cfg.SendBudget, e.cfg.ClientTimeout), c.Reminder.ID, c.Reminder.Attempts)
	if err != nil || !got {
		msg := "another process is sending to this user"
		if err != nil {
			e.log.Warn("take the user's send lease", "reminder_id", c.Reminder.ID, "error", err)
			msg = "the user's send lease could not be taken"
		}
		return busy(msg)
	}
	release = func() {
		if err := e.store.ReleaseUserSend(context.WithoutCancel(ctx), openID, e.cfg.Owner); err != nil {
			// It runs out by itself.
			e.log.Warn("release the user's send lease", "reminder_id", c.Reminder.ID, "error", err)
		}
	}
	if !e.sole.mayShare(e.now()) {
		// The permission ran out while the lease was taken (a stalled
		// store): another process may hold the sole-sender lease by now.
		release()
		return busy("not sending: another process holds the fleet's sole-sender lease, or it could not be read")
	}
	return result{}, release, true, false, true
}

// userSendUntil is how long a user's send lease taken at now holds for a
// claim leased until claimLease: past the claim's lease (a send may start
// as late as claimLease − sendBudget, after a wait for the send rate, and
// its record follows the answer) plus a client timeout for the record,
// and never less than one send budget and timeout from now. A shorter lease
// could run out while the send it guards is still at WeChat, and let
// another process send to the same user at once (found by a review).
func userSendUntil(now, claimLease time.Time, sendBudget, clientTimeout time.Duration) time.Time {
	until := now.Add(sendBudget + clientTimeout)
	if l := claimLease.Add(clientTimeout); l.After(until) {
		until = l
	}
	return until
}

// readQuotaPause takes up a quota pause another process recorded: at most
// once per quotaReadEvery; a pause only ever extends the one in memory.
func (e *Engine) readQuotaPause(ctx context.Context) {
	now := e.now()
	last := e.quotaReadAt.Load()
	if n := now.UnixMilli(); n >= last && n < last+quotaReadEvery.Milliseconds() {
		return
	}
	e.quotaReadAt.Store(now.UnixMilli())
	e.readAppQuotas(ctx)
	p, err := e.store.Pause(ctx, pauseQuota)
	if err != nil {
		return // ErrNotFound: no pause; an error: the next scan reads again
	}
	until := p.Until.UnixMilli()
	for {
		cur := e.quotaUntil.Load()
		if until <= cur || e.quotaUntil.CompareAndSwap(cur, until) {
			break
		}
	}
	if until > now.UnixMilli() {
		e.log.Debug("quota pause read from the store", "until", p.Until)
	}
}
