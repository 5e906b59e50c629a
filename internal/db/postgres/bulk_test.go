package postgres_test

import (
	"context"
	"testing"
	"time"

	"github.com/reminderd/reminderd/internal/db/pgtest"
	"github.com/reminderd/reminderd/internal/db/postgres"
	"github.com/reminderd/reminderd/internal/store"
)

// Retries of ended reminders, one and in bulk: a retryable reason is
// scheduled again at now with its window moved, a permanent one counted
// and left, a repeated id counted once as retried.
func TestRetryEndedReminders(t *testing.T) {
	ctx := context.Background()
	url := pgtest.Database(t)
	d, err := postgres.Open(ctx, url, postgres.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	at := time.UnixMilli(1_800_000_000_000)
	for _, id := range []string{"r_fail", "r_perm", "r_one", "r_sched"} {
		r := store.NewReminder{ID: id, OpenID: "o", TemplateID: "t", FireAt: at, ExpiresAt: at.Add(time.Minute),
			Window: time.Minute, HasWindow: true, Timezone: "UTC", Data: `{}`, CreatedAt: at}
		if _, err := d.CreateReminder(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	c := connect(t, url)
	if _, err := c.Exec(ctx, `UPDATE reminders SET status = 'failed', reason = 'no_consent', attempts = 2 WHERE id IN ('r_fail', 'r_one');
		UPDATE reminders SET status = 'skipped', reason = 'invalid_data' WHERE id = 'r_perm'`); err != nil {
		t.Fatal(err)
	}
	now := at.Add(time.Hour + 7*time.Millisecond)
	if err := d.RetryReminder(ctx, "r_one", now); err != nil {
		t.Fatal(err)
	}
	got, err := d.GetReminder(ctx, "r_one")
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != store.StatusScheduled || got.Reason != "" || !got.FireAt.Equal(now) || !got.DueAt.Equal(now) ||
		!got.ExpiresAt.Equal(now.Add(time.Minute)) || got.Attempts != 2 {
		t.Fatalf("retried %+v", got)
	}
	counts, err := d.RetryReminders(ctx, []string{"r_fail", "r_perm", "r_sched", "r_fail", "r_nope"}, now)
	if err != nil {
		t.Fatal(err)
	}
	if want := (store.RetryCounts{Matched: 5, Retried: 1, Conflict: 2, Permanent: 1, NotFound: 1}); counts != want {
		t.Fatalf("retry counts %+v, want %+v", counts, want)
	}
	for id, want := range map[string]store.Status{"r_fail": store.StatusScheduled, "r_perm": store.StatusSkipped} {
		if got, err := d.GetReminder(ctx, id); err != nil || got.Status != want {
			t.Errorf("%s: %s, %v; want %s", id, got.Status, err, want)
		}
	}
	cc, err := d.CancelReminders(ctx, []string{"r_fail", "r_fail", "r_perm"}, now)
	if err != nil {
		t.Fatal(err)
	}
	if want := (store.CancelCounts{Matched: 3, Canceled: 1, Conflict: 2}); cc != want {
		t.Fatalf("cancel counts %+v, want %+v", cc, want)
	}
}
