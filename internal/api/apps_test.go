package api_test

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/reminderd/reminderd/internal/api"
	"github.com/reminderd/reminderd/internal/catalog"
	"github.com/reminderd/reminderd/internal/db"
	"github.com/reminderd/reminderd/internal/store"
	"github.com/reminderd/reminderd/internal/testkit"
	"github.com/reminderd/reminderd/internal/wechat"
	"github.com/reminderd/reminderd/internal/wechat/wechattest"
)

const (
	appB       = "wxb0b0b0b0b0b0b0b0"
	pushTokenB = "push-token-of-b"
	// Each app's own backend token (the service API).
	serviceTokenA = "service-token-of-app-a"
	serviceTokenB = "service-token-of-app-b"
	// onlyBTemplate is in app B's template list only.
	onlyBTemplate = "onlyBTemplate00000000000000000000000000001"
)

// twoApps is a harness serving two mini-programs: A (the harness's fake
// WeChat) and B (a second fake with its own AppID and secret).
type twoApps struct {
	*harness
	fakeB *wechattest.Server
	apps  *api.Apps
	appA  api.App
	appBx api.App
}

func newTwoApps(t *testing.T) *twoApps {
	t.Helper()
	ta := &twoApps{}
	h := newHarnessWith(t, db.Options{}, func(cfg *api.Config) {
		ta.fakeB = testkit.WeChat(t, wechattest.Options{AppID: appB, Secret: "secret-of-b", Now: cfg.Now, Seed: 5})
		clientB, err := wechat.New(wechat.Config{BaseURL: ta.fakeB.URL, AppID: appB, Secret: "secret-of-b", Now: cfg.Now})
		if err != nil {
			t.Fatal(err)
		}
		rcvB, err := wechat.NewReceiver(wechat.PushConfig{Token: pushTokenB, AESKey: strings.Repeat("b", 43), AppID: appB, Now: cfg.Now})
		if err != nil {
			t.Fatal(err)
		}
		ta.appA = api.App{AppID: wechattest.DefaultAppID, Login: cfg.Login, Token: cfg.Token, Push: cfg.Push, ServiceToken: serviceTokenA}
		// B's own template list: the demo templates and one only B has.
		ta.fakeB.AddTemplate(wechat.Template{ID: onlyBTemplate, Title: "B 专属", Keywords: []wechat.Keyword{{Key: "thing1", Label: "事项"}}})
		catB := catalog.New(cfg.DB.AppTemplates(appB), clientB, cfg.Now, nil)
		if err := catB.Sync(context.Background()); err != nil {
			t.Fatal(err)
		}
		ta.appBx = api.App{AppID: appB, Login: clientB, Token: clientB, Push: rcvB, Catalog: catB, ServiceToken: serviceTokenB}
		ta.apps = api.NewApps(ta.appA, ta.appBx)
		cfg.Apps = ta.apps
	})
	ta.harness = h
	return ta
}

// loginB logs openID into app B.
func (ta *twoApps) loginB(openID string) string {
	ta.t.Helper()
	r := ta.do("POST", "/v1/session", "", map[string]string{"code": ta.fakeB.IssueCode(openID), "appid": appB})
	ta.want(r, 200, "")
	if r.str("appid") != appB {
		ta.t.Fatalf("session %s", r.raw)
	}
	return r.str("token")
}

// loginA logs openID into app A.
func (ta *twoApps) loginA(openID string) string {
	ta.t.Helper()
	r := ta.do("POST", "/v1/session", "", map[string]string{"code": ta.fake.IssueCode(openID), "appid": wechattest.DefaultAppID})
	ta.want(r, 200, "")
	if r.str("appid") != wechattest.DefaultAppID {
		ta.t.Fatalf("session %s", r.raw)
	}
	return r.str("token")
}

