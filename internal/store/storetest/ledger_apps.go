package storetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/reminderd/reminderd/internal/store"
)

// The consent ledger is per app: the same openid string in two apps (two
// mini-programs may well see one, as the sandbox's fakes do) is two users
// with two ledgers. Each test below has user "o" in apps ledgerA and
// ledgerB.
const (
	ledgerA = "wxledgerA"
	ledgerB = "wxledgerB"
)

// LedgerApps runs the per-app ledger tests against the driver open returns
// (Run runs them).
func LedgerApps(t *testing.T, open Open[store.Store]) {
	for _, tc := range []struct {
		name string
		fn   func(t *testing.T, s store.Store)
	}{
		{"AcceptInOneAppGivesNoCreditToAnother", testLedgerAppsClaim},
		{"LongTermGrantIsOneAppsOnly", testLedgerAppsLongTerm},
		{"OutcomeCreditsStayInTheirApp", testLedgerAppsOutcomeCredits},
		{"AnswersAndSettingsOfOneAppDoNotBlockAnother", testLedgerAppsAnswers},
		{"PushAnswersAreTheirAppsOnly", testLedgerAppsPush},
		{"PairingWithinOneAppOnly", testLedgerAppsPairing},
		{"SnoozeKeysPerApp", testLedgerAppsSnoozeKeys},
		{"PromptedAndCoveragePerApp", testLedgerAppsPrompted},
		{"AdoptedLedgerGivesItsCredits", testLedgerAppsAdopt},
		{"AdoptedLedgerGoesToEachUsersApp", testLedgerAppsAdoptPerUser},
		{"ParkedSentEventSettlesAndWakesItsAppOnly", testLedgerAppsParkedSentEvent},
		{"AdoptedParkedSentEventIsTheApps", testLedgerAppsAdoptParked},
		{"TemplateKindIsTheAppsOwn", testLedgerAppsKindPerApp},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, fresh(t, open)) })
	}
}

// createIn stores a reminder of app's user openid through template tpl,
// firing at.
func createIn(t *testing.T, s store.Store, id, app, openid, tpl string, at time.Time) store.Reminder {
	t.Helper()
	r, err := s.CreateReminder(context.Background(), store.NewReminder{ID: id, AppID: app, OpenID: openid, TemplateID: tpl, FireAt: at,
		Timezone: "Asia/Shanghai", Data: `{"thing1":"x"}`, CreatedAt: at.Add(-time.Hour)})
	if err != nil {
		t.Fatalf("create %s: %v", id, err)
	}
	return r
}

// consentIn is app's ledger row of (openid, tpl); found false without one.
func consentIn(t *testing.T, s store.ReminderStore, app, openid, tpl string) (c store.Consent, found bool) {
	t.Helper()
	c, err := s.GetConsent(context.Background(), app, openid, tpl)
	if errors.Is(err, store.ErrNotFound) {
		return store.Consent{}, false
	}
	if err != nil {
		t.Fatal(err)
	}
	if c.AppID != app || c.OpenID != openid || c.TemplateID != tpl {
		t.Fatalf("GetConsent(%s, %s, %s) read %+v", app, openid, tpl, c)
	}
	return c, true
}

// skippedNoConsent is the outcome the engine records for a claim its
// consent did not cover.
func skippedNoConsent(c store.Claim, at time.Time) store.Outcome {
	return store.Outcome{Claim: c, At: at, Delivery: &store.Delivery{Status: store.DeliverySkipped, ErrMsg: "no consent"},
		Complete: &store.Completion{Status: store.StatusSkipped, Reason: store.ReasonNoConsent}}
}

