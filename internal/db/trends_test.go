package db_test

import (
	"context"
	"database/sql"
	"github.com/reminderd/reminderd/internal/db/dbsqlc"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/reminderd/reminderd/internal/db"
	"github.com/reminderd/reminderd/internal/store"
	"github.com/reminderd/reminderd/internal/testkit"
)

// The engine page's chart reads the deliveries from FirstDeliverySince on: a
// bisection of the primary key for the first delivery at or after an
// instant, as the deliveries have no index on their instants. These tests
// compare it with brute-force SQL over a real database.

// delivery is a row to insert: ids follow the outcomes (finished), a start
// is at most a lease before its outcome.
type delivery struct {
	id, started, finished int64
}

// trendReminder creates the reminder the deliveries belong to.
func trendReminder(t *testing.T, st *db.DB) string {
	t.Helper()
	r, err := st.CreateReminder(context.Background(), store.NewReminder{ID: "rem_trend", OpenID: "oA", TemplateID: "t",
		FireAt: testkit.T0.Add(time.Hour), Timezone: "UTC", Data: "{}", CreatedAt: testkit.T0})
	if err != nil {
		t.Fatal(err)
	}
	return r.ID
}

func insertDeliveries(t *testing.T, st *db.DB, reminder string, ds []delivery) {
	t.Helper()
	if _, err := st.W.Exec(`DELETE FROM deliveries`); err != nil {
		t.Fatal(err)
	}
	for i, d := range ds {
		if _, err := st.W.Exec(`INSERT INTO deliveries (id, reminder_id, occurrence_at, attempt, status, started_at, finished_at)
			VALUES (?, ?, ?, 1, 'failed', ?, ?)`, d.id, reminder, i, d.started, d.finished); err != nil {
			t.Fatal(err)
		}
	}
}

// bruteFirst is the smallest id of a delivery the chart counts from since
// on (coalesce(finished_at, started_at) >= since, as DeliveriesPerHour),
// or false when there is none.
func bruteFirst(t *testing.T, st *db.DB, since int64) (int64, bool) {
	t.Helper()
	var id sql.NullInt64
	if err := st.W.QueryRow(`SELECT min(id) FROM deliveries WHERE coalesce(finished_at, started_at) >= ?`, since).Scan(&id); err != nil {
		t.Fatal(err)
	}
	return id.Int64, id.Valid
}

// rowAt is the first delivery at or after id, the one the chart reads first
// from id on (ids between two rows are the same answer), -1 when none is.
func rowAt(t *testing.T, st *db.DB, id int64) int64 {
	t.Helper()
	var r int64
	if err := st.W.QueryRow(`SELECT coalesce(min(id), -1) FROM deliveries WHERE id >= ?`, id).Scan(&r); err != nil {
		t.Fatal(err)
	}
	return r
}

