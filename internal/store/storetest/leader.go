package storetest

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/reminderd/reminderd/internal/store"
)

// The fleet's tests hold on either clock a driver may judge the lease by
// (the instant passed in on SQLite, the database's now() on PostgreSQL):
// a live lease lasts a minute, an expired one is given a ttl of 0 (it
// expires at its election, so any later election finds it expired), and
// a stale process is judged with a window that ends after now.

const leaderName = "periodic_jobs"

func elect(t *testing.T, s store.EngineStore, holder string, ttl time.Duration) bool {
	t.Helper()
	ok, err := s.ElectLeader(context.Background(), leaderName, holder, et0, ttl)
	if err != nil {
		t.Fatalf("elect %s: %v", holder, err)
	}
	return ok
}

// Candidates racing for a free lease: exactly one wins, and the others
// lose again while its lease is live.
func testLeaderOneWins(t *testing.T, s store.EngineStore) {
	const n = 8
	var wg sync.WaitGroup
	won := make([]bool, n)
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			won[i], errs[i] = s.ElectLeader(context.Background(), leaderName, fmt.Sprintf("p%d", i), et0, time.Minute)
		})
	}
	wg.Wait()
	winner := -1
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("candidate %d: %v", i, errs[i])
		}
		if won[i] {
			if winner >= 0 {
				t.Fatalf("candidates %d and %d both won the lease", winner, i)
			}
			winner = i
		}
	}
	if winner < 0 {
		t.Fatal("no candidate won a free lease")
	}
	for i := range n {
		if i != winner && elect(t, s, fmt.Sprintf("p%d", i), time.Minute) {
			t.Fatalf("p%d took p%d's live lease", i, winner)
		}
	}
}

// The holder re-elects (renews) its lease; another candidate still loses.
func testLeaderReelects(t *testing.T, s store.EngineStore) {
	if !elect(t, s, "A", time.Minute) {
		t.Fatal("A lost a free lease")
	}
	for range 3 {
		if !elect(t, s, "A", time.Minute) {
			t.Fatal("the holder could not re-elect")
		}
		if elect(t, s, "B", time.Minute) {
			t.Fatal("B took A's renewed lease")
		}
	}
	// A lease of another name is another election.
	if ok, err := s.ElectLeader(context.Background(), "other", "B", et0, time.Minute); err != nil || !ok {
		t.Fatalf("B on another lease: %v, %v", ok, err)
	}
}

// An expired lease is taken over; its old holder then loses it.
func testLeaderTakeover(t *testing.T, s store.EngineStore) {
	if !elect(t, s, "A", 0) {
		t.Fatal("A lost a free lease")
	}
	if !elect(t, s, "B", time.Minute) {
		t.Fatal("B could not take over A's expired lease")
	}
	if elect(t, s, "A", time.Minute) {
		t.Fatal("A re-elected after B took its lease over")
	}
}

// Resign frees the lease at once, and only its holder's resign does.
func testLeaderResign(t *testing.T, s store.EngineStore) {
	ctx := context.Background()
	if !elect(t, s, "A", time.Minute) {
		t.Fatal("A lost a free lease")
	}
	if err := s.ResignLeader(ctx, leaderName, "B"); err != nil {
		t.Fatal(err)
	}
	if elect(t, s, "C", time.Minute) {
		t.Fatal("B's resign freed A's lease")
	}
	if err := s.ResignLeader(ctx, leaderName, "A"); err != nil {
		t.Fatal(err)
	}
	if !elect(t, s, "C", time.Minute) {
		t.Fatal("C could not take the lease A resigned")
	}
	if err := s.ResignLeader(ctx, leaderName, "A"); err != nil {
		t.Fatalf("resigning a lease not held: %v", err)
	}
}

// The processes that heartbeat are listed, oldest first, the lease's
// holder flagged leader; one that left, or was forgotten, is not, nor is
// the holder of an expired lease a leader.
func testInstances(t *testing.T, s store.EngineStore) {
	ctx := context.Background()
	list := func(stale time.Duration) []store.Instance {
		t.Helper()
		got, err := s.Instances(ctx, leaderName, et0, stale)
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	beat := func(id string, forget time.Duration) {
		t.Helper()
		if err := s.Heartbeat(ctx, store.Instance{ID: id, Host: "vm-" + id, StartedAt: et0}, et0, forget); err != nil {
			t.Fatal(err)
		}
	}
	if got := list(time.Minute); len(got) != 0 {
		t.Fatalf("no heartbeat yet: %+v", got)
	}
	beat("A", time.Minute)
	beat("B", time.Minute)
	beat("A", time.Minute) // a second heartbeat is one row
	if !elect(t, s, "B", time.Minute) {
		t.Fatal("B lost a free lease")
	}
	got := list(time.Minute)
	if len(got) != 2 || got[0].ID != "A" || got[1].ID != "B" {
		t.Fatalf("instances: %+v, want A then B", got)
	}
	for _, in := range got {
		if in.Host != "vm-"+in.ID || in.StartedAt.IsZero() || in.LastSeenAt.Before(in.StartedAt) || in.Leader != (in.ID == "B") {
			t.Fatalf("instance %+v", in)
		}
	}
	if got := list(-time.Minute); len(got) != 0 {
		t.Fatalf("a window ending after every heartbeat lists %+v", got)
	}
	// The leader's lease expires: it is listed, no longer leader.
	if err := s.ResignLeader(ctx, leaderName, "B"); err != nil {
		t.Fatal(err)
	}
	if !elect(t, s, "B", 0) {
		t.Fatal("B lost a free lease")
	}
	for _, in := range list(time.Minute) {
		if in.Leader {
			t.Fatalf("%s listed leader on an expired lease", in.ID)
		}
	}
	// A leaves; B's heartbeat forgets C, which was not seen since.
	if err := s.LeaveFleet(ctx, "A"); err != nil {
		t.Fatal(err)
	}
	beat("C", time.Minute)
	beat("B", -time.Minute)
	if got := list(time.Minute); len(got) != 1 || got[0].ID != "B" {
		t.Fatalf("after A left and C was forgotten: %+v, want B", got)
	}
}
