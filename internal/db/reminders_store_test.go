package db_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/reminderd/reminderd/internal/db"
	"github.com/reminderd/reminderd/internal/store"
	"github.com/reminderd/reminderd/internal/testkit"
	"github.com/reminderd/reminderd/internal/wechat/wechattest"
)

// A write the disk has no room for is the store's ErrFull, from every
// operation (and the probe), so that callers need no SQLite error codes;
// reads go on.
func TestOperationsSayErrFull(t *testing.T) {
	ctx := context.Background()
	clock := wechattest.NewClock(time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC))
	d := testkit.SQLiteWith(t, db.Options{Now: clock.Now})
	fillUp(t, d)
	now := clock.Now()
	newReminder := func(i int) store.NewReminder {
		return store.NewReminder{ID: fmt.Sprintf("rem_%d", i), OpenID: "o", TemplateID: "t", FireAt: now, Timezone: "UTC",
			Data: "{}", CreatedAt: now}
	}
	// Each operation writes until it fails: the empty pages of its tables
	// take a few rows first.
	for name, write := range map[string]func(i int) error{
		"create": func(i int) error { _, err := d.CreateReminder(ctx, newReminder(i)); return err },
		"create idempotent": func(i int) error {
			_, err := d.CreateReminderIdempotent(ctx, newReminder(100000+i), store.CreateOptions{MaxScheduled: 1 << 20})
			return err
		},
		"session": func(i int) error {
			return d.CreateSession(ctx, store.Session{TokenHash: fmt.Sprintf("%064x", 200000+i), OpenID: "o", CreatedAt: now, ExpiresAt: now.Add(time.Hour)})
		},
		"accept": func(i int) error {
			_, err := d.RecordAccept(ctx, "", "o", fmt.Sprintf("t%d", i), false, store.SourceClient, now)
			return err
		},
	} {
		err := firstError(write)
		if !errors.Is(err, store.ErrFull) {
			t.Errorf("%s on a full disk: %v, want ErrFull", name, err)
		}
	}
	clock.Advance(db.ProbeEvery)
	if err := d.Writable(ctx); !errors.Is(err, store.ErrFull) {
		t.Errorf("the probe on a full disk: %v, want ErrFull", err)
	}
	if _, err := d.CountReminders(ctx, now); err != nil {
		t.Errorf("a read on a full disk: %v", err)
	}
}

// firstError calls write with 0, 1, … until it fails, and returns that.
func firstError(write func(i int) error) error {
	for i := range 100000 {
		if err := write(i); err != nil {
			return err
		}
	}
	return nil
}

// The listing by delivery report applies the text search too, as every
// other listing does (and as the PostgreSQL driver does).
func TestListByDeliveryAppliesTheTextSearch(t *testing.T) {
	ctx := context.Background()
	d := testkit.SQLite(t)
	now := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	for _, r := range []struct{ id, data string }{{"rem_a", `{"thing1":"Alpha"}`}, {"rem_b", `{"thing1":"Beta"}`}} {
		if _, err := d.CreateReminder(ctx, store.NewReminder{ID: r.id, OpenID: "o", TemplateID: "t", FireAt: now, Timezone: "UTC",
			Data: r.data, CreatedAt: now}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := d.W.ExecContext(ctx, `UPDATE reminders SET delivery = 'delivered'`); err != nil { // as sent events do
		t.Fatal(err)
	}
	page, err := d.ListReminders(ctx, store.ListQuery{Delivery: store.ReportDelivered, Text: "Alpha", Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Reminders) != 1 || page.Reminders[0].ID != "rem_a" {
		var ids []string
		for _, r := range page.Reminders {
			ids = append(ids, r.ID)
		}
		t.Fatalf("delivered reminders with Alpha = %v, want [rem_a]", ids)
	}
}
