package postgres_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/reminderd/reminderd/internal/db/postgres"
	"github.com/reminderd/reminderd/internal/store"
)

// A template or text filter without a user reads at most MaxWalk entries a
// page: a page may stop short with a Next, and the walk still lists every
// match once, in order.
func TestListWalkBound(t *testing.T) {
	ctx := context.Background()
	d := open(t)
	defer d.Close()
	defer func(w int64) { postgres.MaxWalk = w }(postgres.MaxWalk)
	postgres.MaxWalk = 3
	at := time.UnixMilli(1_800_000_000_000)
	var want []string
	for i := range 20 {
		r := store.NewReminder{ID: fmt.Sprintf("r%02d", i), OpenID: "o", TemplateID: "t1", FireAt: at.Add(time.Duration(i/2) * time.Second),
			Timezone: "UTC", Data: `{}`, CreatedAt: at}
		if i%7 == 0 {
			r.TemplateID, r.Data = "t2", `{"k":"needle"}`
			want = append(want, r.ID)
		}
		if _, err := d.CreateReminder(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	for _, q := range []store.ListQuery{{TemplateID: "t2"}, {Text: "needle"}, {Status: store.StatusScheduled, TemplateID: "t2"}} {
		q.Limit = 2
		var got []string
		short := false
		for pages := 0; ; pages++ {
			if pages > 50 {
				t.Fatal("the listing does not end")
			}
			page, err := d.ListReminders(ctx, q)
			if err != nil {
				t.Fatal(err)
			}
			if page.WalkLimit != 3 {
				t.Fatalf("walk limit %d", page.WalkLimit)
			}
			for _, r := range page.Reminders {
				got = append(got, r.ID)
			}
			if page.Next == nil {
				break
			}
			short = short || len(page.Reminders) < q.Limit
			q.After = page.Next
		}
		if !slices.Equal(got, want) || !short {
			t.Errorf("%+v: listed %v (a short page: %v), want %v with short pages", q, got, short, want)
		}
	}
}
