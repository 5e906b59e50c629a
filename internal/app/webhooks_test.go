package app_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/reminderd/reminderd/internal/app"
	"github.com/reminderd/reminderd/internal/store"
	"github.com/reminderd/reminderd/internal/testkit"
	"github.com/reminderd/reminderd/internal/webhook"
	"github.com/reminderd/reminderd/internal/wechat"
	"github.com/reminderd/reminderd/internal/wechat/wechattest"
)

// Without a webhook URL webhooks are off and no outbox row is written; with one,
// a consent change is posted by the app's dispatcher with the reminder
// rendered by the API, and the metrics count it.
func TestWebhooksWiring(t *testing.T) {
	fake := testkit.WeChat(t, wechattest.Options{})
	ctx := context.Background()
	wcfg := wechat.Config{BaseURL: fake.URL, AppID: fake.AppID(), Secret: fake.Secret()}
	plain, err := app.New(ctx, app.Config{DB: filepath.Join(t.TempDir(), "plain.db"), WeChat: wcfg}, app.Deps{})
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	if plain.WebhooksOn() {
		t.Fatal("webhooks on without a webhook URL")
	}

	var mu sync.Mutex
	var bodies []string
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		bodies = append(bodies, string(b))
		mu.Unlock()
		w.WriteHeader(http.StatusOK)
	}))
	defer hook.Close()
	clock := testkit.Clock()
	a, err := app.New(ctx, app.Config{DB: filepath.Join(t.TempDir(), "hooks.db"), WeChat: wcfg,
		Webhooks: webhook.Static{URL: hook.URL + "/hook", Secret: "s3cret"}}, app.Deps{Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if !a.WebhooksOn() {
		t.Fatal("webhooks off with a webhook URL")
	}
	if _, err := a.Store.RecordAccept(ctx, fake.AppID(), "oA", wechattest.MeetingTemplateID, false, store.SourceClient, clock.Now()); err != nil {
		t.Fatal(err)
	}
	if n, err := a.Webhooks.RunOnce(ctx); err != nil || n != 1 {
		t.Fatalf("posted %d, %v", n, err)
	}
	mu.Lock()
	if len(bodies) != 1 || !strings.Contains(bodies[0], `"appid":"`+fake.AppID()+`"`) || !strings.Contains(bodies[0], `"type":"consent.changed"`) {
		t.Fatalf("posted %v", bodies)
	}
	mu.Unlock()
	rec := httptest.NewRecorder()
	a.Handler.ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	m := rec.Body.String()
	if !strings.Contains(m, `reminderd_webhook_deliveries_total{appid="`+fake.AppID()+`",result="delivered",type="consent.changed"} 1`) ||
		!strings.Contains(m, "reminderd_webhook_outbox_depth 0") {
		t.Fatalf("metrics:\n%s", grep(m, "webhook"))
	}
}

func grep(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
