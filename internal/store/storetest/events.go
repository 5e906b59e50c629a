package storetest

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/reminderd/reminderd/internal/store"
)

// Events runs the events' tests (store.Events, and the claim of a
// reminder with alternatives): they need both halves of the store.
func Events(t *testing.T, open Open[store.Store]) {
	for _, tc := range []struct {
		name string
		fn   func(t *testing.T, s store.Store)
	}{
		{"CreateEventWithItsReminders", testCreateEvent},
		{"CreateEventIdempotent", testCreateEventIdempotent},
		{"CreateEventScheduledLimit", testCreateEventLimit},
		{"ListEventsPages", testListEvents},
		{"ReplanEventInOneTransaction", testReplanEvent},
		{"ReplanEventScheduledLimit", testReplanEventLimit},
		{"ReplanEventRefusesAReminderNoLongerScheduled", testReplanConflict},
		{"ConcurrentReplansSerialize", testConcurrentReplans},
		{"CancelEvent", testCancelEvent},
		{"ClaimTakesTheFirstAlternativeWithACredit", testClaimAlternatives},
		{"PromptedListsAlternatives", testPromptedAlternatives},
		{"EventsCarryTheirApp", testEventApps},      // apps_events.go
		{"CreateEventsAllOrNone", testCreateEvents}, // apps_events.go
	} {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, fresh(t, open)) })
	}
}

// The suite's second one-time template (an event's alternative).
const oneTime2 = "tpl_one_2"

// altKinds is kinds with oneTime2.
func altKinds(app, id string) (store.TemplateKind, bool) {
	if id == oneTime2 {
		return store.KindOneTime, true
	}
	return kinds(app, id)
}

// alts are the alternatives of the suite's event reminders: oneTime, then
// oneTime2, each with its own data.
var alts = []store.Alternative{{TemplateID: oneTime, Data: `{"thing1":"one"}`}, {TemplateID: oneTime2, Data: `{"thing1":"two"}`}}

// newEvent is event id of openid starting at start, with its reminders for
// leads (durations before start), created at et0.
func newEvent(id, openid string, start time.Time, leads ...time.Duration) (store.Event, []store.NewReminder) {
	e := store.Event{ID: id, OpenID: openid, Title: "评审会", Location: "A栋", StartAt: start, Timezone: "Asia/Shanghai",
		Page: "pages/e", ExternalRef: "ref-" + id, CreatedAt: et0,
		Templates: []store.EventTemplate{{TemplateID: oneTime, Data: []byte(`{"thing1":"{title}"}`)},
			{TemplateID: oneTime2, Data: []byte(`{"thing1":"{title}"}`)}}}
	var rems []store.NewReminder
	for i, l := range leads {
		e.Leads = append(e.Leads, l.String())
		rems = append(rems, eventReminder(e, id+"-"+string(rune('a'+i)), l))
	}
	return e, rems
}

// eventReminder is the reminder of e for lead l.
func eventReminder(e store.Event, id string, l time.Duration) store.NewReminder {
	return store.NewReminder{ID: id, OpenID: e.OpenID, TemplateID: alts[0].TemplateID, FireAt: e.StartAt.Add(-l),
		ExpiresAt: e.StartAt, Window: l, HasWindow: true, Timezone: e.Timezone, Data: alts[0].Data, Page: e.Page,
		CreatedAt: e.CreatedAt, EventID: e.ID, Lead: l.String(), Alternatives: alts}
}

func mustCreateEvent(t *testing.T, s store.Store, e store.Event, rems []store.NewReminder) store.Event {
	t.Helper()
	c, err := s.CreateEvent(context.Background(), e, rems, store.CreateOptions{})
	if err != nil || c.Replayed {
		t.Fatalf("create event %s: %+v, %v", e.ID, c, err)
	}
	return c.Event
}

func eventRems(t *testing.T, s store.Store, id string) []store.Reminder {
	t.Helper()
	rs, err := s.EventReminders(context.Background(), id)
	if err != nil {
		t.Fatalf("reminders of %s: %v", id, err)
	}
	return rs
}

func remIDs(rs []store.Reminder) []string {
	ids := make([]string, len(rs))
	for i, r := range rs {
		ids[i] = r.ID
	}
	return ids
}

