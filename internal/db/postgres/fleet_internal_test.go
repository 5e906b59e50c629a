package postgres

import (
	"context"
	"testing"
	"time"

	"github.com/reminderd/reminderd/internal/db/pgtest"
)

// One batch of send leases may ask for one user twice (two holders of the
// fleet's tests share a driver; the upsert cannot touch one row twice): it
// is taken in rounds, once, with no error, and the other users in the same
// batch get theirs.
func TestAcquireBatchWithOneUserTwice(t *testing.T) {
	ctx := context.Background()
	d, err := Open(ctx, pgtest.Database(t), Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	t0 := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	reqs := []*leaseReq{
		{openID: "u2", holder: "h1", now: t0, until: t0.Add(time.Minute)},
		{openID: "u1", holder: "h1", now: t0, until: t0.Add(time.Minute)},
		{openID: "u1", holder: "h2", now: t0, until: t0.Add(time.Minute)},
		{openID: "u3", holder: "h2", now: t0, until: t0.Add(time.Minute)},
		{openID: "u1", holder: "h1", now: t0, until: t0.Add(2 * time.Minute)},
	}
	for i, err := range d.acquireBatch(ctx, reqs) {
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
	}
	if !reqs[0].got || !reqs[3].got {
		t.Fatalf("u2 %v, u3 %v: want both granted", reqs[0].got, reqs[3].got)
	}
	// u1: h1 first (the batch keeps the callers' order per user), h2
	// refused, h1 again granted (its own lease, extended).
	if !reqs[1].got || reqs[2].got || !reqs[4].got {
		t.Fatalf("u1 by h1, h2, h1: %v %v %v; want granted, refused, granted", reqs[1].got, reqs[2].got, reqs[4].got)
	}
	var holder string
	var until int64
	if err := d.pool.QueryRow(ctx, `SELECT holder, until FROM user_sends WHERE openid = 'u1'`).Scan(&holder, &until); err != nil {
		t.Fatal(err)
	}
	if holder != "h1" || until != t0.Add(2*time.Minute).UnixMilli() {
		t.Fatalf("u1's lease %s until %d; want h1's, extended", holder, until)
	}
}

// A claim's start mark lives from its send lease to its record: a record
// of the batch path and of the one-row path deletes it, and so does the
// rescue of a claim that started.
func TestStartMarksEndWithTheRecord(t *testing.T) {
	ctx := context.Background()
	t0 := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	d, raw, cs := claimN(t, 3, t0)
	at := t0.Add(2 * time.Second)
	for _, c := range cs {
		if ok, err := d.AcquireUserSend(ctx, c.Reminder.OpenID, "w", at, at.Add(time.Minute), c.Reminder.ID); err != nil || !ok {
			t.Fatalf("lease of %s: %v, %v", c.Reminder.ID, ok, err)
		}
	}
	marks := func() int {
		t.Helper()
		var n int
		if err := raw.QueryRow(ctx, `SELECT count(*) FROM send_starts`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := marks(); n != 3 {
		t.Fatalf("%d start marks after three leases, want 3", n)
	}
	reqs := []*outcomeReq{sentOutcome(cs[0], at, 101), sentOutcome(cs[1], at, 102)}
	for _, r := range reqs {
		r.o.ReleaseUserSend = "w"
	}
	for i, err := range d.recordBatch(ctx, reqs) {
		if err != nil {
			t.Fatalf("outcome %d: %v", i, err)
		}
	}
	if n := marks(); n != 1 {
		t.Fatalf("%d start marks after two records, want 1 (r2's)", n)
	}
	// r2's process died after its lease: rescued as an attempt of unknown
	// outcome (its mark says it started), and the mark goes with it.
	if n, err := d.RescueExpiredLeases(ctx, at.Add(5*time.Minute), time.Minute); err != nil || n != 1 {
		t.Fatalf("rescued %d, %v", n, err)
	}
	if last, err := d.LastUnknownAttempt(ctx, "r2", t0); err != nil || last.IsZero() {
		t.Fatalf("r2's last unknown attempt %v, %v; want its claim", last, err)
	}
	if n := marks(); n != 0 {
		t.Fatalf("%d start marks after the rescue, want none", n)
	}
}

// A claim marked started by a process of the version before send_starts
// (reminders.send_started true) is still rescued as started, during an
// upgrade of a running fleet.
func TestStartMarkOfAnEarlierVersionCounts(t *testing.T) {
	ctx := context.Background()
	t0 := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	d, raw, cs := claimN(t, 2, t0)
	if _, err := raw.Exec(ctx, `UPDATE reminders SET send_started = CASE WHEN id = 'r0' THEN true ELSE false END`); err != nil {
		t.Fatal(err)
	}
	if n, err := d.RescueExpiredLeases(ctx, t0.Add(5*time.Minute), time.Minute); err != nil || n != 2 {
		t.Fatalf("rescued %d, %v", n, err)
	}
	if last, err := d.LastUnknownAttempt(ctx, cs[0].Reminder.ID, t0); err != nil || last.IsZero() {
		t.Fatalf("r0 (marked started the old way): last unknown attempt %v, %v; want its claim", last, err)
	}
	if last, err := d.LastUnknownAttempt(ctx, cs[1].Reminder.ID, t0); err != nil || !last.IsZero() {
		t.Fatalf("r1 (never started): last unknown attempt %v, %v; want none", last, err)
	}
}
