package storetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/reminderd/reminderd/internal/store"
)

// The last two places keyed without the app: parked sent events (a sent
// event pushed to one app is about that app's user) and template kinds (a
// template id is one account's).

// unknownIn claims app's reminder id of user "o" through oneTime (with a
// credit of its own) and records its attempt of unknown outcome: it waits
// until et0+2m for a sent event. It returns the claim.
func unknownIn(t *testing.T, s store.Store, id, app string) store.Claim {
	t.Helper()
	createIn(t, s, id, app, "o", oneTime, et0)
	acceptIn(t, s, app, "o", oneTime, et0.Add(-time.Hour))
	c := byID(t, claimAt(t, s, "w", et0, 10), id)
	record(t, s, store.Outcome{Claim: c, At: et0.Add(time.Second),
		Delivery:   &store.Delivery{Status: store.DeliveryUnknown, ErrMsg: "answer lost", Latency: time.Second},
		Reschedule: &store.Reschedule{FireAt: et0, DueAt: et0.Add(2 * time.Minute), Attempts: 1, UnknownAt: c.ClaimedAt}})
	return c
}

// sentEventIn applies WeChat's sent event for msgid, pushed to app at.
func sentEventIn(t *testing.T, s store.EngineStore, app, openid, tpl string, msgid int64, at time.Time) store.PushApplied {
	t.Helper()
	return push(t, s, store.PushEvent{At: at, AppID: app, OpenID: openid,
		Sent: []store.SentEvent{{MsgID: msgid, Delivered: true, Status: "success", TemplateID: tpl}}})
}

// settled records c's claim settled by ev, as the engine does.
func settled(c store.Claim, ev store.SentEvent, at time.Time) store.Outcome {
	return store.Outcome{Claim: c, At: at, Complete: &store.Completion{Status: store.StatusSent, Report: store.ReportDelivered},
		Settle: &store.Settle{ErrMsg: "settled by WeChat's sent event", Event: ev, HasEvent: true}}
}

// A sent event pushed to B, parked (no delivery has its msgid), is B's: it
// wakes and settles B's reminder waiting out an unknown outcome, and
// neither wakes nor settles A's of the same openid and template, which
// waits on until its own wait is over.
func testLedgerAppsParkedSentEvent(t *testing.T, s store.Store) {
	ctx := context.Background()
	ca := unknownIn(t, s, "ua", ledgerA)
	cb := unknownIn(t, s, "ub", ledgerB)
	at := et0.Add(10 * time.Second)
	if applied := sentEventIn(t, s, ledgerB, "o", oneTime, 9, at); !applied.Woken {
		t.Fatalf("B's sent event did not wake B's waiting reminder: %+v", applied)
	}
	if r := mustGet(t, s, "ua"); !r.DueAt.Equal(et0.Add(2 * time.Minute)) {
		t.Errorf("A's reminder is due at %v after B's sent event, want %v (not woken)", r.DueAt, et0.Add(2*time.Minute))
	}
	if r := mustGet(t, s, "ub"); !r.DueAt.Equal(at) {
		t.Errorf("B's reminder is due at %v after its sent event, want %v", r.DueAt, at)
	}
	if ev, err := s.PendingSentEvent(ctx, ledgerA, "o", oneTime, ca.ClaimedAt); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("A's lookup found B's parked event %+v (%v), want ErrNotFound", ev, err)
	}
	ev, err := s.PendingSentEvent(ctx, ledgerB, "o", oneTime, cb.ClaimedAt)
	if err != nil || ev.MsgID != 9 {
		t.Fatalf("B's parked event %+v, %v; want msgid 9", ev, err)
	}
	woken := claimAt(t, s, "w", at, 10)
	if ids := claimIDs(woken); len(ids) != 1 || ids[0] != "ub" {
		t.Fatalf("claimed %v at the event, want B's reminder only", ids)
	}
	if rec := record(t, s, settled(woken[0], ev, at.Add(time.Second))); rec.Lost || rec.Unsettled || rec.EventGone {
		t.Fatalf("B's settle recorded %+v", rec)
	}
	if ok, err := s.OccurrenceSent(ctx, "ub", et0); err != nil || !ok {
		t.Errorf("B's occurrence sent after its settle: %v, %v", ok, err)
	}
	// A's wait ends with no event of its own: nothing is found for it, and
	// its occurrence is not recorded sent.
	due := et0.Add(2 * time.Minute)
	if ids := claimIDs(claimAt(t, s, "w", due, 10)); len(ids) != 1 || ids[0] != "ua" {
		t.Fatalf("claimed %v at A's wait's end, want A's reminder", ids)
	}
	if ev, err := s.PendingSentEvent(ctx, ledgerA, "o", oneTime, ca.ClaimedAt); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("A's lookup at its wait's end found %+v (%v), want ErrNotFound", ev, err)
	}
	if ok, err := s.OccurrenceSent(ctx, "ua", et0); err != nil || ok {
		t.Errorf("A's occurrence recorded sent (%v, %v) by B's event", ok, err)
	}
}

