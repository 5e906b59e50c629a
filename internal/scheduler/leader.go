// The fleet's leader: one process at a time runs the periodic jobs
// (template sync, token refresh, retention, lease rescue) while every
// process scans and sends. Leadership is a lease row in the store
// (store.EngineStore's ElectLeader, a compare-and-set), renewed on each
// heartbeat and given up on shutdown; a process that stops heartbeating
// loses it when it expires, and the next heartbeat of another process
// takes it over. Each heartbeat also keeps this process's row in the
// instances table (GET /admin/v1/instances). docs/engine.md, "Several
// processes: the leader and the instances", says why a lease row rather
// than an advisory lock.

package scheduler

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/reminderd/reminderd/internal/store"
)

// LeaderName is the name of the lease the periodic jobs run under.
const LeaderName = "periodic_jobs"

// ErrNotLeader: a leader-only job was asked to run on a process that is
// not the leader (Jobs.RunNow); it did not run.
var ErrNotLeader = errors.New("not the leader: the periodic job runs on the leader")

// leader is this process's candidacy: its lease and its instance row.
type leader struct {
	store  store.EngineStore
	self   store.Instance
	now    func() time.Time
	ttl    time.Duration // the lease's duration
	every  time.Duration // the heartbeat period
	window time.Duration // a process not seen for this long is not listed, then forgotten
	log    *slog.Logger

	mu      sync.Mutex
	until   time.Time // this process leads before until, on its own clock
	term    context.Context
	endTerm context.CancelFunc
	// watch ends the term when until passes unrenewed, even while a
	// heartbeat hangs (a partition): jobs in progress are canceled when
	// the store may already let another process lead.
	watch *time.Timer

	// beat is a test signal: a heartbeat (Tick) ended.
	beat testSignal
}

// IsLeader reports whether this process holds the lease: it renewed it
// less than the lease's duration ago, as its own clock measures from
// before the renewal, so it stops believing itself leader no later than
// the store lets another process take the lease.
func (l *leader) IsLeader() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.now().Before(l.until)
}

// hold returns a context for one leader-only job run, canceled when the
// leadership it starts under ends (a lost renewal, the shutdown), and false
// if this process is not the leader.
func (l *leader) hold(ctx context.Context) (context.Context, context.CancelFunc, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.term == nil || !l.now().Before(l.until) {
		return nil, nil, false
	}
	run, cancel := context.WithCancel(ctx)
	stop := context.AfterFunc(l.term, cancel)
	return run, func() { stop(); cancel() }, true
}

// Tick is one heartbeat: this process's instance row, then the election
// (reelect if it holds the lease, elect if the lease expired). A failed
// election keeps the leadership until its lease would have run out.
func (l *leader) Tick(ctx context.Context) error {
	defer l.beat.signal()
	start := l.now()
	hbErr := l.store.Heartbeat(ctx, l.self, start, l.window)
	won, err := l.store.ElectLeader(ctx, LeaderName, l.self.ID, start, l.ttl)
	l.mu.Lock()
	defer l.mu.Unlock()
	switch {
	case err != nil:
		if !l.now().Before(l.until) {
			l.lose("the lease could not be renewed")
		}
		return errors.Join(hbErr, err)
	case won:
		if l.term == nil {
			l.term, l.endTerm = context.WithCancel(context.Background())
			l.log.Info("elected leader: this process runs the periodic jobs", "instance", l.self.ID)
		}
		l.until = start.Add(l.ttl)
		if l.watch != nil {
			l.watch.Stop()
		}
		l.watch = time.AfterFunc(l.until.Sub(l.now()), l.expire)
	default:
		l.lose("another process holds the lease")
	}
	return hbErr
}

// expire is the watch: the term ends if its lease ran out unrenewed.
func (l *leader) expire() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.term != nil && !l.now().Before(l.until) {
		l.lose("the lease ran out unrenewed")
	}
}

// lose ends the leadership (l.mu held).
func (l *leader) lose(why string) {
	l.until = time.Time{}
	if l.watch != nil {
		l.watch.Stop()
		l.watch = nil
	}
	if l.term != nil {
		l.endTerm()
		l.term, l.endTerm = nil, nil
		l.log.Warn("no longer leader", "instance", l.self.ID, "reason", why)
	}
}

// run heartbeats every l.every until ctx ends. The first heartbeat is
// Run's own (Engine.Run ticks before the jobs start).
func (l *leader) run(ctx context.Context) {
	tickEvery(ctx, l.every, l.every, l.Tick, func(err error) { l.log.Warn("fleet heartbeat failed", "error", err) })
}

// tickEvery calls tick every period until ctx ends, each call bounded by
// timeout (a hung store call gives way to a later one; a tick that runs
// long makes the ticker drop the ticks it missed), and tells warn of its
// errors but those of the shutdown.
func tickEvery(ctx context.Context, every, timeout time.Duration, tick func(context.Context) error, warn func(error)) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			tctx, cancel := context.WithTimeout(ctx, timeout)
			err := tick(tctx)
			cancel()
			if err != nil && ctx.Err() == nil {
				warn(err)
			}
		}
	}
}

// resign ends the leadership and gives the lease up, so that another
// process takes the periodic jobs over at its next heartbeat rather than
// after the lease (the shutdown). The instance row stays until leave: a
// process still sending must stay visible, or a process alone would take
// the sole-sender lease beside its last sends (sole.go).
func (l *leader) resign(ctx context.Context) error {
	l.mu.Lock()
	l.lose("shutting down")
	l.mu.Unlock()
	return l.store.ResignLeader(ctx, LeaderName, l.self.ID)
}

// leave deletes the instance row, once every send of the process is
// recorded (the shutdown's end).
func (l *leader) leave(ctx context.Context) error { return l.store.LeaveFleet(ctx, l.self.ID) }

// Instances lists the live processes of the fleet, the leader flagged.
func (e *Engine) Instances(ctx context.Context) ([]store.Instance, error) {
	return e.store.Instances(ctx, LeaderName, e.now(), e.leader.window)
}

// IsLeader reports whether this process runs the periodic jobs.
func (e *Engine) IsLeader() bool { return e.leader.IsLeader() }

// Heartbeat heartbeats and runs the election once, now (Run does every
// Config.Heartbeat).
func (e *Engine) Heartbeat(ctx context.Context) error { return e.leader.Tick(ctx) }
