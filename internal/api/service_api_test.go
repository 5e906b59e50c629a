package api_test

import (
	"context"
	"net/url"
	"testing"
	"time"

	"github.com/reminderd/reminderd/internal/api"
	"github.com/reminderd/reminderd/internal/db"
	"github.com/reminderd/reminderd/internal/store"
)

const (
	serviceToken = "service-token-of-the-apps-backend"
	testAppID    = "wxTestApp"
)

// newServiceHarness serves the service API (and, with hooks, the webhook
// outbox of the admin API).
func newServiceHarness(t *testing.T, hooks bool) *harness {
	t.Helper()
	return newHarnessWith(t, db.Options{}, func(c *api.Config) {
		// The sessions' app is the service token's.
		c.Apps = api.NewApps(api.App{AppID: testAppID, Login: c.Login, Token: c.Token, ServiceToken: serviceToken})
		if hooks {
			ws := c.DB.(store.WebhookStore)
			ws.EnableWebhooks(store.WebhookApps{Default: testAppID})
			c.Webhooks = ws
		}
	})
}

func serviceMeeting(openID string, d time.Duration) map[string]any {
	b := meeting(d)
	b["openid"] = openID
	return b
}

// Each API takes its own token only: a session or the admin token never
// reaches the service API, a service token never reaches the admin API or
// the mini-program API.
func TestServiceAPITokens(t *testing.T) {
	h := newServiceHarness(t, false)
	user := h.login("oA")
	h.want(h.do("GET", "/service/v1/consents?openid=oA", serviceToken, nil), 200, "")
	for _, tok := range []string{"", user, adminToken, serviceToken + "x"} {
		h.want(h.do("GET", "/service/v1/consents?openid=oA", tok, nil), 401, "unauthorized")
		h.want(h.do("POST", "/service/v1/reminders", tok, serviceMeeting("oA", time.Hour)), 401, "unauthorized")
	}
	h.want(h.do("GET", "/admin/v1/reminders", serviceToken, nil), 401, "unauthorized")
	h.want(h.do("GET", "/v1/reminders", serviceToken, nil), 401, "unauthorized")

	off := newHarness(t)
	off.want(off.do("GET", "/service/v1/consents?openid=oA", serviceToken, nil), 403, "forbidden")
}

// A reminder the backend created for an openid is that user's own: their
// session lists, reads and cancels it; another user's session does not see
// it; the backend finds it by its external_ref.
func TestServiceReminderIsTheUsers(t *testing.T) {
	h := newServiceHarness(t, false)
	b := serviceMeeting("oA", time.Hour)
	b["external_ref"] = "meeting-42"
	r := h.do("POST", "/service/v1/reminders", serviceToken, b)
	h.want(r, 201, "")
	id := r.str("id")
	if r.str("openid") != "oA" || r.str("external_ref") != "meeting-42" || r.header.Get("Location") != "/service/v1/reminders/"+id {
		t.Fatalf("created %s (Location %q)", r.raw, r.header.Get("Location"))
	}
	other := h.do("POST", "/service/v1/reminders", serviceToken, serviceMeeting("oB", 2*time.Hour))
	h.want(other, 201, "")

	a, bTok := h.login("oA"), h.login("oB")
	list := h.do("GET", "/v1/reminders", a, nil)
	h.want(list, 200, "")
	if rs := list.body["reminders"].([]any); len(rs) != 1 || rs[0].(map[string]any)["id"] != id {
		t.Fatalf("the user's list: %s", list.raw)
	}
	h.want(h.do("GET", "/v1/reminders/"+id, a, nil), 200, "")
	h.want(h.do("GET", "/v1/reminders/"+id, bTok, nil), 404, "not_found")
	h.want(h.do("DELETE", "/v1/reminders/"+id, bTok, nil), 404, "not_found")

	byRef := h.do("GET", "/service/v1/reminders?external_ref="+url.QueryEscape("meeting-42"), serviceToken, nil)
	h.want(byRef, 200, "")
	if rs := byRef.body["reminders"].([]any); len(rs) != 1 || rs[0].(map[string]any)["id"] != id {
		t.Fatalf("by external_ref: %s", byRef.raw)
	}
	all := h.do("GET", "/service/v1/reminders", serviceToken, nil)
	if rs := all.body["reminders"].([]any); len(rs) != 2 {
		t.Fatalf("every reminder of the app: %s", all.raw)
	}
	mine := h.do("GET", "/service/v1/reminders?openid=oB", serviceToken, nil)
	if rs := mine.body["reminders"].([]any); len(rs) != 1 || rs[0].(map[string]any)["id"] != other.str("id") {
		t.Fatalf("by openid: %s", mine.raw)
	}

	// The user cancels it; the backend sees it canceled.
	c := h.do("DELETE", "/v1/reminders/"+id, a, nil)
	h.want(c, 200, "")
	got := h.do("GET", "/service/v1/reminders/"+id, serviceToken, nil)
	h.want(got, 200, "")
	if got.str("status") != "canceled" || got.body["deliveries"] == nil {
		t.Fatalf("after the user's cancel: %s", got.raw)
	}
	h.want(h.do("DELETE", "/service/v1/reminders/"+id, serviceToken, nil), 409, "conflict")
	h.want(h.do("GET", "/service/v1/reminders/rem_nope", serviceToken, nil), 404, "not_found")

	// The backend changes and cancels the other user's.
	oid := other.str("id")
	p := h.do("PATCH", "/service/v1/reminders/"+oid, serviceToken, map[string]any{"page": "pages/x/y"})
	h.want(p, 200, "")
	if p.str("page") != "pages/x/y" {
		t.Fatalf("patched %s", p.raw)
	}
	h.want(h.do("DELETE", "/service/v1/reminders/"+oid, serviceToken, nil), 200, "")
}

