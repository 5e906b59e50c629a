package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/reminderd/reminderd/internal/store"
)

// t0 is the suite's "now": a whole second plus milliseconds, so that an
// instant cut to seconds (or to anything but milliseconds) shows.
var t0 = time.UnixMilli(1_800_000_000_123)

func reminderTests(t *testing.T, open Open[ReminderDriver]) {
	t.Run("create and get", func(t *testing.T) { testCreateAndGet(t, fresh(t, open)) })
	t.Run("create idempotent", func(t *testing.T) { testCreateIdempotent(t, fresh(t, open)) })
	t.Run("scheduled limit", func(t *testing.T) { testScheduledLimit(t, fresh(t, open)) })
	t.Run("list pages", func(t *testing.T) { testListPages(t, fresh(t, open)) })
	t.Run("list filters", func(t *testing.T) { testListFilters(t, fresh(t, open)) })
	t.Run("update scheduled", func(t *testing.T) { testUpdateScheduled(t, fresh(t, open)) })
	t.Run("cancel and retry", func(t *testing.T) { testCancelRetry(t, fresh(t, open)) })
	t.Run("bulk", func(t *testing.T) { testBulk(t, fresh(t, open)) })
	t.Run("counts", func(t *testing.T) { testCounts(t, fresh(t, open)) })
	t.Run("count ahead", func(t *testing.T) { testCountAhead(t, fresh(t, open)) })
	consentTests(t, open)         // consents.go
	consentSettingsTests(t, open) // consent_settings.go
	appTests(t, open)             // apps.go
}

// newReminder is a one-off reminder of openID for template at fireAt,
// created at t0.
func newReminder(id, openID, template string, fireAt time.Time) store.NewReminder {
	return store.NewReminder{ID: id, OpenID: openID, TemplateID: template, FireAt: fireAt, Timezone: "Asia/Shanghai",
		Data: `{"thing1":"x"}`, CreatedAt: t0}
}

// mustCreate creates r, or fails the test.
func mustCreate(t *testing.T, s store.ReminderStore, r store.NewReminder) store.Reminder {
	t.Helper()
	rem, err := s.CreateReminder(context.Background(), r)
	if err != nil {
		t.Fatalf("create %s: %v", r.ID, err)
	}
	return rem
}

// mustGet returns reminder id, or fails the test.
func mustGet(t *testing.T, s store.ReminderStore, id string) store.Reminder {
	t.Helper()
	rem, err := s.GetReminder(context.Background(), id)
	if err != nil {
		t.Fatalf("get %s: %v", id, err)
	}
	return rem
}

// sameInstant fails unless got and want are the same instant.
func sameInstant(t *testing.T, what string, got, want time.Time) {
	t.Helper()
	if !got.Equal(want) {
		t.Errorf("%s: %v, want %v", what, got, want)
	}
}