// An accept in A is a credit of A's reminder only: B's reminder of the
// same openid and template is claimed uncovered (and skipped as
// no_consent), A's holds the credit and is sent.
func testLedgerAppsClaim(t *testing.T, s store.Store) {
	createIn(t, s, "ra", ledgerA, "o", oneTime, et0)
	createIn(t, s, "rb", ledgerB, "o", oneTime, et0.Add(-time.Second)) // first in due order
	acceptIn(t, s, ledgerA, "o", oneTime, et0.Add(-time.Hour))
	cs := claimAt(t, s, "w", et0, 10)
	a, b := byID(t, cs, "ra"), byID(t, cs, "rb")
	if !a.Covered || !a.Reminder.CreditHeld {
		t.Errorf("A's claim %+v: want it covered by A's credit", a)
	}
	if b.Covered || b.Reminder.CreditHeld {
		t.Errorf("B's claim %+v took A's credit", b)
	}
	if c, _ := consentIn(t, s, ledgerA, "o", oneTime); c.Credits != 0 {
		t.Errorf("A's credits after the claim: %d, want 0 (held)", c.Credits)
	}
	if c, found := consentIn(t, s, ledgerB, "o", oneTime); found {
		t.Errorf("B has a ledger row %+v it never answered for", c)
	}
	if rec := record(t, s, sent(a, et0.Add(time.Second), 501)); rec.Lost || rec.NoCredit {
		t.Errorf("A's send recorded %+v", rec)
	}
	record(t, s, skippedNoConsent(b, et0.Add(time.Second)))
	if r := mustGet(t, s, "ra"); r.Status != store.StatusSent {
		t.Errorf("A's reminder is %s, want sent", r.Status)
	}
	if r := mustGet(t, s, "rb"); r.Status != store.StatusSkipped || r.Reason != store.ReasonNoConsent {
		t.Errorf("B's reminder is %s (%s), want skipped no_consent", r.Status, r.Reason)
	}
	// B's own accept covers B's next reminder, and A has nothing left.
	createIn(t, s, "ra2", ledgerA, "o", oneTime, et0.Add(time.Minute))
	createIn(t, s, "rb2", ledgerB, "o", oneTime, et0.Add(time.Minute))
	acceptIn(t, s, ledgerB, "o", oneTime, et0.Add(2*time.Second))
	cs = claimAt(t, s, "w", et0.Add(time.Minute), 10)
	if a2, b2 := byID(t, cs, "ra2"), byID(t, cs, "rb2"); a2.Covered || !b2.Covered || !b2.Reminder.CreditHeld {
		t.Errorf("second claims: A covered %v, B covered %v (held %v); want B's only", a2.Covered, b2.Covered, b2.Reminder.CreditHeld)
	}
}

// A long-term grant in A covers A's reminders, not B's.
func testLedgerAppsLongTerm(t *testing.T, s store.Store) {
	createIn(t, s, "la", ledgerA, "o", longTerm, et0)
	createIn(t, s, "lb", ledgerB, "o", longTerm, et0)
	acceptIn(t, s, ledgerA, "o", longTerm, et0.Add(-time.Hour))
	cs := claimAt(t, s, "w", et0, 10)
	if a, b := byID(t, cs, "la"), byID(t, cs, "lb"); !a.Covered || b.Covered {
		t.Errorf("long-term claims: A covered %v, B covered %v; want A's only", a.Covered, b.Covered)
	}
}

