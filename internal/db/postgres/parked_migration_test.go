package postgres_test

import (
	"context"
	"testing"
	"time"

	"github.com/reminderd/reminderd/internal/db/postgres"
)

// A database of version 9 (the ledger per app, parked sent events not)
// with parked sent events migrates with every row kept, under app ""; the
// configured app adopts them and finds them for its user.
func TestMigrationOfParkedSentEventsToAppsKeepsThem(t *testing.T) {
	ctx := context.Background()
	url, c := atVersion(t, 9, "0010_parked_apps.sql")
	if _, err := c.Exec(ctx, `INSERT INTO pending_sent_events (msgid, delivered, event_status, received_at, openid, template_id)
		VALUES (41, false, 'failed:user block', 1000, 'o1', 'one')`); err != nil {
		t.Fatal(err)
	}

	d, err := postgres.Open(ctx, url, postgres.Options{})
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
	if n, err := d.AdoptRows(ctx, "wxaaaa"); err != nil || n != 1 {
		t.Fatalf("adopted %d (%v), want the event", n, err)
	}
	if ev, err := d.PendingSentEvent(ctx, "wxaaaa", "o1", "one", time.UnixMilli(0)); err != nil || ev.MsgID != 41 {
		t.Fatalf("the adopted event %+v %v", ev, err)
	}
}