func testCreateAndGet(t *testing.T, s store.ReminderStore) {
	ctx := context.Background()
	r := newReminder("rem_1", "o1", "t1", t0.Add(time.Hour))
	r.ExpiresAt, r.Window, r.HasWindow = r.FireAt.Add(90*time.Minute+7*time.Millisecond), 90*time.Minute+7*time.Millisecond, true
	r.Recurrence, r.Page = "FREQ=DAILY", "pages/a?id=1"
	created := mustCreate(t, s, r)
	for _, got := range []store.Reminder{created, mustGet(t, s, "rem_1")} {
		if got.ID != r.ID || got.OpenID != r.OpenID || got.TemplateID != r.TemplateID || got.Status != store.StatusScheduled ||
			got.Reason != "" || got.Recurrence != r.Recurrence || got.Timezone != r.Timezone || got.Data != r.Data ||
			got.Page != r.Page || got.Window != r.Window || !got.HasWindow || got.Attempts != 0 || got.CreditHeld ||
			got.LeaseOwner != "" || got.Delivery != "" {
			t.Errorf("stored %+v, want the values of %+v", got, r)
		}
		sameInstant(t, "fire_at", got.FireAt, r.FireAt)
		sameInstant(t, "due_at (a new reminder is due at its fire_at)", got.DueAt, r.FireAt)
		sameInstant(t, "expires_at", got.ExpiresAt, r.ExpiresAt)
		sameInstant(t, "created_at", got.CreatedAt, t0)
		sameInstant(t, "updated_at", got.UpdatedAt, t0)
		if !got.LeaseUntil.IsZero() || !got.UnknownAt.IsZero() {
			t.Errorf("lease %v, unknown %v: want none", got.LeaseUntil, got.UnknownAt)
		}
	}
	// No window: zero instants and durations, not the epoch.
	plain := mustGet(t, s, mustCreate(t, s, newReminder("rem_2", "o1", "t1", t0)).ID)
	if !plain.ExpiresAt.IsZero() || plain.HasWindow || plain.Window != 0 || plain.Recurrence != "" {
		t.Errorf("a reminder without window or recurrence: %+v", plain)
	}
	if _, err := s.CreateReminder(ctx, newReminder("rem_1", "o2", "t2", t0)); !errors.Is(err, store.ErrConflict) {
		t.Errorf("a duplicate id: %v, want ErrConflict", err)
	}
	if _, err := s.GetReminder(ctx, "rem_nope"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("an unknown id: %v, want ErrNotFound", err)
	}
}

