package storetest

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/reminderd/reminderd/internal/store"
)

// The consent settings, whole reports and snoozes of store.ConsentSettings.
func consentSettingsTests(t *testing.T, open Open[ReminderDriver]) {
	t.Run("report keeps the accept variant", func(t *testing.T) { testReportAudio(t, fresh(t, open)) })
	t.Run("settings replace the saved choices", func(t *testing.T) { testSettings(t, fresh(t, open)) })
	t.Run("snooze", func(t *testing.T) { testSnooze(t, fresh(t, open)) })
	t.Run("snooze idempotency", func(t *testing.T) { testSnoozeKey(t, fresh(t, open)) })
	t.Run("concurrent snoozes with one key", func(t *testing.T) { testSnoozeKeyConcurrent(t, fresh(t, open)) })
	t.Run("snooze of a sent reminder", func(t *testing.T) { testSnoozeSent(t, fresh(t, open)) })
	t.Run("snooze keys retained", func(t *testing.T) { testSnoozeKeyRetention(t, fresh(t, open)) })
}

func mustConsent(t *testing.T, s store.ReminderStore, openID, templateID string) store.Consent {
	t.Helper()
	c, err := s.GetConsent(context.Background(), "", openID, templateID)
	if err != nil {
		t.Fatalf("consent %s/%s: %v", openID, templateID, err)
	}
	return c
}

