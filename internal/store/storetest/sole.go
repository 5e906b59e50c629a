package storetest

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/reminderd/reminderd/internal/store"
)

// The sole-sender lease (EngineStore.SoleSender) on either clock, as the
// leader's tests do: a live lease lasts a minute and one given a ttl of 0
// has run out by the next tick; an instance judged with a window of an
// hour is live, with a window of 0 stale; a grace of an hour keeps a run
// out lease another's, a grace of 0 does not.

func soleTick(t *testing.T, s store.EngineStore, id string, want bool, ttl, grace, window time.Duration) store.SoleState {
	t.Helper()
	st, err := s.SoleSender(context.Background(), store.Instance{ID: id, Host: "h", StartedAt: et0}, want, et0, ttl, grace, window)
	if err != nil {
		t.Fatalf("tick of %s: %v", id, err)
	}
	return st
}

var soleNames = map[store.SoleState]string{store.SoleFree: "free", store.SoleHeld: "held", store.SoleYielding: "yielding", store.SoleOther: "other's"}

func wantSole(t *testing.T, who string, got, want store.SoleState) {
	t.Helper()
	if got != want {
		t.Fatalf("%s: the sole-sender lease is %s; want %s", who, soleNames[got], soleNames[want])
	}
}

// A process alone takes the lease and renews it; a process that appears
// is refused it (and must not send) while it is live.
func testSoleAloneTakes(t *testing.T, s store.EngineStore) {
	const hour = time.Hour
	wantSole(t, "A alone", soleTick(t, s, "A", true, time.Minute, hour, hour), store.SoleHeld)
	wantSole(t, "A again", soleTick(t, s, "A", true, time.Minute, hour, hour), store.SoleHeld)
	wantSole(t, "B beside A", soleTick(t, s, "B", true, time.Minute, hour, hour), store.SoleOther)
	// Its heartbeat is the tick's: GET /admin/v1/instances lists both.
	in, err := s.Instances(context.Background(), leaderName, et0, hour)
	if err != nil {
		t.Fatal(err)
	}
	if len(in) != 2 {
		t.Fatalf("instances %+v; want A and B", in)
	}
}

// The holder that sees another process yields: it keeps the lease,
// unrenewed, until it gives it up (want false); only then does the other
// process send, with the per-send lease, and neither takes the lease while
// the other is live.
func testSoleHolderYields(t *testing.T, s store.EngineStore) {
	const hour = time.Hour
	wantSole(t, "A alone", soleTick(t, s, "A", true, time.Minute, hour, hour), store.SoleHeld)
	wantSole(t, "B appears", soleTick(t, s, "B", true, time.Minute, hour, hour), store.SoleOther)
	wantSole(t, "A sees B", soleTick(t, s, "A", true, time.Minute, hour, hour), store.SoleYielding)
	wantSole(t, "B while A yields", soleTick(t, s, "B", true, time.Minute, hour, hour), store.SoleOther)
	wantSole(t, "A gives it up", soleTick(t, s, "A", false, time.Minute, hour, hour), store.SoleFree)
	wantSole(t, "B after", soleTick(t, s, "B", true, time.Minute, hour, hour), store.SoleFree)
	wantSole(t, "A after", soleTick(t, s, "A", true, time.Minute, hour, hour), store.SoleFree)
	// A process that stops being seen leaves the other alone.
	wantSole(t, "B, A stale", soleTick(t, s, "B", true, time.Minute, hour, 0), store.SoleHeld)
}

// A holder that died without giving the lease up blocks the others until
// it has run out and the grace after it has passed.
func testSoleDeadHolder(t *testing.T, s store.EngineStore) {
	wantSole(t, "A alone", soleTick(t, s, "A", true, 0, time.Hour, time.Hour), store.SoleHeld)
	wantSole(t, "B within the grace", soleTick(t, s, "B", true, time.Minute, time.Hour, 0), store.SoleOther)
	wantSole(t, "B after the grace", soleTick(t, s, "B", true, time.Minute, 0, 0), store.SoleHeld)
	wantSole(t, "A back", soleTick(t, s, "A", true, time.Minute, time.Hour, time.Hour), store.SoleOther)
}

// Another holder's live user send lease is a process that may be sending,
// even when its instance row is stale: the lease is not taken while it
// lasts.
func testSoleWaitsForUserSendLeases(t *testing.T, s store.EngineStore) {
	ctx := context.Background()
	until := time.Now().Add(time.Hour) // after et0 and after the database's now()
	if until.Before(et0) {
		until = et0.Add(time.Hour)
	}
	if ok, err := s.AcquireUserSend(ctx, "oC", "C", et0, until, "", 0); err != nil || !ok {
		t.Fatalf("C's lease: %v, %v", ok, err)
	}
	wantSole(t, "A while C sends", soleTick(t, s, "A", true, time.Minute, 0, 0), store.SoleFree)
	if err := s.ReleaseUserSend(ctx, "oC", "C"); err != nil {
		t.Fatal(err)
	}
	wantSole(t, "A after C", soleTick(t, s, "A", true, time.Minute, 0, 0), store.SoleHeld)
}

// Processes ticking at once for a free lease: at most one holds it, and
// then every other is refused it: never one holding it while another is
// told it is free (that one would send beside a sender without leases).
func testSoleOneAtATime(t *testing.T, s store.EngineStore) {
	const n = 8
	var wg sync.WaitGroup
	got := make([]store.SoleState, n)
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			got[i], errs[i] = s.SoleSender(context.Background(), store.Instance{ID: fmt.Sprintf("p%d", i), StartedAt: et0}, true, et0,
				time.Minute, time.Hour, time.Hour)
		})
	}
	wg.Wait()
	held, free := 0, 0
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("p%d: %v", i, errs[i])
		}
		switch got[i] {
		case store.SoleHeld:
			held++
		case store.SoleFree:
			free++
		}
	}
	if held > 1 || held == 1 && free > 0 {
		t.Fatalf("states %v: %d held and %d told free", got, held, free)
	}
}
