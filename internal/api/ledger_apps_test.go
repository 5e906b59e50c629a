package api_test

import (
	"io"
	"strings"
	"testing"

	"github.com/reminderd/reminderd/internal/wechat"
	"github.com/reminderd/reminderd/internal/wechat/wechattest"
)

// consentsOfResp are the ledger rows of a consents answer, by template.
func consentsOfResp(t *testing.T, r resp) map[string]map[string]any {
	t.Helper()
	out := map[string]map[string]any{}
	for _, c := range r.body["consents"].([]any) {
		m := c.(map[string]any)
		out[m["template_id"].(string)] = m
	}
	return out
}

// covered is a reminder's consent.covered as its owner reads it.
func (ta *twoApps) covered(tok, id string) bool {
	ta.t.Helper()
	r := ta.do("GET", "/v1/reminders/"+id, tok, nil)
	ta.want(r, 200, "")
	return r.body["consent"].(map[string]any)["covered"] == true
}

// One openid logged into two apps is two users with two ledgers: a
// consent reported in A covers A's reminder, not B's; B's ledger, its
// prompt and its service API know nothing of it; a popup pushed for B is
// B's.
func TestConsentLedgerIsPerApp(t *testing.T) {
	ta := newTwoApps(t)
	tokA, tokB := ta.loginA("u1"), ta.loginB("u1")
	remA, remB := ta.create(tokA, meeting(3600e9)), ta.create(tokB, meeting(3600e9))
	r := ta.do("POST", "/v1/consents", tokA, map[string]any{"results": map[string]string{meetingID: "accept"}})
	ta.want(r, 200, "")
	if c := consentsOfResp(t, r)[meetingID]; c == nil || c["appid"] != wechattest.DefaultAppID || c["credits"] != 1.0 {
		t.Fatalf("A's report answered %s", r.raw)
	}
	if !ta.covered(tokA, remA["id"].(string)) {
		t.Error("A's reminder not covered by A's accept")
	}
	if ta.covered(tokB, remB["id"].(string)) {
		t.Error("B's reminder covered by A's accept")
	}
	r = ta.do("GET", "/v1/consents", tokB, nil)
	ta.want(r, 200, "")
	if rows := r.body["consents"].([]any); len(rows) != 0 {
		t.Fatalf("B's ledger lists A's consent: %s", r.raw)
	}
	r = ta.do("GET", "/v1/consents/prompt", tokB, nil)
	ta.want(r, 200, "")
	if !strings.Contains(r.raw, meetingID) {
		t.Errorf("B's prompt does not ask for the template B's reminder needs: %s", r.raw)
	}
	r = ta.do("GET", "/service/v1/consents?openid=u1", serviceTokenB, nil)
	ta.want(r, 200, "")
	if rows := r.body["consents"].([]any); len(rows) != 0 {
		t.Fatalf("B's backend reads A's consent: %s", r.raw)
	}
	r = ta.do("GET", "/service/v1/consents?openid=u1", serviceTokenA, nil)
	ta.want(r, 200, "")
	if c := consentsOfResp(t, r)[meetingID]; c == nil || c["appid"] != wechattest.DefaultAppID {
		t.Fatalf("A's backend reads %s", r.raw)
	}

	// The popup of B's user, pushed to B's URL, is a credit of B's only.
	rcvB, err := wechat.NewReceiver(wechat.PushConfig{Token: pushTokenB, AESKey: strings.Repeat("b", 43), AppID: appB, Now: ta.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	popup := &wechat.Event{ToUserName: "gh_b", FromUserName: "u1", CreateTime: t0.Unix(), MsgType: "event", Event: wechat.EventSubscribeMsgPopup,
		Popup: []wechat.PopupItem{{TemplateID: meetingID, SubscribeStatus: "accept"}}}
	msg, err := wechat.MarshalEvent(popup, false)
	if err != nil {
		t.Fatal(err)
	}
	q, body, err := rcvB.Seal(msg, "gh_b", false)
	if err != nil {
		t.Fatal(err)
	}
	if r := ta.do("POST", "/wechat/push/"+appB+"?"+q.Encode(), "", string(body)); r.status != 200 || r.raw != "success" {
		t.Fatalf("B's popup push: %d %s", r.status, r.raw)
	}
	if !ta.covered(tokB, remB["id"].(string)) {
		t.Error("B's reminder not covered by B's popup")
	}
	rows := consentsOfResp(t, ta.do("GET", "/v1/consents", tokB, nil))
	if c := rows[meetingID]; c == nil || c["appid"] != appB || c["credits"] != 1.0 {
		t.Errorf("B's ledger after B's popup: %v", rows)
	}
	if c := consentsOfResp(t, ta.do("GET", "/v1/consents", tokA, nil))[meetingID]; c["credits"] != 1.0 {
		t.Errorf("A's credits after B's popup: %v, want 1", c["credits"])
	}
}

// The admin consent page shows one app's ledger: the one named by appid,
// else the first served.
func TestAdminConsentPageIsPerApp(t *testing.T) {
	ta := newTwoApps(t)
	tokA, tokB := ta.loginA("u1"), ta.loginB("u1")
	ta.want(ta.do("POST", "/v1/consents", tokA, map[string]any{"results": map[string]string{meetingID: "accept"}}), 200, "")
	ta.want(ta.do("POST", "/v1/consents", tokB, map[string]any{"results": map[string]string{meetingID: "reject"}}), 200, "")
	c := webClient(t, ta.harness)
	page := func(query string) string {
		res, err := c.Get(ta.srv.URL + "/admin/consents?openid=u1" + query)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		if res.StatusCode != 200 {
			t.Fatalf("consent page%s: %d %s", query, res.StatusCode, b)
		}
		return string(b)
	}
	if a := page(""); !strings.Contains(a, `data-status="accept"`) || strings.Contains(a, `data-status="reject"`) {
		t.Errorf("the first app's page:\n%s", a)
	}
	if b := page("&appid=" + appB); !strings.Contains(b, `data-status="reject"`) || strings.Contains(b, `data-status="accept"`) {
		t.Errorf("B's page:\n%s", b)
	}
}

// A session's consent settings go by its own app's template list: a
// setting of a template only app B has is kept for B's user (it was
// ignored as unknown, looked up in the first app's list), and not for A's.
func TestConsentSettingsGoByTheSessionsApp(t *testing.T) {
	ta := newTwoApps(t)
	tokB := ta.loginB("u1")
	r := ta.do("POST", "/v1/consents/settings", tokB, map[string]any{"mainSwitch": true,
		"itemSettings": map[string]string{onlyBTemplate: "ban"}})
	ta.want(r, 200, "")
	if c := consentsOfResp(t, r)[onlyBTemplate]; c == nil || c["setting"] != "ban" || c["appid"] != appB {
		t.Fatalf("B's setting of its own template: %s", r.raw)
	}
	tokA := ta.loginA("u1")
	r = ta.do("POST", "/v1/consents/settings", tokA, map[string]any{"mainSwitch": true,
		"itemSettings": map[string]string{onlyBTemplate: "ban"}})
	ta.want(r, 200, "")
	if c := consentsOfResp(t, r)[onlyBTemplate]; c != nil {
		t.Fatalf("A's setting of a template A does not have was kept: %s", r.raw)
	}
}

// B's prompt plans over B's templates: a reminder through a template only B
// has is asked for (its kind and title come from B's list).
func TestPromptGoesByTheSessionsApp(t *testing.T) {
	ta := newTwoApps(t)
	tokB := ta.loginB("u1")
	ta.create(tokB, map[string]any{"template_id": onlyBTemplate, "fire_at": t0.Add(3600e9).Format("2006-01-02T15:04:05Z07:00"),
		"data": map[string]string{"thing1": "x"}})
	r := ta.do("GET", "/v1/consents/prompt", tokB, nil)
	ta.want(r, 200, "")
	if !strings.Contains(r.raw, onlyBTemplate) {
		t.Fatalf("B's prompt does not ask for B's own template: %s", r.raw)
	}
}
