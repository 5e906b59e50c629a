package bench

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/reminderd/reminderd/internal/db/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// A small run on PostgreSQL: the pipeline sends each reminder once, the
// creates and the scans complete, the SQLite-only figures are left out, and
// every run's schema is dropped after it.
func TestRunOnPostgres(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the pipeline, the API and the scans")
	}
	u := pgtest.Database(t)
	res, err := Run(context.Background(), Options{DB: u, N: 300, Latencies: []time.Duration{0}, SteadyPerMin: -1, APICreates: 300,
		ScanSizes: []int{1000, 2000}, ScanReps: 3, Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if res.Store != "postgres" || len(res.Pipelines) != 1 {
		t.Fatalf("store %q, %d pipeline runs", res.Store, len(res.Pipelines))
	}
	if p := res.Pipelines[0]; !p.SentExactlyOnce || p.SendsPerSec <= 0 || p.CeilingPerSec <= 0 || p.CommitsPerSend != 0 {
		t.Errorf("pipeline %+v", p)
	}
	if res.API.Creates != 300 || res.API.ErrorCount != 0 || res.API.PerSec <= 0 {
		t.Errorf("api %+v", res.API)
	}
	if len(res.Scans) != 2 || res.ScanRatio <= 0 || res.Scans[1].ClaimMicros <= 0 {
		t.Errorf("scans %+v, ratio %v", res.Scans, res.ScanRatio)
	}
	if res.Floor.N != 0 {
		t.Errorf("floor measured on PostgreSQL: %+v", res.Floor)
	}
	if sum := Summary(res); !strings.Contains(sum, "store: postgres") || !strings.Contains(sum, "not counted on PostgreSQL") || strings.Contains(sum, "floor:") {
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