func testCreateIdempotent(t *testing.T, s store.ReminderStore) {
	ctx := context.Background()
	keyed := func(id, openID, key, hash string) store.NewReminder {
		r := newReminder(id, openID, "t1", t0.Add(time.Hour))
		r.IdempotencyKey, r.RequestHash = key, hash
		return r
	}
	first, err := s.CreateReminderIdempotent(ctx, keyed("rem_a", "o1", "k1", "h1"), store.CreateOptions{})
	if err != nil || first.Replayed || first.Reminder.ID != "rem_a" {
		t.Fatalf("first create: %+v, %v", first, err)
	}
	if got := mustGet(t, s, "rem_a"); got.IdempotencyKey != "k1" || got.RequestHash != "h1" {
		t.Errorf("stored key %q hash %q", got.IdempotencyKey, got.RequestHash)
	}
	// The same key and request: the same reminder, nothing written.
	again, err := s.CreateReminderIdempotent(ctx, keyed("rem_b", "o1", "k1", "h1"), store.CreateOptions{})
	if err != nil || !again.Replayed || again.Reminder.ID != "rem_a" {
		t.Fatalf("replay: %+v, %v; want rem_a replayed", again, err)
	}
	if _, err := s.GetReminder(ctx, "rem_b"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("a replay wrote rem_b: %v", err)
	}
	// The same key with another request: a conflict.
	if _, err := s.CreateReminderIdempotent(ctx, keyed("rem_c", "o1", "k1", "h2"), store.CreateOptions{}); !errors.Is(err, store.ErrConflict) {
		t.Errorf("the key with another hash: %v, want ErrConflict", err)
	}
	// Keys are the user's own: another user's k1 is a new reminder.
	other, err := s.CreateReminderIdempotent(ctx, keyed("rem_d", "o2", "k1", "h2"), store.CreateOptions{})
	if err != nil || other.Replayed || other.Reminder.ID != "rem_d" {
		t.Errorf("another user's key: %+v, %v", other, err)
	}
	// Without a key every create is new.
	for _, id := range []string{"rem_e", "rem_f"} {
		if c, err := s.CreateReminderIdempotent(ctx, keyed(id, "o1", "", ""), store.CreateOptions{}); err != nil || c.Replayed {
			t.Errorf("create %s without a key: %+v, %v", id, c, err)
		}
	}
	if got, err := s.ReminderByIdempotencyKey(ctx, "o1", "k1"); err != nil || got.ID != "rem_a" {
		t.Errorf("by key: %s, %v; want rem_a", got.ID, err)
	}
	if _, err := s.ReminderByIdempotencyKey(ctx, "o3", "k1"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("by an unknown key: %v, want ErrNotFound", err)
	}
	// Concurrent creates with one key make one reminder, which all of
	// them answer.
	const n = 8
	ids := make(chan string, n)
	errs := make(chan error, n)
	for i := range n {
		go func() {
			c, err := s.CreateReminderIdempotent(ctx, keyed(fmt.Sprintf("rem_race%d", i), "o1", "race", "h"), store.CreateOptions{})
			ids <- c.Reminder.ID
			errs <- err
		}()
	}
	var winner string
	for range n {
		id, err := <-ids, <-errs
		if err != nil {
			t.Fatalf("a concurrent create: %v", err)
		}
		if winner == "" {
			winner = id
		}
		if id != winner {
			t.Errorf("concurrent creates answered %s and %s", winner, id)
		}
	}
	page, err := s.ListReminders(ctx, store.ListQuery{OpenID: "o1", Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Reminders) != 4 { // rem_a, rem_e, rem_f and the race's one
		t.Errorf("o1 has %d reminders, want 4", len(page.Reminders))
	}
}

func testScheduledLimit(t *testing.T, s store.ReminderStore) {
	ctx := context.Background()
	limit := store.CreateOptions{MaxScheduled: 2}
	create := func(id, openID, key string) (store.Created, error) {
		r := newReminder(id, openID, "t1", t0.Add(time.Hour))
		r.IdempotencyKey, r.RequestHash = key, "h"
		return s.CreateReminderIdempotent(ctx, r, limit)
	}
	for _, id := range []string{"rem_1", "rem_2"} {
		if _, err := create(id, "o1", id); err != nil {
			t.Fatalf("create %s within the limit: %v", id, err)
		}
	}
	if _, err := create("rem_3", "o1", "rem_3"); !errors.Is(err, store.ErrLimit) {
		t.Fatalf("a create past the limit: %v, want ErrLimit", err)
	}
	if _, err := s.GetReminder(ctx, "rem_3"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("a refused create wrote its reminder: %v", err)
	}
	// A replay at the limit still answers its reminder.
	if c, err := create("rem_x", "o1", "rem_1"); err != nil || !c.Replayed || c.Reminder.ID != "rem_1" {
		t.Errorf("a replay at the limit: %+v, %v", c, err)
	}
	// The limit is per user, and counts scheduled reminders only.
	if _, err := create("rem_4", "o2", "rem_4"); err != nil {
		t.Errorf("another user at the first one's limit: %v", err)
	}
	if err := s.CancelReminder(ctx, "rem_1", t0); err != nil {
		t.Fatal(err)
	}
	if _, err := create("rem_5", "o1", "rem_5"); err != nil {
		t.Errorf("a create after a cancel freed a place: %v", err)
	}
	// No limit: any number.
	for i := range 3 {
		if _, err := s.CreateReminderIdempotent(ctx, newReminder(fmt.Sprintf("rem_free%d", i), "o1", "t1", t0), store.CreateOptions{}); err != nil {
			t.Errorf("a create without a limit: %v", err)
		}
	}
}

// walk lists q page by page (Limit per page) and returns the ids in order,
// failing on a page longer than the limit or a cursor that does not move.
func walk(t *testing.T, s store.ReminderStore, q store.ListQuery) []string {
	t.Helper()
	var ids []string
	for pages := 0; ; pages++ {
		if pages > 1000 {
			t.Fatal("the listing does not end")
		}
		page, err := s.ListReminders(context.Background(), q)
		if err != nil {
			t.Fatal(err)
		}
		if len(page.Reminders) > q.Limit {
			t.Fatalf("a page of %d, limit %d", len(page.Reminders), q.Limit)
		}
		for _, r := range page.Reminders {
			ids = append(ids, r.ID)
		}
		if page.Next == nil {
			return ids
		}
		if q.After != nil && !after(*page.Next, *q.After) {
			t.Fatalf("cursor %+v does not move past %+v", *page.Next, *q.After)
		}
		q.After = page.Next
	}
}

// after reports whether a comes after b in (FireAt, ID) order.
func after(a, b store.Cursor) bool {
	return a.FireAt.After(b.FireAt) || (a.FireAt.Equal(b.FireAt) && a.ID > b.ID)
}

// listFixture creates reminders of two users and two templates, several at
// one instant, and cancels some; it returns them in (FireAt, ID) order.
func listFixture(t *testing.T, s store.ReminderStore) []store.Reminder {
	t.Helper()
	var all []store.Reminder
	for i := range 23 {
		openID, tmpl := "o1", "t1"
		if i%3 == 0 {
			openID = "o2"
		}
		if i%4 == 0 {
			tmpl = "t2"
		}
		r := newReminder(fmt.Sprintf("rem_%02d", 40-i), openID, tmpl, t0.Add(time.Duration(i/3)*time.Minute))
		if i%5 == 0 {
			r.Data = `{"thing1":"needle"}`
		}
		all = append(all, mustCreate(t, s, r))
	}
	for i, r := range all {
		if i%7 == 0 {
			if err := s.CancelReminder(context.Background(), r.ID, t0); err != nil {
				t.Fatal(err)
			}
			all[i].Status = store.StatusCanceled
		}
	}
	slices.SortFunc(all, func(a, b store.Reminder) int {
		if c := a.FireAt.Compare(b.FireAt); c != 0 {
			return c
		}
		return compareStrings(a.ID, b.ID)
	})
	return all
}

func compareStrings(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// matching returns the ids of the reminders keep selects, in order.
func matching(all []store.Reminder, keep func(store.Reminder) bool) []string {
	var ids []string
	for _, r := range all {
		if keep(r) {
			ids = append(ids, r.ID)
		}
	}
	return ids
}

func testListPages(t *testing.T, s store.ReminderStore) {
	all := listFixture(t, s)
	want := matching(all, func(store.Reminder) bool { return true })
	for _, limit := range []int{1, 2, 5, 23, 50} {
		if got := walk(t, s, store.ListQuery{Limit: limit}); !slices.Equal(got, want) {
			t.Errorf("limit %d: pages list %v, want %v (each once, in (fire_at, id) order)", limit, got, want)
		}
	}
	// A page returns whole reminders, as GetReminder does.
	page, err := s.ListReminders(context.Background(), store.ListQuery{Limit: 1})
	if err != nil || len(page.Reminders) != 1 {
		t.Fatalf("first page: %v, %v", page, err)
	}
	if got, want := page.Reminders[0], mustGet(t, s, all[0].ID); got.ID != want.ID || !got.FireAt.Equal(want.FireAt) ||
		got.Data != want.Data || got.OpenID != want.OpenID || got.Status != want.Status {
		t.Errorf("listed %+v, stored %+v", got, want)
	}
	if page.Next == nil || page.Next.ID != all[0].ID || !page.Next.FireAt.Equal(all[0].FireAt) {
		t.Errorf("next %+v, want the last row's place (%s)", page.Next, all[0].ID)
	}
	// The last page has no next.
	last, err := s.ListReminders(context.Background(), store.ListQuery{Limit: 1,
		After: &store.Cursor{FireAt: all[len(all)-2].FireAt, ID: all[len(all)-2].ID}})
	if err != nil || len(last.Reminders) != 1 || last.Reminders[0].ID != all[len(all)-1].ID || last.Next != nil {
		t.Errorf("last page: %+v, %v", last, err)
	}
}

func testListFilters(t *testing.T, s store.ReminderStore) {
	all := listFixture(t, s)
	mid := all[len(all)/2].FireAt
	for _, c := range []struct {
		name string
		q    store.ListQuery
		keep func(store.Reminder) bool
	}{
		{"user", store.ListQuery{OpenID: "o1"}, func(r store.Reminder) bool { return r.OpenID == "o1" }},
		{"user and status", store.ListQuery{OpenID: "o2", Status: store.StatusCanceled},
			func(r store.Reminder) bool { return r.OpenID == "o2" && r.Status == store.StatusCanceled }},
		{"status", store.ListQuery{Status: store.StatusScheduled}, func(r store.Reminder) bool { return r.Status == store.StatusScheduled }},
		{"template", store.ListQuery{TemplateID: "t2"}, func(r store.Reminder) bool { return r.TemplateID == "t2" }},
		{"status and template", store.ListQuery{Status: store.StatusScheduled, TemplateID: "t2"},
			func(r store.Reminder) bool { return r.Status == store.StatusScheduled && r.TemplateID == "t2" }},
		{"text", store.ListQuery{Text: "needle"}, func(r store.Reminder) bool { return r.Data == `{"thing1":"needle"}` }},
		{"user and text", store.ListQuery{OpenID: "o1", Text: "needle"},
			func(r store.Reminder) bool { return r.OpenID == "o1" && r.Data == `{"thing1":"needle"}` }},
		{"from", store.ListQuery{From: mid}, func(r store.Reminder) bool { return !r.FireAt.Before(mid) }},
		{"to", store.ListQuery{To: mid}, func(r store.Reminder) bool { return r.FireAt.Before(mid) }},
		{"user, from and to", store.ListQuery{OpenID: "o1", From: all[3].FireAt, To: mid}, func(r store.Reminder) bool {
			return r.OpenID == "o1" && !r.FireAt.Before(all[3].FireAt) && r.FireAt.Before(mid)
		}},
		{"nobody", store.ListQuery{OpenID: "o9"}, func(store.Reminder) bool { return false }},
	} {
		want := matching(all, c.keep)
		for _, limit := range []int{1, 3, 100} {
			q := c.q
			q.Limit = limit
			if got := walk(t, s, q); !slices.Equal(got, want) {
				t.Errorf("%s, limit %d: %v, want %v", c.name, limit, got, want)
			}
		}
	}
	// No reminder has a delivery report yet.
	if got := walk(t, s, store.ListQuery{Delivery: store.ReportDelivered, Limit: 10}); len(got) != 0 {
		t.Errorf("by delivery report: %v, want none", got)
	}
}

func testUpdateScheduled(t *testing.T, s store.ReminderStore) {
	ctx := context.Background()
	mustCreate(t, s, newReminder("rem_1", "o1", "t1", t0.Add(time.Hour)))
	u := store.ReminderUpdate{ID: "rem_1", FireAt: t0.Add(2*time.Hour + 5*time.Millisecond), Data: `{"thing1":"y"}`, Page: "pages/b",
		ExpiresAt: t0.Add(3*time.Hour + 5*time.Millisecond), Window: time.Hour, HasWindow: true}
	now := t0.Add(time.Minute)
	if err := s.UpdateScheduled(ctx, u, now); err != nil {
		t.Fatal(err)
	}
	got := mustGet(t, s, "rem_1")
	if got.Data != u.Data || got.Page != u.Page || got.Window != time.Hour || !got.HasWindow || got.Status != store.StatusScheduled {
		t.Errorf("updated %+v, want %+v", got, u)
	}
	sameInstant(t, "fire_at", got.FireAt, u.FireAt)
	sameInstant(t, "due_at", got.DueAt, u.FireAt)
	sameInstant(t, "expires_at", got.ExpiresAt, u.ExpiresAt)
	sameInstant(t, "updated_at", got.UpdatedAt, now)
	// The window can be taken away.
	u.ExpiresAt, u.Window, u.HasWindow = time.Time{}, 0, false
	if err := s.UpdateScheduled(ctx, u, now); err != nil {
		t.Fatal(err)
	}
	if got := mustGet(t, s, "rem_1"); !got.ExpiresAt.IsZero() || got.HasWindow {
		t.Errorf("window left after its removal: %+v", got)
	}
	// Only while scheduled.
	if err := s.CancelReminder(ctx, "rem_1", now); err != nil {
		t.Fatal(err)
	}
	u.Data = `{"thing1":"z"}`
	err := s.UpdateScheduled(ctx, u, now)
	if se := asStateError(t, err); se.Status != store.StatusCanceled || se.ID != "rem_1" {
		t.Errorf("update of a canceled reminder: %+v", se)
	}
	if got := mustGet(t, s, "rem_1"); got.Data == u.Data {
		t.Error("a refused update changed the data")
	}
	u.ID = "rem_nope"
	if err := s.UpdateScheduled(ctx, u, now); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("update of an unknown reminder: %v, want ErrNotFound", err)
	}
}

// asStateError returns the *store.StateError in err, which must also match
// ErrConflict, or fails the test.
func asStateError(t *testing.T, err error) *store.StateError {
	t.Helper()
	var se *store.StateError
	if !errors.As(err, &se) || !errors.Is(err, store.ErrConflict) {
		t.Fatalf("got %v, want a *store.StateError matching ErrConflict", err)
	}
	return se
}

func testCancelRetry(t *testing.T, s store.ReminderStore) {
	ctx := context.Background()
	mustCreate(t, s, newReminder("rem_1", "o1", "t1", t0.Add(time.Hour)))
	// Only a failed or skipped reminder is retried: a scheduled one says so.
	if se := asStateError(t, s.RetryReminder(ctx, "rem_1", t0)); se.Status != store.StatusScheduled {
		t.Errorf("retry of a scheduled reminder: %+v", se)
	}
	now := t0.Add(time.Second)
	if err := s.CancelReminder(ctx, "rem_1", now); err != nil {
		t.Fatal(err)
	}
	got := mustGet(t, s, "rem_1")
	if got.Status != store.StatusCanceled {
		t.Errorf("status %s after a cancel", got.Status)
	}
	sameInstant(t, "updated_at", got.UpdatedAt, now)
	// A second cancel loses the compare-and-set and says what it is.
	if se := asStateError(t, s.CancelReminder(ctx, "rem_1", now)); se.Status != store.StatusCanceled || se.ID != "rem_1" {
		t.Errorf("second cancel: %+v", se)
	}
	if se := asStateError(t, s.RetryReminder(ctx, "rem_1", now)); se.Status != store.StatusCanceled {
		t.Errorf("retry of a canceled reminder: %+v", se)
	}
	for name, err := range map[string]error{
		"cancel": s.CancelReminder(ctx, "rem_nope", now),
		"retry":  s.RetryReminder(ctx, "rem_nope", now),
	} {
		if !errors.Is(err, store.ErrNotFound) {
			t.Errorf("%s of an unknown reminder: %v, want ErrNotFound", name, err)
		}
	}
}

func testBulk(t *testing.T, s store.ReminderStore) {
	ctx := context.Background()
	for _, id := range []string{"rem_1", "rem_2", "rem_3"} {
		mustCreate(t, s, newReminder(id, "o1", "t1", t0.Add(time.Hour)))
	}
	if err := s.CancelReminder(ctx, "rem_3", t0); err != nil {
		t.Fatal(err)
	}
	c, err := s.CancelReminders(ctx, []string{"rem_1", "rem_2", "rem_3", "rem_nope"}, t0)
	if err != nil {
		t.Fatal(err)
	}
	if want := (store.CancelCounts{Matched: 4, Canceled: 2, Conflict: 1, NotFound: 1}); c != want {
		t.Errorf("cancel counts %+v, want %+v", c, want)
	}
	for _, id := range []string{"rem_1", "rem_2"} {
		if st := mustGet(t, s, id).Status; st != store.StatusCanceled {
			t.Errorf("%s is %s after the bulk cancel", id, st)
		}
	}
	mustCreate(t, s, newReminder("rem_4", "o1", "t1", t0.Add(time.Hour)))
	r, err := s.RetryReminders(ctx, []string{"rem_1", "rem_4", "rem_nope"}, t0)
	if err != nil {
		t.Fatal(err)
	}
	if want := (store.RetryCounts{Matched: 3, Conflict: 2, NotFound: 1}); r != want {
		t.Errorf("retry counts %+v, want %+v", r, want)
	}
	if st := mustGet(t, s, "rem_4").Status; st != store.StatusScheduled {
		t.Errorf("a bulk retry changed a scheduled reminder to %s", st)
	}
	if c, err := s.CancelReminders(ctx, nil, t0); err != nil || c != (store.CancelCounts{}) {
		t.Errorf("cancel of no ids: %+v, %v", c, err)
	}
}

func testCounts(t *testing.T, s store.ReminderStore) {
	ctx := context.Background()
	c, err := s.CountReminders(ctx, t0)
	if err != nil {
		t.Fatal(err)
	}
	if total(c) != 0 || c.DueBacklog != 0 || !c.OldestDueAt.IsZero() {
		t.Errorf("an empty store counts %+v", c)
	}
	mustCreate(t, s, newReminder("rem_1", "o1", "t1", t0.Add(-90*time.Second)))
	mustCreate(t, s, newReminder("rem_2", "o2", "t1", t0.Add(-time.Second)))
	mustCreate(t, s, newReminder("rem_3", "o1", "t1", t0.Add(time.Second)))
	mustCreate(t, s, newReminder("rem_4", "o1", "t1", t0.Add(-time.Hour)))
	if err := s.CancelReminder(ctx, "rem_4", t0); err != nil {
		t.Fatal(err)
	}
	if c, err = s.CountReminders(ctx, t0); err != nil {
		t.Fatal(err)
	}
	if c.ByStatus[store.StatusScheduled] != 3 || c.ByStatus[store.StatusCanceled] != 1 || total(c) != 4 {
		t.Errorf("by status %v, want 3 scheduled and 1 canceled", c.ByStatus)
	}
	// Due: the scheduled ones due at or before now (a canceled one is not).
	if c.DueBacklog != 2 {
		t.Errorf("due backlog %d, want 2", c.DueBacklog)
	}
	sameInstant(t, "oldest due", c.OldestDueAt, t0.Add(-90*time.Second))
	if c, _ = s.CountReminders(ctx, t0.Add(time.Second)); c.DueBacklog != 3 {
		t.Errorf("due backlog a second later %d, want 3 (due at now counts)", c.DueBacklog)
	}
}

func total(c store.Counts) (n int64) {
	for _, v := range c.ByStatus {
		n += v
	}
	return n
}

func testCountAhead(t *testing.T, s store.ReminderStore) {
	ctx := context.Background()
	var rs []store.Reminder
	for i, id := range []string{"rem_b", "rem_a", "rem_c", "rem_d"} {
		at := t0.Add(time.Duration(min(i, 2)) * time.Minute) // rem_c and rem_d at one instant
		rs = append(rs, mustCreate(t, s, newReminder(id, "o1", "t1", at)))
	}
	mustCreate(t, s, newReminder("rem_other_tmpl", "o1", "t2", t0.Add(-time.Hour)))
	mustCreate(t, s, newReminder("rem_other_user", "o2", "t1", t0.Add(-time.Hour)))
	for i, want := range []int64{0, 1, 2, 3} {
		if n, err := s.CountAhead(ctx, rs[i]); err != nil || n != want {
			t.Errorf("ahead of %s: %d, %v; want %d", rs[i].ID, n, err, want)
		}
	}
	// A reminder no longer pending needs no credit.
	if err := s.CancelReminder(ctx, "rem_b", t0); err != nil {
		t.Fatal(err)
	}
	if n, _ := s.CountAhead(ctx, rs[3]); n != 2 {
		t.Errorf("ahead of rem_d after a cancel: %d, want 2", n)
	}
}