// A record's credit (consumed, refunded, zeroed by 43101) is its
// reminder's app's: the other app's row of the same openid and template is
// left as it was.
func testLedgerAppsOutcomeCredits(t *testing.T, s store.Store) {
	createIn(t, s, "ra", ledgerA, "o", oneTime, et0)
	createIn(t, s, "rb", ledgerB, "o", oneTime, et0)
	acceptIn(t, s, ledgerA, "o", oneTime, et0.Add(-time.Hour))
	acceptIn(t, s, ledgerB, "o", oneTime, et0.Add(-time.Hour))
	acceptIn(t, s, ledgerB, "o", oneTime, et0.Add(-time.Hour+time.Minute)) // past the pairing window of nothing: a second credit
	cs := claimAt(t, s, "w", et0, 10)
	a, b := byID(t, cs, "ra"), byID(t, cs, "rb")
	// A's claim ends without a send: its credit goes back to A.
	record(t, s, deferred(a, et0.Add(time.Second), et0.Add(time.Hour)))
	if c, _ := consentIn(t, s, ledgerA, "o", oneTime); c.Credits != 1 {
		t.Errorf("A's credits after the refund: %d, want 1", c.Credits)
	}
	if c, _ := consentIn(t, s, ledgerB, "o", oneTime); c.Credits != 1 {
		t.Errorf("B's credits after A's refund: %d, want 1 (its other one held by its claim)", c.Credits)
	}
	// WeChat answered 43101 to B's send: B's ledger is emptied, A's kept.
	o := store.Outcome{Claim: b, At: et0.Add(2 * time.Second), Delivery: &store.Delivery{Status: store.DeliveryFailed, HasErrCode: true, ErrCode: 43101},
		Complete: &store.Completion{Status: store.StatusSkipped, Reason: store.ReasonUserRefused}, Credit: store.CreditZero}
	record(t, s, o)
	if c, _ := consentIn(t, s, ledgerB, "o", oneTime); c.Credits != 0 || c.Status != store.ConsentRefused {
		t.Errorf("B's row after 43101: %+v, want no credit, refused", c)
	}
	if c, _ := consentIn(t, s, ledgerA, "o", oneTime); c.Credits != 1 || c.Status != store.ConsentAccept {
		t.Errorf("A's row after B's 43101: %+v, want its credit and accept", c)
	}
	// A send whose claim held nothing consumes a credit of its own app:
	// B has none left (NoCredit), and A's is not taken for it.
	createIn(t, s, "rb2", ledgerB, "o", oneTime, et0.Add(time.Minute))
	b2 := byID(t, claimAt(t, s, "w", et0.Add(time.Minute), 10), "rb2")
	if b2.Covered {
		t.Errorf("B's claim covered with B's ledger emptied: %+v", b2)
	}
	o = sent(b2, et0.Add(time.Minute+time.Second), 502)
	o.Credit = store.CreditConsume
	if rec := record(t, s, o); !rec.NoCredit {
		t.Errorf("B's consume found a credit: %+v", rec)
	}
	if c, _ := consentIn(t, s, ledgerA, "o", oneTime); c.Credits != 1 {
		t.Errorf("A's credits after B's consume: %d, want 1", c.Credits)
	}
}

// A reject, a ban, a filter, a saved setting or a main switch off in A
// leaves B's ledger as it is; each app lists its own rows.
func testLedgerAppsAnswers(t *testing.T, s store.Store) {
	ctx := context.Background()
	if err := s.SetConsentStatus(ctx, ledgerA, "o", oneTime, store.ConsentBan, et0); err != nil {
		t.Fatal(err)
	}
	if err := s.SaveConsentSettings(ctx, ledgerA, "o", store.Settings{MainSwitch: false,
		Items: map[string]store.ConsentStatus{longTerm: store.ConsentReject}}, et0); err != nil {
		t.Fatal(err)
	}
	if counted, err := s.RecordAccept(ctx, ledgerB, "o", oneTime, false, store.SourceClient, et0.Add(time.Second)); err != nil || !counted {
		t.Fatalf("B's accept: counted %v, %v", counted, err)
	}
	if c, _ := consentIn(t, s, ledgerB, "o", oneTime); c.Status != store.ConsentAccept || c.Credits != 1 || c.Setting != "" {
		t.Errorf("B's row %+v: want accept with a credit, no setting", c)
	}
	if c, _ := consentIn(t, s, ledgerA, "o", oneTime); c.Status != store.ConsentBan || c.Credits != 0 {
		t.Errorf("A's row %+v: want the ban, no credit", c)
	}
	if on, err := s.MainSwitch(ctx, ledgerA, "o"); err != nil || on {
		t.Errorf("A's main switch %v (%v), want off", on, err)
	}
	if on, err := s.MainSwitch(ctx, ledgerB, "o"); err != nil || !on {
		t.Errorf("B's main switch %v (%v), want on (never reported)", on, err)
	}
	// B's settings report replaces B's saved choices only.
	if err := s.SaveConsentSettings(ctx, ledgerB, "o", store.Settings{MainSwitch: true}, et0.Add(2*time.Second)); err != nil {
		t.Fatal(err)
	}
	if c, _ := consentIn(t, s, ledgerA, "o", longTerm); c.Setting != store.ConsentReject {
		t.Errorf("A's saved choice after B's report: %+v", c)
	}
	listed := func(app string) map[string]store.Consent {
		rows, err := s.ListConsents(ctx, app, "o")
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]store.Consent{}
		for _, c := range rows {
			if c.AppID != app || c.OpenID != "o" {
				t.Errorf("ListConsents(%s) listed %+v", app, c)
			}
			out[c.TemplateID] = c
		}
		return out
	}
	if a := listed(ledgerA); len(a) != 2 || a[oneTime].Status != store.ConsentBan || a[longTerm].Setting != store.ConsentReject {
		t.Errorf("A's ledger %+v", a)
	}
	if b := listed(ledgerB); len(b) != 1 || b[oneTime].Credits != 1 {
		t.Errorf("B's ledger %+v", b)
	}
	if rows, err := s.ListConsents(ctx, "wxnone", "o"); err != nil || len(rows) != 0 {
		t.Errorf("an app the user never answered in lists %+v (%v)", rows, err)
	}
	// A report of B's (an accept, a reject) stays in B.
	if err := s.ReportConsents(ctx, ledgerB, "o", []store.Answer{{TemplateID: longTerm, LongTerm: true, Status: store.ConsentAccept},
		{TemplateID: oneTime, Status: store.ConsentReject}}, et0.Add(3*time.Second)); err != nil {
		t.Fatal(err)
	}
	if c, _ := consentIn(t, s, ledgerA, "o", longTerm); c.LongTerm || c.Status == store.ConsentAccept {
		t.Errorf("A's long-term row after B's report: %+v", c)
	}
	if c, _ := consentIn(t, s, ledgerA, "o", oneTime); c.Status != store.ConsentBan {
		t.Errorf("A's one-time row after B's reject: %+v", c)
	}
	if c, _ := consentIn(t, s, ledgerB, "o", longTerm); !c.LongTerm {
		t.Errorf("B's long-term row: %+v", c)
	}
}

