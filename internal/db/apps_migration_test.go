package db_test

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
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
	path := filepath.Join(t.TempDir(), "old.db")
	raw, err := sql.Open("sqlite", db.DSN(path, false))
	if err != nil {
		t.Fatal(err)
	}
	ms, err := db.Migrations()
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range ms[:7] {
		if _, err := raw.Exec(m.SQL); err != nil {
			t.Fatalf("%s: %v", m.Name, err)
		}
		if _, err := raw.Exec(fmt.Sprintf("PRAGMA user_version = %d", m.Version)); err != nil {
			t.Fatal(err)
		}
	}
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