func firstSince(t *testing.T, st *db.DB, since int64, slack time.Duration) int64 {
	t.Helper()
	id, err := db.FirstDeliverySince(context.Background(), st.Read, time.UnixMilli(since), slack)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// checkBounds: no delivery the chart counts is before the answer, the
// answer skips every delivery recorded more than slack before since (the
// read is bounded), and the chart's counts from it are a full scan's.
func checkBounds(t *testing.T, st *db.DB, since int64, slack time.Duration) {
	t.Helper()
	got := firstSince(t, st, since, slack)
	if first, ok := bruteFirst(t, st, since); ok && got > first {
		t.Fatalf("since %d: answer %d skips delivery %d, which the chart counts", since, got, first)
	}
	var early sql.NullInt64
	if err := st.W.QueryRow(`SELECT min(id) FROM deliveries WHERE id >= ? AND coalesce(finished_at, started_at) < ?`,
		got, since-slack.Milliseconds()).Scan(&early); err != nil {
		t.Fatal(err)
	}
	if early.Valid {
		t.Fatalf("since %d: answer %d reads delivery %d, recorded more than slack (%v) before since", since, got, early.Int64, slack)
	}
	ctx := context.Background()
	// The chart's read (the store's operation) against a scan of them all.
	fast, err := st.DeliveriesPerHour(ctx, time.UnixMilli(since), slack)
	if err != nil {
		t.Fatal(err)
	}
	full, err := st.Read.DeliveriesPerHour(ctx, dbsqlc.DeliveriesPerHourParams{Since: since, FromID: 0})
	if err != nil {
		t.Fatal(err)
	}
	if len(fast) != len(full) {
		t.Fatalf("since %d: from %d the chart has %v, a full scan %v", since, got, fast, full)
	}
	for i, b := range fast {
		if f := full[i]; b.Hour != f.Hour || string(b.Status) != f.Status || b.N != f.N {
			t.Fatalf("since %d: from %d the chart has %v, a full scan %v", since, got, fast, full)
		}
	}
}

func TestFirstDeliverySinceBoundaries(t *testing.T) {
	st := testkit.SQLite(t)
	rem := trendReminder(t, st)
	base := testkit.T0.UnixMilli()
	// An empty table: 0, and the chart reads nothing.
	if got := firstSince(t, st, base, time.Hour); got != 0 {
		t.Fatalf("empty table: %d", got)
	}
	checkBounds(t, st, base, time.Hour)

	// Perfectly ordered, without slack: exactly the first delivery at or
	// after the instant; several at one instant give the first of them;
	// gaps in the ids (retention) are no obstacle.
	ordered := []delivery{{3, 1000, 1000}, {4, 2000, 2000}, {9, 2000, 2000}, {10, 2000, 2000}, {17, 3000, 3000}, {40, 5000, 5000}}
	for i := range ordered {
		ordered[i].started += base
		ordered[i].finished += base
	}
	insertDeliveries(t, st, rem, ordered)
	for _, tc := range []struct {
		since int64
		want  int64
	}{
		{base - 1e6, 3}, // all after: the first
		{base + 999, 3},
		{base + 1000, 3}, // exactly at
		{base + 1001, 4},
		{base + 2000, 4}, // exactly at, three at one instant
		{base + 2001, 17},
		{base + 3000, 17},
		{base + 4999, 40},
		{base + 5000, 40}, // exactly at the last
		{base + 5001, -1}, // all before: past the last row
		{base + 1e6, -1},
	} {
		if got := rowAt(t, st, firstSince(t, st, tc.since, 0)); got != tc.want {
			t.Errorf("since base+%d, no slack: %d, want %d", tc.since-base, got, tc.want)
		}
		checkBounds(t, st, tc.since, 0)
	}
	// With slack, the answer moves back by it, never past the first row.
	if got := rowAt(t, st, firstSince(t, st, base+3000, 1500*time.Millisecond)); got != 4 {
		t.Errorf("since base+3000, slack 1.5 s: %d, want 4", got)
	}
	if got := rowAt(t, st, firstSince(t, st, base+3000, time.Hour)); got != 3 {
		t.Errorf("since base+3000, slack 1 h: %d, want 3", got)
	}
	// A single delivery.
	insertDeliveries(t, st, rem, []delivery{{7, base, base}})
	for since, want := range map[int64]int64{base - 1: 7, base: 7, base + 1: -1} {
		if got := rowAt(t, st, firstSince(t, st, since, 0)); got != want {
			t.Errorf("one delivery, since base%+d: %d, want %d", since-base, got, want)
		}
	}
}

// Deliveries as the engine writes them: ids in the order of the outcomes,
// each start up to a lease before its outcome, so that started_at is not
// ordered by id; gaps in the ids, several outcomes in one millisecond.
func TestFirstDeliverySinceUnorderedStarts(t *testing.T) {
	st := testkit.SQLite(t)
	rem := trendReminder(t, st)
	const lease = 30 * time.Second
	base := testkit.T0.UnixMilli()
	for seed := range uint64(3) {
		rng := rand.New(rand.NewPCG(seed, 99))
		var ds []delivery
		id, at := int64(1+rng.IntN(5)), base
		for range 100 {
			if rng.IntN(4) != 0 { // else several outcomes in one millisecond
				at += int64(1 + rng.IntN(int(lease.Milliseconds()/5)))
			}
			ds = append(ds, delivery{id: id, finished: at, started: at - int64(rng.IntN(int(lease.Milliseconds())+1))})
			id += int64(1 + rng.IntN(3)*rng.IntN(2))
		}
		insertDeliveries(t, st, rem, ds)
		instants := []int64{base - 1e6, ds[len(ds)-1].finished + 1e6}
		for _, d := range ds {
			instants = append(instants, d.started, d.finished, d.finished+1)
		}
		for _, since := range instants {
			for _, slack := range []time.Duration{lease, time.Hour} {
				checkBounds(t, st, since, slack)
			}
		}
	}
}
