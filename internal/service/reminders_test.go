package service_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/reminderd/reminderd/internal/service"
	"github.com/reminderd/reminderd/internal/store"
	"github.com/reminderd/reminderd/internal/testkit"
)

type wakes []time.Time

func (w *wakes) Wake(t time.Time) { *w = append(*w, t) }

// fixture opens a database holding one reminder in each of the states the
// actions refuse or accept, as of now.
func fixture(t *testing.T, now time.Time) (store.Store, *service.Reminders, *wakes) {
	t.Helper()
	ctx := context.Background()
	d := testkit.Store(t)
	add := func(id string) {
		if _, err := d.CreateReminder(ctx, store.NewReminder{ID: id, OpenID: "o1", TemplateID: "t1",
			FireAt: now.Add(-90 * time.Second), Timezone: "UTC", Data: "{}", CreatedAt: now}); err != nil {
			t.Fatal(err)
		}
	}
	for _, id := range []string{"sending", "failed", "skipped"} {
		add(id)
	}
	// The engine's states, which no operation of the API sets: all three
	// claimed (sending), two of them then ended.
	claims, err := d.ClaimDue(ctx, store.ClaimParams{Now: now, LeaseUntil: now.Add(time.Minute), Owner: "engine", Max: 10,
		Kind: func(string, string) (store.TemplateKind, bool) { return "", false }})
	if err != nil || len(claims) != 3 {
		t.Fatalf("claimed %d (%v), want 3", len(claims), err)
	}
	for _, c := range claims {
		var end *store.Completion
		switch c.Reminder.ID {
		case "failed":
			end = &store.Completion{Status: store.StatusFailed, Reason: store.ReasonInvalidData}
		case "skipped":
			end = &store.Completion{Status: store.StatusSkipped, Reason: store.ReasonNoConsent}
		default:
			continue
		}
		if _, err := d.RecordOutcome(ctx, store.Outcome{Claim: c, At: now, Complete: end}); err != nil {
			t.Fatal(err)
		}
	}
	add("due")
	w := &wakes{}
	return d, service.NewReminders(d, w, func() time.Time { return now }), w
}

// refusal returns the message of a *service.Error of kind, or fails.
func refusal(t *testing.T, err, kind error) string {
	t.Helper()
	var se *service.Error
	if !errors.As(err, &se) || !errors.Is(err, kind) {
		t.Fatalf("got %v, want a refusal of kind %v", err, kind)
	}
	return se.Message
}

func TestCancelAndRetryExplainTheirRefusals(t *testing.T) {
	ctx := context.Background()
	now := time.UnixMilli(1_800_000_000_000)
	_, s, w := fixture(t, now)
	for _, c := range []struct {
		err  error
		kind error
		want string
	}{
		{s.Cancel(ctx, "due", "someone else"), store.ErrNotFound, "reminder due not found"},
		{s.Cancel(ctx, "sending", ""), store.ErrConflict, "reminder sending is being sent right now; try again in a moment"},
		{s.Cancel(ctx, "failed", ""), store.ErrConflict, "reminder failed is already failed"},
		{s.Retry(ctx, "due"), store.ErrConflict, "reminder due is scheduled; only a failed or skipped reminder can be retried"},
		{s.Retry(ctx, "nope"), store.ErrNotFound, "reminder nope not found"},
	} {
		if got := refusal(t, c.err, c.kind); got != c.want {
			t.Errorf("refusal %q, want %q", got, c.want)
		}
	}
	// An unknown id to cancel is the store's not-found (the API answers it
	// "resource not found"), not a refusal with a sentence.
	if err := s.Cancel(ctx, "nope", ""); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("cancel of an unknown id: %v", err)
	}
	if len(*w) != 0 {
		t.Fatalf("woken %d times by refusals", len(*w))
	}
	if err := s.Cancel(ctx, "due", "o1"); err != nil {
		t.Fatal(err)
	}
	if err := s.Retry(ctx, "skipped"); err != nil {
		t.Fatal(err)
	}
	if len(*w) != 1 || !(*w)[0].Equal(now) {
		t.Fatalf("wakes %v, want one at now", *w)
	}
}

func TestBulkCountsEachOutcome(t *testing.T) {
	ctx := context.Background()
	now := time.UnixMilli(1_800_000_000_000)
	_, s, w := fixture(t, now)
	rc, err := s.RetryMany(ctx, []string{"due", "failed", "skipped", "nope"})
	if err != nil {
		t.Fatal(err)
	}
	if want := (service.RetryCounts{Matched: 4, Retried: 1, Conflict: 1, Permanent: 1, NotFound: 1}); rc != want {
		t.Fatalf("retry counts %+v, want %+v", rc, want)
	}
	if len(*w) != 1 {
		t.Fatalf("woken %d times, want once", len(*w))
	}
	cc, err := s.CancelMany(ctx, []string{"due", "skipped", "sending", "nope"})
	if err != nil {
		t.Fatal(err)
	}
	if want := (service.CancelCounts{Matched: 4, Canceled: 2, Conflict: 1, NotFound: 1}); cc != want {
		t.Fatalf("cancel counts %+v, want %+v", cc, want)
	}
}

func TestStatsListEveryStatus(t *testing.T) {
	ctx := context.Background()
	now := time.UnixMilli(1_800_000_000_000)
	_, s, _ := fixture(t, now)
	st, err := s.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := map[store.Status]int64{store.StatusScheduled: 1, store.StatusSending: 1, store.StatusSent: 0,
		store.StatusFailed: 1, store.StatusSkipped: 1, store.StatusCanceled: 0}
	if len(st.ByStatus) != len(want) {
		t.Fatalf("by status %v, want %v", st.ByStatus, want)
	}
	for k, n := range want {
		if st.ByStatus[k] != n {
			t.Errorf("%s: %d, want %d", k, st.ByStatus[k], n)
		}
	}
	if st.Total != 4 || st.DueBacklog != 1 || st.OldestDueAge() != 90*time.Second || !st.At.Equal(now) {
		t.Fatalf("total %d, backlog %d, oldest %v, at %v", st.Total, st.DueBacklog, st.OldestDueAge(), st.At)
	}
}