func TestSessionNamesItsApp(t *testing.T) {
	ta := newTwoApps(t)
	// Several apps: appid is required, and must be one served.
	r := ta.do("POST", "/v1/session", "", map[string]string{"code": ta.fake.IssueCode("u1")})
	ta.want(r, 422, "validation_failed")
	if r.field("appid") == "" {
		t.Fatalf("no appid field: %s", r.raw)
	}
	r = ta.do("POST", "/v1/session", "", map[string]string{"code": ta.fake.IssueCode("u1"), "appid": "wxunknown"})
	ta.want(r, 422, "validation_failed")
	if r.field("appid") == "" {
		t.Fatalf("no appid field: %s", r.raw)
	}
	// A's code is not B's: each app's own WeChat judges its codes.
	r = ta.do("POST", "/v1/session", "", map[string]string{"code": ta.fake.IssueCode("u1"), "appid": appB})
	ta.want(r, 401, "invalid_code")
	tokA, tokB := ta.loginA("u1"), ta.loginB("u1")
	rem := ta.create(tokA, meeting(3600e9))
	if rem["appid"] != wechattest.DefaultAppID {
		t.Fatalf("reminder of A: %v", rem)
	}
	remB := ta.create(tokB, meeting(3600e9))
	if remB["appid"] != appB {
		t.Fatalf("reminder of B: %v", remB)
	}
	// Even the same openid in the other app sees only its own app's reminders.
	list := ta.do("GET", "/v1/reminders", tokB, nil)
	ta.want(list, 200, "")
	if items := list.body["reminders"].([]any); len(items) != 1 || items[0].(map[string]any)["id"] != remB["id"] {
		t.Fatalf("B lists %s", list.raw)
	}
	c := ta.do("GET", "/v1/consents", tokB, nil)
	ta.want(c, 200, "")
}

// A single app needs no appid (existing mini-programs keep working).
func TestSessionWithOneAppNeedsNoAppID(t *testing.T) {
	h := newHarness(t)
	r := h.do("POST", "/v1/session", "", map[string]string{"code": h.fake.IssueCode("u1")})
	h.want(r, 200, "")
}

// isolationCase is one request on the other app's object.
type isolationCase struct {
	method, path string
	body         any
}

