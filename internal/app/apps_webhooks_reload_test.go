package app_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/reminderd/reminderd/internal/app"
	"github.com/reminderd/reminderd/internal/store"
	"github.com/reminderd/reminderd/internal/testkit"
	"github.com/reminderd/reminderd/internal/webhook"
	"github.com/reminderd/reminderd/internal/wechat/wechattest"
)

// No app has a webhook at start: webhooks are off (nothing written, the
// webhook metrics are not registered). SetApps (SIGHUP) giving app B its
// webhook turns them on for B only; removing it again writes no new row of
// B, and a row already in the outbox fails without a target until the
// webhook comes back, then is posted signed with the new secret.
func TestWebhooksSwitchedOnBySetApps(t *testing.T) {
	fakeA := testkit.WeChat(t, wechattest.Options{})
	fakeB := testkit.WeChat(t, wechattest.Options{AppID: appB, Secret: "secret-of-b", Seed: 9})
	hookB := newAppHook(t, "secret-b")
	cfgA, cfgB := appConfig(fakeA), appConfig(fakeB)
	ctx := context.Background()
	a, err := app.New(ctx, app.Config{DB: filepath.Join(t.TempDir(), "app.db"), Apps: []app.AppConfig{cfgA, cfgB}}, app.Deps{})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if a.WebhooksOn() {
		t.Fatal("webhooks on though no app has one")
	}
	due(t, a, fakeB, "rb0", appB, "user-b0") // a consent change while off: no row
	if strings.Contains(scrapeMetrics(t, a), "reminderd_webhook_") {
		t.Fatal("webhook metrics registered while off")
	}

	cfgB.Webhook = webhook.Target{URL: hookB.srv.URL, Secret: "secret-b"}
	if _, _, err := a.SetApps(ctx, []app.AppConfig{cfgA, cfgB}); err != nil {
		t.Fatal(err)
	}
	if !a.WebhooksOn() {
		t.Fatal("webhooks off after an app got one")
	}
	due(t, a, fakeA, "ra", fakeA.AppID(), "user-a")
	due(t, a, fakeB, "rb", appB, "user-b")
	if err := a.Engine.ScanOnce(ctx); err != nil {
		t.Fatal(err)
	}
	a.Engine.WaitIdle()
	// B's consent report, and B's sends: rb, and rb0 (written while off,
	// sent now).
	if n, err := a.Webhooks.RunOnce(ctx); err != nil || n != 3 {
		t.Fatalf("posted %d, %v", n, err)
	}
	got := strings.Join(hookB.events(), ",")
	if strings.Contains(got, "bad signature") || !strings.Contains(got, appB+" reminder.sent rb,") && !strings.HasSuffix(got, appB+" reminder.sent rb") ||
		!strings.Contains(got, appB+" reminder.sent rb0") || !strings.Contains(got, appB+" consent.changed") {
		t.Fatalf("B's backend got %v", got)
	}
	if m := scrapeMetrics(t, a); !strings.Contains(m, `reminderd_webhook_deliveries_total{appid="`+appB+`",result="delivered",type="reminder.sent"} 2`) {
		t.Errorf("deliveries not counted:\n%s", grep(m, "reminderd_webhook"))
	}

	// A consent change of B not yet posted when B's webhook is removed.
	if _, err := a.Store.RecordAccept(ctx, appB, "user-b3", wechattest.MeetingTemplateID, false, store.SourceClient, time.Now()); err != nil {
		t.Fatal(err)
	}

	// B's webhook removed: B's next events write no row.
	cfgB.Webhook = webhook.Target{}
	if _, _, err := a.SetApps(ctx, []app.AppConfig{cfgA, cfgB}); err != nil {
		t.Fatal(err)
	}
	due(t, a, fakeB, "rb2", appB, "user-b2")
	if err := a.Engine.ScanOnce(ctx); err != nil {
		t.Fatal(err)
	}
	a.Engine.WaitIdle()
	page, err := a.Store.ListWebhooks(ctx, store.WebhookQuery{Limit: 50})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Webhooks) != 4 {
		t.Fatalf("%d outbox rows after the removal, want the 4 of before", len(page.Webhooks))
	}
	// The row already in the outbox fails: no target (retried on the
	// schedule, dead after a day).
	if n, err := a.Webhooks.RunOnce(ctx); err != nil || n != 1 {
		t.Fatalf("posted %d after the removal, %v", n, err)
	}
	page, _ = a.Store.ListWebhooks(ctx, store.WebhookQuery{State: store.WebhookFailing, Limit: 50})
	if len(page.Webhooks) != 1 || !strings.Contains(page.Webhooks[0].LastError, "no webhook URL") {
		t.Fatalf("failing rows %+v", page.Webhooks)
	}
	pending := page.Webhooks[0].ID

	// Back with a new secret: the row, retried, is signed with it.
	hookB.mu.Lock()
	hookB.secret = "secret-b2"
	hookB.mu.Unlock()
	cfgB.Webhook = webhook.Target{URL: hookB.srv.URL, Secret: "secret-b2"}
	if _, _, err := a.SetApps(ctx, []app.AppConfig{cfgA, cfgB}); err != nil {
		t.Fatal(err)
	}
	if err := a.Store.RetryWebhook(ctx, pending, time.Now()); err != nil {
		t.Fatal(err)
	}
	if n, err := a.Webhooks.RunOnce(ctx); err != nil || n != 1 {
		t.Fatalf("posted %d after the webhook came back, %v", n, err)
	}
	got = strings.Join(hookB.events(), ",")
	if strings.Contains(got, "bad signature") || strings.Count(got, "consent.changed") != 2 || strings.Contains(got, "rb2") {
		t.Fatalf("B's backend got %v", got)
	}
}
