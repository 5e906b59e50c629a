package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/reminderd/reminderd/internal/db/pgtest"
	"github.com/reminderd/reminderd/internal/db/postgres"
	"github.com/reminderd/reminderd/internal/store"
)

// processes opens n drivers on one fresh database: n pools, as n
// reminderd processes sharing the server would have.
func openProcesses(t *testing.T, n int) []*postgres.DB {
	t.Helper()
	url := pgtest.Database(t)
	out := make([]*postgres.DB, n)
	for i := range out {
		d, err := postgres.Open(context.Background(), url, postgres.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { d.Close() })
		out[i] = d
	}
	return out
}

// together runs fn(i) for every i < n at once, released together, and
// waits for them all.
func atOnce(n int, fn func(i int)) {
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			fn(i)
		})
	}
	close(start)
	wg.Wait()
}

// Two processes creating a reminder of one user at the limit at the same
// moment never both pass it: the count and the insert are serialised per
// user across pools.
func TestConcurrentCreatesAtTheLimitAcrossProcesses(t *testing.T) {
	ctx := context.Background()
	ps := openProcesses(t, 2)
	const rounds = 40
	for round := range rounds {
		openID := fmt.Sprintf("o%d", round)
		// One scheduled already: a limit of 2 leaves one place.
		first := store.NewReminder{ID: openID + "_0", OpenID: openID, TemplateID: "t", FireAt: time.UnixMilli(1_800_000_000_000),
			Timezone: "UTC", Data: `{}`, CreatedAt: time.UnixMilli(1_800_000_000_000)}
		if _, err := ps[0].CreateReminder(ctx, first); err != nil {
			t.Fatal(err)
		}
		errs := make([]error, len(ps))
		atOnce(len(ps), func(i int) {
			r := first
			r.ID = fmt.Sprintf("%s_p%d", openID, i)
			_, errs[i] = ps[i].CreateReminderIdempotent(ctx, r, store.CreateOptions{MaxScheduled: 2})
		})
		passed := 0
		for i, err := range errs {
			switch {
			case err == nil:
				passed++
			case !errors.Is(err, store.ErrLimit):
				t.Fatalf("round %d, process %d: %v", round, i, err)
			}
		}
		page, err := ps[1].ListReminders(ctx, store.ListQuery{OpenID: openID, Limit: 10})
		if err != nil {
			t.Fatal(err)
		}
		if passed != 1 || len(page.Reminders) != 2 {
			t.Fatalf("round %d: %d of 2 creates passed a limit with one place, the user has %d reminders", round, passed, len(page.Reminders))
		}
	}
}

// A create waits for another process's create of the same user that is
// under way (its insert not yet committed), then counts it: deterministic
// where the race above is statistical. The other process is a raw
// transaction taking the user's lock as CreateReminderIdempotent does.
func TestCreateWaitsForAnotherProcessCreateOfTheUser(t *testing.T) {
	ctx := context.Background()
	url := pgtest.Database(t)
	d, err := postgres.Open(ctx, url, postgres.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	c := connect(t, url)
	tx, err := c.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock(hashtextextended('reminderd create ' || $1::text, 0))", "o1"); err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, `INSERT INTO reminders (id, openid, template_id, status, fire_at, due_at, timezone, data, created_at, updated_at)
		VALUES ('r_other', 'o1', 't', 'scheduled', 1, 1, 'UTC', '{}', 1, 1)`); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		r := store.NewReminder{ID: "r_mine", OpenID: "o1", TemplateID: "t", FireAt: time.UnixMilli(2), Timezone: "UTC", Data: `{}`,
			CreatedAt: time.UnixMilli(2)}
		_, err := d.CreateReminderIdempotent(ctx, r, store.CreateOptions{MaxScheduled: 1})
		done <- err
	}()
	// The create queues on the lock (polling the server, not the clock).
	deadline, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	for {
		var waiting int
		if err := c.QueryRow(deadline, "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted").Scan(&waiting); err != nil {
			t.Fatalf("the create never queued on the user's lock: %v", err)
		}
		if waiting == 1 {
			break
		}
		select {
		case err := <-done:
			t.Fatalf("the create finished (%v) while another create of the user was under way", err)
		default:
		}
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-done; !errors.Is(err, store.ErrLimit) {
		t.Fatalf("the create after the other one committed: %v, want ErrLimit", err)
	}
}

// A client's report and the popup event of one accept, recorded by two
// processes at the same moment, still pair: one credit.
func TestConcurrentAcceptsPairAcrossProcesses(t *testing.T) {
	ctx := context.Background()
	ps := openProcesses(t, 2)
	at := time.UnixMilli(1_800_000_000_000)
	sources := []store.GrantSource{store.SourceClient, store.SourceEvent}
	for round := range 40 {
		openID := fmt.Sprintf("o%d", round)
		counted := make([]bool, len(ps))
		errs := make([]error, len(ps))
		atOnce(len(ps), func(i int) {
			counted[i], errs[i] = ps[i].RecordAccept(ctx, "", openID, "t", false, sources[i], at.Add(time.Duration(i)*time.Second))
		})
		for _, err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		c, err := ps[0].GetConsent(ctx, "", openID, "t")
		if err != nil {
			t.Fatal(err)
		}
		if c.Credits != 1 || counted[0] == counted[1] {
			t.Fatalf("round %d: counted %v, %d credits; want one accept counted once", round, counted, c.Credits)
		}
	}
}
