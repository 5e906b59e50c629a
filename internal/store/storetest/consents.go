package storetest

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/reminderd/reminderd/internal/store"
)

// The consent ledger, the sessions, the delivery reads and the health of
// ReminderStore.
func consentTests(t *testing.T, open Open[ReminderDriver]) {
	t.Run("accept pairing", func(t *testing.T) { testAcceptPairing(t, fresh(t, open)) })
	t.Run("consent status", func(t *testing.T) { testConsentStatus(t, fresh(t, open)) })
	t.Run("prompted", func(t *testing.T) { testPrompted(t, fresh(t, open)) })
	t.Run("create reads coverage", func(t *testing.T) { testCreatedCoverage(t, fresh(t, open)) })
	t.Run("sessions", func(t *testing.T) { testSessions(t, fresh(t, open)) })
	t.Run("deliveries", func(t *testing.T) { testNoDeliveries(t, fresh(t, open)) })
	t.Run("health", func(t *testing.T) { testHealth(t, fresh(t, open)) })
}

// credits returns the user's credits for a template (0 without a row).
func credits(t *testing.T, s store.ReminderStore, openID, templateID string) int64 {
	t.Helper()
	c, err := s.GetConsent(context.Background(), "", openID, templateID)
	if errors.Is(err, store.ErrNotFound) {
		return 0
	}
	if err != nil {
		t.Fatal(err)
	}
	return c.Credits
}

// A client's report and WeChat's popup event of one accept, within
// PairWindow of each other in either order, count once.
func testAcceptPairing(t *testing.T, s store.ReminderStore) {
	ctx := context.Background()
	if _, err := s.GetConsent(ctx, "", "o1", "t1"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("a consent never given: %v, want ErrNotFound", err)
	}
	for i, step := range []struct {
		source  store.GrantSource
		at      time.Duration
		counted bool
		credits int64
	}{
		{store.SourceClient, 0, true, 1},                                              // a report
		{store.SourceEvent, 30 * time.Second, false, 1},                               // its popup event: the same accept
		{store.SourceEvent, 40 * time.Second, true, 2},                                // a second accept, event first
		{store.SourceClient, 41 * time.Second, false, 2},                              // its report
		{store.SourceClient, 60 * time.Second, true, 3},                               // a third accept
		{store.SourceEvent, 60*time.Second + store.PairWindow + time.Second, true, 4}, // past the window: another accept
		{store.SourceClient, 182 * time.Second, false, 4},                             // pairs with the event just before
		{store.SourceClient, 183 * time.Second, true, 5},                              // nothing left to pair with
	} {
		counted, err := s.RecordAccept(ctx, "", "o1", "t1", false, step.source, t0.Add(step.at))
		if err != nil {
			t.Fatal(err)
		}
		if counted != step.counted || credits(t, s, "o1", "t1") != step.credits {
			t.Errorf("step %d (%s at %v): counted %v, credits %d; want %v, %d", i, step.source, step.at,
				counted, credits(t, s, "o1", "t1"), step.counted, step.credits)
		}
	}
	// Pairs are per user and template.
	if counted, _ := s.RecordAccept(ctx, "", "o2", "t1", false, store.SourceEvent, t0.Add(184*time.Second)); !counted {
		t.Error("another user's event paired with o1's report")
	}
	c, err := s.GetConsent(ctx, "", "o1", "t1")
	if err != nil || c.Status != store.ConsentAccept || c.LongTerm || c.OpenID != "o1" || c.TemplateID != "t1" {
		t.Errorf("consent %+v, %v", c, err)
	}
	sameInstant(t, "updated_at", c.UpdatedAt, t0.Add(183*time.Second))
	// A long-term template is granted, without credits.
	if _, err := s.RecordAccept(ctx, "", "o1", "lt", true, store.SourceClient, t0); err != nil {
		t.Fatal(err)
	}
	if c, err := s.GetConsent(ctx, "", "o1", "lt"); err != nil || !c.LongTerm || c.Credits != 0 {
		t.Errorf("long-term consent %+v, %v", c, err)
	}
}

