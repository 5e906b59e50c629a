package db_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/reminderd/reminderd/internal/db"
	"github.com/reminderd/reminderd/internal/store"
)

// A database of version 12 (apps, but a ledger keyed by openid and
// template only) with its ledger migrates through the rebuild of consents,
// consent_settings, consent_grants and snoozes with every row and column
// kept; the configured app adopts the rows, and their credits and grants
// then cover its reminders.
func TestMigrationOfTheLedgerToAppsKeepsItsCredits(t *testing.T) {
	ctx := context.Background()
	raw, path := atVersion(t, 12, "0013_ledger_apps.sql")
	now := time.Now().UnixMilli()
	for _, q := range []string{
		// A deployment of version 12 had adopted its reminders already.
		fmt.Sprintf(`INSERT INTO reminders (id, appid, openid, template_id, status, fire_at, due_at, timezone, data, created_at, updated_at)
			VALUES ('r1', 'wxaaaa', 'o1', 'one', 'scheduled', %d, %d, 'Asia/Shanghai', '{}', %d, %d)`, now-1000, now-1000, now, now),
		fmt.Sprintf(`INSERT INTO reminders (id, appid, openid, template_id, status, fire_at, due_at, timezone, data, created_at, updated_at)
			VALUES ('r2', 'wxaaaa', 'o1', 'long', 'scheduled', %d, %d, 'Asia/Shanghai', '{}', %d, %d)`, now-1000, now-1000, now, now),
		fmt.Sprintf(`INSERT INTO consents (openid, template_id, credits, status, long_term, updated_at, zeroed_at, setting, audio)
			VALUES ('o1', 'one', 2, 'accept', 0, %d, 5, 'accept', 1)`, now),
		fmt.Sprintf(`INSERT INTO consents (openid, template_id, credits, status, long_term, updated_at) VALUES ('o1', 'long', 0, 'accept', 1, %d)`, now),
		fmt.Sprintf(`INSERT INTO consent_settings (openid, main_switch, updated_at) VALUES ('o1', 0, %d)`, now),
		fmt.Sprintf(`INSERT INTO consent_grants (id, openid, template_id, source, received_at, paired_with) VALUES (7, 'o1', 'one', 'client', %d, NULL)`, now-2000),
		fmt.Sprintf(`INSERT INTO consent_grants (id, openid, template_id, source, received_at, paired_with) VALUES (8, 'o1', 'one', 'event', %d, 7)`, now-1500),
		`UPDATE consent_grants SET paired_with = 8 WHERE id = 7`,
		fmt.Sprintf(`INSERT INTO consent_grants (id, openid, template_id, source, received_at) VALUES (9, 'o1', 'one', 'event', %d)`, now-1000),
		fmt.Sprintf(`INSERT INTO snoozes (openid, idempotency_key, request_hash, reminder_id, created_at) VALUES ('o1', 'k', 'h', 'r1', %d)`, now),
	} {
		if _, err := raw.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	raw.Close()

	d, err := db.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if rows, err := d.ListConsents(ctx, "wxaaaa", "o1"); err != nil || len(rows) != 0 {
		t.Fatalf("the app's ledger before adoption: %+v %v, want none", rows, err)
	}
	c, err := d.GetConsent(ctx, "", "o1", "one")
	if err != nil || c.Credits != 2 || !c.ZeroedAt.Equal(time.UnixMilli(5)) || c.Setting != store.ConsentAccept || !c.Audio {
		t.Fatalf("migrated row %+v %v: want every column kept", c, err)
	}
	// Two consents, the main switch, three grants, the snooze key.
	if n, err := d.AdoptRows(ctx, "wxaaaa"); err != nil || n != 7 {
		t.Fatalf("adopted %d (%v), want 7", n, err)
	}
	rows, err := d.ListConsents(ctx, "wxaaaa", "o1")
	if err != nil || len(rows) != 2 || rows[0].TemplateID != "long" || !rows[0].LongTerm || rows[1].Credits != 2 || rows[1].AppID != "wxaaaa" {
		t.Fatalf("adopted ledger %+v %v", rows, err)
	}
	if on, err := d.MainSwitch(ctx, "wxaaaa", "o1"); err != nil || on {
		t.Fatalf("adopted main switch %v %v, want off", on, err)
	}
	if h, id, err := d.SnoozeKey(ctx, "wxaaaa", "o1", "k"); err != nil || h != "h" || id != "r1" {
		t.Fatalf("adopted snooze key %q %q %v", h, id, err)
	}
	// The unpaired event (grant 9) pairs with the client's report of it:
	// the grants kept their ids and pairings.
	if counted, err := d.RecordAccept(ctx, "wxaaaa", "o1", "one", false, store.SourceClient, time.UnixMilli(now)); err != nil || counted {
		t.Fatalf("the report of the adopted event: counted %v (%v), want it paired", counted, err)
	}
	var paired int
	if err := d.W.QueryRowContext(ctx, `SELECT count(*) FROM consent_grants WHERE appid = 'wxaaaa' AND paired_with IS NOT NULL`).Scan(&paired); err != nil || paired != 4 {
		t.Fatalf("paired grants %d (%v), want 4", paired, err)
	}
	kind := func(_, id string) (store.TemplateKind, bool) {
		if id == "long" {
			return store.KindLongTerm, true
		}
		return store.KindOneTime, true
	}
	cs, err := d.ClaimDue(ctx, store.ClaimParams{Now: time.UnixMilli(now), LeaseUntil: time.UnixMilli(now + 60_000), Owner: "w", Max: 10, Kind: kind})
	if err != nil || len(cs) != 2 {
		t.Fatalf("claimed %+v %v", cs, err)
	}
	for _, c := range cs {
		if !c.Covered {
			t.Errorf("%s not covered by the adopted ledger", c.Reminder.ID)
		}
	}
	if c, err := d.GetConsent(ctx, "wxaaaa", "o1", "one"); err != nil || c.Credits != 1 {
		t.Fatalf("credits after the claim %+v %v, want 1 (one held)", c, err)
	}
}