// An event is stored with every field as given, and its reminders with
// their event, lead and alternatives, in fire_at order.
func testCreateEvent(t *testing.T, s store.Store) {
	ctx := context.Background()
	start := et0.Add(48 * time.Hour)
	e, rems := newEvent("evt_1", "oA", start, 15*time.Minute, 24*time.Hour)
	e.EndAt, e.ExpiresAt = start.Add(time.Hour), start.Add(30*time.Minute)
	mustCreateEvent(t, s, e, rems)
	got, err := s.GetEvent(ctx, "evt_1")
	if err != nil {
		t.Fatal(err)
	}
	if got.OpenID != "oA" || got.Title != "评审会" || got.Location != "A栋" || !got.StartAt.Equal(start) ||
		!got.EndAt.Equal(start.Add(time.Hour)) || !got.ExpiresAt.Equal(start.Add(30*time.Minute)) ||
		got.Timezone != "Asia/Shanghai" || got.Page != "pages/e" || got.ExternalRef != "ref-evt_1" ||
		!slices.Equal(got.Leads, e.Leads) || len(got.Templates) != 2 || got.Templates[1].TemplateID != oneTime2 ||
		string(got.Templates[0].Data) != `{"thing1":"{title}"}` || !got.CanceledAt.IsZero() || !got.Pending ||
		got.Status() != "scheduled" || !got.CreatedAt.Equal(et0) {
		t.Errorf("stored event: %+v", got)
	}
	rs := eventRems(t, s, "evt_1")
	if want := []string{"evt_1-b", "evt_1-a"}; !slices.Equal(remIDs(rs), want) {
		t.Fatalf("reminders %v, want %v (fire_at order)", remIDs(rs), want)
	}
	r := rs[1]
	if r.EventID != "evt_1" || r.Lead != (15*time.Minute).String() || !slices.Equal(r.Alternatives, alts) ||
		r.TemplateID != oneTime || !r.FireAt.Equal(start.Add(-15*time.Minute)) || !r.ExpiresAt.Equal(start) {
		t.Errorf("event reminder: %+v", r)
	}
	if plain := create(t, s, "plain", "oA", oneTime, et0.Add(time.Hour)); plain.EventID != "" || plain.Alternatives != nil {
		t.Errorf("an ordinary reminder: event %q alternatives %v", plain.EventID, plain.Alternatives)
	}
	if _, err := s.GetEvent(ctx, "evt_none"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("unknown event: %v, want ErrNotFound", err)
	}
	if rs := eventRems(t, s, "evt_none"); len(rs) != 0 {
		t.Errorf("reminders of an unknown event: %v", remIDs(rs))
	}
}

// A key replays the same request's event and refuses another; nothing is
// written by a replay.
func testCreateEventIdempotent(t *testing.T, s store.Store) {
	ctx := context.Background()
	keyed := func(id, openid, hash string) (store.Event, []store.NewReminder) {
		e, rems := newEvent(id, openid, et0.Add(48*time.Hour), time.Hour)
		e.IdempotencyKey, e.RequestHash = "k1", hash
		return e, rems
	}
	e, rems := keyed("evt_a", "oA", "h1")
	mustCreateEvent(t, s, e, rems)
	e, rems = keyed("evt_b", "oA", "h1")
	again, err := s.CreateEvent(ctx, e, rems, store.CreateOptions{})
	if err != nil || !again.Replayed || again.Event.ID != "evt_a" {
		t.Fatalf("replay: %+v, %v; want evt_a replayed", again, err)
	}
	if _, err := s.GetEvent(ctx, "evt_b"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("a replay wrote evt_b: %v", err)
	}
	if _, err := s.GetReminder(ctx, "evt_b-a"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("a replay wrote a reminder: %v", err)
	}
	e, rems = keyed("evt_c", "oA", "h2")
	if _, err := s.CreateEvent(ctx, e, rems, store.CreateOptions{}); !errors.Is(err, store.ErrConflict) {
		t.Errorf("the key with another hash: %v, want ErrConflict", err)
	}
	e, rems = keyed("evt_d", "oB", "h2")
	if c, err := s.CreateEvent(ctx, e, rems, store.CreateOptions{}); err != nil || c.Replayed {
		t.Errorf("another user's key: %+v, %v", c, err)
	}
	if got, err := s.EventByIdempotencyKey(ctx, "oA", "k1"); err != nil || got.ID != "evt_a" || got.RequestHash != "h1" {
		t.Errorf("by key: %+v, %v", got, err)
	}
	if _, err := s.EventByIdempotencyKey(ctx, "oA", "k2"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("unknown key: %v", err)
	}
}

