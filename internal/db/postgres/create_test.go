package postgres_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/reminderd/reminderd/internal/store"
)

// CreateReminder answers with the row as stored; a duplicate id is
// ErrConflict, invalid JSON data a plain error.
func TestCreateReminder(t *testing.T) {
	ctx := context.Background()
	d := open(t)
	defer d.Close()
	at := time.UnixMilli(1_800_000_000_000)
	nr := store.NewReminder{ID: "r1", OpenID: "o", TemplateID: "t", FireAt: at, Timezone: "UTC",
		Data: `{"a":{"value":"b"}}`, IdempotencyKey: "k", Window: time.Minute, HasWindow: true, CreatedAt: at}
	got, err := d.CreateReminder(ctx, nr)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != store.StatusScheduled || !got.DueAt.Equal(at) || got.Window != time.Minute || !got.HasWindow || got.IdempotencyKey != "k" {
		t.Fatalf("created %+v", got)
	}
	if _, err := d.CreateReminder(ctx, nr); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("a duplicate: %v, want ErrConflict", err)
	}
	nr.ID, nr.IdempotencyKey, nr.Data = "r2", "", `{"a":`
	if _, err := d.CreateReminder(ctx, nr); err == nil || !strings.Contains(err.Error(), "not valid JSON") {
		t.Fatalf("invalid JSON: %v", err)
	}
}
