package app_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/reminderd/reminderd/internal/app"
	"github.com/reminderd/reminderd/internal/testkit"
	"github.com/reminderd/reminderd/internal/webhook"
	"github.com/reminderd/reminderd/internal/wechat/wechattest"
)

// appHook is one app's backend: it checks each post's signature with its
// own secret and records the events' app, type and reminder.
type appHook struct {
	secret string
	mu     sync.Mutex
	got    []string
	srv    *httptest.Server
}

func newAppHook(t *testing.T, secret string) *appHook {
	h := &appHook{secret: secret}
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		ts, v1, _ := strings.Cut(strings.TrimPrefix(r.Header.Get(webhook.SignatureHeader), "t="), ",v1=")
		mac := hmac.New(sha256.New, []byte(h.secret))
		mac.Write([]byte(ts + "." + string(body)))
		var ev struct {
			AppID string `json:"appid"`
			Type  string `json:"type"`
			Data  struct {
				Reminder struct {
					ID string `json:"id"`
				} `json:"reminder"`
			} `json:"data"`
		}
		_ = json.Unmarshal(body, &ev)
		h.mu.Lock()
		defer h.mu.Unlock()
		if !hmac.Equal([]byte(v1), []byte(hex.EncodeToString(mac.Sum(nil)))) {
			h.got = append(h.got, "bad signature")
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		h.got = append(h.got, ev.AppID+" "+ev.Type+" "+ev.Data.Reminder.ID)
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(h.srv.Close)
	return h
}

func (h *appHook) events() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.got...)
}

// Each app's outcomes are posted to its own webhook URL, signed with its
// own secret; each app's service token reaches its own app's reminders.
func TestSeveralAppsWebhooksAndServiceTokens(t *testing.T) {
	fakeA := testkit.WeChat(t, wechattest.Options{})
	fakeB := testkit.WeChat(t, wechattest.Options{AppID: appB, Secret: "secret-of-b", Seed: 9})
	hookA, hookB := newAppHook(t, "secret-a"), newAppHook(t, "secret-b")
	cfgA, cfgB := appConfig(fakeA), appConfig(fakeB)
	cfgA.Webhook, cfgA.ServiceToken = webhook.Target{URL: hookA.srv.URL, Secret: "secret-a"}, "service-token-a"
	cfgB.Webhook, cfgB.ServiceToken = webhook.Target{URL: hookB.srv.URL, Secret: "secret-b"}, "service-token-b"
	ctx := context.Background()
	a, err := app.New(ctx, app.Config{DB: filepath.Join(t.TempDir(), "app.db"), Apps: []app.AppConfig{cfgA, cfgB}}, app.Deps{})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if !a.WebhooksOn() {
		t.Fatal("webhooks off though both apps have a webhook")
	}
	due(t, a, fakeA, "ra", fakeA.AppID(), "user-a")
	due(t, a, fakeB, "rb", appB, "user-b")
	if err := a.Engine.ScanOnce(ctx); err != nil {
		t.Fatal(err)
	}
	a.Engine.WaitIdle()
	// Two consent reports (due's) and two sends.
	if n, err := a.Webhooks.RunOnce(ctx); err != nil || n != 4 {
		t.Fatalf("posted %d, %v", n, err)
	}
	has := func(got []string, want string) bool {
		for _, g := range got {
			if g == want {
				return true
			}
		}
		return false
	}
	gotA, gotB := hookA.events(), hookB.events()
	if len(gotA) != 2 || !has(gotA, fakeA.AppID()+" reminder.sent ra") {
		t.Errorf("A's backend got %v", gotA)
	}
	if len(gotB) != 2 || !has(gotB, appB+" reminder.sent rb") {
		t.Errorf("B's backend got %v", gotB)
	}

	list := func(token string) string {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest("GET", "/service/v1/reminders", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		a.Handler.ServeHTTP(rec, req)
		return rec.Body.String()
	}
	if got := list("service-token-b"); !strings.Contains(got, `"id":"rb"`) || strings.Contains(got, `"id":"ra"`) {
		t.Errorf("B's service token lists %s", got)
	}
	if got := list("service-token-a"); !strings.Contains(got, `"id":"ra"`) || strings.Contains(got, `"id":"rb"`) {
		t.Errorf("A's service token lists %s", got)
	}

	// B's secret rotated on SIGHUP: the next post is signed with the new one.
	hookB.mu.Lock()
	hookB.secret = "secret-b2"
	hookB.mu.Unlock()
	cfgB.Webhook.Secret = "secret-b2"
	if _, _, err := a.SetApps(ctx, []app.AppConfig{cfgA, cfgB}); err != nil {
		t.Fatal(err)
	}
	due(t, a, fakeB, "rb2", appB, "user-b2")
	if err := a.Engine.ScanOnce(ctx); err != nil {
		t.Fatal(err)
	}
	a.Engine.WaitIdle()
	if _, err := a.Webhooks.RunOnce(ctx); err != nil {
		t.Fatal(err)
	}
	if got := hookB.events(); !has(got, appB+" reminder.sent rb2") || has(got, "bad signature") {
		t.Errorf("after the rotation B's backend got %v", got)
	}
}
