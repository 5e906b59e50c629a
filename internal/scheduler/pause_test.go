package scheduler_test

import (
	"context"
	"testing"
	"time"

	"github.com/reminderd/reminderd/internal/store"
	"github.com/reminderd/reminderd/internal/testkit"
	"github.com/reminderd/reminderd/internal/wechat/wechattest"
)

func TestAdminPauseStopsClaimsAndSurvivesRestart(t *testing.T) {
	h := newHarness(t, nil)
	ctx := context.Background()
	h.grant("oA", meetingID, 2)
	if err := h.eng.Pause(ctx, "模板审核中"); err != nil {
		t.Fatal(err)
	}
	// A restarted process reads the pause back.
	h.eng = h.engine(h.db, nil)
	since, reason, paused := h.eng.AdminPaused()
	if !paused || reason != "模板审核中" || !since.Equal(t0) {
		t.Fatalf("after a restart: paused %v, reason %q, since %v", paused, reason, since)
	}
	id := h.add("oA", t0, withExpiry(time.Hour))
	h.clock.Advance(time.Minute)
	h.cycle()
	if r := h.rem(id); r.Status != "scheduled" || r.Attempts != 0 || len(h.fake.Sends()) != 0 || len(h.deliveries(id)) != 0 {
		t.Fatalf("claimed while paused: %+v, %d sends", r, len(h.fake.Sends()))
	}
	// Pausing again keeps its beginning.
	if err := h.eng.Pause(ctx, "still"); err != nil {
		t.Fatal(err)
	}
	if since, _, _ := h.eng.AdminPaused(); !since.Equal(t0) {
		t.Fatalf("a second pause moved its start to %v", since)
	}
	if err := h.eng.Resume(ctx); err != nil {
		t.Fatal(err)
	}
	h.cycle()
	h.wantState(id, "sent", "")
	h.eng = h.engine(h.db, nil)
	if _, _, paused := h.eng.AdminPaused(); paused {
		t.Fatal("a resumed pause came back after a restart")
	}
}

// An admin retry continues the attempt numbers, and its attempt budget and
// backoff start again from the retry.
func TestAdminRetryContinuesAttempts(t *testing.T) {
	h := newHarness(t, nil)
	h.grant("oA", meetingID, 2)
	h.fake.SetFaults(wechattest.Faults{HTTP500Rate: 1})
	id := h.add("oA", t0, withExpiry(100*time.Second))
	run := func() {
		for range 50 {
			h.cycle()
			r := h.rem(id)
			if r.Status != "scheduled" {
				return
			}
			h.clock.Set(time.UnixMilli(r.DueAt.UnixMilli()))
		}
	}
	run()
	first := h.wantState(id, "failed", "retries_exhausted").Attempts
	if first < 3 {
		t.Fatalf("only %d attempts in the first run", first)
	}
	h.clock.Advance(time.Hour)
	if err := h.db.RetryReminder(context.Background(), id, h.now()); err != nil {
		t.Fatalf("retry: %v", err)
	}
	if r := h.rem(id); r.Attempts != first {
		t.Fatalf("the retry reset attempts to %d (was %d)", r.Attempts, first)
	}
	run()
	h.wantState(id, "failed", "retries_exhausted")
	ds := h.deliveries(id)
	var after []store.Delivery
	for i, d := range ds {
		if d.Attempt != int64(i+1) {
			t.Fatalf("delivery %d has attempt %d: numbers do not continue: %+v", i, d.Attempt, ds)
		}
		if d.Attempt > first {
			after = append(after, d)
		}
	}
	if len(after) < 3 {
		t.Fatalf("the retry made %d attempts: its budget did not start again", len(after))
	}
	// The first backoff after the retry is about BackoffBase (1 s ± 25 %),
	// not the backoff of the reminder's attempt count.
	if gap := time.Duration(after[1].StartedAt.UnixMilli()-after[0].StartedAt.UnixMilli()) * time.Millisecond; gap > 1250*time.Millisecond {
		t.Fatalf("first backoff after the retry %v: counted from attempt 1 of the reminder, not of the retry", gap)
	}
}

// Two engines on one database (two handles on one file): an admin pause
// on one stops the other's claims at its next scan, and a resume on the
// other lets both send again.
func TestAdminPauseHoldsAcrossProcesses(t *testing.T) {
	h := newHarness(t, nil)
	ctx := context.Background()
	other := h.engine(testkit.Reopen(t, h.db), nil) // another process on the same database
	if err := h.eng.Pause(ctx, "模板审核中"); err != nil {
		t.Fatal(err)
	}
	h.grant("oA", meetingID, 2)
	id := h.add("oA", h.clock.Now(), withExpiry(time.Hour))
	h.clock.Advance(2 * time.Second)
	if err := other.ScanOnce(ctx); err != nil {
		t.Fatal(err)
	}
	other.WaitIdle()
	if r := h.rem(id); r.Status != "scheduled" || len(h.fake.Sends()) != 0 {
		t.Fatalf("the other engine claimed during a pause made on the first: %s, %d sends", r.Status, len(h.fake.Sends()))
	}
	if _, reason, paused := other.AdminPaused(); !paused || reason != "模板审核中" {
		t.Fatalf("the other engine reports paused %v (%q)", paused, reason)
	}
	// Resumed on the other engine: the first takes it up at its next scan.
	if err := other.Resume(ctx); err != nil {
		t.Fatal(err)
	}
	h.clock.Advance(2 * time.Second)
	h.cycle()
	h.wantState(id, "sent", "")
	if _, _, paused := h.eng.AdminPaused(); paused {
		t.Fatal("the first engine still reports the pause resumed on the other")
	}
}
