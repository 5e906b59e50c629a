package app_test

import (
	"context"
	"github.com/reminderd/reminderd/internal/db/dbsqlc"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/reminderd/reminderd/internal/app"
	"github.com/reminderd/reminderd/internal/db"
	"github.com/reminderd/reminderd/internal/store"
	"github.com/reminderd/reminderd/internal/testkit"
	"github.com/reminderd/reminderd/internal/wechat"
	"github.com/reminderd/reminderd/internal/wechat/wechattest"
)

// The hourly retention job also prunes sent events parked for a send whose
// outcome never came; a recent one stays, waiting for its outcome.
func TestRetentionPrunesParkedSentEvents(t *testing.T) {
	ctx := context.Background()
	d := testkit.SQLite(t)
	now := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	for msgid, at := range map[int64]time.Time{1: now.Add(-25 * time.Hour), 2: now.Add(-time.Minute)} {
		if err := d.Write.SavePendingSentEvent(ctx, dbsqlc.SavePendingSentEventParams{Msgid: msgid, Delivered: 1,
			EventStatus: "success", Now: at.UnixMilli()}); err != nil {
			t.Fatal(err)
		}
	}
	if err := app.Retain(ctx, d, now); err != nil {
		t.Fatal(err)
	}
	rows, err := d.R.Query(`SELECT msgid FROM pending_sent_events`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var left []int64
	for rows.Next() {
		var m int64
		if err := rows.Scan(&m); err != nil {
			t.Fatal(err)
		}
		left = append(left, m)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if len(left) != 1 || left[0] != 2 {
		t.Fatalf("parked events left %v, want [2]", left)
	}
}

// New builds the whole application on a fresh database: the catalog synced
// from WeChat, the engine's periodic jobs and the added ones, and an API
// that answers ready.
func TestNewBuildsTheApplication(t *testing.T) {
	fake := testkit.WeChat(t, wechattest.Options{})
	ctx := context.Background()
	a, err := app.New(ctx, app.Config{DB: filepath.Join(t.TempDir(), "app.db"),
		WeChat: wechat.Config{BaseURL: fake.URL, AppID: fake.AppID(), Secret: fake.Secret()}}, app.Deps{})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if !a.Catalog.Synced() || len(a.Catalog.List()) != len(wechattest.DemoTemplates()) {
		t.Errorf("catalog synced %v with %d templates", a.Catalog.Synced(), len(a.Catalog.List()))
	}
	var jobs []string
	for _, j := range a.Engine.Jobs().Status() {
		jobs = append(jobs, j.Name)
	}
	if want := []string{"due_scan", "lease_rescue", "template_sync", "template_reload", "token_refresh", "retention"}; !slices.Equal(jobs, want) {
		t.Errorf("jobs %v, want %v", jobs, want)
	}
	for path, want := range map[string]int{"/readyz": http.StatusOK, "/metrics": http.StatusOK, "/wechat/push": http.StatusNotFound} {
		rec := httptest.NewRecorder()
		a.Handler.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
		if rec.Code != want {
			t.Errorf("GET %s: %d %s, want %d", path, rec.Code, rec.Body, want)
		}
	}
}

// An upgraded database's rows, written before apps existed, belong to the
// configured app once the application is built on it; its API serves that
// app by its AppID.
func TestNewAdoptsRowsWithoutAnApp(t *testing.T) {
	fake := testkit.WeChat(t, wechattest.Options{})
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "app.db")
	d, err := db.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.CreateReminder(ctx, store.NewReminder{ID: "old", OpenID: "o1", TemplateID: "t", FireAt: time.Now().Add(time.Hour),
		Timezone: "Asia/Shanghai", Data: `{}`, CreatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	if _, err := d.RecordAccept(ctx, "", "o1", "t", false, store.SourceClient, time.Now()); err != nil {
		t.Fatal(err)
	}
	d.Close()
	a, err := app.New(ctx, app.Config{DB: path, WeChat: wechat.Config{BaseURL: fake.URL, AppID: fake.AppID(), Secret: fake.Secret()}}, app.Deps{})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	r, err := a.Store.GetReminder(ctx, "old")
	if err != nil || r.AppID != fake.AppID() {
		t.Fatalf("old reminder %+v %v, want it of %s", r, err, fake.AppID())
	}
	if c, err := a.Store.GetConsent(ctx, fake.AppID(), "o1", "t"); err != nil || c.Credits != 1 {
		t.Fatalf("old consent %+v %v, want its credit in %s's ledger", c, err, fake.AppID())
	}
	if apps := a.Apps.List(); len(apps) != 1 || apps[0].AppID != fake.AppID() {
		t.Fatalf("apps %+v", apps)
	}
}