// An event's reminders count against the user's limit, all or none.
func testCreateEventLimit(t *testing.T, s store.Store) {
	ctx := context.Background()
	create(t, s, "r1", "oA", oneTime, et0.Add(time.Hour))
	e, rems := newEvent("evt_a", "oA", et0.Add(48*time.Hour), time.Hour, 2*time.Hour)
	if _, err := s.CreateEvent(ctx, e, rems, store.CreateOptions{MaxScheduled: 2}); !errors.Is(err, store.ErrLimit) {
		t.Fatalf("past the limit: %v, want ErrLimit", err)
	}
	if _, err := s.GetEvent(ctx, "evt_a"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("a refused event was written: %v", err)
	}
	if _, err := s.CreateEvent(ctx, e, rems, store.CreateOptions{MaxScheduled: 3}); err != nil {
		t.Errorf("within the limit: %v", err)
	}
}

// Listings are (start_at, id) ordered pages, a user's own or everyone's.
func testListEvents(t *testing.T, s store.Store) {
	ctx := context.Background()
	for i, at := range []time.Duration{5, 3, 3, 9, 1} {
		id := "evt_" + string(rune('a'+i))
		openid := "oA"
		if i == 3 {
			openid = "oB"
		}
		e, rems := newEvent(id, openid, et0.Add(at*time.Hour), time.Minute)
		mustCreateEvent(t, s, e, rems)
	}
	walkAll := func(q store.EventQuery) []string {
		var ids []string
		for range 10 {
			p, err := s.ListEvents(ctx, q)
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range p.Events {
				ids = append(ids, e.ID)
			}
			if p.Next == nil {
				return ids
			}
			q.After = p.Next
		}
		t.Fatal("listing does not end")
		return nil
	}
	if got, want := walkAll(store.EventQuery{OpenID: "oA", Limit: 2}), []string{"evt_e", "evt_b", "evt_c", "evt_a"}; !slices.Equal(got, want) {
		t.Errorf("oA's events %v, want %v", got, want)
	}
	if got, want := walkAll(store.EventQuery{Limit: 3}), []string{"evt_e", "evt_b", "evt_c", "evt_a", "evt_d"}; !slices.Equal(got, want) {
		t.Errorf("every event %v, want %v", got, want)
	}
	p, err := s.ListEvents(ctx, store.EventQuery{OpenID: "oA", Limit: 4})
	if err != nil || len(p.Events) != 4 || p.Next != nil {
		t.Errorf("an exact page: %d events, next %v, %v", len(p.Events), p.Next, err)
	}
}

