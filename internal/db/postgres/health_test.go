package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/reminderd/reminderd/internal/db/pgtest"
	"github.com/reminderd/reminderd/internal/db/postgres"
	"github.com/reminderd/reminderd/internal/store"
)

// probeClock is a settable Options.Now.
type probeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *probeClock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }

func (c *probeClock) advance(d time.Duration) { c.mu.Lock(); defer c.mu.Unlock(); c.t = c.t.Add(d) }

// Writable probes at most once per ProbeEvery; a write that failed for
// want of space fails it until a probe commits again.
func TestWritableProbesRateLimitedAndFullIsSticky(t *testing.T) {
	ctx := context.Background()
	url := pgtest.Database(t)
	clk := &probeClock{t: time.UnixMilli(1_800_000_000_000)}
	d, err := postgres.Open(ctx, url, postgres.Options{Now: clk.now})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if err := d.Writable(ctx); err != nil {
		t.Fatalf("a new store: %v", err)
	}
	// Another session holds consent_grants: a probe would wait on it.
	c := connect(t, url)
	tx, err := c.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, "LOCK TABLE consent_grants IN ACCESS EXCLUSIVE MODE"); err != nil {
		t.Fatal(err)
	}
	clk.advance(postgres.ProbeEvery / 2)
	if err := d.Writable(ctx); err != nil {
		t.Fatalf("within ProbeEvery of a good probe: %v, want the cached answer", err)
	}
	// A write failed for want of space: the cached success is stale, and
	// the probe that follows must commit (here it cannot, the table is
	// held, and times out).
	full := fmt.Errorf("insert: %w", store.ErrFull)
	d.NoteWriteError(full)
	if err := d.Writable(ctx); err == nil {
		t.Fatal("writable after a write failed for want of space, with the probe's table held")
	}
	clk.advance(postgres.ProbeEvery / 2)
	if err := d.Writable(ctx); err == nil {
		t.Fatal("the failed probe's answer was not kept for ProbeEvery")
	}
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	clk.advance(postgres.ProbeEvery)
	if err := d.Writable(ctx); err != nil {
		t.Fatalf("after the table was freed: %v", err)
	}
	// The committing probe left no row behind.
	var n int
	if err := c.QueryRow(ctx, "SELECT count(*) FROM consent_grants").Scan(&n); err != nil || n != 0 {
		t.Fatalf("consent_grants holds %d rows (%v) after the probes", n, err)
	}
	// An error not for want of space changes nothing.
	d.NoteWriteError(errors.New("some failure"))
	if err := d.Writable(ctx); err != nil {
		t.Fatal(err)
	}
	if v, latest, err := d.Schema(ctx); err != nil || v != latest || latest != postgres.LatestVersion() {
		t.Fatalf("schema %d of %d, %v", v, latest, err)
	}
	if d.Integrity() != store.IntegrityNotRun {
		t.Fatalf("integrity %v", d.Integrity())
	}
}
