package db_test

import (
	"context"
	"testing"
	"time"

	"github.com/reminderd/reminderd/internal/store"
	"github.com/reminderd/reminderd/internal/testkit"
)

// The claim of keys JSON cannot carry (claimed one statement at a time)
// takes the credit of the reminder's own app too.
func TestClaimOneByOneTakesTheReminderAppsCredit(t *testing.T) {
	ctx := context.Background()
	d := testkit.SQLite(t)
	t0 := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	const user = "o\xffo" // not valid UTF-8: the batch statements' JSON would change it
	for _, r := range []struct{ id, app string }{{"rb", "wxB"}, {"ra", "wxA"}} {
		if _, err := d.CreateReminder(ctx, store.NewReminder{ID: r.id, AppID: r.app, OpenID: user, TemplateID: "one", FireAt: t0,
			Timezone: "UTC", Data: `{}`, CreatedAt: t0}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := d.RecordAccept(ctx, "wxA", user, "one", false, store.SourceClient, t0.Add(-time.Hour)); err != nil {
		t.Fatal(err)
	}
	cs, err := d.ClaimDue(ctx, store.ClaimParams{Now: t0, LeaseUntil: t0.Add(time.Minute), Owner: "w", Max: 10,
		Kind: func(string, string) (store.TemplateKind, bool) { return store.KindOneTime, true }})
	if err != nil || len(cs) != 2 {
		t.Fatalf("claimed %+v %v", cs, err)
	}
	for _, c := range cs {
		if want := c.Reminder.ID == "ra"; c.Covered != want || c.Reminder.CreditHeld != want {
			t.Errorf("%s (app %s): covered %v, held %v; want %v", c.Reminder.ID, c.Reminder.AppID, c.Covered, c.Reminder.CreditHeld, want)
		}
	}
}
