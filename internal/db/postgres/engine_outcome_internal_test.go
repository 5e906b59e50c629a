package postgres

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/reminderd/reminderd/internal/db/pgtest"
	"github.com/reminderd/reminderd/internal/store"
)

// claimN creates n long-term reminders due at t0, claims them and returns
// the claims (ordered by id) with the driver and a pool for the test's
// own reads.
func claimN(t *testing.T, n int, t0 time.Time) (*DB, *pgxpool.Pool, []store.Claim) {
	t.Helper()
	ctx := context.Background()
	url := pgtest.Database(t)
	d, err := Open(ctx, url, Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	raw, err := pgxpool.New(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(raw.Close)
	for i := range n {
		if _, err := d.CreateReminder(ctx, store.NewReminder{ID: fmt.Sprintf("r%d", i), OpenID: fmt.Sprintf("o%d", i),
			TemplateID: "tpl_long", FireAt: t0, Timezone: "Asia/Shanghai", Data: `{}`, CreatedAt: t0.Add(-time.Hour)}); err != nil {
			t.Fatal(err)
		}
		if _, err := raw.Exec(ctx, `INSERT INTO consents (appid, openid, template_id, credits, status, updated_at) VALUES ('', $1, 'tpl_long', 0, 'accept', 0)`,
			fmt.Sprintf("o%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	kind := func(string, string) (store.TemplateKind, bool) { return store.KindLongTerm, true }
	now := t0.Add(time.Second)
	cs, err := d.ClaimDue(ctx, store.ClaimParams{Now: now, LeaseUntil: now.Add(time.Minute), Owner: "w", Max: n, Kind: kind})
	if err != nil || len(cs) != n {
		t.Fatalf("claimed %d of %d: %v", len(cs), n, err)
	}
	byID := map[string]store.Claim{}
	for _, c := range cs {
		byID[c.Reminder.ID] = c
	}
	for i := range n {
		cs[i] = byID[fmt.Sprintf("r%d", i)]
	}
	return d, raw, cs
}

// sentOutcome is the plain send of c (recordSent's bulk path).
func sentOutcome(c store.Claim, at time.Time, msgid int64) *outcomeReq {
	return &outcomeReq{o: store.Outcome{Claim: c, At: at,
		Delivery: &store.Delivery{Status: store.DeliverySent, HasErrCode: true, MsgID: msgid, HasMsgID: msgid != 0, Latency: 5 * time.Millisecond},
		Complete: &store.Completion{Status: store.StatusSent}, Credit: store.CreditKeep}}
}

// A batch of plain sends is written by the array statements: each
// reminder sent, one delivery row each; an occurrence recorded sent
// already gets a duplicate row, and a sent event parked before the record
// is applied to its delivery.
func TestRecordBatchPlainSends(t *testing.T) {
	ctx := context.Background()
	t0 := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	d, raw, cs := claimN(t, 4, t0)
	// r2's occurrence has a sent row (a lost claim's late record); r3's
	// sent event (msgid 303) arrived before its outcome.
	if _, err := raw.Exec(ctx, `INSERT INTO deliveries (reminder_id, occurrence_at, attempt, status, started_at) VALUES ('r2', $1, 1, 'sent', 0)`,
		t0.UnixMilli()); err != nil {
		t.Fatal(err)
	}
	if _, err := raw.Exec(ctx, `INSERT INTO pending_sent_events (msgid, delivered, event_status, received_at, appid) VALUES (303, true, 'success', 0, '')`); err != nil {
		t.Fatal(err)
	}
	// The bulk path writes one instant, the latest outcome's, for the
	// batch: what tells it from three one-row writes here.
	at := t0.Add(2 * time.Second)
	reqs := []*outcomeReq{sentOutcome(cs[0], at.Add(-time.Millisecond), 101), sentOutcome(cs[1], at, 0),
		sentOutcome(cs[2], at.Add(-2*time.Millisecond), 202), sentOutcome(cs[3], at.Add(-3*time.Millisecond), 303)}
	for i, err := range d.recordBatch(ctx, reqs) {
		if err != nil {
			t.Fatalf("outcome %d: %v", i, err)
		}
	}
	want := []store.DeliveryStatus{store.DeliverySent, store.DeliverySent, store.DeliveryDuplicate, store.DeliverySent}
	for i, req := range reqs {
		if req.rec.Status != want[i] || req.rec.Lost {
			t.Errorf("r%d recorded %+v, want status %s", i, req.rec, want[i])
		}
		var status string
		if err := raw.QueryRow(ctx, `SELECT status FROM reminders WHERE id = $1`, fmt.Sprintf("r%d", i)).Scan(&status); err != nil || status != "sent" {
			t.Errorf("r%d is %q (%v), want sent", i, status, err)
		}
	}
	var n int
	if err := raw.QueryRow(ctx, `SELECT count(*) FROM deliveries WHERE status IN ('sent', 'duplicate') AND finished_at = $1 AND reminder_id <> 'r3'`,
		at.UnixMilli()).Scan(&n); err != nil || n != 3 {
		t.Errorf("%d delivery rows written in bulk (%v), want 3", n, err)
	}
	// r3, whose sent event came first, is written by the one-row path.
	if err := raw.QueryRow(ctx, `SELECT count(*) FROM deliveries WHERE reminder_id = 'r3' AND status = 'sent' AND finished_at = $1`,
		at.Add(-3*time.Millisecond).UnixMilli()).Scan(&n); err != nil || n != 1 {
		t.Errorf("r3: %d sent rows of its own instant (%v), want 1", n, err)
	}
	var msgid *int64
	if err := raw.QueryRow(ctx, `SELECT msgid FROM deliveries WHERE reminder_id = 'r1'`).Scan(&msgid); err != nil || msgid != nil {
		t.Errorf("r1's msgid %v (%v), want NULL", msgid, err)
	}
	var delivered *bool
	if err := raw.QueryRow(ctx, `SELECT delivered FROM deliveries WHERE msgid = 303`).Scan(&delivered); err != nil || delivered == nil || !*delivered {
		t.Errorf("r3's parked sent event not applied: delivered %v (%v)", delivered, err)
	}
	if err := raw.QueryRow(ctx, `SELECT count(*) FROM pending_sent_events`).Scan(&n); err != nil || n != 0 {
		t.Errorf("%d sent events still parked (%v), want 0", n, err)
	}
}

// One bad outcome in a batch: the batch is rolled back and each outcome
// written alone, so the others commit and only the bad one errs.
func TestRecordBatchOneBadOutcome(t *testing.T) {
	ctx := context.Background()
	t0 := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	d, raw, cs := claimN(t, 3, t0)
	at := t0.Add(2 * time.Second)
	bad := cs[1]
	bad.Reminder.Attempts = 0 // not the claim (lost), and no delivery row may have attempt 0
	reqs := []*outcomeReq{sentOutcome(cs[0], at, 101), sentOutcome(bad, at, 102), sentOutcome(cs[2], at, 103)}
	errs := d.recordBatch(ctx, reqs)
	if errs[0] != nil || errs[1] == nil || errs[2] != nil {
		t.Fatalf("errors %v: only outcome 1 may fail", errs)
	}
	for i, want := range []string{"sent", "sending", "sent"} {
		var status string
		if err := raw.QueryRow(ctx, `SELECT status FROM reminders WHERE id = $1`, fmt.Sprintf("r%d", i)).Scan(&status); err != nil || status != want {
			t.Errorf("r%d is %q (%v), want %s", i, status, err, want)
		}
	}
	var n int
	if err := raw.QueryRow(ctx, `SELECT count(*) FROM deliveries`).Scan(&n); err != nil || n != 2 {
		t.Errorf("%d delivery rows (%v), want 2", n, err)
	}
}