// The matrix: each kind of token against each route and each object of
// the other app answers 401/403/404, and the store is unchanged after.
// A row is a token kind; each reaches its own API only (a session /v1, a
// service token /service/v1, the admin token /admin/v1, every other one
// 401, a session on the admin API 403), and in its own API only its own
// app's objects (another's is 404).
func TestAppIsolationMatrix(t *testing.T) {
	ta := newTwoApps(t)
	// The same openid in both apps: only the app tells the owners apart.
	tokA, tokB := ta.loginA("alice"), ta.loginB("alice")
	remA := ta.create(tokA, meeting(3600e9))["id"].(string)
	remB := ta.create(tokB, meeting(3600e9))["id"].(string)
	evtA := ta.createEvent(tokA)
	evtB := ta.createEvent(tokB)
	type objects struct{ rem, evt string }
	a, b := objects{remA, evtA}, objects{remB, evtB}
	rows := []struct {
		name   string
		token  string
		api    string  // the prefix the token reaches
		target objects // the other app's objects
	}{
		{"session of A", tokA, "/v1/", b},
		{"session of B", tokB, "/v1/", a},
		{"service token of A", serviceTokenA, "/service/v1/", b},
		{"service token of B", serviceTokenB, "/service/v1/", a},
		{"admin", adminToken, "/admin/v1/", a},
	}
	cases := func(o objects) []isolationCase {
		return []isolationCase{
			{"GET", "/v1/reminders/" + o.rem, nil},
			{"PATCH", "/v1/reminders/" + o.rem, map[string]any{"page": "pages/x"}},
			{"DELETE", "/v1/reminders/" + o.rem, nil},
			{"POST", "/v1/reminders/" + o.rem + "/snooze", map[string]any{"in": "PT10M"}},
			{"GET", "/v1/events/" + o.evt, nil},
			{"PATCH", "/v1/events/" + o.evt, map[string]any{"title": "x"}},
			{"DELETE", "/v1/events/" + o.evt, nil},
			{"GET", "/service/v1/reminders/" + o.rem, nil},
			{"PATCH", "/service/v1/reminders/" + o.rem, map[string]any{"page": "pages/x"}},
			{"DELETE", "/service/v1/reminders/" + o.rem, nil},
			{"GET", "/service/v1/events/" + o.evt, nil},
			{"PATCH", "/service/v1/events/" + o.evt, map[string]any{"title": "x"}},
			{"DELETE", "/service/v1/events/" + o.evt, nil},
			{"GET", "/admin/v1/reminders/" + o.rem, nil},
			{"POST", "/admin/v1/reminders/" + o.rem + "/cancel", nil},
			{"POST", "/admin/v1/reminders/" + o.rem + "/retry", nil},
			{"GET", "/admin/v1/events/" + o.evt, nil},
			{"GET", "/admin/v1/apps", nil},
			{"GET", "/admin/v1/stats?appid=" + appB, nil},
		}
	}
	before := snapshot(t, ta.db, remA, remB) + eventSnapshot(t, ta.db, evtA, evtB)
	for _, row := range rows {
		for _, c := range cases(row.target) {
			t.Run(fmt.Sprintf("%s %s %s", row.name, c.method, c.path), func(t *testing.T) {
				var want int
				switch {
				case strings.HasPrefix(c.path, row.api):
					if row.token == adminToken {
						return // the admin reaches every app's objects (below)
					}
					want = 404
				case strings.HasPrefix(c.path, "/admin/") && row.api == "/v1/":
					want = 403 // a session never reaches the admin API
				default:
					want = 401
				}
				// Past the pause that failed bearer checks from one address
				// earn (guard.go), so that each answer is the route's own.
				ta.clock.Advance(time.Minute)
				r := ta.do(c.method, c.path, row.token, c.body)
				if r.status != want {
					t.Fatalf("%d %s, want %d", r.status, r.raw, want)
				}
			})
		}
		// The listings show none of the other app's objects.
		for _, l := range []struct{ path, key, id string }{
			{"/v1/reminders", "reminders", row.target.rem}, {"/v1/events", "events", row.target.evt},
			{"/service/v1/reminders", "reminders", row.target.rem},
		} {
			if !strings.HasPrefix(l.path, row.api) {
				continue
			}
			list := ta.do("GET", l.path, row.token, nil)
			ta.want(list, 200, "")
			for _, it := range list.body[l.key].([]any) {
				if it.(map[string]any)["id"] == l.id {
					t.Errorf("%s lists %s", row.name, l.id)
				}
			}
		}
	}
	if after := snapshot(t, ta.db, remA, remB) + eventSnapshot(t, ta.db, evtA, evtB); after != before {
		t.Fatalf("the store changed:\n%s\n%s", before, after)
	}
	// B's backend cancels its own reference: A's event of the same
	// reference stays scheduled.
	c := ta.do("DELETE", "/service/v1/events?external_ref=meeting-42", serviceTokenB, nil)
	ta.want(c, 200, "")
	if evs := c.body["events"].([]any); len(evs) != 1 || evs[0].(map[string]any)["id"] != evtB {
		t.Fatalf("B canceled %s", c.raw)
	}
	if e, err := ta.db.GetEvent(context.Background(), evtA); err != nil || e.Status() != "scheduled" {
		t.Fatalf("A's event after B's cancel by reference: %+v %v", e, err)
	}
	// The admin sees both, and filters by app.
	r := ta.do("GET", "/admin/v1/reminders?appid="+appB, adminToken, nil)
	ta.want(r, 200, "")
	items := r.body["reminders"].([]any)
	if len(items) != 3 || items[0].(map[string]any)["id"] != remB { // and the event's two
		t.Fatalf("admin ?appid=B: %s", r.raw)
	}
	for _, it := range items {
		if it.(map[string]any)["appid"] != appB {
			t.Fatalf("admin ?appid=B: %s", r.raw)
		}
	}
	r = ta.do("GET", "/admin/v1/events?appid="+appB, adminToken, nil)
	ta.want(r, 200, "")
	if items := r.body["events"].([]any); len(items) != 1 || items[0].(map[string]any)["id"] != evtB || items[0].(map[string]any)["appid"] != appB {
		t.Fatalf("admin events ?appid=B: %s", r.raw)
	}
	r = ta.do("GET", "/v1/reminders?appid="+appB, tokA, nil)
	ta.want(r, 422, "validation_failed")
	r = ta.do("GET", "/service/v1/reminders?appid="+appB, serviceTokenA, nil)
	ta.want(r, 422, "validation_failed")
}

