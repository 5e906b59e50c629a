package scheduler

import (
	"testing"
	"time"

	"github.com/reminderd/reminderd/internal/store"
)

// Only a claim made unmarked goes without the per-send lease, and only
// while the lease is held and before it runs out: a claim marked unstarted
// and sent without the per-send lease (which marks it started) would be
// given back by a rescue as never sent.
func TestSoleSendsWithoutTheLeaseOnlyUnmarkedClaimsWhileHeld(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	s := &sole{active: true, state: store.SoleHeld, heldUntil: t0.Add(time.Second), shareUntil: t0.Add(time.Minute)}
	if s.startFree(store.Claim{}, t0) {
		t.Fatal("a marked claim went without the per-send lease")
	}
	if !s.startFree(store.Claim{StartsUnmarked: true}, t0) || s.free != 1 {
		t.Fatalf("an unmarked claim of the holder: not free (%d in flight)", s.free)
	}
	if s.stillHeld(t0.Add(time.Second)) || s.startFree(store.Claim{StartsUnmarked: true}, t0.Add(time.Second)) {
		t.Fatal("a send went without the per-send lease after it ran out")
	}
	s.doneFree()
	for _, st := range []store.SoleState{store.SoleYielding, store.SoleFree, store.SoleOther} {
		s.state = st
		if s.startFree(store.Claim{StartsUnmarked: true}, t0) {
			t.Fatalf("a send went without the per-send lease in state %d", st)
		}
	}
	// Before the first tick (an engine driven without Run) every send
	// takes the per-send lease, and claims are marked.
	idle := &sole{}
	if idle.startFree(store.Claim{StartsUnmarked: true}, t0) {
		t.Fatal("an engine that never ticked sent without the per-send lease")
	}
	if ok, mark := idle.claimMode(t0); !ok || !mark {
		t.Fatalf("an engine that never ticked: claim %v, mark %v; want a marked claim", ok, mark)
	}
	// While another process holds it, nothing is claimed or sent.
	other := &sole{active: true, state: store.SoleOther}
	if ok, _ := other.claimMode(t0); ok || other.mayShare(t0) {
		t.Fatal("a process beside another sole sender claimed or sent")
	}
}

// The metric tells a process whose ticks fail (what the last one granted
// has run out: it sends nothing) from one that was told the lease is free.
func TestSoleSenderMetricSaysUnknownWhenTheGrantRanOut(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	now := t0
	e := &Engine{sole: &sole{now: func() time.Time { return now }}}
	if got := e.SoleSender(); got != "" {
		t.Fatalf("before the first tick: %q; want none", got)
	}
	e.sole.active, e.sole.state, e.sole.shareUntil = true, store.SoleFree, t0.Add(15*time.Second)
	if got := e.SoleSender(); got != "free" {
		t.Fatalf("free, granted: %q", got)
	}
	now = t0.Add(15 * time.Second)
	if got := e.SoleSender(); got != "unknown" {
		t.Fatalf("free, the grant run out: %q; want unknown", got)
	}
	e.sole.state = store.SoleOther
	if got := e.SoleSender(); got != "other" {
		t.Fatalf("another's: %q", got)
	}
}