func testConsentStatus(t *testing.T, s store.ReminderStore) {
	ctx := context.Background()
	if _, err := s.RecordAccept(ctx, "", "o1", "t2", false, store.SourceClient, t0); err != nil {
		t.Fatal(err)
	}
	// A reject keeps the credits the user has.
	if err := s.SetConsentStatus(ctx, "", "o1", "t2", store.ConsentReject, t0.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	if err := s.SetConsentStatus(ctx, "", "o1", "t1", store.ConsentBan, t0); err != nil {
		t.Fatal(err)
	}
	if err := s.SetConsentStatus(ctx, "", "o2", "t1", store.ConsentFilter, t0); err != nil {
		t.Fatal(err)
	}
	list, err := s.ListConsents(ctx, "", "o1")
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 || list[0].TemplateID != "t1" || list[1].TemplateID != "t2" {
		t.Fatalf("o1's consents %+v, want t1 and t2 in order", list)
	}
	if c := list[0]; c.Status != store.ConsentBan || c.Credits != 0 {
		t.Errorf("t1: %+v", c)
	}
	if c := list[1]; c.Status != store.ConsentReject || c.Credits != 1 {
		t.Errorf("t2 after a reject: %+v, want its credit kept", c)
	}
	sameInstant(t, "t2 updated_at", list[1].UpdatedAt, t0.Add(time.Second))
	if list, err := s.ListConsents(ctx, "", "o9"); err != nil || len(list) != 0 {
		t.Errorf("a stranger's consents: %v, %v", list, err)
	}
}

func testPrompted(t *testing.T, s store.ReminderStore) {
	ctx := context.Background()
	mustCreate(t, s, newReminder("rem_3", "o1", "t3", t0.Add(3*time.Hour)))
	mustCreate(t, s, newReminder("rem_1", "o1", "t1", t0.Add(time.Hour)))
	mustCreate(t, s, newReminder("rem_2b", "o1", "t2", t0.Add(2*time.Hour)))
	mustCreate(t, s, newReminder("rem_2a", "o1", "t4", t0.Add(2*time.Hour)))
	mustCreate(t, s, newReminder("rem_x", "o1", "t5", t0))
	mustCreate(t, s, newReminder("rem_o", "o2", "t6", t0))
	if err := s.CancelReminder(ctx, "rem_x", t0); err != nil {
		t.Fatal(err)
	}
	got, err := s.ListPrompted(ctx, "", "o1", 10)
	if err != nil {
		t.Fatal(err)
	}
	var tmpls []string
	for _, p := range got {
		tmpls = append(tmpls, p.TemplateID)
	}
	if want := []string{"t1", "t4", "t2", "t3"}; !slices.Equal(tmpls, want) {
		t.Errorf("prompted %v, want %v (pending, most urgent first, then by id)", tmpls, want)
	}
	if len(got) > 0 {
		sameInstant(t, "first fire_at", got[0].FireAt, t0.Add(time.Hour))
	}
	if got, _ := s.ListPrompted(ctx, "", "o1", 2); len(got) != 2 {
		t.Errorf("at most 2: %d", len(got))
	}
}

// The create reads the ledger's row and the count ahead in its
// transaction, as CountAhead would after it.
func testCreatedCoverage(t *testing.T, s store.ReminderStore) {
	ctx := context.Background()
	for i := range 2 {
		if _, err := s.RecordAccept(ctx, "", "o1", "t1", false, store.SourceClient, t0.Add(time.Duration(i)*time.Hour)); err != nil {
			t.Fatal(err)
		}
	}
	first, err := s.CreateReminderIdempotent(ctx, newReminder("rem_1", "o1", "t1", t0.Add(time.Hour)), store.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	second, err := s.CreateReminderIdempotent(ctx, newReminder("rem_0", "o1", "t1", t0.Add(2*time.Hour)), store.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if first.Consent.Credits != 2 || first.Ahead != 0 || second.Consent.Credits != 2 || second.Ahead != 1 {
		t.Errorf("coverage read by the creates: %+v / %d, %+v / %d; want 2 credits, 0 and 1 ahead",
			first.Consent, first.Ahead, second.Consent, second.Ahead)
	}
	if n, err := s.CountAhead(ctx, second.Reminder); err != nil || n != second.Ahead {
		t.Errorf("CountAhead %d, %v; the create read %d", n, err, second.Ahead)
	}
	none, err := s.CreateReminderIdempotent(ctx, newReminder("rem_2", "o1", "t9", t0), store.CreateOptions{})
	if err != nil || none.Consent != (store.Consent{}) || none.Ahead != 0 {
		t.Errorf("a create without consent: %+v, %v; want the zero consent", none, err)
	}
}

// A session is found by its token's hash until it expires.
func testSessions(t *testing.T, s store.ReminderStore) {
	ctx := context.Background()
	h1, h2 := strings.Repeat("a1", 32), strings.Repeat("b2", 32) // the hex of a SHA-256
	sess := store.Session{TokenHash: h1, OpenID: "o1", CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}
	if err := s.CreateSession(ctx, sess); err != nil {
		t.Fatal(err)
	}
	got, err := s.GetSession(ctx, h1, t0.Add(time.Hour-time.Millisecond))
	if err != nil || got.OpenID != "o1" || got.TokenHash != h1 {
		t.Fatalf("session before expiry: %+v, %v", got, err)
	}
	sameInstant(t, "created_at", got.CreatedAt, t0)
	sameInstant(t, "expires_at", got.ExpiresAt, sess.ExpiresAt)
	if _, err := s.GetSession(ctx, h1, t0.Add(time.Hour)); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("session at its expiry: %v, want ErrNotFound", err)
	}
	if _, err := s.GetSession(ctx, h2, t0); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("unknown session: %v, want ErrNotFound", err)
	}
	if err := s.CreateSession(ctx, store.Session{TokenHash: h1, OpenID: "o2", CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}); !errors.Is(err, store.ErrConflict) {
		t.Errorf("a taken hash: %v, want ErrConflict", err)
	}
	if got, _ := s.GetSession(ctx, h1, t0); got.OpenID != "o1" {
		t.Errorf("the session changed hands: %+v", got)
	}
}

// Without sends, a reminder has no deliveries and the trend is empty.
func testNoDeliveries(t *testing.T, s store.ReminderStore) {
	ctx := context.Background()
	mustCreate(t, s, newReminder("rem_1", "o1", "t1", t0))
	if ds, err := s.ListDeliveries(ctx, "rem_1"); err != nil || len(ds) != 0 {
		t.Errorf("deliveries of a new reminder: %v, %v", ds, err)
	}
	if b, err := s.DeliveriesPerHour(ctx, t0.Add(-24*time.Hour), time.Hour); err != nil || len(b) != 0 {
		t.Errorf("trend without deliveries: %v, %v", b, err)
	}
}

func testHealth(t *testing.T, s store.ReminderStore) {
	ctx := context.Background()
	if err := s.Ping(ctx); err != nil {
		t.Errorf("ping: %v", err)
	}
	if v, latest, err := s.Schema(ctx); err != nil || v != latest || latest < 1 {
		t.Errorf("schema %d of %d, %v: a new store is migrated", v, latest, err)
	}
	if err := s.Writable(ctx); err != nil {
		t.Errorf("writable: %v", err)
	}
	// The suite's stores are opened whole: a check, if one ran, finished.
	if i := s.Integrity(); i != store.IntegrityNotRun && i != store.IntegrityOK {
		t.Errorf("integrity %v of a new store", i)
	}
	s.NoteWriteError(errors.New("some failure")) // not for want of space: nothing changes
	if err := s.Writable(ctx); err != nil {
		t.Errorf("writable after an unrelated error: %v", err)
	}
}