// A re-plan reads the event and its reminders and writes the event, the
// changed, canceled and new reminders in one transaction; an error from
// the plan writes nothing.
func testReplanEvent(t *testing.T, s store.Store) {
	ctx := context.Background()
	start := et0.Add(48 * time.Hour)
	e, rems := newEvent("evt_1", "oA", start, 15*time.Minute, time.Hour, 24*time.Hour)
	mustCreateEvent(t, s, e, rems)
	now := et0.Add(time.Minute)
	boom := errors.New("invalid")
	if _, err := s.ReplanEvent(ctx, "evt_1", now, func(ev store.Event, rs []store.Reminder) (store.EventPlan, error) {
		return store.EventPlan{}, boom
	}); !errors.Is(err, boom) {
		t.Fatalf("a failing plan: %v, want its error", err)
	}
	moved := start.Add(2 * time.Hour)
	var seen []string
	got, err := s.ReplanEvent(ctx, "evt_1", now, func(ev store.Event, rs []store.Reminder) (store.EventPlan, error) {
		seen = remIDs(rs)
		ev.Title, ev.StartAt, ev.Leads = "新标题", moved, []string{"15m0s", "2h0m0s"}
		p := store.EventPlan{Event: ev, Cancel: []string{"evt_1-b", "evt_1-c"}}
		p.Update = append(p.Update, store.EventReminderUpdate{ID: "evt_1-a", Lead: "15m0s", FireAt: moved.Add(-15 * time.Minute),
			ExpiresAt: moved, TemplateID: oneTime2, Data: `{"thing1":"新"}`, Page: "pages/new", Alternatives: alts[1:]})
		ev.ID = "evt_1"
		p.Create = append(p.Create, eventReminder(ev, "evt_1-d", 2*time.Hour))
		return p, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"evt_1-c", "evt_1-b", "evt_1-a"}; !slices.Equal(seen, want) {
		t.Errorf("the plan saw %v, want %v", seen, want)
	}
	if got.Title != "新标题" || !got.StartAt.Equal(moved) || !slices.Equal(got.Leads, []string{"15m0s", "2h0m0s"}) ||
		!got.UpdatedAt.Equal(now) || !got.CreatedAt.Equal(et0) || got.OpenID != "oA" || !got.Pending {
		t.Errorf("re-planned event: %+v", got)
	}
	rs := eventRems(t, s, "evt_1")
	status := map[string]store.Status{}
	for _, r := range rs {
		status[r.ID] = r.Status
	}
	if status["evt_1-b"] != store.StatusCanceled || status["evt_1-c"] != store.StatusCanceled ||
		status["evt_1-a"] != store.StatusScheduled || status["evt_1-d"] != store.StatusScheduled || len(rs) != 4 {
		t.Errorf("statuses after the re-plan: %v", status)
	}
	a := mustGet(t, s, "evt_1-a")
	if !a.FireAt.Equal(moved.Add(-15*time.Minute)) || !a.DueAt.Equal(a.FireAt) || !a.ExpiresAt.Equal(moved) ||
		a.Window != 15*time.Minute || a.TemplateID != oneTime2 || a.Data != `{"thing1":"新"}` || a.Page != "pages/new" ||
		!slices.Equal(a.Alternatives, alts[1:]) || !a.UpdatedAt.Equal(now) {
		t.Errorf("moved reminder: %+v", a)
	}
}

// A re-plan that adds reminders past the user's limit of scheduled ones
// is ErrLimit and writes nothing; one that cancels as many as it adds is
// not limited.
func testReplanEventLimit(t *testing.T, s store.Store) {
	ctx := context.Background()
	start := et0.Add(48 * time.Hour)
	e, rems := newEvent("evt_1", "oA", start, 15*time.Minute, time.Hour)
	mustCreateEvent(t, s, e, rems)
	plan := func(cancel ...string) func(store.Event, []store.Reminder) (store.EventPlan, error) {
		return func(ev store.Event, _ []store.Reminder) (store.EventPlan, error) {
			ev.Title = "changed"
			p := store.EventPlan{Event: ev, Cancel: cancel, MaxScheduled: 2}
			p.Create = append(p.Create, eventReminder(ev, "evt_1-x", 2*time.Hour))
			return p, nil
		}
	}
	if _, err := s.ReplanEvent(ctx, "evt_1", et0, plan()); !errors.Is(err, store.ErrLimit) {
		t.Fatalf("a third scheduled reminder with a limit of 2: %v, want ErrLimit", err)
	}
	if rs := eventRems(t, s, "evt_1"); len(rs) != 2 {
		t.Fatalf("%d reminders after the refused re-plan, want 2", len(rs))
	}
	if got, err := s.ReplanEvent(ctx, "evt_1", et0, plan("evt_1-a")); err != nil || got.Title != "changed" {
		t.Fatalf("one added, one canceled: %+v, %v", got, err)
	}
}

// A reminder that started sending since is not changed by a re-plan: the
// re-plan fails with its *StateError and writes nothing.
func testReplanConflict(t *testing.T, s store.Store) {
	ctx := context.Background()
	start := et0.Add(time.Hour)
	e, rems := newEvent("evt_1", "oA", start, time.Hour, 30*time.Minute)
	mustCreateEvent(t, s, e, rems)
	claimAt(t, s, "w", et0, 10) // evt_1-a is due at et0: sending
	_, err := s.ReplanEvent(ctx, "evt_1", et0, func(ev store.Event, rs []store.Reminder) (store.EventPlan, error) {
		ev.Title = "changed"
		return store.EventPlan{Event: ev, Cancel: []string{"evt_1-b", "evt_1-a"}}, nil
	})
	if se := asStateError(t, err); se.ID != "evt_1-a" || se.Status != store.StatusSending {
		t.Errorf("state error %+v", se)
	}
	if got, _ := s.GetEvent(ctx, "evt_1"); got.Title != "评审会" {
		t.Errorf("a failed re-plan changed the title to %q", got.Title)
	}
	if b := mustGet(t, s, "evt_1-b"); b.Status != store.StatusScheduled {
		t.Errorf("a failed re-plan canceled evt_1-b: %s", b.Status)
	}
}

// Concurrent re-plans of one event each plan from what the one before
// wrote: a lead added by each is added once per re-plan, never lost.
func testConcurrentReplans(t *testing.T, s store.Store) {
	ctx := context.Background()
	e, rems := newEvent("evt_1", "oA", et0.Add(48*time.Hour), time.Hour)
	mustCreateEvent(t, s, e, rems)
	const n = 4
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			_, errs[i] = s.ReplanEvent(ctx, "evt_1", et0, func(ev store.Event, rs []store.Reminder) (store.EventPlan, error) {
				l := time.Duration(len(ev.Leads)+1) * time.Hour
				ev.Leads = append(slices.Clone(ev.Leads), l.String())
				return store.EventPlan{Event: ev, Create: []store.NewReminder{eventReminder(ev, ev.ID+"-"+l.String(), l)}}, nil
			})
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	got, _ := s.GetEvent(ctx, "evt_1")
	if len(got.Leads) != n+1 || len(eventRems(t, s, "evt_1")) != n+1 {
		t.Errorf("after %d concurrent re-plans: leads %v, %d reminders", n, got.Leads, len(eventRems(t, s, "evt_1")))
	}
}

// Canceling an event cancels its scheduled reminders and leaves the sent
// and sending ones; a second cancel is a conflict.
func testCancelEvent(t *testing.T, s store.Store) {
	ctx := context.Background()
	e, rems := newEvent("evt_1", "oA", et0.Add(time.Hour), time.Hour, 30*time.Minute, 15*time.Minute)
	mustCreateEvent(t, s, e, rems)
	accept(t, s, "oA", oneTime, et0)
	c := claimAt(t, s, "w", et0, 10)
	record(t, s, sent(byID(t, c, "evt_1-a"), et0, 1))
	c = claimAt(t, s, "w", et0.Add(30*time.Minute), 10) // evt_1-b sending
	if len(c) != 1 {
		t.Fatalf("claimed %v", claimIDs(c))
	}
	n, err := s.CancelEvent(ctx, "evt_1", et0.Add(31*time.Minute))
	if err != nil || n != 1 {
		t.Fatalf("cancel: %d, %v; want 1 canceled", n, err)
	}
	want := map[string]store.Status{"evt_1-a": store.StatusSent, "evt_1-b": store.StatusSending, "evt_1-c": store.StatusCanceled}
	for id, st := range want {
		if got := mustGet(t, s, id); got.Status != st {
			t.Errorf("%s is %s, want %s", id, got.Status, st)
		}
	}
	got, _ := s.GetEvent(ctx, "evt_1")
	if !got.CanceledAt.Equal(et0.Add(31*time.Minute)) || got.Status() != "canceled" {
		t.Errorf("canceled event: %+v", got)
	}
	if _, err := s.CancelEvent(ctx, "evt_1", et0.Add(time.Hour)); !errors.Is(err, store.ErrConflict) {
		t.Errorf("cancel again: %v, want ErrConflict", err)
	}
	if _, err := s.CancelEvent(ctx, "evt_none", et0); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("cancel an unknown event: %v, want ErrNotFound", err)
	}
	if _, err := s.ReplanEvent(ctx, "evt_1", et0, func(ev store.Event, _ []store.Reminder) (store.EventPlan, error) {
		return store.EventPlan{Event: ev}, nil
	}); !errors.Is(err, store.ErrConflict) {
		t.Errorf("re-plan a canceled event: %v, want ErrConflict", err)
	}
}

