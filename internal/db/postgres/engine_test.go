package postgres_test

import (
	"context"
	"testing"
	"time"

	"github.com/reminderd/reminderd/internal/store"
	"github.com/reminderd/reminderd/internal/store/storetest"
)

// The PostgreSQL driver passes the store's whole conformance suite (both
// halves), on a fresh database of a real server per test.
func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return open(t) })
}

// The bench's claim is rolled back: the reminders stay due, the credits
// in the ledger.
func TestClaimDueRolledBack(t *testing.T) {
	ctx := context.Background()
	d := open(t)
	defer d.Close()
	t0 := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	for _, id := range []string{"a", "b", "c"} {
		if _, err := d.CreateReminder(ctx, store.NewReminder{ID: id, OpenID: "oA", TemplateID: "tpl", FireAt: t0, Timezone: "UTC",
			Data: `{}`, CreatedAt: t0}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := d.ApplyPushEvent(ctx, store.PushEvent{At: t0, BodyHash: "b1", OpenID: "oA",
		Answers: []store.ConsentAnswer{{TemplateID: "tpl", Accept: true}}}); err != nil {
		t.Fatal(err)
	}
	p := store.ClaimParams{Now: t0, LeaseUntil: t0.Add(time.Minute), Owner: "bench", Max: 10,
		Kind: func(string, string) (store.TemplateKind, bool) { return store.KindOneTime, true }}
	for range 2 {
		if n, err := d.ClaimDueRolledBack(ctx, p); err != nil || n != 3 {
			t.Fatalf("rolled-back claim: %d, %v; want 3", n, err)
		}
	}
	cs, err := d.ClaimDue(ctx, p)
	if err != nil || len(cs) != 3 || !cs[0].Covered || cs[1].Covered {
		t.Fatalf("claim after the rolled-back ones: %+v, %v; want three, the first covered by the one credit", cs, err)
	}
}
