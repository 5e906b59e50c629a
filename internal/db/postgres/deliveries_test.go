package postgres_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/reminderd/reminderd/internal/db/pgtest"
	"github.com/reminderd/reminderd/internal/db/postgres"
	"github.com/reminderd/reminderd/internal/store"
)

// The delivery reads over rows the engine would write: every column maps,
// and the trend counts by the hour a delivery ended (or started).
func TestDeliveryReads(t *testing.T) {
	ctx := context.Background()
	url := pgtest.Database(t)
	d, err := postgres.Open(ctx, url, postgres.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	h := int64(3_600_000)
	since := int64(1_800_000_000_000)
	if _, err := d.CreateReminder(ctx, store.NewReminder{ID: "r", OpenID: "o", TemplateID: "t", FireAt: time.UnixMilli(since),
		Timezone: "UTC", Data: `{}`, CreatedAt: time.UnixMilli(since)}); err != nil {
		t.Fatal(err)
	}
	c := connect(t, url)
	if _, err := c.Exec(ctx, `INSERT INTO deliveries (reminder_id, occurrence_at, attempt, status, errcode, errmsg, msgid, started_at,
			finished_at, latency_ms, delivered, event_status, possible_duplicate) VALUES
		('r', $1::bigint, 1, 'retry', -1, 'busy', NULL, $1::bigint - 2 * $2::bigint, $1::bigint - 2 * $2::bigint + 10, 10, NULL, '', false),
		('r', $1::bigint, 2, 'sent', 0, 'ok', 42, $1::bigint + 10, $1::bigint + $2::bigint + 5, 20, true, 'success', true),
		('r', $1::bigint, 3, 'sending', NULL, '', NULL, $1::bigint + $2::bigint + 7, NULL, NULL, NULL, '', false)`, since, h); err != nil {
		t.Fatal(err)
	}
	ds, err := d.ListDeliveries(ctx, "r")
	if err != nil || len(ds) != 3 {
		t.Fatalf("deliveries %+v, %v", ds, err)
	}
	if s := ds[1]; s.Attempt != 2 || s.Status != store.DeliverySent || !s.HasErrCode || s.ErrCode != 0 || !s.HasMsgID || s.MsgID != 42 ||
		!s.HasLatency || s.Latency != 20*time.Millisecond || !s.HasDelivered || !s.Delivered || s.EventStatus != "success" ||
		!s.PossibleDuplicate || !s.FinishedAt.Equal(time.UnixMilli(since+h+5)) || !s.OccurrenceAt.Equal(time.UnixMilli(since)) {
		t.Errorf("the sent delivery: %+v", s)
	}
	if s := ds[2]; s.HasErrCode || s.HasMsgID || s.HasLatency || s.HasDelivered || !s.FinishedAt.IsZero() {
		t.Errorf("the delivery under way: %+v", s)
	}
	b, err := d.DeliveriesPerHour(ctx, time.UnixMilli(since), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	want := []store.TrendBucket{{Hour: 1, Status: store.DeliverySending, N: 1}, {Hour: 1, Status: store.DeliverySent, N: 1}}
	if !slices.Equal(b, want) {
		t.Errorf("trend %+v, want %+v", b, want)
	}
}