// A push came in for one app: its popup answers and unsubscribes change
// that app's ledger only.
func testLedgerAppsPush(t *testing.T, s store.Store) {
	acceptIn(t, s, ledgerA, "o", oneTime, et0)
	acceptIn(t, s, ledgerB, "o", oneTime, et0)
	push(t, s, store.PushEvent{At: et0.Add(time.Second), AppID: ledgerB, OpenID: "o", Unsubscribed: []string{oneTime}})
	push(t, s, store.PushEvent{At: et0.Add(time.Second), AppID: ledgerB, OpenID: "o",
		Answers: []store.ConsentAnswer{{TemplateID: longTerm, LongTerm: true, Accept: false}}})
	if c, _ := consentIn(t, s, ledgerB, "o", oneTime); c.Credits != 0 || c.Status != store.ConsentUnsubscribed {
		t.Errorf("B's row after B's unsubscribe: %+v", c)
	}
	if c, _ := consentIn(t, s, ledgerA, "o", oneTime); c.Credits != 1 || c.Status != store.ConsentAccept {
		t.Errorf("A's row after B's unsubscribe: %+v", c)
	}
	if c, found := consentIn(t, s, ledgerA, "o", longTerm); found {
		t.Errorf("B's reject wrote A's row %+v", c)
	}
	if c, _ := consentIn(t, s, ledgerB, "o", longTerm); c.Status != store.ConsentReject {
		t.Errorf("B's long-term row after B's reject: %+v", c)
	}
}

// A client report and a popup event pair within one app only: the same
// openid's event in B, 30 s after A's report, is B's own accept.
func testLedgerAppsPairing(t *testing.T, s store.Store) {
	ctx := context.Background()
	steps := []struct {
		app     string
		source  store.GrantSource
		at      time.Duration
		counted bool
	}{
		{ledgerA, store.SourceClient, 0, true},
		{ledgerB, store.SourceEvent, 30 * time.Second, true},   // another app's: not A's report's event
		{ledgerA, store.SourceEvent, 40 * time.Second, false},  // A's report's event
		{ledgerB, store.SourceClient, 50 * time.Second, false}, // B's event's report
		{ledgerB, store.SourceClient, 60 * time.Second, true},  // nothing of B's left to pair with
	}
	for i, st := range steps {
		counted, err := s.RecordAccept(ctx, st.app, "o", oneTime, false, st.source, et0.Add(st.at))
		if err != nil || counted != st.counted {
			t.Fatalf("step %d (%s %s): counted %v (%v), want %v", i, st.app, st.source, counted, err, st.counted)
		}
	}
	if c, _ := consentIn(t, s, ledgerA, "o", oneTime); c.Credits != 1 {
		t.Errorf("A's credits %d, want 1", c.Credits)
	}
	if c, _ := consentIn(t, s, ledgerB, "o", oneTime); c.Credits != 2 {
		t.Errorf("B's credits %d, want 2", c.Credits)
	}
}

