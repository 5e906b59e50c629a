package storetest

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/reminderd/reminderd/internal/store"
)

// CreateReminder stores a scheduled reminder with every field as given;
// a duplicate id or idempotency key is ErrConflict.
func testCreateReminder(t *testing.T, s store.EngineStore) {
	ctx := context.Background()
	nr := store.NewReminder{ID: "rem_1", OpenID: "oA", TemplateID: oneTime, FireAt: et0, ExpiresAt: et0.Add(time.Hour),
		Window: time.Hour, HasWindow: true, Recurrence: "0 9 * * *", Timezone: "Asia/Shanghai", Data: `{"thing1":"会议"}`,
		Page: "pages/a?id=1", IdempotencyKey: "k1", RequestHash: "h1", CreatedAt: et0.Add(-time.Minute)}
	r, err := s.CreateReminder(ctx, nr)
	if err != nil {
		t.Fatal(err)
	}
	want := store.Reminder{ID: "rem_1", OpenID: "oA", TemplateID: oneTime, Status: store.StatusScheduled, FireAt: et0, DueAt: et0,
		ExpiresAt: et0.Add(time.Hour), Window: time.Hour, HasWindow: true, Recurrence: "0 9 * * *", Timezone: "Asia/Shanghai",
		Data: `{"thing1":"会议"}`, Page: "pages/a?id=1", IdempotencyKey: "k1", RequestHash: "h1", CreatedAt: et0.Add(-time.Minute),
		UpdatedAt: et0.Add(-time.Minute)}
	if !equalReminders(r, want) {
		t.Errorf("created %+v\nwant    %+v", r, want)
	}
	if _, err := s.CreateReminder(ctx, nr); !errors.Is(err, store.ErrConflict) {
		t.Errorf("the same id again: %v, want ErrConflict", err)
	}
	nr.ID = "rem_2"
	if _, err := s.CreateReminder(ctx, nr); !errors.Is(err, store.ErrConflict) {
		t.Errorf("the same idempotency key again: %v, want ErrConflict", err)
	}
	nr.IdempotencyKey, nr.RequestHash = "", ""
	if r, err := s.CreateReminder(ctx, nr); err != nil || r.IdempotencyKey != "" || !r.ExpiresAt.Equal(et0.Add(time.Hour)) {
		t.Errorf("a second reminder without a key: %+v, %v", r, err)
	}
}

// equalReminders compares reminders with time.Time.Equal for instants.
func equalReminders(a, b store.Reminder) bool {
	for _, p := range [][2]time.Time{{a.FireAt, b.FireAt}, {a.DueAt, b.DueAt}, {a.ExpiresAt, b.ExpiresAt}, {a.LeaseUntil, b.LeaseUntil},
		{a.CreatedAt, b.CreatedAt}, {a.UpdatedAt, b.UpdatedAt}, {a.UnknownAt, b.UnknownAt}} {
		if !p[0].Equal(p[1]) {
			return false
		}
	}
	a.FireAt, a.DueAt, a.ExpiresAt, a.LeaseUntil, a.CreatedAt, a.UpdatedAt, a.UnknownAt = b.FireAt, b.DueAt, b.ExpiresAt, b.LeaseUntil, b.CreatedAt, b.UpdatedAt, b.UnknownAt
	if !slices.Equal(a.Alternatives, b.Alternatives) {
		return false
	}
	a.Alternatives = b.Alternatives
	return reflect.DeepEqual(a, b)
}

// NextDueAt is the earliest due instant of a scheduled reminder, zero for
// none; a claimed reminder is not due.
func testNextDueAt(t *testing.T, s store.EngineStore) {
	ctx := context.Background()
	if next, err := s.NextDueAt(ctx); err != nil || !next.IsZero() {
		t.Fatalf("empty store: next due %v, %v; want zero", next, err)
	}
	create(t, s, "late", "oA", oneTime, et0.Add(time.Hour))
	create(t, s, "early", "oB", oneTime, et0.Add(1500*time.Millisecond))
	if next, err := s.NextDueAt(ctx); err != nil || !next.Equal(et0.Add(1500*time.Millisecond)) {
		t.Fatalf("next due %v, %v; want the earlier reminder's instant", next, err)
	}
	claimAt(t, s, "w", et0.Add(2*time.Second), 10)
	if next, err := s.NextDueAt(ctx); err != nil || !next.Equal(et0.Add(time.Hour)) {
		t.Fatalf("after the claim: next due %v, %v; want the later reminder's", next, err)
	}
}

