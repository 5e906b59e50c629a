package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/reminderd/reminderd/internal/scheduler"
	"github.com/reminderd/reminderd/internal/store"
	"github.com/reminderd/reminderd/internal/wechat"
)

// The lease is judged on the database's clock: a process whose machine's
// clock runs an hour ahead cannot take a live lease, nor one an hour
// behind keep an expired one; the instances' last_seen_at is the
// server's instant whatever the caller's clock says.
func TestLeaderOnTheDatabaseClock(t *testing.T) {
	ctx := context.Background()
	procs, _ := openTwo(t)
	wall := time.Now()
	if ok, err := procs[0].ElectLeader(ctx, scheduler.LeaderName, "A", wall.Add(-time.Hour), time.Minute); err != nil || !ok {
		t.Fatalf("A on a free lease: %v, %v", ok, err)
	}
	if ok, err := procs[1].ElectLeader(ctx, scheduler.LeaderName, "B", wall.Add(time.Hour), time.Minute); err != nil || ok {
		t.Fatalf("B, its clock an hour ahead, on A's live lease: %v, %v", ok, err)
	}
	if err := procs[1].Heartbeat(ctx, store.Instance{ID: "B", Host: "vm-b", StartedAt: wall.Add(time.Hour)}, wall.Add(time.Hour), time.Minute); err != nil {
		t.Fatal(err)
	}
	got, err := procs[0].Instances(ctx, scheduler.LeaderName, wall.Add(-time.Hour), time.Minute)
	if err != nil || len(got) != 1 || got[0].ID != "B" || got[0].Leader {
		t.Fatalf("instances: %+v, %v", got, err)
	}
	if d := got[0].LastSeenAt.Sub(wall); d < -time.Minute || d > time.Minute {
		t.Fatalf("last_seen_at %v is the caller's clock, not the server's (%v)", got[0].LastSeenAt, wall)
	}
}

// Two processes' candidates contending in many rounds at once (a fresh
// lease each round): exactly one wins; then all of them again, at once,
// and only the winner's renewal holds.
func TestLeaderContendedRounds(t *testing.T) {
	ctx := context.Background()
	procs, _ := openTwo(t)
	contend := func(name string) []bool {
		won := make([]bool, 6)
		var wg sync.WaitGroup
		for i := range won {
			wg.Go(func() {
				ok, err := procs[i%2].ElectLeader(ctx, name, fmt.Sprintf("p%d", i), time.Now(), time.Minute)
				if err != nil {
					t.Error(err)
				}
				won[i] = ok
			})
		}
		wg.Wait()
		return won
	}
	for round := range 20 {
		name := fmt.Sprintf("round-%d", round)
		first, again := contend(name), contend(name)
		winner := -1
		for i, ok := range first {
			if ok {
				if winner >= 0 {
					t.Fatalf("round %d: p%d and p%d both won", round, winner, i)
				}
				winner = i
			}
		}
		if winner < 0 {
			t.Fatalf("round %d: nobody won a free lease", round)
		}
		for i, ok := range again {
			if ok != (i == winner) {
				t.Fatalf("round %d, renewals: %v, winner p%d", round, again, winner)
			}
		}
	}
}

type noSender struct{}

func (noSender) Send(context.Context, wechat.SendRequest) (wechat.SendResult, error) {
	return wechat.SendResult{}, errors.New("no sends in this test")
}

type noTemplates struct{}

func (noTemplates) Get(string) (*wechat.Template, bool) { return nil, false }

// Two engines on one PostgreSQL database: the first to heartbeat leads and
// alone runs the periodic jobs, the due scan runs on both, and a shutdown
// hands the leadership over at the other's next heartbeat.
func TestTwoEnginesOneLeader(t *testing.T) {
	ctx := context.Background()
	procs, _ := openTwo(t)
	var runs [2]atomic.Int64
	var engines [2]*scheduler.Engine
	for i, d := range procs {
		e, err := scheduler.New(scheduler.Config{Store: d, Sender: noSender{}, Templates: noTemplates{},
			Owner: fmt.Sprintf("proc-%d", i), Host: fmt.Sprintf("vm-%d", i)})
		if err != nil {
			t.Fatal(err)
		}
		if err := e.Jobs().Add("periodic", "@every 1h", func(context.Context) error { runs[i].Add(1); return nil }); err != nil {
			t.Fatal(err)
		}
		engines[i] = e
	}
	for _, e := range engines {
		if err := e.Heartbeat(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if !engines[0].IsLeader() || engines[1].IsLeader() {
		t.Fatalf("leaders: %v, %v", engines[0].IsLeader(), engines[1].IsLeader())
	}
	for _, e := range engines {
		if err := e.Jobs().RunNow("periodic"); err != nil && !errors.Is(err, scheduler.ErrNotLeader) {
			t.Fatal(err)
		}
		if err := e.Jobs().RunNow("due_scan"); err != nil {
			t.Fatalf("the due scan: %v", err)
		}
	}
	if runs[0].Load() != 1 || runs[1].Load() != 0 {
		t.Fatalf("periodic runs: %d, %d", runs[0].Load(), runs[1].Load())
	}
	got, err := engines[1].Instances(ctx)
	if err != nil || len(got) != 2 || !got[0].Leader || got[0].ID != "proc-0" || got[1].Leader {
		t.Fatalf("instances: %+v, %v", got, err)
	}

	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- engines[0].Run(runCtx) }()
	stop()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if err := engines[1].Heartbeat(ctx); err != nil {
		t.Fatal(err)
	}
	if !engines[1].IsLeader() {
		t.Fatal("the survivor did not take over the resigned lease at once")
	}
	if err := engines[1].Jobs().RunNow("periodic"); err != nil || runs[1].Load() != 1 {
		t.Fatalf("the new leader's periodic run: %v, %d", err, runs[1].Load())
	}
	got, err = engines[1].Instances(ctx)
	if err != nil || len(got) != 1 || got[0].ID != "proc-1" || !got[0].Leader || got[0].Host != "vm-1" {
		t.Fatalf("instances after the shutdown: %+v, %v", got, err)
	}
}
