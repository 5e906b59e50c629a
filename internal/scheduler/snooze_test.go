package scheduler_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/reminderd/reminderd/internal/service"
	"github.com/reminderd/reminderd/internal/store"
	"github.com/reminderd/reminderd/internal/testkit"
)

// snooze snoozes reminder id of openID to at through the service the API
// calls.
func (h *harness) snooze(id, openID string, at time.Time) (service.SnoozeResult, error) {
	h.t.Helper()
	return service.NewReminders(h.db, h.eng, h.now).Snooze(context.Background(),
		service.SnoozeRequest{ID: id, OpenID: openID, At: at})
}

// TestSnoozedReminderIsSentAgainAtItsNewTime: a sent one-off reminder,
// snoozed, is claimed and sent again at the snooze's time, not before; its
// first delivery stays.
func TestSnoozedReminderIsSentAgainAtItsNewTime(t *testing.T) {
	h := newHarness(t, nil)
	h.grant("oA", meetingID, 2)
	id := h.add("oA", t0.Add(time.Minute))
	h.clock.Set(t0.Add(time.Minute + time.Second))
	h.cycle()
	h.wantState(id, "sent", "")
	at := h.now().Add(10 * time.Minute)
	if _, err := h.snooze(id, "oA", at); err != nil {
		t.Fatal(err)
	}
	h.wantState(id, "scheduled", "")
	h.clock.Set(at.Add(-time.Second))
	h.cycle()
	h.wantState(id, "scheduled", "")
	h.clock.Set(at.Add(time.Second))
	h.cycle()
	h.wantState(id, "sent", "")
	ds := h.deliveries(id)
	if len(ds) != 2 || ds[0].Status != store.DeliverySent || ds[1].Status != store.DeliverySent || !ds[1].OccurrenceAt.Equal(at) {
		t.Fatalf("deliveries %+v, want two sends, the second of the snooze's occurrence", ds)
	}
	if got := h.credits("oA", meetingID); got != 0 {
		t.Fatalf("credits %d after two sends of two, want 0", got)
	}
}

// TestSnoozeOfASeriesAddsOneOccurrence: a daily series, snoozed after an
// occurrence, is sent at the snooze's time and then goes on at its own next
// occurrence, as if there had been no snooze; a snooze reaching that
// occurrence is refused.
func TestSnoozeOfASeriesAddsOneOccurrence(t *testing.T) {
	h := newHarness(t, nil)
	h.grant("oA", meetingID, 5)
	first := time.Date(t0.Year(), t0.Month(), t0.Day()+1, 10, 0, 0, 0, time.UTC)
	id := h.add("oA", first, withRecurrence("0 10 * * *", "UTC"))
	h.clock.Set(first.Add(time.Second))
	h.cycle()
	next := first.Add(24 * time.Hour)
	if r := h.wantState(id, "scheduled", ""); !r.FireAt.Equal(next) {
		t.Fatalf("after the first occurrence: fire_at %v, want %v", r.FireAt, next)
	}
	if _, err := h.snooze(id, "oA", next); !errors.Is(err, service.ErrSnoozePastSeries) {
		t.Fatalf("a snooze to the next occurrence: %v, want ErrSnoozePastSeries", err)
	}
	at := h.now().Add(10 * time.Minute)
	res, err := h.snooze(id, "oA", at)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Reminder.Snoozed || !res.Reminder.SeriesAt.Equal(next) || !res.Reminder.FireAt.Equal(at) {
		t.Fatalf("snoozed: %+v", res.Reminder)
	}
	h.clock.Set(at.Add(time.Second))
	h.cycle()
	r := h.wantState(id, "scheduled", "")
	if !r.FireAt.Equal(next) || r.Snoozed || !r.SeriesAt.IsZero() {
		t.Fatalf("after the snooze's occurrence: fire_at %v (want %v), snoozed %v, series_at %v", r.FireAt, next, r.Snoozed, r.SeriesAt)
	}
	h.clock.Set(next.Add(time.Second))
	h.cycle()
	if r := h.wantState(id, "scheduled", ""); !r.FireAt.Equal(next.Add(24 * time.Hour)) {
		t.Fatalf("after the series' next occurrence: fire_at %v, want %v", r.FireAt, next.Add(24*time.Hour))
	}
	if ds := h.deliveries(id); len(ds) != 3 {
		t.Fatalf("%d deliveries, want 3 (occurrence, snooze, occurrence): %+v", len(ds), ds)
	}
}

// TestSnoozeOfAnEndedSeriesStaysEnded: a series whose last occurrence was
// skipped for good (a reason that ends the series) gets one extra
// occurrence from a snooze, is sent then, and ends after it. A canceled
// reminder is not snoozed, nor is another user's.
func TestSnoozeOfAnEndedSeriesStaysEnded(t *testing.T) {
	h := newHarness(t, nil)
	h.grant("oA", meetingID, 2)
	first := time.Date(t0.Year(), t0.Month(), t0.Day()+1, 10, 0, 0, 0, time.UTC)
	id := h.add("oA", first, withRecurrence("0 10 * * *", "UTC"))
	testkit.Exec(t, h.db, `UPDATE reminders SET status = 'skipped', reason = 'invalid_data' WHERE id = ?`, id)
	if _, err := h.snooze(id, "oB", h.now().Add(time.Minute)); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("snooze of another user's reminder: %v, want not found", err)
	}
	at := h.now().Add(time.Minute)
	if _, err := h.snooze(id, "oA", at); err != nil {
		t.Fatal(err)
	}
	h.clock.Set(at.Add(time.Second))
	h.cycle()
	if r := h.wantState(id, "sent", ""); !r.FireAt.Equal(at) {
		t.Fatalf("fire_at %v, want the snooze's %v (the series stays ended)", r.FireAt, at)
	}
	other := h.add("oA", h.now().Add(time.Hour))
	if err := h.db.CancelReminder(context.Background(), other, h.now()); err != nil {
		t.Fatal(err)
	}
	if _, err := h.snooze(other, "oA", h.now().Add(2*time.Hour)); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("snooze of a canceled reminder: %v, want a conflict", err)
	}
}