// A claim sends a reminder with alternatives through the first template
// the user holds a credit for, taking that credit and switching the
// reminder's template and data to it; with none it stays on its template,
// uncovered. An event whose reminders all ended is done.
func testClaimAlternatives(t *testing.T, s store.Store) {
	ctx := context.Background()
	e, rems := newEvent("evt_1", "oA", et0.Add(2*time.Hour), 2*time.Hour, 90*time.Minute, time.Hour)
	mustCreateEvent(t, s, e, rems)
	accept(t, s, "oA", oneTime2, et0)
	claim := func(now time.Time) store.Claim {
		t.Helper()
		cs, err := s.ClaimDue(ctx, store.ClaimParams{Now: now, LeaseUntil: now.Add(time.Minute), Owner: "w", Max: 10, Kind: altKinds})
		if err != nil || len(cs) != 1 {
			t.Fatalf("claim at %v: %v, %v", now, claimIDs(cs), err)
		}
		return cs[0]
	}
	c := claim(et0)
	if r := c.Reminder; r.ID != "evt_1-a" || !c.Covered || !r.CreditHeld || r.TemplateID != oneTime2 || r.Data != alts[1].Data {
		t.Fatalf("claim of the first lead: covered %v, %+v", c.Covered, r)
	}
	if n := credits(t, s, "oA", oneTime2); n != 0 {
		t.Errorf("%s credits after the claim: %d, want 0", oneTime2, n)
	}
	record(t, s, sent(c, et0, 1))
	if r := mustGet(t, s, "evt_1-a"); r.TemplateID != oneTime2 || r.Status != store.StatusSent {
		t.Errorf("sent reminder: %+v", r)
	}
	// The first template has a credit now: it is taken before the second.
	accept(t, s, "oA", oneTime, et0)
	accept(t, s, "oA", oneTime2, et0)
	c = claim(et0.Add(30 * time.Minute))
	if r := c.Reminder; r.ID != "evt_1-b" || !c.Covered || r.TemplateID != oneTime || r.Data != alts[0].Data {
		t.Fatalf("claim of the second lead: covered %v, %+v", c.Covered, r)
	}
	if credits(t, s, "oA", oneTime) != 0 || credits(t, s, "oA", oneTime2) != 1 {
		t.Errorf("credits after the second claim: %d and %d, want 0 and 1", credits(t, s, "oA", oneTime), credits(t, s, "oA", oneTime2))
	}
	record(t, s, sent(c, et0.Add(30*time.Minute), 2))
	// A claim that ends without a send gives the credit back to the
	// template it took it from.
	c = claim(et0.Add(time.Hour))
	if c.Reminder.TemplateID != oneTime2 || !c.Covered {
		t.Fatalf("claim of the third lead: %+v", c)
	}
	record(t, s, deferred(c, et0.Add(time.Hour), et0.Add(time.Hour+time.Second)))
	if n := credits(t, s, "oA", oneTime2); n != 1 {
		t.Errorf("%s credits after the deferral: %d, want 1 (given back)", oneTime2, n)
	}
	c = claim(et0.Add(time.Hour + time.Second))
	if c.Reminder.TemplateID != oneTime2 || !c.Covered {
		t.Fatalf("the third lead claimed again: %+v", c)
	}
	record(t, s, sent(c, et0.Add(time.Hour+time.Second), 3))
	if got, _ := s.GetEvent(ctx, "evt_1"); got.Pending || got.Status() != "done" {
		t.Errorf("an event whose reminders ended: %+v", got)
	}
	// Batch rule: two users' event reminders in one claim, each their own
	// ledger; with no credit at all the reminder stays on its template,
	// uncovered.
	accept(t, s, "oB", oneTime, et0)
	e2, rems2 := newEvent("evt_2", "oB", et0.Add(3*time.Hour), time.Hour)
	e3, rems3 := newEvent("evt_3", "oC", et0.Add(3*time.Hour), time.Hour)
	mustCreateEvent(t, s, e2, rems2)
	mustCreateEvent(t, s, e3, rems3)
	cs, err := s.ClaimDue(ctx, store.ClaimParams{Now: et0.Add(2 * time.Hour), LeaseUntil: et0.Add(3 * time.Hour), Owner: "w", Max: 10, Kind: altKinds})
	if err != nil || len(cs) != 2 {
		t.Fatalf("batch claim: %v, %v", claimIDs(cs), err)
	}
	b, cc := byID(t, cs, "evt_2-a"), byID(t, cs, "evt_3-a")
	if !b.Covered || b.Reminder.TemplateID != oneTime || cc.Covered || cc.Reminder.TemplateID != oneTime {
		t.Errorf("batch: oB covered %v through %s; oC covered %v through %s", b.Covered, b.Reminder.TemplateID, cc.Covered, cc.Reminder.TemplateID)
	}
}

// The prompt planner sees a reminder's alternatives.
func testPromptedAlternatives(t *testing.T, s store.Store) {
	e, rems := newEvent("evt_1", "oA", et0.Add(2*time.Hour), time.Hour)
	mustCreateEvent(t, s, e, rems)
	create(t, s, "plain", "oA", oneTime, et0.Add(2*time.Hour))
	ps, err := s.ListPrompted(context.Background(), "", "oA", 10)
	if err != nil || len(ps) != 2 {
		t.Fatalf("prompted: %+v, %v", ps, err)
	}
	if !slices.Equal(ps[0].Alternatives, []string{oneTime, oneTime2}) || ps[1].Alternatives != nil {
		t.Errorf("prompted alternatives: %v and %v", ps[0].Alternatives, ps[1].Alternatives)
	}
}