// The service create validates as the mini-program's does, and names the
// service's own fields; its Idempotency-Key is per user.
func TestServiceCreateValidation(t *testing.T) {
	h := newServiceHarness(t, false)
	r := h.do("POST", "/service/v1/reminders", serviceToken, meeting(time.Hour))
	h.want(r, 422, "validation_failed")
	if r.field("openid") == "" {
		t.Fatalf("no openid: %s", r.raw)
	}
	b := serviceMeeting("oA", time.Hour)
	b["external_ref"] = ""
	if r := h.do("POST", "/service/v1/reminders", serviceToken, b); r.status != 422 || r.field("external_ref") == "" {
		t.Fatalf("empty external_ref: %d %s", r.status, r.raw)
	}
	b = serviceMeeting("oA", time.Hour)
	b["data"] = map[string]string{"thing1": "项目评审会"}
	if r := h.do("POST", "/service/v1/reminders", serviceToken, b); r.status != 422 || r.field("data.time2") == "" {
		t.Fatalf("missing data: %d %s", r.status, r.raw)
	}
	h.want(h.do("GET", "/service/v1/consents", serviceToken, nil), 422, "validation_failed")
	h.want(h.do("GET", "/service/v1/reminders?external_ref=x&template_id=y", serviceToken, nil), 422, "validation_failed")

	b = serviceMeeting("oA", time.Hour)
	first := h.do("POST", "/service/v1/reminders", serviceToken, b, "Idempotency-Key", "k")
	h.want(first, 201, "")
	again := h.do("POST", "/service/v1/reminders", serviceToken, b, "Idempotency-Key", "k")
	h.want(again, 200, "")
	if again.str("id") != first.str("id") {
		t.Fatalf("replay: %s", again.raw)
	}
	b["external_ref"] = "changed"
	h.want(h.do("POST", "/service/v1/reminders", serviceToken, b, "Idempotency-Key", "k"), 409, "conflict")
	// Another user's key space.
	h.want(h.do("POST", "/service/v1/reminders", serviceToken, serviceMeeting("oB", time.Hour), "Idempotency-Key", "k"), 201, "")
}

