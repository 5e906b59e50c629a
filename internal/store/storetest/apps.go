package storetest

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/reminderd/reminderd/internal/store"
)

// appTests are store.Apps and the AppID every session and reminder carries.
func appTests(t *testing.T, open Open[ReminderDriver]) {
	t.Run("apps carried", func(t *testing.T) { testAppsCarried(t, fresh(t, open)) })
	t.Run("apps listing", func(t *testing.T) { testAppsListing(t, fresh(t, open)) })
	t.Run("apps counts", func(t *testing.T) { testAppsCounts(t, fresh(t, open)) })
	t.Run("apps adopt", func(t *testing.T) { testAppsAdopt(t, fresh(t, open)) })
	t.Run("apps templates", func(t *testing.T) { testAppsTemplates(t, fresh(t, open)) })
	t.Run("apps tokens", func(t *testing.T) { testAppsTokens(t, fresh(t, open)) })
	t.Run("apps adopt templates and token", func(t *testing.T) { testAppsAdoptTemplatesToken(t, fresh(t, open)) })
}

func tmpl(id, title string) store.Template {
	return store.Template{ID: id, Title: title, Kind: store.KindOneTime, Content: "{{thing1.DATA}}",
		Keywords: []store.Keyword{{Key: "thing1", Type: "thing", Label: "x"}}}
}

