package scheduler_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/reminderd/reminderd/internal/scheduler"
	"github.com/reminderd/reminderd/internal/store"
	"github.com/reminderd/reminderd/internal/testkit"
)

// fleet is two engines, A and B, on one SQLite file (each with its own
// handle), on one injected clock, each with a leader-only job "periodic"
// that counts its runs and catches two runs at once.
type fleet struct {
	h       *harness
	a, b    *scheduler.Engine
	runs    map[string]*atomic.Int64
	running atomic.Int64
	overlap atomic.Bool
}

func newFleet(t *testing.T) *fleet {
	t.Helper()
	h := newHarness(t, nil)
	second := testkit.Reopen(t, h.db) // another process on the same database
	f := &fleet{h: h, runs: map[string]*atomic.Int64{"A": {}, "B": {}}}
	mk := func(d store.Store, owner string) *scheduler.Engine {
		e := h.engine(d, func(c *scheduler.Config) {
			c.Owner, c.Host = owner, "vm-"+owner
			c.Heartbeat, c.LeaderTTL = 5*time.Second, 15*time.Second
		})
		if err := e.Jobs().Add("periodic", "@every 1h", func(ctx context.Context) error {
			if f.running.Add(1) > 1 {
				f.overlap.Store(true)
			}
			defer f.running.Add(-1)
			f.runs[owner].Add(1)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		return e
	}
	f.a, f.b = mk(h.db, "A"), mk(second, "B")
	return f
}

func beat(t *testing.T, e *scheduler.Engine) {
	t.Helper()
	if err := e.Heartbeat(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// runBoth runs the periodic job on both processes at once and returns who
// ran it.
func (f *fleet) runBoth(t *testing.T) (ranA, ranB bool) {
	t.Helper()
	beforeA, beforeB := f.runs["A"].Load(), f.runs["B"].Load()
	var wg sync.WaitGroup
	for _, e := range []*scheduler.Engine{f.a, f.b} {
		wg.Go(func() {
			if err := e.Jobs().RunNow("periodic"); err != nil && !errors.Is(err, scheduler.ErrNotLeader) {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	return f.runs["A"].Load() > beforeA, f.runs["B"].Load() > beforeB
}

func instances(t *testing.T, e *scheduler.Engine) []store.Instance {
	t.Helper()
	got, err := e.Instances(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// The periodic jobs run on the leader only, never on both; the due scan on
// every process; the survivor takes the lease over once the leader stops
// heartbeating, within the lease plus one heartbeat, and the dead process
// leaves the list of instances.
func TestFleetRunsPeriodicJobsOnTheLeaderOnly(t *testing.T) {
	leaseOnTheTestClock(t)
	f := newFleet(t)
	beat(t, f.a)
	beat(t, f.b)
	if !f.a.IsLeader() || f.b.IsLeader() {
		t.Fatalf("first to heartbeat leads: A %v, B %v", f.a.IsLeader(), f.b.IsLeader())
	}
	if err := f.b.Jobs().RunNow("periodic"); !errors.Is(err, scheduler.ErrNotLeader) {
		t.Fatalf("the periodic job on a follower: %v, want ErrNotLeader", err)
	}
	if err := f.b.Jobs().RunNow("due_scan"); err != nil {
		t.Fatalf("the due scan on a follower: %v", err)
	}
	got := instances(t, f.b)
	if len(got) != 2 || got[0].ID != "A" || !got[0].Leader || got[1].ID != "B" || got[1].Leader || got[1].Host != "vm-B" {
		t.Fatalf("instances: %+v", got)
	}

	// Both alive: every step, A alone runs the job.
	for range 6 {
		f.h.clock.Advance(5 * time.Second)
		beat(t, f.b) // B first: A's lease is live, B must not take it
		beat(t, f.a)
		if ranA, ranB := f.runBoth(t); !ranA || ranB {
			t.Fatalf("with both alive: A ran %v, B ran %v", ranA, ranB)
		}
	}

	// A dies (no more heartbeats): B takes over within the lease plus one
	// heartbeat, and never while A still believes it leads.
	died := f.h.clock.Now()
	for !f.b.IsLeader() {
		f.h.clock.Advance(time.Second)
		if f.a.IsLeader() && f.h.clock.Now().Sub(died) > 15*time.Second {
			t.Fatal("A believes it leads past its lease")
		}
		if f.h.clock.Now().Sub(died)%(5*time.Second) == 0 {
			beat(t, f.b)
		}
		if f.a.IsLeader() && f.b.IsLeader() {
			t.Fatal("two leaders at once")
		}
		if f.h.clock.Now().Sub(died) > 20*time.Second {
			t.Fatal("B did not take over within the lease plus one heartbeat")
		}
		if ranA, ranB := f.runBoth(t); ranA && ranB {
			t.Fatal("the periodic job ran on both")
		}
	}
	if ranA, ranB := f.runBoth(t); ranA || !ranB {
		t.Fatalf("after the takeover: A ran %v, B ran %v", ranA, ranB)
	}
	// The dead process shows no leadership, and leaves the list once it
	// has not been seen for the lease (15 s): well within 30 s.
	for _, in := range instances(t, f.b) {
		if in.Leader != (in.ID == "B") {
			t.Fatalf("instances at the takeover: %+v", in)
		}
	}
	f.h.clock.Advance(5 * time.Second)
	beat(t, f.b)
	if f.h.clock.Now().Sub(died) > 30*time.Second {
		t.Fatal("the test's timeline is past the contract's 30 s")
	}
	got = instances(t, f.b)
	if len(got) != 1 || got[0].ID != "B" || !got[0].Leader {
		t.Fatalf("instances after A died: %+v, want B alone, leader", got)
	}
	// A comes back: it follows.
	beat(t, f.a)
	if f.a.IsLeader() {
		t.Fatal("A took the lease back from a live leader")
	}
	if f.overlap.Load() {
		t.Fatal("the periodic job ran on both processes at once")
	}
}

// A leader's job in progress is canceled when its process learns that
// another took the lease (its own lease ran out unrenewed).
func TestFleetLeaderJobCanceledWhenTheLeaseIsLost(t *testing.T) {
	leaseOnTheTestClock(t)
	f := newFleet(t)
	started, canceled := make(chan struct{}), make(chan struct{})
	if err := f.a.Jobs().Add("long", "@every 1h", func(ctx context.Context) error {
		close(started)
		<-ctx.Done()
		close(canceled)
		return ctx.Err()
	}); err != nil {
		t.Fatal(err)
	}
	beat(t, f.a)
	go func() { _ = f.a.Jobs().RunNow("long") }()
	<-started
	f.h.clock.Advance(16 * time.Second)
	beat(t, f.b)
	if !f.b.IsLeader() {
		t.Fatal("B did not take over the expired lease")
	}
	beat(t, f.a)
	select {
	case <-canceled:
	case <-time.After(10 * time.Second):
		t.Fatal("A's job ran on after A lost the lease")
	}
}

// A process that shuts down resigns: the other takes the lease over at its
// next heartbeat, with no wait for the lease, and the leaver's row goes.
func TestFleetShutdownHandsOverAtOnce(t *testing.T) {
	f := newFleet(t)
	beat(t, f.a)
	beat(t, f.b)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- f.a.Run(ctx) }()
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if f.a.IsLeader() {
		t.Fatal("A leads after its shutdown")
	}
	beat(t, f.b) // the clock has not moved: A's lease would still be live
	if !f.b.IsLeader() {
		t.Fatal("B did not take over the resigned lease at once")
	}
	if got := instances(t, f.b); len(got) != 1 || got[0].ID != "B" {
		t.Fatalf("instances after A's shutdown: %+v", got)
	}
}

// A leader whose lease runs out unrenewed (its heartbeats hang or stop)
// cancels its job in progress when the lease ends, on its own, without
// waiting for a heartbeat to tell it.
func TestFleetLeaderJobCanceledWhenTheLeaseRunsOut(t *testing.T) {
	h := newRealHarness(t, func(c *scheduler.Config) {
		c.Owner, c.Heartbeat, c.LeaderTTL = "A", 50*time.Millisecond, 300*time.Millisecond
	})
	started, canceled := make(chan struct{}), make(chan time.Time)
	if err := h.eng.Jobs().Add("long", "@every 1h", func(ctx context.Context) error {
		close(started)
		<-ctx.Done()
		canceled <- time.Now()
		return ctx.Err()
	}); err != nil {
		t.Fatal(err)
	}
	elected := time.Now()
	beat(t, h.eng)
	go func() { _ = h.eng.Jobs().RunNow("long") }()
	<-started
	select {
	case at := <-canceled:
		if at.Sub(elected) < 300*time.Millisecond {
			t.Fatalf("canceled %v after the election, before the lease ran out", at.Sub(elected))
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the job ran on past the lease")
	}
	if h.eng.IsLeader() {
		t.Fatal("leader past its lease")
	}
}

// leaseOnTheTestClock skips a test that expires the leader's lease by
// moving the test clock: the PostgreSQL driver times leases by the
// database's now() (internal/db/postgres/leader_test.go covers them there).
func leaseOnTheTestClock(t *testing.T) {
	t.Helper()
	testkit.SQLiteOnly(t, "the lease expires on the test clock; PostgreSQL's runs on the database's now()")
}
