package bench

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/reminderd/reminderd/internal/db/pgtest"
)

// The fleet mode on PostgreSQL: for each size it starts that many engines
// (app.New instances here; `reminderd bench` starts processes), every
// reminder is sent exactly once at the fake and recorded, the figures are
// filled in, only the fleet is measured, and the schemas are dropped.
func TestFleetOnPostgres(t *testing.T) {
	if testing.Short() {
		t.Skip("runs two fleets")
	}
	u := pgtest.Database(t)
	var started atomic.Int64
	start := func(ctx context.Context, s EngineSpec) (func(), error) {
		started.Add(1)
		if s.Concurrency != 4 || !strings.Contains(s.DB, "search_path=reminderd_bench_fleet") {
			t.Errorf("engine spec: concurrency %d, db has the run's schema: %v", s.Concurrency, strings.Contains(s.DB, "search_path=reminderd_bench_fleet"))
		}
		return InProcessEngine(ctx, s)
	}
	res, err := Run(context.Background(), Options{DB: u, N: 120, Fleet: []int{1, 2}, FleetLatency: 5 * time.Millisecond,
		Concurrency: 4, StartEngine: start, FleetMode: "test", Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if started.Load() != 3 {
		t.Errorf("%d engines started, want 1 + 2", started.Load())
	}
	f := res.Fleet
	if f == nil || f.Mode != "test" || f.Concurrency != 4 || len(f.Runs) != 2 {
		t.Fatalf("fleet %+v", f)
	}
	for i, r := range f.Runs {
		if r.Engines != i+1 || r.N != 120 || r.LatencyMS != 5 || !r.SentExactlyOnce || r.SendsPerSec <= 0 ||
			r.LatenessP99MS < r.LatenessP50MS || r.LatenessMaxMS < r.LatenessP99MS || r.Speedup <= 0 {
			t.Errorf("run %d: %+v", i, r)
		}
	}
	if f.Runs[0].Speedup != 1 {
		t.Errorf("the first size's speedup %v, want 1", f.Runs[0].Speedup)
	}
	if len(res.Pipelines) != 0 || len(res.Scans) != 0 || res.API.Creates != 0 {
		t.Errorf("the fleet mode measured more: %+v", res)
	}
	sum := Summary(res)
	if !strings.Contains(sum, "fleet (engines: test; 4 sends in flight each)") || !strings.Contains(sum, "2 engine(s), 120 due at once") || strings.Contains(sum, "API:") {
		t.Errorf("summary:\n%s", sum)
	}
	ctx := context.Background()
	c, err := pgx.Connect(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	var left int
	if err := c.QueryRow(ctx, `SELECT count(*) FROM pg_namespace WHERE nspname LIKE 'reminderd_bench_%'`).Scan(&left); err != nil || left != 0 {
		t.Fatalf("%d bench schemas left (%v)", left, err)
	}
}

// The fleet mode refuses SQLite.
func TestFleetNeedsPostgres(t *testing.T) {
	_, err := Run(context.Background(), Options{N: 10, Fleet: []int{1}, Dir: t.TempDir()})
	if err == nil || !strings.Contains(err.Error(), "PostgreSQL") {
		t.Fatalf("err %v", err)
	}
}
