// A process alone on the database sends without the per-send lease
// (docs/engine.md, "A process alone on the database"). On a store that
// several processes share, every send takes the user's send lease
// (fleet.go): a row written and deleted per send, most of what a send costs
// on PostgreSQL beyond SQLite's. A process that sees no other process holds
// the fleet's sole-sender lease (store.EngineStore.SoleSender, a leader
// row) and sends without it, as one process on SQLite does, while every
// other process sends nothing. A process that appears is seen at the
// holder's next tick: the holder then sends with the per-send lease, waits
// for its sends without one to be recorded, and gives the lease up; the
// newcomer starts sending at its first tick after that. The holder's sends
// without the per-send lease run in the lease's term, which ends when the
// lease runs out unrenewed: a holder that dies (or stalls) without giving
// it up blocks the others until its lease has run out and a client
// timeout more has passed (for a request WeChat may still be answering).
//
// The lease covers only what the per-send lease would: no two sends to one
// user in flight at once. A claim made while the process held it is not
// marked unstarted (ClaimParams.MarkStarts), so a rescue takes it as
// possibly sent, as on SQLite; a claim made marked is never sent without
// the per-send lease, which marks it started.

package scheduler

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/reminderd/reminderd/internal/store"
)

// sole is this process's view of the sole-sender lease. Until its first
// tick (Run's) it is inactive, and the engine sends as a fleet's engine
// does, each send with the per-send lease.
type sole struct {
	store  store.EngineStore
	self   store.Instance
	now    func() time.Time
	ttl    time.Duration // the lease's duration
	every  time.Duration // the tick's period
	grace  time.Duration // how long WeChat may still answer a request whose sender gave up (ClientTimeout)
	window time.Duration // an instance seen this recently may be sending
	never  bool          // never take the lease (Config.NoSoleSender): only obey it
	log    *slog.Logger

	mu     sync.Mutex
	active bool
	state  store.SoleState
	// heldUntil: sends without the per-send lease may start before it;
	// shareUntil: sends with it may start before it (no other process
	// held the lease at the last tick, which was the heartbeat that keeps
	// any other process from taking it). Both on this process's clock, from
	// before the tick.
	heldUntil, shareUntil time.Time
	free                  int // sends started without the per-send lease, not yet recorded
	// term is the context of the sends without the per-send lease: it
	// ends when the lease runs out unrenewed (termUntil, watched by
	// watch), so that none of them is still at WeChat once the others may
	// take the lease (grace after its end).
	term      context.Context
	endTerm   context.CancelFunc
	termUntil time.Time
	watch     *time.Timer

	tick testSignal // a tick ended (tests)
}

// Tick is one tick: the lease taken, renewed, kept or given up (once the
// sends without the per-send lease are recorded), with this process's
// heartbeat. A failed tick keeps what the last one granted until it runs
// out. A holder that finds another process live and nothing of its own in
// flight without the per-send lease gives the lease up in the same tick.
func (s *sole) Tick(ctx context.Context) error {
	defer s.tick.signal()
	s.mu.Lock()
	want := !s.never && !(s.state == store.SoleYielding && s.free == 0)
	s.mu.Unlock()
	start := s.now()
	st, err := s.store.SoleSender(ctx, s.self, want, start, s.ttl, s.grace, s.window)
	if err == nil && st == store.SoleYielding && want {
		s.mu.Lock()
		drained := s.free == 0
		if drained {
			// Nothing goes without the per-send lease any more (the
			// state is yielding from here on): give it up at once rather
			// than at the next tick, so that the newcomer starts sooner.
			if s.state != store.SoleYielding {
				s.logChange(store.SoleYielding)
			}
			s.state, s.heldUntil = store.SoleYielding, time.Time{}
		}
		s.mu.Unlock()
		if drained {
			st, err = s.store.SoleSender(ctx, s.self, false, start, s.ttl, s.grace, s.window)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.active = true
	if err != nil {
		return err
	}
	if st != s.state {
		s.logChange(st)
	}
	s.state = st
	s.heldUntil, s.shareUntil = time.Time{}, time.Time{}
	switch st {
	case store.SoleHeld:
		s.heldUntil = start.Add(s.ttl)
		s.shareUntil = start.Add(s.window)
		s.renewTerm(s.heldUntil)
	case store.SoleYielding, store.SoleFree:
		s.shareUntil = start.Add(s.window)
	}
	return nil
}

// renewTerm makes the term last until until (s.mu held), starting one if
// none is running; the watch ends it then unless renewed meanwhile.
func (s *sole) renewTerm(until time.Time) {
	if s.term == nil {
		s.term, s.endTerm = context.WithCancel(context.Background())
	}
	s.termUntil = until
	if s.watch != nil {
		s.watch.Stop()
	}
	s.watch = time.AfterFunc(until.Sub(s.now()), s.expireTerm)
}

// expireTerm ends the term if it ran out unrenewed: the sends without the
// per-send lease still at WeChat are interrupted.
func (s *sole) expireTerm() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.term != nil && !s.now().Before(s.termUntil) {
		s.endTerm()
		s.term, s.endTerm = nil, nil
	}
}

// freeContext is ctx, ended also when the term ends, for a send started
// by startFree; ran reports whether it was the term that ended it.
func (s *sole) freeContext(ctx context.Context) (c context.Context, stop func(), ran func() bool) {
	s.mu.Lock()
	term := s.term
	s.mu.Unlock()
	if term == nil { // run out between startFree and the request: stillHeld refuses it
		term = ctx
	}
	c, cancel := context.WithCancel(ctx)
	unhook := context.AfterFunc(term, cancel)
	return c, func() { unhook(); cancel() }, func() bool { return term.Err() != nil && ctx.Err() == nil }
}

func (s *sole) logChange(st store.SoleState) {
	switch st {
	case store.SoleHeld:
		s.log.Info("alone on the database: this process sends without the per-send lease", "instance", s.self.ID)
	case store.SoleYielding:
		s.log.Info("another process appeared: sending with the per-send lease, giving the sole-sender lease up", "instance", s.self.ID)
	case store.SoleFree:
		s.log.Info("sending with the per-send lease", "instance", s.self.ID)
	case store.SoleOther:
		s.log.Info("another process is the sole sender: not sending until it gives the lease up or it runs out", "instance", s.self.ID)
	}
}

// claimMode says whether a claim may be made now, and whether it is to
// be marked unstarted (ClaimParams.MarkStarts): not while this process
// holds the lease (its sends take no per-send lease, which is what marks
// a claim started).
func (s *sole) claimMode(now time.Time) (ok, markStarts bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case !s.active:
		return true, true
	case s.state == store.SoleHeld && now.Before(s.heldUntil):
		return true, false
	case now.Before(s.shareUntil):
		return true, true
	}
	return false, false
}