// ClaimDue claims what is due at Now, in due order, up to Max: status
// sending, one more attempt, the lease and owner given, ClaimedAt the
// claim's instant; what is due later stays.
func testClaimDueInDueOrder(t *testing.T, s store.EngineStore) {
	for i, id := range []string{"c", "a", "b"} {
		create(t, s, id, "o"+id, oneTime, et0.Add(time.Duration(i)*time.Second))
	}
	create(t, s, "later", "oL", oneTime, et0.Add(time.Hour))
	now := et0.Add(time.Minute)
	cs := claimAt(t, s, "owner-1", now, 2)
	if got := claimIDs(cs); !slices.Equal(got, []string{"c", "a"}) {
		t.Fatalf("claimed %v, want the two earliest in due order [c a]", got)
	}
	for _, c := range cs {
		r := c.Reminder
		if r.Status != store.StatusSending || r.Attempts != 1 || r.LeaseOwner != "owner-1" || !r.LeaseUntil.Equal(now.Add(time.Minute)) ||
			!c.ClaimedAt.Equal(now) || c.Covered || r.CreditHeld {
			t.Errorf("claim %+v: want sending, attempt 1, owner-1's lease, claimed at %v, not covered (no consent)", c, now)
		}
	}
	if got := claimIDs(claimAt(t, s, "owner-1", now, 10)); !slices.Equal(got, []string{"b"}) {
		t.Fatalf("second claim %v, want [b] (later is not due)", got)
	}
	if cs := claimAt(t, s, "owner-1", now, 10); len(cs) != 0 {
		t.Fatalf("third claim %v, want none", claimIDs(cs))
	}
	if cs := claimAt(t, s, "x", et0.Add(time.Hour), 10); len(cs) != 1 || cs[0].Reminder.ID != "later" {
		t.Fatalf("at its instant: %v, want [later]", claimIDs(cs))
	}
}

// Two concurrent claims never return the same reminder, and a claimed
// reminder is not claimed again while its lease lasts.
func testConcurrentClaimsNeverOverlap(t *testing.T, s store.EngineStore) {
	const n = 60
	for i := range n {
		id := fmt.Sprintf("r%02d", i)
		create(t, s, id, "o"+id, oneTime, et0)
		if i%2 == 0 {
			accept(t, s, "o"+id, oneTime, et0)
		}
	}
	now := et0.Add(time.Second)
	var wg sync.WaitGroup
	got := make([][]store.Claim, 4)
	errs := make([]error, 4)
	for w := range got {
		wg.Go(func() {
			got[w], errs[w] = s.ClaimDue(context.Background(), store.ClaimParams{Now: now, LeaseUntil: now.Add(time.Minute),
				Owner: fmt.Sprintf("w%d", w), Max: 20, Kind: kinds})
		})
	}
	wg.Wait()
	seen := map[string]string{}
	for w, cs := range got {
		if errs[w] != nil {
			t.Fatalf("claim %d: %v", w, errs[w])
		}
		for _, c := range cs {
			if other, ok := seen[c.Reminder.ID]; ok {
				t.Errorf("%s claimed by w%d and %s", c.Reminder.ID, w, other)
			}
			seen[c.Reminder.ID] = fmt.Sprintf("w%d", w)
			if c.Reminder.LeaseOwner != seen[c.Reminder.ID] {
				t.Errorf("%s: lease owner %q, want %q", c.Reminder.ID, c.Reminder.LeaseOwner, seen[c.Reminder.ID])
			}
		}
	}
	if len(seen) != n {
		t.Fatalf("%d of %d claimed by four claims of 20", len(seen), n)
	}
	// Up to the last instant of the lease: nothing is claimed again.
	if cs := claimAt(t, s, "late", now.Add(time.Minute), 100); len(cs) != 0 {
		t.Fatalf("claimed again while leased: %v", claimIDs(cs))
	}
}

// A claim whose Abort says so just before the commit is rolled back: no
// claims, and the reminders and credits are as they were.
func testClaimAborted(t *testing.T, s store.EngineStore) {
	create(t, s, "a", "oA", oneTime, et0)
	accept(t, s, "oA", oneTime, et0)
	asked := 0
	cs, err := s.ClaimDue(context.Background(), store.ClaimParams{Now: et0, LeaseUntil: et0.Add(time.Minute), Owner: "w", Max: 10,
		Kind: kinds, Abort: func() bool { asked++; return true }})
	if err != nil || len(cs) != 0 || asked != 1 {
		t.Fatalf("aborted claim: %v, %v, abort asked %d times; want no claims, asked once", claimIDs(cs), err, asked)
	}
	cs = claimAt(t, s, "w", et0, 10)
	if len(cs) != 1 || cs[0].Reminder.Attempts != 1 || !cs[0].Covered || !cs[0].Reminder.CreditHeld {
		t.Fatalf("claim after the abort: %+v; want the reminder at its first attempt, with the credit", cs)
	}
}