// A snooze's Idempotency-Key is its app's: the same key of the same
// openid in B is another snooze, and its answers go to B's ledger.
func testLedgerAppsSnoozeKeys(t *testing.T, s store.Store) {
	ctx := context.Background()
	ra := createIn(t, s, "ra", ledgerA, "o", oneTime, et0.Add(time.Hour))
	rb := createIn(t, s, "rb", ledgerB, "o", oneTime, et0.Add(time.Hour))
	sa := store.Snooze{ID: "ra", AppID: ledgerA, OpenID: "o", WasFireAt: ra.FireAt, FireAt: et0.Add(2 * time.Hour),
		Answers:        []store.Answer{{TemplateID: oneTime, Status: store.ConsentAccept}},
		IdempotencyKey: "k", RequestHash: "hash-a", Now: et0}
	if _, err := s.SnoozeReminder(ctx, sa); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.SnoozeKey(ctx, ledgerB, "o", "k"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("B's key k before B used it: %v, want ErrNotFound", err)
	}
	sb := store.Snooze{ID: "rb", AppID: ledgerB, OpenID: "o", WasFireAt: rb.FireAt, FireAt: et0.Add(3 * time.Hour),
		IdempotencyKey: "k", RequestHash: "hash-b", Now: et0}
	out, err := s.SnoozeReminder(ctx, sb)
	if err != nil || out.Replayed {
		t.Fatalf("B's snooze with A's key: %+v, %v; want a snooze of its own", out, err)
	}
	sameInstant(t, "B's snoozed fire_at", mustGet(t, s, "rb").FireAt, et0.Add(3*time.Hour))
	if h, id, err := s.SnoozeKey(ctx, ledgerA, "o", "k"); err != nil || h != "hash-a" || id != "ra" {
		t.Errorf("A's key: %q %q %v", h, id, err)
	}
	if h, id, err := s.SnoozeKey(ctx, ledgerB, "o", "k"); err != nil || h != "hash-b" || id != "rb" {
		t.Errorf("B's key: %q %q %v", h, id, err)
	}
	if c, _ := consentIn(t, s, ledgerA, "o", oneTime); c.Credits != 1 {
		t.Errorf("A's credits after A's snooze with an accept: %d, want 1", c.Credits)
	}
	if c, found := consentIn(t, s, ledgerB, "o", oneTime); found {
		t.Errorf("A's snooze answers wrote B's row %+v", c)
	}
}