func templateIDs(t *testing.T, s store.TemplateStore) string {
	t.Helper()
	list, err := s.Templates(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, x := range list {
		ids = append(ids, x.ID+"="+x.Title)
	}
	return strings.Join(ids, " ")
}

// Each app's template list is its own: a sync of one never marks
// another's absent, and the same id may name a template in each.
func testAppsTemplates(t *testing.T, s ReminderDriver) {
	ctx := context.Background()
	a, b := s.AppTemplates("wxa"), s.AppTemplates("wxb")
	if err := a.SyncTemplates(ctx, []store.Template{tmpl("t1", "A1"), tmpl("t2", "A2")}, t0); err != nil {
		t.Fatal(err)
	}
	if err := b.SyncTemplates(ctx, []store.Template{tmpl("t1", "B1")}, t0); err != nil {
		t.Fatal(err)
	}
	if got := templateIDs(t, a); got != "t1=A1 t2=A2" {
		t.Errorf("A: %q", got)
	}
	if got := templateIDs(t, b); got != "t1=B1" {
		t.Errorf("B: %q", got)
	}
	if err := a.SyncTemplates(ctx, []store.Template{tmpl("t2", "A2")}, t0.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if got, gotB := templateIDs(t, a), templateIDs(t, b); got != "t2=A2" || gotB != "t1=B1" {
		t.Errorf("after A's second sync: A %q, B %q", got, gotB)
	}
	if got := templateIDs(t, s.AppTemplates("")); got != "" {
		t.Errorf("app \"\" sees %q", got)
	}
}

// Each app's token row is its own: its fetch lease, its version, its
// invalidation.
func testAppsTokens(t *testing.T, s ReminderDriver) {
	ctx := context.Background()
	a, b := s.AppTokens("wxa"), s.AppTokens("wxb")
	if ok, err := a.AcquireTokenFetch(ctx, "p1", t0, t0.Add(time.Minute)); err != nil || !ok {
		t.Fatalf("A's lease: %v %v", ok, err)
	}
	if ok, err := b.AcquireTokenFetch(ctx, "p2", t0, t0.Add(time.Minute)); err != nil || !ok {
		t.Fatalf("B's lease while A's is held: %v %v", ok, err)
	}
	va, err := a.SaveFetchedToken(ctx, store.Token{Value: "tok-a", ExpiresAt: t0.Add(2 * time.Hour)}, "p1", t0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.SaveFetchedToken(ctx, store.Token{Value: "tok-b", ExpiresAt: t0.Add(2 * time.Hour)}, "p2", t0); err != nil {
		t.Fatal(err)
	}
	ta, errA := a.LoadToken(ctx)
	tb, errB := b.LoadToken(ctx)
	if errA != nil || errB != nil || ta.Value != "tok-a" || tb.Value != "tok-b" {
		t.Fatalf("tokens %+v %v / %+v %v", ta, errA, tb, errB)
	}
	if ok, err := a.InvalidateToken(ctx, va, t0); err != nil || !ok {
		t.Fatalf("invalidate A: %v %v", ok, err)
	}
	if _, err := a.LoadToken(ctx); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("A after invalidation: %v", err)
	}
	if tb, err := b.LoadToken(ctx); err != nil || tb.Value != "tok-b" {
		t.Errorf("B after A's invalidation: %+v %v", tb, err)
	}
	if _, err := s.AppTokens("").LoadToken(ctx); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("app \"\" has a token: %v", err)
	}
}

// The templates and token of app "" (written before apps existed) go to
// the adopting app.
func testAppsAdoptTemplatesToken(t *testing.T, s ReminderDriver) {
	ctx := context.Background()
	if err := s.AppTemplates("").SyncTemplates(ctx, []store.Template{tmpl("t1", "old")}, t0); err != nil {
		t.Fatal(err)
	}
	if err := s.AppTokens("").SaveToken(ctx, store.Token{Value: "tok-old", ExpiresAt: t0.Add(time.Hour)}, t0); err != nil {
		t.Fatal(err)
	}
	if n, err := s.AdoptRows(ctx, "wxa"); err != nil || n != 2 {
		t.Fatalf("adopted %d (%v), want 2", n, err)
	}
	if got := templateIDs(t, s.AppTemplates("wxa")); got != "t1=old" {
		t.Errorf("adopted templates %q", got)
	}
	if tok, err := s.AppTokens("wxa").LoadToken(ctx); err != nil || tok.Value != "tok-old" {
		t.Errorf("adopted token %+v %v", tok, err)
	}
	if got := templateIDs(t, s.AppTemplates("")); got != "" {
		t.Errorf("app \"\" keeps %q", got)
	}
}

func appReminder(id, app, openID, template string, fireAt time.Time) store.NewReminder {
	r := newReminder(id, openID, template, fireAt)
	r.AppID = app
	return r
}

// A reminder and a session keep their app, as created and as read back.
func testAppsCarried(t *testing.T, s ReminderDriver) {
	ctx := context.Background()
	created := mustCreate(t, s, appReminder("r1", "wxa", "o1", "t", t0.Add(time.Hour)))
	if created.AppID != "wxa" {
		t.Errorf("created AppID %q", created.AppID)
	}
	if got := mustGet(t, s, "r1"); got.AppID != "wxa" {
		t.Errorf("read AppID %q", got.AppID)
	}
	res, err := s.CreateReminderIdempotent(ctx, func() store.NewReminder {
		r := appReminder("r2", "wxb", "o1", "t", t0.Add(time.Hour))
		r.IdempotencyKey, r.RequestHash = "k", "h"
		return r
	}(), store.CreateOptions{})
	if err != nil || res.Reminder.AppID != "wxb" {
		t.Fatalf("idempotent create: %+v %v", res.Reminder, err)
	}
	h := strings.Repeat("c3", 32)
	if err := s.CreateSession(ctx, store.Session{TokenHash: h, OpenID: "o1", AppID: "wxb", CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if got, err := s.GetSession(ctx, h, t0); err != nil || got.AppID != "wxb" {
		t.Fatalf("session %+v %v", got, err)
	}
}

// ListQuery.AppID keeps a listing to one app, with every other filter and
// across pages.
func testAppsListing(t *testing.T, s ReminderDriver) {
	ctx := context.Background()
	for i, app := range []string{"wxa", "wxb", "wxa", "wxb", "wxa"} {
		mustCreate(t, s, appReminder("r"+string(rune('0'+i)), app, "o1", "t", t0.Add(time.Duration(i+1)*time.Minute)))
	}
	mustCreate(t, s, appReminder("rx", "wxb", "o2", "t2", t0.Add(time.Hour)))
	if err := s.CancelReminder(ctx, "r4", t0); err != nil {
		t.Fatal(err)
	}
	ids := func(q store.ListQuery) []string {
		t.Helper()
		var out []string
		for range 20 {
			p, err := s.ListReminders(ctx, q)
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range p.Reminders {
				if q.AppID != "" && r.AppID != q.AppID {
					t.Errorf("%+v listed %s of %s", q, r.ID, r.AppID)
				}
				out = append(out, r.ID)
			}
			if p.Next == nil {
				return out
			}
			q.After = p.Next
		}
		t.Fatal("pages never end")
		return nil
	}
	for _, c := range []struct {
		q    store.ListQuery
		want string
	}{
		{store.ListQuery{AppID: "wxa", Limit: 2}, "r0 r2 r4"},
		{store.ListQuery{AppID: "wxb", Limit: 1}, "r1 r3 rx"},
		{store.ListQuery{AppID: "wxa", OpenID: "o1", Limit: 2}, "r0 r2 r4"},
		{store.ListQuery{AppID: "wxb", OpenID: "o1", Limit: 5}, "r1 r3"},
		{store.ListQuery{AppID: "wxa", Status: store.StatusScheduled, Limit: 1}, "r0 r2"},
		{store.ListQuery{AppID: "wxb", TemplateID: "t2", Limit: 5}, "rx"},
		{store.ListQuery{AppID: "wxc", Limit: 5}, ""},
		{store.ListQuery{Limit: 10}, "r0 r1 r2 r3 r4 rx"},
	} {
		if got := strings.Join(ids(c.q), " "); got != c.want {
			t.Errorf("%+v: %q, want %q", c.q, got, c.want)
		}
	}
}

// The per-app counts add up to the whole.
func testAppsCounts(t *testing.T, s ReminderDriver) {
	ctx := context.Background()
	mustCreate(t, s, appReminder("a1", "wxa", "o1", "t", t0.Add(time.Minute)))
	mustCreate(t, s, appReminder("a2", "wxa", "o1", "t", t0.Add(2*time.Hour)))
	mustCreate(t, s, appReminder("b1", "wxb", "o2", "t", t0.Add(time.Minute)))
	if err := s.CancelReminder(ctx, "a2", t0); err != nil {
		t.Fatal(err)
	}
	by, err := s.CountRemindersByApp(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if by["wxa"][store.StatusScheduled] != 1 || by["wxa"][store.StatusCanceled] != 1 || by["wxb"][store.StatusScheduled] != 1 || len(by) != 2 || len(by["wxb"]) != 1 {
		t.Fatalf("by app %v", by)
	}
	c, err := s.CountAppReminders(ctx, "wxa", t0.Add(time.Hour))
	if err != nil || c.ByStatus[store.StatusScheduled] != 1 || c.ByStatus[store.StatusCanceled] != 1 || c.DueBacklog != 1 {
		t.Fatalf("wxa %+v %v", c, err)
	}
	sameInstant(t, "oldest due", c.OldestDueAt, t0.Add(time.Minute))
	c, err = s.CountAppReminders(ctx, "wxc", t0.Add(time.Hour))
	if err != nil || len(c.ByStatus) != 0 || c.DueBacklog != 0 || !c.OldestDueAt.IsZero() {
		t.Fatalf("unknown app %+v %v", c, err)
	}
}

// AdoptRows gives the rows without an app to one app, and only those.
func testAppsAdopt(t *testing.T, s ReminderDriver) {
	ctx := context.Background()
	mustCreate(t, s, newReminder("old", "o1", "t", t0.Add(time.Minute)))
	mustCreate(t, s, appReminder("new", "wxb", "o2", "t", t0.Add(time.Minute)))
	h := strings.Repeat("d4", 32)
	if err := s.CreateSession(ctx, store.Session{TokenHash: h, OpenID: "o1", CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	n, err := s.AdoptRows(ctx, "wxa")
	if err != nil || n != 2 {
		t.Fatalf("adopted %d, %v; want 2", n, err)
	}
	if got := mustGet(t, s, "old"); got.AppID != "wxa" {
		t.Errorf("old reminder is of %q", got.AppID)
	}
	if got := mustGet(t, s, "new"); got.AppID != "wxb" {
		t.Errorf("another app's reminder moved to %q", got.AppID)
	}
	if got, _ := s.GetSession(ctx, h, t0); got.AppID != "wxa" {
		t.Errorf("old session is of %q", got.AppID)
	}
	if n, err := s.AdoptRows(ctx, "wxc"); err != nil || n != 0 {
		t.Errorf("second adoption changed %d (%v)", n, err)
	}
}
