package postgres_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/reminderd/reminderd/internal/db/pgtest"
	"github.com/reminderd/reminderd/internal/db/postgres"
	"github.com/reminderd/reminderd/internal/store"
)

// Two pools on one database are two processes: their claims, racing in
// several goroutines each, never take the same reminder and reserve
// exactly the user's credits, never more (every user has more reminders
// than credits); their rescuers, racing too, rescue each expired claim
// once. (Within one claim a user's earlier reminder gets the credit
// first; across concurrent claims, SKIP LOCKED lets a later one be
// claimed first, so only the count is held here.)
func TestTwoProcessesClaimAndRescueWithoutOverlap(t *testing.T) {
	ctx := context.Background()
	url := pgtest.Database(t)
	var procs [2]*postgres.DB
	for i := range procs {
		d, err := postgres.Open(ctx, url, postgres.Options{MaxConns: 4})
		if err != nil {
			t.Fatal(err)
		}
		defer d.Close()
		procs[i] = d
	}
	const users, perUser = 40, 5
	t0 := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	credits := map[string]int64{}
	for u := range users {
		openid := fmt.Sprintf("o%02d", u)
		for k := range perUser {
			// Interleaved due order across users; a user's reminders in k order.
			at := t0.Add(time.Duration(k*users+u) * time.Millisecond)
			if _, err := procs[u%2].CreateReminder(ctx, store.NewReminder{ID: fmt.Sprintf("r%02d-%d", u, k), OpenID: openid,
				TemplateID: "tpl_one", FireAt: at, Timezone: "Asia/Shanghai", Data: `{}`, CreatedAt: t0.Add(-time.Hour)}); err != nil {
				t.Fatal(err)
			}
		}
		credits[openid] = int64(u % 4) // 0..3 credits, fewer than the reminders
	}
	ledger, err := pgxpool.New(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer ledger.Close()
	for openid, n := range credits {
		if _, err := ledger.Exec(ctx, `INSERT INTO consents (appid, openid, template_id, credits, status, updated_at) VALUES ('', $1, 'tpl_one', $2, 'accept', 0)`,
			openid, n); err != nil {
			t.Fatal(err)
		}
	}
	kind := func(string, string) (store.TemplateKind, bool) { return store.KindOneTime, true }
	now := t0.Add(time.Second)

	// Four claimers per process, claiming batches of 7 until none is left.
	var mu sync.Mutex
	claimed := map[string]store.Claim{}
	var wg sync.WaitGroup
	for p, d := range procs {
		for w := range 4 {
			owner := fmt.Sprintf("p%d-w%d", p, w)
			wg.Go(func() {
				for {
					cs, err := d.ClaimDue(ctx, store.ClaimParams{Now: now, LeaseUntil: now.Add(time.Minute), Owner: owner, Max: 7, Kind: kind})
					if err != nil {
						t.Errorf("%s: %v", owner, err)
						return
					}
					if len(cs) == 0 {
						return
					}
					mu.Lock()
					for _, c := range cs {
						if prev, ok := claimed[c.Reminder.ID]; ok {
							t.Errorf("%s claimed by %s and %s", c.Reminder.ID, prev.Reminder.LeaseOwner, owner)
						}
						claimed[c.Reminder.ID] = c
					}
					mu.Unlock()
				}
			})
		}
	}
	wg.Wait()
	if len(claimed) != users*perUser {
		t.Fatalf("claimed %d of %d reminders", len(claimed), users*perUser)
	}
	for u := range users {
		openid := fmt.Sprintf("o%02d", u)
		held := 0
		for k := range perUser {
			if c := claimed[fmt.Sprintf("r%02d-%d", u, k)]; c.Reminder.CreditHeld {
				held++
				if !c.Covered {
					t.Errorf("%s holds a credit but is not covered", c.Reminder.ID)
				}
			}
		}
		if int64(held) != credits[openid] {
			t.Errorf("%s: %d claims hold a credit, the ledger had %d", openid, held, credits[openid])
		}
		var left int64
		if err := ledger.QueryRow(ctx, `SELECT credits FROM consents WHERE openid = $1 AND template_id = 'tpl_one'`, openid).Scan(&left); err != nil {
			t.Fatal(err)
		}
		if left != 0 {
			t.Errorf("%s: %d credits left in the ledger after every reminder was claimed, want 0", openid, left)
		}
	}

	// The leases run out; both processes' rescuers race, twice each.
	later := now.Add(2 * time.Minute)
	var rescued [4]int
	for i := range rescued {
		wg.Go(func() {
			n, err := procs[i%2].RescueExpiredLeases(ctx, later, 0)
			if err != nil {
				t.Errorf("rescue %d: %v", i, err)
			}
			rescued[i] = n
		})
	}
	wg.Wait()
	if total := rescued[0] + rescued[1] + rescued[2] + rescued[3]; total != users*perUser {
		t.Errorf("rescued %v: %d in all, want each of the %d claims once", rescued, total, users*perUser)
	}
	var abandoned int
	if err := ledger.QueryRow(ctx, `SELECT count(*) FROM deliveries WHERE status = 'abandoned'`).Scan(&abandoned); err != nil {
		t.Fatal(err)
	}
	if abandoned != users*perUser {
		t.Errorf("%d abandoned delivery records, want one per claim (%d)", abandoned, users*perUser)
	}
}

// openTwo opens two pools (two processes) on one fresh database, and a
// third for the test's own reads.
func openTwo(t *testing.T) ([2]*postgres.DB, *pgxpool.Pool) {
	t.Helper()
	ctx := context.Background()
	url := pgtest.Database(t)
	var procs [2]*postgres.DB
	for i := range procs {
		d, err := postgres.Open(ctx, url, postgres.Options{MaxConns: 4})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { d.Close() })
		procs[i] = d
	}
	raw, err := pgxpool.New(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(raw.Close)
	return procs, raw
}

// One push message delivered to both processes at once is applied once;
// distinct messages of one user all count.
func TestTwoProcessesApplyAPushOnce(t *testing.T) {
	ctx := context.Background()
	procs, raw := openTwo(t)
	t0 := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	answer := []store.ConsentAnswer{{TemplateID: "tpl_one", Accept: true}}
	var wg sync.WaitGroup
	var mu sync.Mutex
	applied := 0
	for i := range 8 {
		wg.Go(func() {
			out, err := procs[i%2].ApplyPushEvent(ctx, store.PushEvent{At: t0, BodyHash: "same", OpenID: "oA", Answers: answer})
			if err != nil {
				t.Errorf("push %d: %v", i, err)
				return
			}
			if !out.Duplicate {
				mu.Lock()
				applied++
				mu.Unlock()
			}
		})
		wg.Go(func() {
			if _, err := procs[i%2].ApplyPushEvent(ctx, store.PushEvent{At: t0, BodyHash: fmt.Sprintf("own-%d", i), OpenID: "oB",
				Answers: answer}); err != nil {
				t.Errorf("push %d: %v", i, err)
			}
		})
	}
	wg.Wait()
	if applied != 1 {
		t.Errorf("the same message applied %d times, want once", applied)
	}
	for openid, want := range map[string]int64{"oA": 1, "oB": 8} {
		var n int64
		if err := raw.QueryRow(ctx, `SELECT credits FROM consents WHERE openid = $1`, openid).Scan(&n); err != nil || n != want {
			t.Errorf("%s: %d credits, %v; want %d", openid, n, err, want)
		}
	}
}

// A send's sent event and the record of its outcome, racing in two
// processes, never miss each other: the delivery is marked, nothing stays
// parked.
func TestTwoProcessesSentEventMeetsItsRecord(t *testing.T) {
	ctx := context.Background()
	procs, raw := openTwo(t)
	t0 := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	const n = 40
	for i := range n {
		if _, err := procs[0].CreateReminder(ctx, store.NewReminder{ID: fmt.Sprintf("r%02d", i), OpenID: fmt.Sprintf("o%02d", i),
			TemplateID: "tpl_long", FireAt: t0, Timezone: "Asia/Shanghai", Data: `{}`, CreatedAt: t0}); err != nil {
			t.Fatal(err)
		}
	}
	cs, err := procs[0].ClaimDue(ctx, store.ClaimParams{Now: t0, LeaseUntil: t0.Add(time.Minute), Owner: "w", Max: n,
		Kind: func(string, string) (store.TemplateKind, bool) { return store.KindLongTerm, true }})
	if err != nil || len(cs) != n {
		t.Fatalf("claimed %d, %v", len(cs), err)
	}
	var wg sync.WaitGroup
	for i, c := range cs {
		msgid := int64(1000 + i)
		wg.Go(func() {
			o := store.Outcome{Claim: c, At: t0.Add(time.Second),
				Delivery: &store.Delivery{Status: store.DeliverySent, HasErrCode: true, MsgID: msgid, HasMsgID: true},
				Complete: &store.Completion{Status: store.StatusSent}}
			if _, err := procs[i%2].RecordOutcome(ctx, o); err != nil {
				t.Errorf("record %s: %v", c.Reminder.ID, err)
			}
		})
		wg.Go(func() {
			if _, err := procs[(i+1)%2].ApplyPushEvent(ctx, store.PushEvent{At: t0.Add(time.Second), BodyHash: fmt.Sprintf("ev-%d", i),
				OpenID: c.Reminder.OpenID, Sent: []store.SentEvent{{MsgID: msgid, Delivered: true, Status: "success",
					TemplateID: "tpl_long"}}}); err != nil {
				t.Errorf("sent event %d: %v", msgid, err)
			}
		})
	}
	wg.Wait()
	var marked, parked, reported int
	if err := raw.QueryRow(ctx, `SELECT count(*) FROM deliveries WHERE status = 'sent' AND delivered`).Scan(&marked); err != nil {
		t.Fatal(err)
	}
	if err := raw.QueryRow(ctx, `SELECT count(*) FROM pending_sent_events`).Scan(&parked); err != nil {
		t.Fatal(err)
	}
	if err := raw.QueryRow(ctx, `SELECT count(*) FROM reminders WHERE delivery = 'delivered'`).Scan(&reported); err != nil {
		t.Fatal(err)
	}
	if marked != n || parked != 0 || reported != n {
		t.Errorf("%d deliveries marked, %d events parked, %d reminders reported delivered; want %d, 0, %d", marked, parked, reported, n, n)
	}
}