// Credits never go below zero: two due reminders and one credit make one
// claim covered (the earlier, holding the credit) and one not; a refund
// gives the credit back; a consume without a held credit takes one only
// if there is one.
func testCreditsNeverGoBelowZero(t *testing.T, s store.EngineStore) {
	create(t, s, "first", "oA", oneTime, et0)
	create(t, s, "second", "oA", oneTime, et0.Add(time.Millisecond))
	accept(t, s, "oA", oneTime, et0.Add(-time.Hour))
	now := et0.Add(time.Second)
	cs := claimAt(t, s, "w", now, 10)
	first, second := byID(t, cs, "first"), byID(t, cs, "second")
	if !first.Covered || !first.Reminder.CreditHeld || second.Covered || second.Reminder.CreditHeld {
		t.Fatalf("one credit, two claims: first %+v, second %+v; want the first covered holding it, the second not", first, second)
	}
	// The second is skipped (no consent); the first did not send: its
	// credit goes back.
	record(t, s, store.Outcome{Claim: second, At: now.Add(time.Second), Delivery: &store.Delivery{Status: store.DeliverySkipped},
		Complete: &store.Completion{Status: store.StatusSkipped, Reason: store.ReasonNoConsent}})
	record(t, s, deferred(first, now.Add(time.Second), now.Add(2*time.Second)))
	again := claimAt(t, s, "w", now.Add(2*time.Second), 10)
	if len(again) != 1 || !again[0].Covered || !again[0].Reminder.CreditHeld {
		t.Fatalf("after the refund: %+v; want the first claimed again with the credit", again)
	}
	// Sent with the held credit: nothing left for a third reminder.
	if rec := record(t, s, sent(again[0], now.Add(3*time.Second), 1)); rec.Lost || rec.Status != store.DeliverySent || rec.NoCredit {
		t.Fatalf("recorded %+v", rec)
	}
	create(t, s, "third", "oA", oneTime, et0)
	third := claimAt(t, s, "w", now.Add(4*time.Second), 10)
	if len(third) != 1 || third[0].Covered {
		t.Fatalf("third claim %+v: want it not covered (the credit was used)", third)
	}
	// A send without a held credit consumes one: none is left, and the
	// ledger does not go below zero …
	o := sent(third[0], now.Add(5*time.Second), 3)
	o.Credit = store.CreditConsume
	if rec := record(t, s, o); !rec.NoCredit {
		t.Fatalf("consume with an empty ledger: %+v, want NoCredit", rec)
	}
	// … so the next accept's credit covers the next claim.
	accept(t, s, "oA", oneTime, now.Add(6*time.Second))
	create(t, s, "fourth", "oA", oneTime, et0)
	create(t, s, "fifth", "oA", oneTime, et0.Add(time.Millisecond))
	cs = claimAt(t, s, "w", now.Add(7*time.Second), 10)
	fourth, fifth := byID(t, cs, "fourth"), byID(t, cs, "fifth")
	if !fourth.Covered || fifth.Covered {
		t.Fatalf("after one accept: fourth covered %v, fifth covered %v; want the credit for the fourth only", fourth.Covered, fifth.Covered)
	}
	// A consume with a credit in the ledger takes it: the fifth sends on
	// the credit a refund of the fourth's gives back.
	record(t, s, deferred(fourth, now.Add(8*time.Second), now.Add(time.Hour)))
	o = sent(fifth, now.Add(8*time.Second), 5)
	o.Credit = store.CreditConsume
	if rec := record(t, s, o); rec.NoCredit {
		t.Fatalf("consume with a credit in the ledger: %+v", rec)
	}
	create(t, s, "sixth", "oA", oneTime, et0)
	if cs := claimAt(t, s, "w", now.Add(9*time.Second), 10); len(cs) != 1 || cs[0].Covered {
		t.Fatalf("sixth %+v: want it not covered (the consume took the refunded credit)", cs)
	}
}

// A long-term grant covers every claim of the template and holds no credit;
// a user without it is not covered, nor is an unknown template.
func testLongTermGrant(t *testing.T, s store.EngineStore) {
	create(t, s, "a1", "oA", longTerm, et0)
	create(t, s, "a2", "oA", longTerm, et0)
	create(t, s, "b", "oB", longTerm, et0)
	create(t, s, "x", "oA", "tpl_gone", et0)
	accept(t, s, "oA", longTerm, et0)
	accept(t, s, "oA", "tpl_gone", et0)
	cs := claimAt(t, s, "w", et0, 10)
	for id, want := range map[string]bool{"a1": true, "a2": true, "b": false, "x": false} {
		c := byID(t, cs, id)
		if c.Covered != want || c.Reminder.CreditHeld {
			t.Errorf("%s: covered %v, credit held %v; want covered %v, none held", id, c.Covered, c.Reminder.CreditHeld, want)
		}
	}
}