// startFree starts a send of c without the per-send lease, if this process
// holds the lease at now and c is unmarked; doneFree ends it (after its
// record).
func (s *sole) startFree(c store.Claim, now time.Time) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.active || !c.StartsUnmarked || s.state != store.SoleHeld || !now.Before(s.heldUntil) {
		return false
	}
	s.free++
	return true
}

func (s *sole) doneFree() {
	s.mu.Lock()
	s.free--
	s.mu.Unlock()
}

// stillHeld says whether a send started without the per-send lease may
// go to WeChat at now (checked again just before the request).
func (s *sole) stillHeld(now time.Time) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.state == store.SoleHeld && now.Before(s.heldUntil)
}

// mayShare says whether a send with the per-send lease may start at now.
func (s *sole) mayShare(now time.Time) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return !s.active || now.Before(s.shareUntil)
}

// run ticks every s.every until ctx ends (the first tick is Run's own),
// each tick bounded by half the lease (its row lock may be waited for
// behind the other processes' ticks); a failing tick is logged at most
// every soleWarnEvery.
func (s *sole) run(ctx context.Context) {
	var last time.Time
	tickEvery(ctx, s.every, s.ttl/2, s.Tick, func(err error) {
		if now := time.Now(); now.Sub(last) >= soleWarnEvery {
			last = now
			s.log.Warn("sole-sender lease tick failed", "error", err)
		}
	})
}

// soleWarnEvery spaces the warnings of failing ticks (four a second).
const soleWarnEvery = 10 * time.Second

// release gives the lease up at shutdown, once every send is recorded
// (the instance row goes after it: leader.leave). It asks the store
// whatever this process believes: a tick that took the lease may have
// committed and still failed here (its context ended), and giving up a
// lease another process holds changes nothing.
func (s *sole) release(ctx context.Context) error {
	s.mu.Lock()
	active := s.active
	s.state, s.heldUntil, s.shareUntil = store.SoleYielding, time.Time{}, time.Time{}
	s.mu.Unlock()
	if !active {
		return nil
	}
	_, err := s.store.SoleSender(ctx, s.self, false, s.now(), s.ttl, s.grace, s.window)
	return err
}

// SoleSender is this process's view of the sole-sender lease for
// /metrics: held, yielding, free or other; unknown when what the last
// successful tick granted has run out (the ticks fail: this process sends
// nothing); "" until the first tick (and on a store only one process
// uses, for good).
func (e *Engine) SoleSender() string {
	s := e.sole
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.active {
		return ""
	}
	if now := s.now(); s.state != store.SoleOther && !now.Before(s.shareUntil) && !now.Before(s.heldUntil) {
		return "unknown"
	}
	return map[store.SoleState]string{store.SoleHeld: "held", store.SoleYielding: "yielding", store.SoleFree: "free", store.SoleOther: "other"}[s.state]
}
