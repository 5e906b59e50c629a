package app_test

import (
	"context"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/reminderd/reminderd/internal/app"
	"github.com/reminderd/reminderd/internal/testkit"
	"github.com/reminderd/reminderd/internal/webhook"
	"github.com/reminderd/reminderd/internal/wechat/wechattest"
)

func scrapeMetrics(t *testing.T, a *app.App) string {
	t.Helper()
	rec := httptest.NewRecorder()
	a.Handler.ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if rec.Code != 200 {
		t.Fatalf("/metrics: %d", rec.Code)
	}
	return rec.Body.String()
}

// After sends in two apps a scrape shows each app's own series: its sends,
// latency, lateness, token, breaker, quota pause, reminders and backlog,
// and its webhook deliveries; an app removed keeps its reminder counts and
// loses what only a running app has.
func TestMetricsPerApp(t *testing.T) {
	fakeA := testkit.WeChat(t, wechattest.Options{})
	fakeB := testkit.WeChat(t, wechattest.Options{AppID: appB, Secret: "secret-of-b", Seed: 9})
	hookA, hookB := newAppHook(t, "secret-a"), newAppHook(t, "secret-b")
	cfgA, cfgB := appConfig(fakeA), appConfig(fakeB)
	cfgA.Webhook = webhook.Target{URL: hookA.srv.URL, Secret: "secret-a"}
	cfgB.Webhook = webhook.Target{URL: hookB.srv.URL, Secret: "secret-b"}
	ctx := context.Background()
	a, err := app.New(ctx, app.Config{DB: filepath.Join(t.TempDir(), "app.db"), Apps: []app.AppConfig{cfgA, cfgB}}, app.Deps{})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	due(t, a, fakeA, "ra", fakeA.AppID(), "user-a")
	due(t, a, fakeA, "ra2", fakeA.AppID(), "user-a2")
	due(t, a, fakeB, "rb", appB, "user-b")
	if err := a.Engine.ScanOnce(ctx); err != nil {
		t.Fatal(err)
	}
	a.Engine.WaitIdle()
	if _, err := a.Webhooks.RunOnce(ctx); err != nil {
		t.Fatal(err)
	}
	idA := fakeA.AppID()
	out := scrapeMetrics(t, a)
	for _, want := range []string{
		`reminderd_sends_total{appid="` + idA + `",errcode="0",reason="",status="sent"} 2`,
		`reminderd_sends_total{appid="` + appB + `",errcode="0",reason="",status="sent"} 1`,
		`reminderd_send_latency_seconds_count{appid="` + idA + `"} 2`,
		`reminderd_send_latency_seconds_count{appid="` + appB + `"} 1`,
		`reminderd_send_lateness_seconds_count{appid="` + idA + `"} 2`,
		`reminderd_send_lateness_seconds_count{appid="` + appB + `"} 1`,
		`reminderd_token_events_total{appid="` + idA + `",kind="fetched"} 1`,
		`reminderd_token_events_total{appid="` + appB + `",kind="fetched"} 1`,
		`reminderd_breaker_state{appid="` + idA + `",state="closed"} 1`,
		`reminderd_breaker_state{appid="` + appB + `",state="closed"} 1`,
		`reminderd_breakers_state{state="closed"} 1`,
		`reminderd_quota_paused{appid="` + idA + `"} 0`,
		`reminderd_quota_paused{appid="` + appB + `"} 0`,
		`reminderd_reminders{appid="` + idA + `",status="sent"} 2`,
		`reminderd_reminders{appid="` + appB + `",status="sent"} 1`,
		`reminderd_reminders{appid="` + appB + `",status="scheduled"} 0`,
		`reminderd_due_backlog{appid="` + idA + `"} 0`,
		`reminderd_due_backlog{appid="` + appB + `"} 0`,
		`reminderd_webhook_deliveries_total{appid="` + idA + `",result="delivered",type="reminder.sent"} 2`,
		`reminderd_webhook_deliveries_total{appid="` + appB + `",result="delivered",type="reminder.sent"} 1`,
	} {
		if !strings.Contains(out, want+"\n") {
			t.Errorf("scrape lacks %q", want)
		}
	}
	for _, personal := range []string{"user-a", "user-b", `"ra"`, `"rb"`} {
		if strings.Contains(out, personal) {
			t.Errorf("a label carries %s", personal)
		}
	}

	// B removed, with a reminder due: its counts stay (the reminder is
	// deferred, not lost); its breaker, quota and backlog go with it.
	if _, _, err := a.SetApps(ctx, []app.AppConfig{cfgA}); err != nil {
		t.Fatal(err)
	}
	due(t, a, fakeB, "rb2", appB, "user-b2")
	out = scrapeMetrics(t, a)
	if !strings.Contains(out, `reminderd_reminders{appid="`+appB+`",status="scheduled"} 1`+"\n") {
		t.Errorf("a removed app's reminders are not counted:\n%s", grep(out, "reminderd_reminders"))
	}
	for _, gone := range []string{`reminderd_breaker_state{appid="` + appB + `"`, `reminderd_quota_paused{appid="` + appB + `"`,
		`reminderd_due_backlog{appid="` + appB + `"`} {
		if strings.Contains(out, gone) {
			t.Errorf("a removed app still has %s…}", gone)
		}
	}
}