// The admin lists failing webhook deliveries and retries one.
func TestAdminWebhooks(t *testing.T) {
	h := newServiceHarness(t, true)
	a := h.login("oA")
	h.want(h.do("POST", "/v1/consents", a, map[string]any{"results": map[string]string{meetingID: "accept"}}), 200, "")
	ws := h.db.(store.WebhookStore)
	ctx := context.Background()
	rows, err := ws.ClaimWebhooks(ctx, h.clock.Now(), "me", h.clock.Now().Add(time.Minute), 10)
	if err != nil || len(rows) != 1 || rows[0].Type != store.EventConsentChanged || rows[0].AppID != testAppID {
		t.Fatalf("claimed %+v (%v)", rows, err)
	}
	id := rows[0].ID
	h.want(h.do("POST", "/admin/v1/webhooks/"+id+"/retry", adminToken, nil), 409, "conflict")
	if err := ws.FinishWebhook(ctx, store.WebhookResult{ID: id, Owner: "me", At: h.clock.Now(), Body: "{}", State: store.WebhookFailing,
		NextAt: h.clock.Now().Add(time.Hour), LastStatus: 500, LastError: "answered 500"}); err != nil {
		t.Fatal(err)
	}
	list := h.do("GET", "/admin/v1/webhooks?state=failing", adminToken, nil)
	h.want(list, 200, "")
	ws1 := list.body["webhooks"].([]any)
	if len(ws1) != 1 || ws1[0].(map[string]any)["id"] != id || ws1[0].(map[string]any)["last_status"] != float64(500) {
		t.Fatalf("failing: %s", list.raw)
	}
	if l := h.do("GET", "/admin/v1/webhooks?state=dead", adminToken, nil); len(l.body["webhooks"].([]any)) != 0 {
		t.Fatalf("dead: %s", l.raw)
	}
	h.want(h.do("GET", "/admin/v1/webhooks?state=lost", adminToken, nil), 422, "validation_failed")
	r := h.do("POST", "/admin/v1/webhooks/"+id+"/retry", adminToken, nil)
	h.want(r, 200, "")
	if r.str("state") != "failing" || r.str("next_attempt_at") != h.clock.Now().UTC().Format("2006-01-02T15:04:05.999Z07:00") {
		t.Fatalf("retried: %s", r.raw)
	}
	h.want(h.do("POST", "/admin/v1/webhooks/evt_nope/retry", adminToken, nil), 404, "not_found")
	h.want(h.do("GET", "/admin/v1/webhooks", serviceToken, nil), 401, "unauthorized")
}