// createEvent creates a meeting event for the session tok and returns its
// id; its reminders are the session's app's.
func (ta *twoApps) createEvent(tok string) string {
	ta.t.Helper()
	b := meetingEvent(48*time.Hour, "P1D", "PT15M")
	b["templates"] = b["templates"].([]map[string]any)[:1] // a template both apps list
	r := ta.do("POST", "/v1/events", tok, b)
	ta.want(r, 201, "")
	app := r.str("appid")
	for _, rem := range r.body["reminders"].([]any) {
		if rem.(map[string]any)["appid"] != app {
			ta.t.Fatalf("a reminder of another app than its event's: %s", r.raw)
		}
	}
	return r.str("id")
}

// eventSnapshot is what the store holds of the events ids.
func eventSnapshot(t *testing.T, s store.Store, ids ...string) string {
	t.Helper()
	out := ""
	for _, id := range ids {
		e, err := s.GetEvent(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		out += fmt.Sprintf("%s %s %s %s %s %s|", e.ID, e.AppID, e.Status(), e.Title, e.StartAt, e.UpdatedAt)
	}
	return out
}

// snapshot is what the store holds of the reminders ids, for comparison.
func snapshot(t *testing.T, s store.Store, ids ...string) string {
	t.Helper()
	out := ""
	for _, id := range ids {
		r, err := s.GetReminder(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		out += fmt.Sprintf("%s %s %s %s %s %d %s|", r.ID, r.AppID, r.Status, r.FireAt, r.Page, r.Attempts, r.UpdatedAt)
	}
	return out
}

func TestAdminApps(t *testing.T) {
	ta := newTwoApps(t)
	tokA := ta.loginA("alice")
	ta.create(tokA, meeting(3600e9))
	ta.create(tokA, meeting(7200e9))
	tokB := ta.loginB("bob")
	ta.create(tokB, meeting(3600e9))
	r := ta.do("GET", "/admin/v1/apps", adminToken, nil)
	ta.want(r, 200, "")
	apps := r.body["apps"].([]any)
	if len(apps) != 2 {
		t.Fatalf("apps %s", r.raw)
	}
	a, b := apps[0].(map[string]any), apps[1].(map[string]any)
	if a["appid"] != wechattest.DefaultAppID || a["state"] != "serving" || a["reminders"].(map[string]any)["scheduled"] != 2.0 ||
		b["appid"] != appB || b["reminders"].(map[string]any)["scheduled"] != 1.0 || b["reminders"].(map[string]any)["sent"] != 0.0 {
		t.Fatalf("apps %s", r.raw)
	}
	st := ta.do("GET", "/admin/v1/stats?appid="+appB, adminToken, nil)
	ta.want(st, 200, "")
	if st.body["reminders"].(map[string]any)["scheduled"] != 1.0 {
		t.Fatalf("stats of B %s", st.raw)
	}

	// B removed (SIGHUP): its sessions are refused, its data stays and is
	// listed as removed; A keeps working.
	ta.apps.Set([]api.App{ta.appA})
	r = ta.do("GET", "/v1/reminders", tokB, nil)
	ta.want(r, 403, "forbidden")
	ta.want(ta.do("GET", "/v1/reminders", tokA, nil), 200, "")
	r = ta.do("GET", "/admin/v1/apps", adminToken, nil)
	apps = r.body["apps"].([]any)
	if len(apps) != 2 || apps[1].(map[string]any)["appid"] != appB || apps[1].(map[string]any)["state"] != "removed" {
		t.Fatalf("after removal %s", r.raw)
	}
	// Only A is served: a login needs no appid, and B's is refused.
	ta.want(ta.do("POST", "/v1/session", "", map[string]string{"code": ta.fakeB.IssueCode("bob"), "appid": appB}), 422, "validation_failed")
	ta.want(ta.do("POST", "/v1/session", "", map[string]string{"code": ta.fake.IssueCode("carol")}), 200, "")
	// Added back, B's sessions work again.
	ta.apps.Set([]api.App{ta.appA, ta.appBx})
	ta.want(ta.do("GET", "/v1/reminders", tokB, nil), 200, "")
}

// Each app's push arrives at its own URL and is verified with its own
// token; /wechat/push serves only a single app.
func TestPushPerApp(t *testing.T) {
	ta := newTwoApps(t)
	ts := fmt.Sprint(t0.Unix())
	signed := func(token string) string {
		return url.Values{"signature": {wechat.Signature(token, ts, "n1")}, "timestamp": {ts}, "nonce": {"n1"}, "echostr": {"e"}}.Encode()
	}
	if r := ta.do("GET", "/wechat/push/"+appB+"?"+signed(pushTokenB), "", nil); r.status != 200 || r.raw != "e" {
		t.Fatalf("B's handshake: %d %s", r.status, r.raw)
	}
	if r := ta.do("GET", "/wechat/push/"+wechattest.DefaultAppID+"?"+signed(pushToken), "", nil); r.status != 200 || r.raw != "e" {
		t.Fatalf("A's handshake: %d %s", r.status, r.raw)
	}
	// B's token does not open A's URL, nor A's B's.
	ta.want(ta.do("GET", "/wechat/push/"+wechattest.DefaultAppID+"?"+signed(pushTokenB), "", nil), 401, "unauthorized")
	ta.want(ta.do("GET", "/wechat/push/"+appB+"?"+signed(pushToken), "", nil), 401, "unauthorized")
	ta.want(ta.do("GET", "/wechat/push/wxnone?"+signed(pushToken), "", nil), 404, "not_found")
	ta.want(ta.do("GET", "/wechat/push?"+signed(pushToken), "", nil), 404, "not_found")
	// A removed app's pushes are refused.
	ta.apps.Set([]api.App{ta.appA})
	ta.want(ta.do("GET", "/wechat/push/"+appB+"?"+signed(pushTokenB), "", nil), 404, "not_found")
	if r := ta.do("GET", "/wechat/push?"+signed(pushToken), "", nil); r.status != 200 {
		t.Fatalf("the single app's /wechat/push: %d %s", r.status, r.raw)
	}
}

// Each app lists and accepts its own templates only.
func TestTemplatesPerApp(t *testing.T) {
	ta := newTwoApps(t)
	tokA, tokB := ta.loginA("alice"), ta.loginB("alice")
	has := func(tok string) bool {
		r := ta.do("GET", "/v1/templates", tok, nil)
		ta.want(r, 200, "")
		return strings.Contains(r.raw, onlyBTemplate)
	}
	if has(tokA) || !has(tokB) {
		t.Fatalf("B's template listed to A %v, to B %v", has(tokA), has(tokB))
	}
	body := map[string]any{"template_id": onlyBTemplate, "fire_at": t0.Add(3600e9).Format("2006-01-02T15:04:05Z07:00"), "data": map[string]string{"thing1": "x"}}
	if r := ta.do("POST", "/v1/reminders", tokA, body); r.status != 422 || r.field("template_id") == "" {
		t.Fatalf("A created with B's template: %d %s", r.status, r.raw)
	}
	ta.want(ta.do("POST", "/v1/reminders", tokB, body), 201, "")
	r := ta.do("POST", "/v1/consents", tokA, map[string]any{"results": map[string]string{onlyBTemplate: "accept"}})
	ta.want(r, 422, "validation_failed")
	ta.want(ta.do("POST", "/v1/consents", tokB, map[string]any{"results": map[string]string{onlyBTemplate: "accept"}}), 200, "")
}
