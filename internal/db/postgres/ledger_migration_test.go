package postgres_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/reminderd/reminderd/internal/db/postgres"
	"github.com/reminderd/reminderd/internal/store"
)

// A database of version 8 (apps, but a ledger keyed by openid and
// template only) with its ledger migrates with every row kept; the
// configured app adopts the rows, and their credits then cover its
// reminders.
func TestMigrationOfTheLedgerToAppsKeepsItsCredits(t *testing.T) {
	ctx := context.Background()
	url, c := atVersion(t, 8, "0009_ledger_apps.sql")
	now := time.Now().UnixMilli()
	for _, q := range []string{
		fmt.Sprintf(`INSERT INTO reminders (id, appid, openid, template_id, status, fire_at, due_at, timezone, data, created_at, updated_at)
			VALUES ('r1', 'wxaaaa', 'o1', 'one', 'scheduled', %d, %d, 'Asia/Shanghai', '{}', %d, %d)`, now-1000, now-1000, now, now),
		fmt.Sprintf(`INSERT INTO consents (openid, template_id, credits, status, long_term, updated_at, zeroed_at, setting, audio)
			VALUES ('o1', 'one', 2, 'accept', false, %d, 5, 'accept', true)`, now),
		fmt.Sprintf(`INSERT INTO consent_settings (openid, main_switch, updated_at) VALUES ('o1', false, %d)`, now),
		fmt.Sprintf(`INSERT INTO consent_grants (id, openid, template_id, source, received_at) VALUES (9, 'o1', 'one', 'event', %d)`, now-1000),
		fmt.Sprintf(`INSERT INTO snoozes (openid, idempotency_key, request_hash, reminder_id, created_at) VALUES ('o1', 'k', 'h', 'r1', %d)`, now),
	} {
		if _, err := c.Exec(ctx, q); err != nil {
			t.Fatal(err)
		}
	}

	d, err := postgres.Open(ctx, url, postgres.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	got, err := d.GetConsent(ctx, "", "o1", "one")
	if err != nil || got.Credits != 2 || got.ZeroedAt.UnixMilli() != 5 || got.Setting != store.ConsentAccept || !got.Audio {
		t.Fatalf("migrated row %+v %v: want every column kept", got, err)
	}
	// The consent, the main switch, the grant, the snooze key.
	if n, err := d.AdoptRows(ctx, "wxaaaa"); err != nil || n != 4 {
		t.Fatalf("adopted %d (%v), want 4", n, err)
	}
	if got, err := d.GetConsent(ctx, "wxaaaa", "o1", "one"); err != nil || got.Credits != 2 || got.AppID != "wxaaaa" {
		t.Fatalf("adopted row %+v %v", got, err)
	}
	if on, err := d.MainSwitch(ctx, "wxaaaa", "o1"); err != nil || on {
		t.Fatalf("adopted main switch %v %v, want off", on, err)
	}
	if h, id, err := d.SnoozeKey(ctx, "wxaaaa", "o1", "k"); err != nil || h != "h" || id != "r1" {
		t.Fatalf("adopted snooze key %q %q %v", h, id, err)
	}
	if counted, err := d.RecordAccept(ctx, "wxaaaa", "o1", "one", false, store.SourceClient, time.UnixMilli(now)); err != nil || counted {
		t.Fatalf("the report of the adopted event: counted %v (%v), want it paired", counted, err)
	}
	cs, err := d.ClaimDue(ctx, store.ClaimParams{Now: time.UnixMilli(now), LeaseUntil: time.UnixMilli(now + 60_000), Owner: "w", Max: 10,
		Kind: func(string, string) (store.TemplateKind, bool) { return store.KindOneTime, true }})
	if err != nil || len(cs) != 1 || !cs[0].Covered || !cs[0].Reminder.CreditHeld {
		t.Fatalf("claimed %+v %v: want r1 covered by the adopted credit", cs, err)
	}
}
