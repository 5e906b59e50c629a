package db_test

import (
	"context"
	"testing"
	"time"

	"github.com/reminderd/reminderd/internal/db"
)

// A database of version 13 (the ledger per app, parked sent events not)
// with parked sent events migrates through the rebuild of
// pending_sent_events with every row and column kept, under app ""; the
// configured app adopts them and finds them for its user.
func TestMigrationOfParkedSentEventsToAppsKeepsThem(t *testing.T) {
	ctx := context.Background()
	raw, path := atVersion(t, 13, "0014_parked_apps.sql")
	for _, q := range []string{
		`INSERT INTO pending_sent_events (msgid, delivered, event_status, received_at, openid, template_id) VALUES (41, 0, 'failed:user block', 1000, 'o1', 'one')`,
		// One parked before events carried their user (migration 5).
		`INSERT INTO pending_sent_events (msgid, delivered, event_status, received_at) VALUES (42, 1, 'success', 900)`,
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
	if ev, err := d.PendingSentEvent(ctx, "", "o1", "one", time.UnixMilli(1000)); err != nil || ev.MsgID != 41 || ev.Delivered ||
		ev.Status != "failed:user block" {
		t.Fatalf("migrated event %+v %v: want every column kept", ev, err)
	}
	if _, err := d.PendingSentEvent(ctx, "wxaaaa", "o1", "one", time.UnixMilli(0)); err == nil {
		t.Fatal("the app finds an event before adopting it")
	}
	if n, err := d.AdoptRows(ctx, "wxaaaa"); err != nil || n != 2 {
		t.Fatalf("adopted %d (%v), want the 2 events", n, err)
	}
	if ev, err := d.PendingSentEvent(ctx, "wxaaaa", "o1", "one", time.UnixMilli(0)); err != nil || ev.MsgID != 41 {
		t.Fatalf("the adopted event %+v %v", ev, err)
	}
	var n int
	if err := d.W.QueryRow(`SELECT count(*) FROM pending_sent_events WHERE appid = 'wxaaaa'`).Scan(&n); err != nil || n != 2 {
		t.Fatalf("%d events of the app (%v), want 2", n, err)
	}
}