// testContractService drives the service API and the admin's webhook
// operations, validating every request and answer against openapi.json.
func testContractService(t *testing.T, c *contract) {
	h := newServiceHarness(t, true)
	cl := c.on(t, h.srv)
	a := cl.login(h, "oA")
	b := serviceMeeting("oA", time.Hour)
	b["external_ref"] = "meeting-42"
	r := cl.call(docValid, "POST", "/service/v1/reminders", serviceToken, b, "Idempotency-Key", "s1")
	cl.want(r, 201, "")
	id := r.str("id")
	cl.want(cl.call(docValid, "POST", "/service/v1/reminders", serviceToken, b, "Idempotency-Key", "s1"), 200, "")
	cl.want(cl.call(docValid, "POST", "/service/v1/reminders", serviceToken, serviceMeeting("oA", 2*time.Hour), "Idempotency-Key", "s1"), 409, "conflict")
	cl.want(cl.call(docInvalid, "POST", "/service/v1/reminders", serviceToken, meeting(time.Hour)), 422, "validation_failed")
	cl.want(cl.call(docValid, "POST", "/service/v1/reminders", a, b), 401, "unauthorized")
	cl.want(cl.call(docValid, "GET", "/service/v1/reminders?external_ref=meeting-42&openid=oA&status=scheduled&limit=10", serviceToken, nil), 200, "")
	cl.want(cl.call(docValid, "GET", "/service/v1/reminders", serviceToken, nil), 200, "")
	cl.want(cl.call(docValid, "GET", "/service/v1/reminders/"+id, serviceToken, nil), 200, "")
	cl.want(cl.call(docValid, "GET", "/v1/reminders/"+id, a, nil), 200, "")
	cl.want(cl.call(docValid, "GET", "/service/v1/reminders/rem_nope", serviceToken, nil), 404, "not_found")
	cl.want(cl.call(docValid, "PATCH", "/service/v1/reminders/"+id, serviceToken, map[string]any{"page": "pages/a/b"}), 200, "")
	cl.want(cl.call(docValid, "DELETE", "/service/v1/reminders/"+id, serviceToken, nil), 200, "")
	cl.want(cl.call(docValid, "DELETE", "/service/v1/reminders/"+id, serviceToken, nil), 409, "conflict")
	cl.want(cl.call(docValid, "POST", "/v1/consents", a, map[string]any{"results": map[string]string{meetingID: "accept"}}), 200, "")
	cl.want(cl.call(docValid, "GET", "/service/v1/consents?openid=oA", serviceToken, nil), 200, "")
	cl.want(cl.call(docInvalid, "GET", "/service/v1/consents", serviceToken, nil), 422, "validation_failed")
	ev := cl.call(docValid, "POST", "/service/v1/events", serviceToken, serviceEvent(48*time.Hour, "oA", "oB"), "Idempotency-Key", "e1")
	cl.want(ev, 201, "")
	eid := strOf(list(ev.body["events"])[1], "id")
	cl.want(cl.call(docValid, "POST", "/service/v1/events", serviceToken, serviceEvent(48*time.Hour, "oA", "oB"), "Idempotency-Key", "e1"), 200, "")
	cl.want(cl.call(docValid, "POST", "/service/v1/events", serviceToken, serviceEvent(48*time.Hour, "oA"), "Idempotency-Key", "e1"), 409, "conflict")
	cl.want(cl.call(docInvalid, "POST", "/service/v1/events", serviceToken, meetingEvent(48*time.Hour, "PT15M")), 422, "validation_failed")
	cl.want(cl.call(docValid, "GET", "/service/v1/events/"+eid, serviceToken, nil), 200, "")
	cl.want(cl.call(docValid, "GET", "/service/v1/events/evt_nope", serviceToken, nil), 404, "not_found")
	cl.want(cl.call(docValid, "PATCH", "/service/v1/events/"+eid, serviceToken, map[string]any{"location": "B栋"}), 200, "")
	cl.want(cl.call(docValid, "DELETE", "/service/v1/events/"+eid, serviceToken, nil), 200, "")
	cl.want(cl.call(docValid, "DELETE", "/service/v1/events/"+eid, serviceToken, nil), 409, "conflict")
	cl.want(cl.call(docValid, "DELETE", "/service/v1/events?external_ref=meeting-42", serviceToken, nil), 200, "")
	cl.want(cl.call(docInvalid, "DELETE", "/service/v1/events", serviceToken, nil), 422, "validation_failed")

	// The consent report wrote a webhook event; its post failed.
	ws := h.db.(store.WebhookStore)
	ctx := context.Background()
	rows, err := ws.ClaimWebhooks(ctx, h.clock.Now(), "me", h.clock.Now().Add(time.Minute), 10)
	if err != nil || len(rows) != 1 {
		t.Fatalf("claimed %+v (%v)", rows, err)
	}
	wid := rows[0].ID
	if err := ws.FinishWebhook(ctx, store.WebhookResult{ID: wid, Owner: "me", At: h.clock.Now(), Body: "{}", State: store.WebhookDead,
		LastError: "post: connection refused"}); err != nil {
		t.Fatal(err)
	}
	cl.want(cl.call(docValid, "GET", "/admin/v1/webhooks?state=dead&limit=1", adminToken, nil), 200, "")
	cl.want(cl.call(docValid, "GET", "/admin/v1/webhooks", adminToken, nil), 200, "")
	cl.want(cl.call(docValid, "GET", "/admin/v1/webhooks/"+wid, adminToken, nil), 200, "")
	cl.want(cl.call(docValid, "GET", "/admin/v1/webhooks/evt_nope", adminToken, nil), 404, "not_found")
	cl.want(cl.call(docValid, "POST", "/admin/v1/webhooks/"+wid+"/retry", adminToken, nil), 200, "")
	cl.want(cl.call(docInvalid, "GET", "/admin/v1/webhooks?state=lost", adminToken, nil), 422, "validation_failed")
}
