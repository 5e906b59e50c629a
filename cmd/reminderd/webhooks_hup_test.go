package main

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/reminderd/reminderd/internal/testkit"
	"github.com/reminderd/reminderd/internal/webhook"
	"github.com/reminderd/reminderd/internal/wechat/wechattest"
)

// signedPost is one webhook post as the backend got it.
type signedPost struct {
	body      []byte
	signature string
}

// verifies reports whether the post is signed with secret.
func (p signedPost) verifies(secret string) bool {
	ts, v1, _ := strings.Cut(strings.TrimPrefix(p.signature, "t="), ",v1=")
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(ts + "." + string(p.body)))
	return hmac.Equal([]byte(v1), []byte(hex.EncodeToString(mac.Sum(nil))))
}

// serve started with an apps file whose app has no webhook: no event is
// kept. A SIGHUP that gives the app its webhook switches webhooks on: the
// next event is posted to the backend, signed with the secret the reload
// read; a SIGHUP that changes the secret signs the next post with the new
// one; one that removes the webhook writes no row for the app's events.
func TestSIGHUPSwitchesWebhooksOn(t *testing.T) {
	fake := testkit.WeChat(t, wechattest.Options{})
	posts := make(chan signedPost, 16)
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		posts <- signedPost{body: b, signature: r.Header.Get(webhook.SignatureHeader)}
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(hook.Close)
	path := filepath.Join(t.TempDir(), "apps.json")
	write := func(s string) {
		t.Helper()
		if err := os.WriteFile(path, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	plain := `{"apps":[{"appid":"` + fake.AppID() + `","secret_env":"A_SECRET"}]}`
	hooked := func(secretEnv string) string {
		return `{"apps":[{"appid":"` + fake.AppID() + `","secret_env":"A_SECRET","webhook_url":"` + hook.URL + `/hook","webhook_secret_env":"` + secretEnv + `"}]}`
	}
	const secret1, secret2 = "hook-secret-one-0123456789abcdef", "hook-secret-two-0123456789abcdef"
	write(plain)
	vars := env(map[string]string{"A_SECRET": fake.Secret(), "REMINDERD_ADMIN_TOKEN": testAdmin, "REMINDERD_WECHAT_BASE_URL": fake.URL,
		"REMINDERD_APPS": path, "HOOK_SECRET_1": secret1, "HOOK_SECRET_2": secret2})
	ctx, cancel := context.WithCancel(context.Background())
	stdout, stderr := &lineBuffer{}, &lineBuffer{}
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"serve", "--addr", "127.0.0.1:0", "--db", filepath.Join(t.TempDir(), "hup.db")}, vars, stdout, stderr)
	}()
	t.Cleanup(func() { cancel(); <-done })
	line := stdout.waitLine(t, 10*time.Second, "listening line", func(l string) bool { return strings.Contains(l, "listening on") })
	base := regexp.MustCompile(`(http://\S+)`).FindString(line)

	hup := func() {
		t.Helper()
		const want = "apps file re-read"
		n := strings.Count(stderr.String(), want)
		if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
		stderr.waitLine(t, 10*time.Second, want, func(string) bool { return strings.Count(stderr.String(), want) > n })
	}
	var sess struct{ Token string }
	if st := call(t, "POST", base+"/v1/session", "", map[string]string{"code": fake.IssueCode("hup-user")}, &sess); st != 200 {
		t.Fatalf("login %d", st)
	}
	// accept is a consent change of the user's: one consent.changed event.
	accept := func() {
		t.Helper()
		answers, err := fake.Popup(context.Background(), "hup-user", map[string]string{wechattest.MeetingTemplateID: "accept"})
		if err != nil {
			t.Fatal(err)
		}
		if st := call(t, "POST", base+"/v1/consents", sess.Token, map[string]any{"results": answers}, nil); st != 200 {
			t.Fatalf("consent report %d", st)
		}
	}
	outbox := func() int {
		t.Helper()
		var page struct{ Webhooks []map[string]any }
		if st := call(t, "GET", base+"/admin/v1/webhooks", testAdmin, nil, &page); st != 200 {
			t.Fatalf("admin webhooks %d", st)
		}
		return len(page.Webhooks)
	}
	next := func(secret string) {
		t.Helper()
		select {
		case p := <-posts:
			var ev struct{ Type, AppID string }
			_ = json.Unmarshal(p.body, &ev)
			if ev.Type != "consent.changed" || ev.AppID != fake.AppID() || !p.verifies(secret) {
				t.Fatalf("posted %s (signature %s), want consent.changed of %s signed with %q", p.body, p.signature, fake.AppID(), secret)
			}
		case <-time.After(15 * time.Second):
			t.Fatalf("no webhook post; logs:\n%s", stderr.String())
		}
	}

	accept()
	if n := outbox(); n != 0 {
		t.Fatalf("%d outbox rows without a webhook", n)
	}

	write(hooked("HOOK_SECRET_1"))
	hup()
	accept()
	next(secret1)
	if !strings.Contains(stderr.String(), "webhooks on") {
		t.Errorf("switching webhooks on is not logged")
	}

	write(hooked("HOOK_SECRET_2"))
	hup()
	accept()
	next(secret2)

	write(plain)
	hup()
	accept()
	if n := outbox(); n != 2 {
		t.Fatalf("%d outbox rows after the webhook was removed, want the 2 posted", n)
	}
	if strings.Contains(stderr.String(), secret1) || strings.Contains(stderr.String(), secret2) {
		t.Fatal("a webhook secret is in the logs")
	}
}