// ListPrompted, CountAhead and a create's coverage read one app's
// reminders and ledger.
func testLedgerAppsPrompted(t *testing.T, s store.Store) {
	ctx := context.Background()
	acceptIn(t, s, ledgerA, "o", oneTime, et0.Add(-time.Hour))
	createIn(t, s, "ra", ledgerA, "o", oneTime, et0.Add(time.Hour))
	createIn(t, s, "rb1", ledgerB, "o", oneTime, et0.Add(time.Minute))
	ps, err := s.ListPrompted(ctx, ledgerA, "o", 10)
	if err != nil || len(ps) != 1 || ps[0].ID != "ra" {
		t.Fatalf("A's prompted %+v (%v), want ra only", ps, err)
	}
	if ps, _ := s.ListPrompted(ctx, ledgerB, "o", 10); len(ps) != 1 || ps[0].ID != "rb1" {
		t.Fatalf("B's prompted %+v, want rb1 only", ps)
	}
	// B's create sees B's (empty) ledger, not A's credit.
	res, err := s.CreateReminderIdempotent(ctx, store.NewReminder{ID: "rb2", AppID: ledgerB, OpenID: "o", TemplateID: oneTime,
		FireAt: et0.Add(2 * time.Hour), Timezone: "Asia/Shanghai", Data: `{"thing1":"x"}`, CreatedAt: et0}, store.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Consent.Credits != 0 || res.Consent.AppID != "" {
		t.Errorf("B's create read the row %+v, want none", res.Consent)
	}
	// A's create sees A's credit, and A's reminder ahead only (B's two
	// earlier reminders are B's).
	res, err = s.CreateReminderIdempotent(ctx, store.NewReminder{ID: "ra2", AppID: ledgerA, OpenID: "o", TemplateID: oneTime,
		FireAt: et0.Add(3 * time.Hour), Timezone: "Asia/Shanghai", Data: `{"thing1":"x"}`, CreatedAt: et0}, store.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Consent.Credits != 1 || res.Consent.AppID != ledgerA || res.Ahead != 1 {
		t.Errorf("A's create read %+v ahead %d, want A's credit and 1 ahead", res.Consent, res.Ahead)
	}
	if n, err := s.CountAhead(ctx, mustGet(t, s, "rb2")); err != nil || n != 1 {
		t.Errorf("ahead of rb2: %d (%v), want 1 (rb1)", n, err)
	}
}

// Ledger rows written before apps existed (app "") join the configured app
// with the rest, and their credits cover its reminders.
func testLedgerAppsAdopt(t *testing.T, s store.Store) {
	ctx := context.Background()
	create(t, s, "old", "o", oneTime, et0)
	accept(t, s, "o", oneTime, et0.Add(-time.Hour))
	accept(t, s, "o", longTerm, et0.Add(-time.Hour))
	if err := s.SaveConsentSettings(ctx, "", "o", store.Settings{MainSwitch: false}, et0.Add(-time.Hour)); err != nil {
		t.Fatal(err)
	}
	old := mustGet(t, s, "old")
	if _, err := s.SnoozeReminder(ctx, store.Snooze{ID: "old", OpenID: "o", WasFireAt: old.FireAt, FireAt: et0,
		IdempotencyKey: "k", RequestHash: "h", Now: et0.Add(-time.Hour)}); err != nil {
		t.Fatal(err)
	}
	n, err := s.AdoptRows(ctx, ledgerA)
	// The reminder, and the ledger's two rows, main switch, two grants and
	// snooze key.
	if err != nil || n != 7 {
		t.Fatalf("adopted %d (%v), want 7", n, err)
	}
	if c, found := consentIn(t, s, ledgerA, "o", oneTime); !found || c.Credits != 1 {
		t.Errorf("adopted one-time row %+v (found %v)", c, found)
	}
	if c, _ := consentIn(t, s, ledgerA, "o", longTerm); !c.LongTerm {
		t.Errorf("adopted long-term row %+v", c)
	}
	if _, found := consentIn(t, s, "", "o", oneTime); found {
		t.Error("a row is left without an app")
	}
	if on, _ := s.MainSwitch(ctx, ledgerA, "o"); on {
		t.Error("the adopted main switch is on")
	}
	if h, id, err := s.SnoozeKey(ctx, ledgerA, "o", "k"); err != nil || h != "h" || id != "old" {
		t.Errorf("adopted snooze key %q %q %v", h, id, err)
	}
	// The adopted grant still pairs: its popup event counts nothing.
	if counted, err := s.RecordAccept(ctx, ledgerA, "o", oneTime, false, store.SourceClient, et0.Add(-time.Hour+time.Second)); err != nil || counted {
		t.Errorf("the report of the adopted popup accept: counted %v (%v), want paired", counted, err)
	}
	c := byID(t, claimAt(t, s, "w", et0, 10), "old")
	if !c.Covered || !c.Reminder.CreditHeld || c.Reminder.AppID != ledgerA {
		t.Errorf("adopted reminder's claim %+v: want it covered by the adopted credit", c)
	}
	if n, err := s.AdoptRows(ctx, ledgerB); err != nil || n != 0 {
		t.Errorf("a second adoption changed %d (%v)", n, err)
	}
}
