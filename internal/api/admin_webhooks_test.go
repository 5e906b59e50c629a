package api_test

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/reminderd/reminderd/internal/store"
)

// The admin page lists the failing deliveries with a retry button, and the
// button (with its CSRF token) makes the delivery due now.
func TestAdminPageWebhooks(t *testing.T) {
	h := newServiceHarness(t, true)
	a := h.login("oA")
	h.want(h.do("POST", "/v1/consents", a, map[string]any{"results": map[string]string{meetingID: "accept"}}), 200, "")
	ws := h.db.(store.WebhookStore)
	ctx := context.Background()
	rows, err := ws.ClaimWebhooks(ctx, h.clock.Now(), "me", h.clock.Now().Add(time.Minute), 10)
	if err != nil || len(rows) != 1 {
		t.Fatalf("claimed %v, %v", rows, err)
	}
	id := rows[0].ID
	if err := ws.FinishWebhook(ctx, store.WebhookResult{ID: id, Owner: "me", At: h.clock.Now(), Body: "{}", State: store.WebhookFailing,
		NextAt: h.clock.Now().Add(time.Hour), LastStatus: 502, LastError: "answered 502 Bad Gateway"}); err != nil {
		t.Fatal(err)
	}
	c := webClient(t, h)
	get := func(path string) string {
		res, err := c.Get(h.srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		if res.StatusCode != 200 {
			t.Fatalf("GET %s: %d %s", path, res.StatusCode, b)
		}
		return string(b)
	}
	page := get("/admin/webhooks")
	if !strings.Contains(page, id) || !strings.Contains(page, "answered 502 Bad Gateway") || !strings.Contains(page, `class="retry-webhook"`) {
		t.Fatalf("the failing delivery is not listed with its retry:\n%s", page)
	}
	if dead := get("/admin/webhooks?state=dead"); strings.Contains(dead, id) {
		t.Fatal("a failing delivery listed as dead")
	}
	csrf := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindStringSubmatch(page)
	if csrf == nil {
		t.Fatal("no CSRF token on the page")
	}
	post := func(form url.Values) *http.Response {
		req, _ := http.NewRequest("POST", h.srv.URL+"/admin/webhooks/"+id+"/retry", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		res, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res
	}
	if res := post(url.Values{"state": {"failing"}}); res.StatusCode != http.StatusForbidden {
		t.Fatalf("retry without a CSRF token: %d", res.StatusCode)
	}
	h.clock.Advance(time.Minute)
	res := post(url.Values{"csrf": {csrf[1]}, "state": {"failing"}})
	if res.StatusCode != http.StatusSeeOther || !strings.HasPrefix(res.Header.Get("Location"), "/admin/webhooks?state=failing") {
		t.Fatalf("retry: %d to %q", res.StatusCode, res.Header.Get("Location"))
	}
	w, err := ws.GetWebhook(ctx, id)
	if err != nil || !w.NextAt.Equal(h.clock.Now()) {
		t.Fatalf("after the page's retry: %+v, %v; want due now", w, err)
	}
}
