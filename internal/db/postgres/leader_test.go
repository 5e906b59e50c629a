package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/reminderd/reminderd/internal/db/pgtest"
	"github.com/reminderd/reminderd/internal/db/postgres"
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

// A newcomer's tick that holds the sole-sender lease's row (its heartbeat
// written, not yet committed) makes a lone process's tick wait for it; the
// lone process, reading after the lock is granted, sees the newcomer and
// does not take the lease. This holds on a server whose default isolation
// is REPEATABLE READ too, where a snapshot taken before the wait would miss
// the newcomer: the driver's transactions are READ COMMITTED whatever the
// default.
func TestSoleSenderTakeWaitsForANewcomersTick(t *testing.T) {
	ctx := context.Background()
	url := pgtest.Database(t)
	raw, err := pgxpool.New(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	if _, err := raw.Exec(ctx, `DO $$ BEGIN EXECUTE format('ALTER DATABASE %I SET default_transaction_isolation = %L', current_database(), 'repeatable read'); END $$`); err != nil {
		t.Fatal(err)
	}
	d, err := postgres.Open(ctx, url, postgres.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	check, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	var iso string
	err = check.QueryRow(ctx, `SHOW default_transaction_isolation`).Scan(&iso)
	check.Close(ctx)
	if err != nil || iso != "repeatable read" {
		t.Fatalf("the test's server default: %q, %v", iso, err)
	}
	// A ticks once: its row exists, the lease is created free (A holds it).
	if st, err := d.SoleSender(ctx, store.Instance{ID: "A"}, false, time.Now(), time.Minute, time.Hour, time.Hour); err != nil || st != store.SoleFree {
		t.Fatalf("A's first tick: %v, %v", st, err)
	}
	// B's tick, by hand: heartbeat, then the lease's row locked.
	tx, err := raw.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, `INSERT INTO instances (id, host, started_at, last_seen_at)
		VALUES ('B', '', (extract(epoch FROM now()) * 1000)::bigint, (extract(epoch FROM now()) * 1000)::bigint)`); err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, `SELECT holder FROM leader WHERE name = 'sole_sender' FOR UPDATE`); err != nil {
		t.Fatal(err)
	}
	got := make(chan store.SoleState, 1)
	go func() {
		st, err := d.SoleSender(ctx, store.Instance{ID: "A"}, true, time.Now(), time.Minute, time.Hour, time.Hour)
		if err != nil {
			t.Error(err)
		}
		got <- st
	}()
	// A's tick is waiting on the row's lock: B's transaction blocks it.
	for waiting := false; !waiting; {
		if err := raw.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE datname = current_database()
			AND wait_event_type = 'Lock' AND query LIKE '%LockSoleSender%')`).Scan(&waiting); err != nil {
			t.Fatal(err)
		}
		select {
		case st := <-got:
			t.Fatalf("A's tick did not wait for B's lock: %v", st)
		default:
		}
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if st := <-got; st == store.SoleHeld {
		t.Fatal("A took the sole-sender lease beside B, whose tick committed before A's read")
	}
}

// A tick never waits long for the lease's row: a transaction that holds it
// (a process cut off mid-tick) makes the tick fail after its lock timeout,
// not hang, even with no deadline of the caller's.
func TestSoleSenderTickDoesNotWaitForeverForTheRow(t *testing.T) {
	ctx := context.Background()
	url := pgtest.Database(t)
	d, err := postgres.Open(ctx, url, postgres.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if _, err := d.SoleSender(ctx, store.Instance{ID: "A"}, false, time.Now(), time.Minute, time.Hour, time.Hour); err != nil {
		t.Fatal(err)
	}
	raw, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close(ctx)
	tx, err := raw.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, `SELECT holder FROM leader WHERE name = 'sole_sender' FOR UPDATE`); err != nil {
		t.Fatal(err)
	}
	if _, err := d.SoleSender(ctx, store.Instance{ID: "B"}, true, time.Now(), time.Minute, time.Hour, time.Hour); err == nil {
		t.Fatal("B's tick got the lease's row while another transaction held it")
	}
}
