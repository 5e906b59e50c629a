package db_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/reminderd/reminderd/internal/db"
	"github.com/reminderd/reminderd/internal/store"
)

// The users of a version 12 deployment running apps A and B: oa has a
// reminder in A, ob in B, os in both (its newest in B), oss only a session
// in B, on nothing at all.
const (
	adoptA, adoptB = "wxaaaa", "wxbbbb"
)

// adoptV12 is a version 12 database of two apps whose ledger rows (one
// credit for template "one" each) carry no app yet, opened (migrated).
func adoptV12(t *testing.T, now int64) *db.DB {
	t.Helper()
	raw, path := atVersion(t, 12, "")
	reminder := func(id, app, openID string, created int64) string {
		return fmt.Sprintf(`INSERT INTO reminders (id, appid, openid, template_id, status, fire_at, due_at, timezone, data, created_at, updated_at)
			VALUES ('%s', '%s', '%s', 'one', 'scheduled', %d, %d, 'Asia/Shanghai', '{}', %d, %d)`, id, app, openID, now-1000, now-1000, created, created)
	}
	qs := []string{
		reminder("ra", adoptA, "oa", now-3000),
		reminder("rb", adoptB, "ob", now-3000),
		reminder("rsa", adoptA, "os", now-5000),
		reminder("rsb", adoptB, "os", now-2000),
		fmt.Sprintf(`INSERT INTO sessions (token_hash, appid, openid, created_at, expires_at) VALUES ('%s', '%s', 'oss', %d, %d)`,
			strings.Repeat("a", 64), adoptB, now-1000, now+60_000),
		fmt.Sprintf(`INSERT INTO consent_settings (openid, main_switch, updated_at) VALUES ('ob', 0, %d)`, now),
		fmt.Sprintf(`INSERT INTO consent_grants (id, openid, template_id, source, received_at) VALUES (9, 'ob', 'one', 'event', %d)`, now-1000),
		// os snoozed its reminder in A: the key is A's although os's newest reminder is B's.
		fmt.Sprintf(`INSERT INTO snoozes (openid, idempotency_key, request_hash, reminder_id, created_at) VALUES ('os', 'k', 'h', 'rsa', %d)`, now),
		fmt.Sprintf(`INSERT INTO snoozes (openid, idempotency_key, request_hash, reminder_id, created_at) VALUES ('ob', 'k', 'h', 'rb', %d)`, now),
		fmt.Sprintf(`INSERT INTO pending_sent_events (msgid, delivered, event_status, received_at, openid, template_id) VALUES (41, 0, 'failed:user block', %d, 'ob', 'one')`, now),
	}
	for _, o := range []string{"oa", "ob", "os", "oss", "on"} {
		qs = append(qs, fmt.Sprintf(`INSERT INTO consents (openid, template_id, credits, status, updated_at) VALUES ('%s', 'one', 1, 'accept', %d)`, o, now-10_000))
	}
	for _, q := range qs {
		if _, err := raw.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	raw.Close()
	d, err := db.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

// An upgraded deployment of apps A and B: each ledger row goes to its
// user's app, so each app's reminder is covered by its own user's credit;
// the openid of both apps keeps one credit, in the app of its newest
// reminder; a user known to no app goes to the first app.
func TestAdoptionGivesEachUsersLedgerToTheirApp(t *testing.T) {
	ctx := context.Background()
	now := time.Now().UnixMilli()
	d := adoptV12(t, now)
	if _, err := d.AdoptRows(ctx, adoptA); err != nil {
		t.Fatal(err)
	}
	credits := func(app, openID string) int64 {
		c, err := d.GetConsent(ctx, app, openID, "one")
		if err != nil {
			return -1
		}
		return c.Credits
	}
	for _, w := range []struct {
		app, openID string
		want        int64
	}{
		{adoptA, "oa", 1}, {adoptB, "oa", -1},
		{adoptB, "ob", 1}, {adoptA, "ob", -1},
		{adoptB, "os", 1}, {adoptA, "os", -1},
		{adoptB, "oss", 1}, {adoptA, "oss", -1},
		{adoptA, "on", 1}, {adoptB, "on", -1},
	} {
		if got := credits(w.app, w.openID); got != w.want {
			t.Errorf("credits of %s in %s: %d, want %d (-1: no row)", w.openID, w.app, got, w.want)
		}
	}
	if on, err := d.MainSwitch(ctx, adoptB, "ob"); err != nil || on {
		t.Errorf("ob's main switch in B %v %v, want off", on, err)
	}
	if h, id, err := d.SnoozeKey(ctx, adoptB, "ob", "k"); err != nil || h != "h" || id != "rb" {
		t.Errorf("ob's snooze key in B %q %q %v", h, id, err)
	}
	if h, id, err := d.SnoozeKey(ctx, adoptA, "os", "k"); err != nil || h != "h" || id != "rsa" {
		t.Errorf("os's snooze key in A (its reminder's app) %q %q %v", h, id, err)
	}
	if ev, err := d.PendingSentEvent(ctx, adoptB, "ob", "one", time.UnixMilli(0)); err != nil || ev.MsgID != 41 {
		t.Errorf("ob's parked sent event in B %+v %v", ev, err)
	}
	for _, table := range []string{"consents", "consent_settings", "consent_grants", "snoozes", "pending_sent_events"} {
		var n int
		if err := d.W.QueryRowContext(ctx, "SELECT count(*) FROM "+table+" WHERE appid = ''").Scan(&n); err != nil || n != 0 {
			t.Errorf("%d rows of %s left without an app (%v)", n, table, err)
		}
	}

	covered := claimAdopted(t, d, now)
	for id, want := range map[string]bool{"ra": true, "rb": true, "rsb": true, "rsa": false} {
		if covered[id] != want {
			t.Errorf("%s covered %v, want %v", id, covered[id], want)
		}
	}
	for _, w := range [][2]string{{adoptA, "oa"}, {adoptB, "ob"}, {adoptB, "os"}} {
		if got := credits(w[0], w[1]); got != 0 {
			t.Errorf("credits of %s in %s after the claim: %d, want 0 (taken)", w[1], w[0], got)
		}
	}
	// B's popup event pairs with B's client report of it.
	if counted, err := d.RecordAccept(ctx, adoptB, "ob", "one", false, store.SourceClient, time.UnixMilli(now)); err != nil || counted {
		t.Errorf("ob's report in B: counted %v (%v), want it paired with the adopted event", counted, err)
	}
}

// A row the app has already with the key of an unowned one is merged into
// it, not left orphaned: the credits add up, the newer answer stands.
func TestAdoptionMergesARowTheAppHasAlready(t *testing.T) {
	ctx := context.Background()
	now := time.Now().UnixMilli()
	d := adoptV12(t, now)
	for _, q := range []string{
		fmt.Sprintf(`INSERT INTO consents (appid, openid, template_id, credits, status, updated_at) VALUES ('%s', 'ob', 'one', 2, 'reject', %d)`, adoptB, now),
		// oa unsubscribed in A since its unowned credit: that credit is gone.
		fmt.Sprintf(`INSERT INTO consents (appid, openid, template_id, credits, status, updated_at, zeroed_at) VALUES ('%s', 'oa', 'one', 0, 'unsubscribed', %d, %d)`, adoptA, now, now),
		fmt.Sprintf(`INSERT INTO consent_settings (appid, openid, main_switch, updated_at) VALUES ('%s', 'ob', 1, %d)`, adoptB, now-20_000),
		fmt.Sprintf(`INSERT INTO snoozes (appid, openid, idempotency_key, request_hash, reminder_id, created_at) VALUES ('%s', 'ob', 'k', 'h2', 'rb', %d)`, adoptB, now),
	} {
		if _, err := d.W.ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := d.AdoptRows(ctx, adoptA); err != nil {
		t.Fatal(err)
	}
	if c, err := d.GetConsent(ctx, adoptB, "ob", "one"); err != nil || c.Credits != 3 || c.Status != store.ConsentReject {
		t.Errorf("merged consent %+v %v, want 3 credits and the newer reject", c, err)
	}
	if c, err := d.GetConsent(ctx, adoptA, "oa", "one"); err != nil || c.Credits != 0 || c.Status != store.ConsentUnsubscribed {
		t.Errorf("merged consent %+v %v, want no credit: the unsubscribe came after the unowned one", c, err)
	}
	if on, err := d.MainSwitch(ctx, adoptB, "ob"); err != nil || on {
		t.Errorf("merged main switch %v %v, want the newer off", on, err)
	}
	if h, _, err := d.SnoozeKey(ctx, adoptB, "ob", "k"); err != nil || h != "h2" {
		t.Errorf("merged snooze key %q %v, want the app's own", h, err)
	}
	for _, table := range []string{"consents", "consent_settings", "snoozes"} {
		var n int
		if err := d.W.QueryRowContext(ctx, "SELECT count(*) FROM "+table+" WHERE appid = ''").Scan(&n); err != nil || n != 0 {
			t.Errorf("%d rows of %s left without an app (%v)", n, table, err)
		}
	}
}

// claimAdopted claims every due reminder and says which were covered.
func claimAdopted(t *testing.T, s store.EngineStore, now int64) map[string]bool {
	t.Helper()
	cs, err := s.ClaimDue(context.Background(), store.ClaimParams{Now: time.UnixMilli(now), LeaseUntil: time.UnixMilli(now + 60_000), Owner: "w", Max: 10,
		Kind: func(string, string) (store.TemplateKind, bool) { return store.KindOneTime, true }})
	if err != nil || len(cs) != 4 {
		t.Fatalf("claimed %+v %v, want the 4 reminders", cs, err)
	}
	covered := map[string]bool{}
	for _, c := range cs {
		covered[c.Reminder.ID] = c.Covered
	}
	return covered
}
