package postgres

import (
	"context"
	"testing"
	"time"

	"github.com/reminderd/reminderd/internal/db/pgtest"
	"github.com/reminderd/reminderd/internal/db/postgres/pgsqlc"
	"github.com/reminderd/reminderd/internal/store"
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
		if ok, err := d.AcquireUserSend(ctx, c.Reminder.OpenID, "w", at, at.Add(time.Minute), c.Reminder.ID, c.Reminder.Attempts); err != nil || !ok {
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

// A worker's send lease taken while a rescue of its claim is under way
// waits for the rescue and reads its result (found by review: the mark
// read the claim without a lock, so a claim the rescuer gave back as never
// started was marked, sent, and then sent again by the next claim).
func TestStartMarkWaitsForARescueUnderWay(t *testing.T) {
	ctx := context.Background()
	t0 := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	d, raw, cs := claimN(t, 1, t0)
	c := cs[0]
	if _, err := raw.Exec(ctx, `UPDATE reminders SET send_started = false`); err != nil {
		t.Fatal(err)
	}
	tx, err := raw.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	now := t0.Add(5 * time.Minute).UnixMilli()
	q := pgsqlc.New(tx)
	if exp, err := q.ExpiredLeases(ctx, now); err != nil || len(exp) != 1 || exp[0].StartMarked {
		t.Fatalf("expired %+v, %v", exp, err)
	}
	if n, err := q.RescueUnstarted(ctx, pgsqlc.RescueUnstartedParams{ID: c.Reminder.ID, Now: now, Attempts: c.Reminder.Attempts}); err != nil || n != 1 {
		t.Fatalf("rescue %d, %v", n, err)
	}
	type result struct {
		got bool
		err error
	}
	done := make(chan result, 1)
	at := t0.Add(2 * time.Second)
	go func() {
		got, err := d.AcquireUserSend(ctx, c.Reminder.OpenID, "w", at, at.Add(time.Minute), c.Reminder.ID, c.Reminder.Attempts)
		done <- result{got, err}
	}()
	// The lease's statement is seen waiting on the rescue's row lock.
	for waiting := 0; waiting == 0; {
		select {
		case r := <-done:
			t.Fatalf("the send lease answered (%v, %v) while the rescue of its claim was under way", r.got, r.err)
		default:
		}
		if err := raw.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE '%AcquireUserSends%'`).Scan(&waiting); err != nil {
			t.Fatal(err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	r := <-done
	if r.err != nil || r.got {
		t.Fatalf("the send lease of a claim given back: %v, %v; want refused", r.got, r.err)
	}
	var marks int
	if err := raw.QueryRow(ctx, `SELECT count(*) FROM send_starts`).Scan(&marks); err != nil || marks != 0 {
		t.Fatalf("%d start marks (%v), want none", marks, err)
	}
}

// A stalled worker's late record of attempt 1 leaves attempt 2's start mark
// alone (found by review: marks were deleted by reminder alone, so the
// next rescue took attempt 2's started send for one never started, and
// sent it again).
func TestStaleRecordKeepsTheNextClaimsMark(t *testing.T) {
	ctx := context.Background()
	t0 := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	d, raw, cs := claimN(t, 1, t0)
	c1 := cs[0]
	at := t0.Add(2 * time.Second)
	if ok, err := d.AcquireUserSend(ctx, c1.Reminder.OpenID, "w", at, at.Add(time.Minute), c1.Reminder.ID, c1.Reminder.Attempts); err != nil || !ok {
		t.Fatalf("lease of attempt 1: %v, %v", ok, err)
	}
	// w stalls; its claim is rescued as started (an unknown outcome).
	if n, err := d.RescueExpiredLeases(ctx, t0.Add(5*time.Minute), time.Minute); err != nil || n != 1 {
		t.Fatalf("rescue of attempt 1: %d, %v", n, err)
	}
	now := t0.Add(20 * time.Minute)
	kind := func(string, string) (store.TemplateKind, bool) { return store.KindLongTerm, true }
	cs2, err := d.ClaimDue(ctx, store.ClaimParams{Now: now, LeaseUntil: now.Add(time.Minute), Owner: "v", Max: 1, Kind: kind, MarkStarts: true})
	if err != nil || len(cs2) != 1 {
		t.Fatalf("claim of attempt 2: %v, %v", cs2, err)
	}
	c2 := cs2[0]
	if ok, err := d.AcquireUserSend(ctx, c2.Reminder.OpenID, "v", now, now.Add(2*time.Minute), c2.Reminder.ID, c2.Reminder.Attempts); err != nil || !ok {
		t.Fatalf("lease of attempt 2: %v, %v", ok, err)
	}
	// w's late outcome of attempt 1.
	late := sentOutcome(c1, now.Add(time.Second), 555)
	late.o.ReleaseUserSend = "w"
	for _, err := range d.recordBatch(ctx, []*outcomeReq{late}) {
		if err != nil {
			t.Fatal(err)
		}
	}
	// v dies mid-send: its claim's rescue finds it started.
	if _, err := d.RescueExpiredLeases(ctx, now.Add(10*time.Minute), time.Minute); err != nil {
		t.Fatal(err)
	}
	var attempts int64
	var unknown *int64
	if err := raw.QueryRow(ctx, `SELECT attempts, unknown_at FROM reminders WHERE id = $1`, c2.Reminder.ID).Scan(&attempts, &unknown); err != nil {
		t.Fatal(err)
	}
	if attempts != c2.Reminder.Attempts || unknown == nil {
		t.Fatalf("after attempt 2's rescue: attempts %d, unknown_at %v; want attempt %d kept as an unknown outcome", attempts, unknown, c2.Reminder.Attempts)
	}
}

// A stalled worker whose claim was rescued and claimed again by its own
// process gets no lease for the new claim: the mark names the attempt.
func TestStartMarkNamesTheAttempt(t *testing.T) {
	ctx := context.Background()
	t0 := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	d, _, cs := claimN(t, 1, t0)
	c1 := cs[0]
	if n, err := d.RescueExpiredLeases(ctx, t0.Add(5*time.Minute), time.Minute); err != nil || n != 1 {
		t.Fatalf("rescue: %d, %v", n, err)
	}
	now := t0.Add(20 * time.Minute)
	kind := func(string, string) (store.TemplateKind, bool) { return store.KindLongTerm, true }
	if cs2, err := d.ClaimDue(ctx, store.ClaimParams{Now: now, LeaseUntil: now.Add(time.Minute), Owner: "w", Max: 1, Kind: kind, MarkStarts: true}); err != nil || len(cs2) != 1 {
		t.Fatalf("claim again: %v, %v", cs2, err)
	}
	if ok, err := d.AcquireUserSend(ctx, c1.Reminder.OpenID, "w", now, now.Add(time.Minute), c1.Reminder.ID, c1.Reminder.Attempts); err != nil || ok {
		t.Fatalf("the stale claim's lease: %v, %v; want refused", ok, err)
	}
}