// A parked sent event written before events carried their app (app "")
// joins the configured app with the rest of its rows, and is found for that
// app's reminders.
func testLedgerAppsAdoptParked(t *testing.T, s store.Store) {
	ctx := context.Background()
	if applied := sentEventIn(t, s, "", "o", oneTime, 11, et0); applied.Woken {
		t.Fatalf("an event woke a reminder where there is none: %+v", applied)
	}
	if _, err := s.PendingSentEvent(ctx, "", "o", oneTime, et0); err != nil {
		t.Fatalf("the unowned parked event: %v", err)
	}
	if n, err := s.AdoptRows(ctx, ledgerA); err != nil || n != 1 {
		t.Fatalf("adopted %d (%v), want 1 (the parked event)", n, err)
	}
	if ev, err := s.PendingSentEvent(ctx, ledgerA, "o", oneTime, et0); err != nil || ev.MsgID != 11 {
		t.Errorf("the adopted parked event %+v, %v; want msgid 11", ev, err)
	}
	if _, err := s.PendingSentEvent(ctx, "", "o", oneTime, et0); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("the parked event is still without an app: %v", err)
	}
	if n, err := s.AdoptRows(ctx, ledgerB); err != nil || n != 0 {
		t.Errorf("a second adoption changed %d (%v)", n, err)
	}
}

// shared is a template id both apps have: one-time in A's account,
// long-term in B's.
const shared = "tpl_shared"

// appKinds is the Kind of two accounts that gave shared different kinds.
func appKinds(app, id string) (store.TemplateKind, bool) {
	switch {
	case id == shared && app == ledgerA:
		return store.KindOneTime, true
	case id == shared && app == ledgerB:
		return store.KindLongTerm, true
	}
	return kinds(app, id)
}

// claimKinds claims up to 10 reminders due at now with appKinds.
func claimKinds(t *testing.T, s store.EngineStore, now time.Time) []store.Claim {
	t.Helper()
	cs, err := s.ClaimDue(context.Background(), store.ClaimParams{Now: now, LeaseUntil: now.Add(time.Minute), Owner: "w",
		Max: 10, Kind: appKinds})
	if err != nil {
		t.Fatalf("claim at %v: %v", now, err)
	}
	return cs
}

// A template one-time in A and long-term in B is claimed by each app's
// rule: A's reminder reserves A's credit (and the next finds none), B's is
// covered by B's long-term grant and holds nothing, reminder after
// reminder.
func testLedgerAppsKindPerApp(t *testing.T, s store.Store) {
	createIn(t, s, "ka", ledgerA, "o", shared, et0)
	createIn(t, s, "kb", ledgerB, "o", shared, et0)
	push(t, s, store.PushEvent{At: et0.Add(-time.Hour), AppID: ledgerA, OpenID: "o",
		Answers: []store.ConsentAnswer{{TemplateID: shared, Accept: true}}})
	push(t, s, store.PushEvent{At: et0.Add(-time.Hour), AppID: ledgerB, OpenID: "o",
		Answers: []store.ConsentAnswer{{TemplateID: shared, LongTerm: true, Accept: true}}})
	cs := claimKinds(t, s, et0)
	a, b := byID(t, cs, "ka"), byID(t, cs, "kb")
	if !a.Covered || !a.Reminder.CreditHeld {
		t.Errorf("A's claim %+v: want it covered by a reserved one-time credit", a)
	}
	if c, _ := consentIn(t, s, ledgerA, "o", shared); c.Credits != 0 {
		t.Errorf("A's credits after its claim: %d, want 0 (held)", c.Credits)
	}
	if !b.Covered || b.Reminder.CreditHeld {
		t.Errorf("B's claim %+v: want it covered by the long-term grant, holding nothing", b)
	}
	record(t, s, sent(a, et0.Add(time.Second), 601))
	record(t, s, sent(b, et0.Add(time.Second), 602))
	createIn(t, s, "ka2", ledgerA, "o", shared, et0.Add(time.Minute))
	createIn(t, s, "kb2", ledgerB, "o", shared, et0.Add(time.Minute))
	cs = claimKinds(t, s, et0.Add(time.Minute))
	if a2 := byID(t, cs, "ka2"); a2.Covered {
		t.Errorf("A's second claim %+v covered: A's one credit was used", a2)
	}
	if b2 := byID(t, cs, "kb2"); !b2.Covered || b2.Reminder.CreditHeld {
		t.Errorf("B's second claim %+v: want it covered by the long-term grant again", b2)
	}
}
