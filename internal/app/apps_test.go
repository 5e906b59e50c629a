package app_test

import (
	"context"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/reminderd/reminderd/internal/app"
	"github.com/reminderd/reminderd/internal/store"
	"github.com/reminderd/reminderd/internal/testkit"
	"github.com/reminderd/reminderd/internal/wechat"
	"github.com/reminderd/reminderd/internal/wechat/wechattest"
)

const appB = "wxb0b0b0b0b0b0b0b0"

func appConfig(f *wechattest.Server) app.AppConfig {
	return app.AppConfig{WeChat: wechat.Config{BaseURL: f.URL, AppID: f.AppID(), Secret: f.Secret()}}
}

// due creates a reminder of app for openID, due now, with a credit in the
// ledger and at that app's fake.
func due(t *testing.T, a *app.App, f *wechattest.Server, id, appID, openID string) {
	t.Helper()
	ctx, now := context.Background(), time.Now()
	if _, err := a.Store.CreateReminder(ctx, store.NewReminder{ID: id, AppID: appID, OpenID: openID, TemplateID: wechattest.MeetingTemplateID,
		FireAt: now.Add(-time.Second), Timezone: "Asia/Shanghai", CreatedAt: now,
		Data: `{"thing1":"评审会","time2":"2026-12-01 14:00","thing3":"A栋"}`}); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Store.RecordAccept(ctx, appID, openID, wechattest.MeetingTemplateID, false, store.SourceClient, now); err != nil {
		t.Fatal(err)
	}
	f.Grant(openID, wechattest.MeetingTemplateID, 1)
}

func sendsTo(f *wechattest.Server) (users []string) {
	for _, s := range f.Sends() {
		users = append(users, s.ToUser)
	}
	return users
}

// Two apps in one process: each reminder goes out through its own app's
// WeChat (its own secret and token), each app's templates are its own;
// removing an app stops its sends and keeps its data, adding it back
// resumes them.
func TestSeveralAppsSendThroughTheirOwnWeChat(t *testing.T) {
	fakeA := testkit.WeChat(t, wechattest.Options{})
	fakeB := testkit.WeChat(t, wechattest.Options{AppID: appB, Secret: "secret-of-b", Seed: 9})
	ctx := context.Background()
	a, err := app.New(ctx, app.Config{DB: filepath.Join(t.TempDir(), "app.db"), Apps: []app.AppConfig{appConfig(fakeA), appConfig(fakeB)}}, app.Deps{})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	due(t, a, fakeA, "ra", fakeA.AppID(), "user-a")
	due(t, a, fakeB, "rb", appB, "user-b")
	if err := a.Engine.ScanOnce(ctx); err != nil {
		t.Fatal(err)
	}
	a.Engine.WaitIdle()
	if got := sendsTo(fakeA); len(got) != 1 || got[0] != "user-a" {
		t.Fatalf("A's WeChat got %v", got)
	}
	if got := sendsTo(fakeB); len(got) != 1 || got[0] != "user-b" {
		t.Fatalf("B's WeChat got %v", got)
	}
	for _, id := range []string{"ra", "rb"} {
		if r, _ := a.Store.GetReminder(ctx, id); r.Status != store.StatusSent {
			t.Errorf("%s is %s", id, r.Status)
		}
	}
	// Each app's token is in its own row.
	for _, id := range []string{fakeA.AppID(), appB} {
		if tok, err := a.Store.AppTokens(id).LoadToken(ctx); err != nil || tok.Value == "" {
			t.Errorf("token of %s: %v", id, err)
		}
	}

	rec := httptest.NewRecorder()
	req := httptest.NewRequest("GET", "/admin/v1/apps", nil)
	a.Handler.ServeHTTP(rec, req)
	if rec.Code != 403 { // no admin token configured: disabled
		t.Fatalf("apps without an admin token: %d", rec.Code)
	}

	// B removed: its reminder stays scheduled, nothing reaches B's WeChat.
	added, removed, err := a.SetApps(ctx, []app.AppConfig{appConfig(fakeA)})
	if err != nil || len(added) != 0 || len(removed) != 1 || removed[0] != appB {
		t.Fatalf("set apps: +%v -%v %v", added, removed, err)
	}
	due(t, a, fakeB, "rb2", appB, "user-b2")
	if err := a.Engine.ScanOnce(ctx); err != nil {
		t.Fatal(err)
	}
	a.Engine.WaitIdle()
	if got := sendsTo(fakeB); len(got) != 1 {
		t.Fatalf("a removed app's WeChat got %v", got)
	}
	r, _ := a.Store.GetReminder(ctx, "rb2")
	if r.Status != store.StatusScheduled || r.Attempts != 0 {
		t.Fatalf("a removed app's reminder: %s, %d attempts", r.Status, r.Attempts)
	}
	if got := a.Apps.List(); len(got) != 1 || got[0].AppID != fakeA.AppID() {
		t.Fatalf("served apps %+v", got)
	}
	// Added back: it serves again (its deferred reminder is sent when due again).
	added, removed, err = a.SetApps(ctx, []app.AppConfig{appConfig(fakeA), appConfig(fakeB)})
	if err != nil || len(added) != 1 || added[0] != appB || len(removed) != 0 {
		t.Fatalf("set apps again: +%v -%v %v", added, removed, err)
	}
	if got := a.Apps.List(); len(got) != 2 {
		t.Fatalf("served apps %+v", got)
	}
}
