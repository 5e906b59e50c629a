package db_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/reminderd/reminderd/internal/db"
	"github.com/reminderd/reminderd/internal/store"
)

// A database from before apps (version 7) with data opens, migrates, and
// its rows join the configured app when it adopts them: the old session
// keeps working and the old reminder is that app's.
func TestMigrationToAppsKeepsOldData(t *testing.T) {
	ctx := context.Background()
	raw, path := atVersion(t, 7, "")
	now := time.Now().UnixMilli()
	hash := "ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12"
	for _, q := range []string{
		fmt.Sprintf(`INSERT INTO sessions (token_hash, openid, created_at, expires_at) VALUES ('%s', 'o1', %d, %d)`, hash, now, now+3_600_000),
		fmt.Sprintf(`INSERT INTO reminders (id, openid, template_id, status, fire_at, due_at, timezone, data, created_at, updated_at)
			VALUES ('r1', 'o1', 't', 'scheduled', %d, %d, 'Asia/Shanghai', '{}', %d, %d)`, now+60_000, now+60_000, now, now),
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
	if r, err := d.GetReminder(ctx, "r1"); err != nil || r.AppID != "" {
		t.Fatalf("migrated reminder %+v %v, want it without an app until adopted", r, err)
	}
	if n, err := d.AdoptRows(ctx, "wxaaaa"); err != nil || n != 2 {
		t.Fatalf("adopted %d (%v), want 2", n, err)
	}
	if r, err := d.GetReminder(ctx, "r1"); err != nil || r.AppID != "wxaaaa" || r.Status != store.StatusScheduled {
		t.Fatalf("adopted reminder %+v %v", r, err)
	}
	s, err := d.GetSession(ctx, hash, time.Now())
	if err != nil || s.AppID != "wxaaaa" || s.OpenID != "o1" {
		t.Fatalf("adopted session %+v %v", s, err)
	}
	page, err := d.ListReminders(ctx, store.ListQuery{AppID: "wxaaaa", OpenID: "o1", Limit: 10})
	if err != nil || len(page.Reminders) != 1 {
		t.Fatalf("the app's listing: %+v %v", page, err)
	}
}

// A database of the schema just before apps (version 11: events, the
// fleet's token columns, the webhook outbox) with data migrates through the
// rebuild of templates and wechat_token: every row and column is kept, and
// adoption gives the configured app the event with the rest.
func TestMigrationToAppsFromVersion11(t *testing.T) {
	ctx := context.Background()
	raw, path := atVersion(t, 11, "0012_apps.sql")
	now := time.Now().UnixMilli()
	for _, q := range []string{
		fmt.Sprintf(`INSERT INTO templates (id, title, kind, content, keywords, position, present, synced_at)
			VALUES ('t', '会议', 'one_time', '{{thing1.DATA}}', '[]', 0, 1, %d)`, now),
		fmt.Sprintf(`INSERT INTO wechat_token (id, value, expires_at, updated_at, version, fetcher, fetching_until)
			VALUES (1, 'tok', %d, %d, 7, 'proc-a', 0)`, now+7_200_000, now),
		fmt.Sprintf(`INSERT INTO events (id, openid, title, start_at, timezone, external_ref, leads, templates, created_at, updated_at)
			VALUES ('evt_1', 'o1', '评审', %d, 'Asia/Shanghai', 'meeting-1', '["PT15M"]', '[]', %d, %d)`, now+3_600_000, now, now),
		fmt.Sprintf(`INSERT INTO reminders (id, openid, template_id, status, fire_at, due_at, timezone, data, created_at, updated_at,
			event_id, lead, external_ref) VALUES ('r1', 'o1', 't', 'scheduled', %d, %d, 'Asia/Shanghai', '{}', %d, %d, 'evt_1', 'PT15M', 'meeting-1')`,
			now+60_000, now+60_000, now, now),
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
	if tok, err := d.AppTokens("").LoadToken(ctx); err != nil || tok.Value != "tok" || tok.Version != 7 {
		t.Fatalf("migrated token %+v %v", tok, err)
	}
	if n, err := d.AdoptRows(ctx, "wxaaaa"); err != nil || n != 4 { // reminder, event, template, token
		t.Fatalf("adopted %d (%v), want 4", n, err)
	}
	if ts, err := d.AppTemplates("wxaaaa").Templates(ctx); err != nil || len(ts) != 1 || ts[0].ID != "t" || ts[0].Title != "会议" {
		t.Fatalf("adopted templates %+v %v", ts, err)
	}
	if tok, err := d.AppTokens("wxaaaa").LoadToken(ctx); err != nil || tok.Value != "tok" || tok.Version != 7 {
		t.Fatalf("adopted token %+v %v", tok, err)
	}
	e, err := d.GetEvent(ctx, "evt_1")
	if err != nil || e.AppID != "wxaaaa" || e.ExternalRef != "meeting-1" {
		t.Fatalf("adopted event %+v %v", e, err)
	}
	if ids, err := d.EventIDsByExternalRef(ctx, "wxaaaa", "meeting-1"); err != nil || len(ids) != 1 {
		t.Fatalf("by reference %v %v", ids, err)
	}
	if r, err := d.GetReminder(ctx, "r1"); err != nil || r.AppID != "wxaaaa" || r.EventID != "evt_1" || r.ExternalRef != "meeting-1" {
		t.Fatalf("adopted reminder %+v %v", r, err)
	}
}
