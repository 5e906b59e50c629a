package postgres

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/reminderd/reminderd/internal/db/pgtest"
	"github.com/reminderd/reminderd/internal/db/postgres/pgsqlc"
	"github.com/reminderd/reminderd/internal/store"
)

// pipeline's statements run in the order queued, each seeing what the
// ones before it wrote, and each call reads its own statement's result; a
// failing statement reports its own error and fails the rest.
func TestPipeline(t *testing.T) {
	ctx := context.Background()
	d, err := Open(ctx, pgtest.Database(t), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	t0 := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	p, _ := insertReminder(store.NewReminder{ID: "r1", OpenID: "o1", TemplateID: "tpl", FireAt: t0, Timezone: "UTC", Data: `{}`,
		CreatedAt: t0})
	err = d.withTxOn(ctx, func(tx pgx.Tx, q *pgsqlc.Queries) error {
		var before, after int64
		var insertErr, beforeErr, afterErr, getErr error
		var got pgsqlc.Reminder
		err := pipeline(ctx, tx, func(q *pgsqlc.Queries) {
			before, beforeErr = q.CountScheduledForOwner(ctx, "o1")
			insertErr = q.InsertReminder(ctx, p)
			after, afterErr = q.CountScheduledForOwner(ctx, "o1")
			got, getErr = q.GetReminder(ctx, "r1")
		})
		if err != nil || beforeErr != nil || insertErr != nil || afterErr != nil || getErr != nil {
			t.Fatalf("errors %v %v %v %v %v", err, beforeErr, insertErr, afterErr, getErr)
		}
		if before != 0 || after != 1 || got.ID != "r1" {
			t.Fatalf("counts %d, %d and reminder %q, want 0, 1 and r1", before, after, got.ID)
		}
		var againErr, countErr error
		err = pipeline(ctx, tx, func(q *pgsqlc.Queries) {
			againErr = q.InsertReminder(ctx, p) // the same id again
			_, countErr = q.CountScheduledForOwner(ctx, "o1")
		})
		if !errors.Is(storeErr(againErr, ""), store.ErrConflict) || countErr == nil || err == nil {
			t.Fatalf("a duplicate insert: %v, then %v (batch %v); want a conflict that fails the rest", againErr, countErr, err)
		}
		return errAborted // rolled back
	})
	if !errors.Is(err, errAborted) {
		t.Fatal(err)
	}
}