// A report is applied whole: accepts add credits (acceptWithAudio keeps
// its variant, a plain accept clears it), other answers set the status.
func testReportAudio(t *testing.T, s store.ReminderStore) {
	ctx := context.Background()
	err := s.ReportConsents(ctx, "", "o1", []store.Answer{{TemplateID: "t1", Status: store.ConsentAccept, Audio: true},
		{TemplateID: "t2", Status: store.ConsentReject}, {TemplateID: "lt", LongTerm: true, Status: store.ConsentAccept}}, t0)
	if err != nil {
		t.Fatal(err)
	}
	if c := mustConsent(t, s, "o1", "t1"); c.Credits != 1 || !c.Audio || c.Status != store.ConsentAccept {
		t.Fatalf("t1 after acceptWithAudio: %+v", c)
	}
	if c := mustConsent(t, s, "o1", "t2"); c.Credits != 0 || c.Status != store.ConsentReject || c.Audio {
		t.Fatalf("t2 after reject: %+v", c)
	}
	if c := mustConsent(t, s, "o1", "lt"); !c.LongTerm {
		t.Fatalf("lt after accept: %+v", c)
	}
	// The same report's accept reported again by WeChat's popup event is
	// paired; a later plain accept counts and clears the variant.
	if counted, err := s.RecordAccept(ctx, "", "o1", "t1", false, store.SourceEvent, t0.Add(time.Second)); err != nil || counted {
		t.Fatalf("popup event of the reported accept: counted %v, %v", counted, err)
	}
	if err := s.ReportConsents(ctx, "", "o1", []store.Answer{{TemplateID: "t1", Status: store.ConsentAccept}}, t0.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if c := mustConsent(t, s, "o1", "t1"); c.Credits != 2 || c.Audio {
		t.Fatalf("t1 after a plain accept: %+v", c)
	}
}

// wx.getSetting's report replaces the saved choices (a template it no
// longer lists has none), creates rows with no credit for templates never
// answered, keeps credits, and sets the main switch (on for a user who
// never reported one).
func testSettings(t *testing.T, s store.ReminderStore) {
	ctx := context.Background()
	if on, err := s.MainSwitch(ctx, "", "o1"); err != nil || !on {
		t.Fatalf("main switch never reported: %v, %v; want on", on, err)
	}
	if err := s.ReportConsents(ctx, "", "o1", []store.Answer{{TemplateID: "t1", Status: store.ConsentAccept}}, t0); err != nil {
		t.Fatal(err)
	}
	err := s.SaveConsentSettings(ctx, "", "o1", store.Settings{MainSwitch: true,
		Items: map[string]store.ConsentStatus{"t1": store.ConsentAccept, "t2": store.ConsentReject}}, t0.Add(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if c := mustConsent(t, s, "o1", "t1"); c.Setting != store.ConsentAccept || c.Credits != 1 {
		t.Fatalf("t1: %+v", c)
	}
	if c := mustConsent(t, s, "o1", "t2"); c.Setting != store.ConsentReject || c.Credits != 0 || c.Status != store.ConsentReject {
		t.Fatalf("t2, never answered: %+v", c)
	}
	err = s.SaveConsentSettings(ctx, "", "o1", store.Settings{MainSwitch: false, Items: map[string]store.ConsentStatus{"t2": store.ConsentBan}}, t0.Add(2*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if c := mustConsent(t, s, "o1", "t1"); c.Setting != "" || c.Credits != 1 {
		t.Fatalf("t1 no longer listed: %+v", c)
	}
	if c := mustConsent(t, s, "o1", "t2"); c.Setting != store.ConsentBan {
		t.Fatalf("t2: %+v", c)
	}
	if on, err := s.MainSwitch(ctx, "", "o1"); err != nil || on {
		t.Fatalf("main switch: %v, %v; want off", on, err)
	}
	if on, _ := s.MainSwitch(ctx, "", "o2"); !on {
		t.Fatal("another user's main switch is off")
	}
	rows, err := s.ListConsents(ctx, "", "o2")
	if err != nil || len(rows) != 0 {
		t.Fatalf("another user's ledger: %v, %v", rows, err)
	}
}

// A snooze moves a scheduled reminder to a new occurrence, with its window,
// records the report's answers in the same transaction, and is a
// compare-and-set on the planned FireAt and on the status.
func testSnooze(t *testing.T, s store.ReminderStore) {
	ctx := context.Background()
	r := newReminder("r1", "o1", "t1", t0.Add(time.Hour))
	r.ExpiresAt, r.Window, r.HasWindow = t0.Add(90*time.Minute), 30*time.Minute, true
	rem := mustCreate(t, s, r)
	at := t0.Add(2 * time.Hour)
	out, err := s.SnoozeReminder(ctx, store.Snooze{ID: "r1", OpenID: "o1", WasFireAt: rem.FireAt, FireAt: at,
		Answers: []store.Answer{{TemplateID: "t1", Status: store.ConsentAccept, Audio: true}}, Now: t0})
	if err != nil || out.Replayed {
		t.Fatalf("snooze: %+v, %v", out, err)
	}
	got := mustGet(t, s, "r1")
	if got.Status != store.StatusScheduled || got.Snoozed || !got.SeriesAt.IsZero() {
		t.Fatalf("after snooze: %+v", got)
	}
	sameInstant(t, "fire_at", got.FireAt, at)
	sameInstant(t, "due_at", got.DueAt, at)
	sameInstant(t, "expires_at", got.ExpiresAt, at.Add(30*time.Minute))
	if c := mustConsent(t, s, "o1", "t1"); c.Credits != 1 || !c.Audio {
		t.Fatalf("the snooze's consent: %+v", c)
	}
	// Planned from the old fire_at: the reminder moved meanwhile.
	_, err = s.SnoozeReminder(ctx, store.Snooze{ID: "r1", OpenID: "o1", WasFireAt: rem.FireAt, FireAt: at.Add(time.Hour),
		Answers: []store.Answer{{TemplateID: "t1", Status: store.ConsentAccept}}, Now: t0})
	if !errors.Is(err, store.ErrConflict) {
		t.Fatalf("a snooze planned from a stale fire_at: %v, want ErrConflict", err)
	}
	if c := mustConsent(t, s, "o1", "t1"); c.Credits != 1 {
		t.Fatalf("a refused snooze recorded its consent: %+v", c)
	}
	// A recurring reminder's snooze keeps where the series resumes.
	rr := newReminder("r2", "o1", "t1", t0.Add(24*time.Hour))
	rr.Recurrence = "0 9 * * *"
	mustCreate(t, s, rr)
	if _, err := s.SnoozeReminder(ctx, store.Snooze{ID: "r2", OpenID: "o1", WasFireAt: rr.FireAt, FireAt: t0.Add(10 * time.Minute),
		Snoozed: true, SeriesAt: rr.FireAt, Now: t0}); err != nil {
		t.Fatal(err)
	}
	got = mustGet(t, s, "r2")
	if !got.Snoozed {
		t.Fatalf("recurring after snooze: %+v", got)
	}
	sameInstant(t, "series_at", got.SeriesAt, rr.FireAt)
	sameInstant(t, "fire_at", got.FireAt, t0.Add(10*time.Minute))
	// Canceled: refused with its status, nothing recorded.
	if err := s.CancelReminder(ctx, "r2", t0); err != nil {
		t.Fatal(err)
	}
	_, err = s.SnoozeReminder(ctx, store.Snooze{ID: "r2", OpenID: "o1", WasFireAt: got.FireAt, FireAt: t0.Add(time.Hour), Now: t0})
	if se := asStateError(t, err); se.Status != store.StatusCanceled {
		t.Fatalf("snooze of a canceled reminder: %v", err)
	}
	// A reminder that does not exist.
	if _, err := s.SnoozeReminder(ctx, store.Snooze{ID: "missing", OpenID: "o1", FireAt: t0, Now: t0}); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("snooze of a missing reminder: %v, want ErrNotFound", err)
	}
}

// A snooze's key: the same hash replays without a change, another hash is
// a conflict; keys are per user.
func testSnoozeKey(t *testing.T, s store.ReminderStore) {
	ctx := context.Background()
	rem := mustCreate(t, s, newReminder("r1", "o1", "t1", t0.Add(time.Hour)))
	if _, _, err := s.SnoozeKey(ctx, "", "o1", "k"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("unused key: %v, want ErrNotFound", err)
	}
	sn := store.Snooze{ID: "r1", OpenID: "o1", WasFireAt: rem.FireAt, FireAt: t0.Add(2 * time.Hour),
		Answers:        []store.Answer{{TemplateID: "t1", Status: store.ConsentAccept}},
		IdempotencyKey: "k", RequestHash: "h1", Now: t0}
	if _, err := s.SnoozeReminder(ctx, sn); err != nil {
		t.Fatal(err)
	}
	if hash, id, err := s.SnoozeKey(ctx, "", "o1", "k"); err != nil || hash != "h1" || id != "r1" {
		t.Fatalf("key: %q %q %v", hash, id, err)
	}
	again := sn
	again.FireAt = t0.Add(3 * time.Hour) // what a repeated "in" would compute later
	out, err := s.SnoozeReminder(ctx, again)
	if err != nil || !out.Replayed {
		t.Fatalf("repeat: %+v, %v; want Replayed", out, err)
	}
	sameInstant(t, "fire_at after the repeat", mustGet(t, s, "r1").FireAt, t0.Add(2*time.Hour))
	if c := mustConsent(t, s, "o1", "t1"); c.Credits != 1 {
		t.Fatalf("the repeat recorded its consent again: %+v", c)
	}
	other := sn
	other.RequestHash = "h2"
	if _, err := s.SnoozeReminder(ctx, other); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("the key with another request: %v, want ErrConflict", err)
	}
	if _, _, err := s.SnoozeKey(ctx, "", "o2", "k"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("another user's key: %v, want ErrNotFound", err)
	}
}

// Two snoozes with one key at once (a retry racing the original): one
// snoozes, the other replays it; neither is refused, the consent is
// recorded once.
func testSnoozeKeyConcurrent(t *testing.T, s store.ReminderStore) {
	ctx := context.Background()
	rem := mustCreate(t, s, newReminder("r1", "o1", "t1", t0.Add(time.Hour)))
	sn := store.Snooze{ID: "r1", OpenID: "o1", WasFireAt: rem.FireAt, FireAt: t0.Add(2 * time.Hour),
		Answers:        []store.Answer{{TemplateID: "t1", Status: store.ConsentAccept}},
		IdempotencyKey: "k", RequestHash: "h1", Now: t0}
	var wg sync.WaitGroup
	outs, errs := make([]store.Snoozed, 4), make([]error, 4)
	for i := range outs {
		wg.Go(func() { outs[i], errs[i] = s.SnoozeReminder(ctx, sn) })
	}
	wg.Wait()
	replayed := 0
	for i := range outs {
		if errs[i] != nil {
			t.Fatalf("snooze %d: %v; want it applied or replayed", i, errs[i])
		}
		if outs[i].Replayed {
			replayed++
		}
	}
	if replayed != len(outs)-1 {
		t.Fatalf("%d of %d replayed, want all but one", replayed, len(outs))
	}
	if c := mustConsent(t, s, "o1", "t1"); c.Credits != 1 {
		t.Fatalf("consent after the snoozes: %+v; want one credit", c)
	}
}

// A sent reminder (sent through the engine half) is snoozed back to
// scheduled, keeps its deliveries, and is claimed again at the new time.
func testSnoozeSent(t *testing.T, s store.ReminderStore) {
	es, ok := s.(store.EngineStore)
	if !ok {
		t.Skip("the driver has no engine half to send with")
	}
	ctx := context.Background()
	rem := mustCreate(t, s, newReminder("r1", "o1", oneTime, t0))
	accept(t, es, "o1", oneTime, t0.Add(-time.Minute))
	cs := claimAt(t, es, "w", t0, 1)
	record(t, es, sent(byID(t, cs, "r1"), t0.Add(time.Second), 42))
	if got := mustGet(t, s, "r1"); got.Status != store.StatusSent {
		t.Fatalf("not sent: %+v", got)
	}
	at := t0.Add(10 * time.Minute)
	if _, err := s.SnoozeReminder(ctx, store.Snooze{ID: "r1", OpenID: "o1", WasFireAt: rem.FireAt, FireAt: at, Now: t0.Add(time.Minute)}); err != nil {
		t.Fatal(err)
	}
	got := mustGet(t, s, "r1")
	if got.Status != store.StatusScheduled || got.Reason != "" || got.Delivery != "" {
		t.Fatalf("after the snooze: %+v", got)
	}
	sameInstant(t, "fire_at", got.FireAt, at)
	ds, err := s.ListDeliveries(ctx, "r1")
	if err != nil || len(ds) != 1 {
		t.Fatalf("deliveries kept: %v, %v", ds, err)
	}
	// Due at the new time: claimed then, not before.
	if cs := claimAt(t, es, "w", at.Add(-time.Second), 1); len(cs) != 0 {
		t.Fatalf("claimed before the snooze's time: %v", claimIDs(cs))
	}
	if cs := claimAt(t, es, "w", at, 1); len(cs) != 1 || cs[0].Reminder.Attempts != 2 {
		t.Fatalf("claim at the snooze's time: %+v", cs)
	}
}

// Retention deletes the snooze keys used before the deliveries' cutoff and
// keeps the newer ones.
func testSnoozeKeyRetention(t *testing.T, s store.ReminderStore) {
	es, ok := s.(store.EngineStore)
	if !ok {
		t.Skip("the driver has no engine half to retain with")
	}
	ctx := context.Background()
	rem := mustCreate(t, s, newReminder("r1", "o1", "t1", t0.Add(time.Hour)))
	first := store.Snooze{ID: "r1", OpenID: "o1", WasFireAt: rem.FireAt, FireAt: t0.Add(2 * time.Hour), IdempotencyKey: "old", RequestHash: "h", Now: t0}
	if _, err := s.SnoozeReminder(ctx, first); err != nil {
		t.Fatal(err)
	}
	second := store.Snooze{ID: "r1", OpenID: "o1", WasFireAt: first.FireAt, FireAt: t0.Add(3 * time.Hour), IdempotencyKey: "new", RequestHash: "h",
		Now: t0.Add(time.Hour)}
	if _, err := s.SnoozeReminder(ctx, second); err != nil {
		t.Fatal(err)
	}
	if err := es.Retain(ctx, store.Retention{Deliveries: t0.Add(time.Minute)}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.SnoozeKey(ctx, "", "o1", "old"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("the old snooze key was kept: %v", err)
	}
	if _, _, err := s.SnoozeKey(ctx, "", "o1", "new"); err != nil {
		t.Errorf("the new snooze key was deleted: %v", err)
	}
}
