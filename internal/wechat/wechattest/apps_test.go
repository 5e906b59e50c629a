package wechattest

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/reminderd/reminderd/internal/wechat"
)

const secondAppID = "wxfa4e000000000002"

// newTwoApps is a fake serving the default account and a second one, both
// with the demo templates.
func newTwoApps(t *testing.T) (*Server, *Account, *Clock) {
	t.Helper()
	clock := NewClock(t0)
	s := New(Options{Now: clock.Now, Seed: 7, Apps: []AppOptions{{AppID: secondAppID}}})
	t.Cleanup(s.Close)
	b := s.App(secondAppID)
	if b == nil || b == s.Account || b.Secret() == "" || b.Secret() == s.Secret() {
		t.Fatalf("second account %+v", b)
	}
	for _, tm := range DemoTemplates() {
		s.AddTemplate(tm)
		b.AddTemplate(tm)
	}
	return s, b, clock
}

func stableOf(t *testing.T, s *Server, a *Account) string {
	t.Helper()
	r := call(t, "POST", s.URL+"/cgi-bin/stable_token", map[string]any{
		"grant_type": "client_credential", "appid": a.AppID(), "secret": a.Secret()})
	if r.ErrCode != 0 || r.AccessToken == "" {
		t.Fatalf("stable token of %s: %+v", a.AppID(), r)
	}
	return r.AccessToken
}

func code2Session(t *testing.T, s *Server, appID, secret, code string) answer {
	t.Helper()
	return call(t, "GET", s.URL+"/sns/jscode2session?"+url.Values{"appid": {appID}, "secret": {secret},
		"js_code": {code}, "grant_type": {"authorization_code"}}.Encode(), nil)
}

// A token is issued for one appid and secret and reaches only that account:
// its users, its templates. Refreshing or revoking one account's tokens
// leaves the other's working.
func TestAccountTokensReachOnlyTheirAccount(t *testing.T) {
	s, b, _ := newTwoApps(t)
	// Each account's secret is its own.
	for _, tc := range []struct{ appid, secret string }{{s.AppID(), b.Secret()}, {b.AppID(), s.Secret()}} {
		r := call(t, "POST", s.URL+"/cgi-bin/stable_token", map[string]any{"grant_type": "client_credential", "appid": tc.appid, "secret": tc.secret})
		if r.ErrCode != 40125 {
			t.Errorf("stable_token(%s) with the other app's secret: %+v, want 40125", tc.appid, r)
		}
	}
	tokA, tokB := stableOf(t, s, s.Account), stableOf(t, s, b)
	if tokA == tokB {
		t.Fatal("two accounts share a token")
	}
	b.Grant("oB", MeetingTemplateID, 2)
	if r := send(t, s, tokA, meeting("oB")); r.ErrCode != wechat.CodeInvalidOpenID {
		t.Fatalf("app A's token to an openid known only in app B: %+v, want 40003", r)
	}
	if r := send(t, s, tokB, meeting("oB")); r.ErrCode != 0 {
		t.Fatalf("app B's token to its own user: %+v", r)
	}
	// A template only B has is unknown to A.
	b.AddTemplate(MeetingStartTemplate())
	s.Grant("oA", MeetingStartTemplateID, 1)
	start := map[string]any{"touser": "oA", "template_id": MeetingStartTemplateID,
		"data": map[string]any{"thing1": map[string]string{"value": "评审"}, "time4": map[string]string{"value": "2026-12-01 14:00"}}}
	if r := send(t, s, tokA, start); r.ErrCode != wechat.CodeInvalidTemplate {
		t.Fatalf("app A's send of app B's template: %+v, want 40037", r)
	}
	// force_refresh and RevokeTokens act on one account.
	if r := call(t, "POST", s.URL+"/cgi-bin/stable_token", map[string]any{"grant_type": "client_credential",
		"appid": s.AppID(), "secret": s.Secret(), "force_refresh": true}); r.ErrCode != 0 || r.AccessToken == tokA {
		t.Fatalf("force_refresh of A: %+v", r)
	}
	if r := send(t, s, tokA, meeting("oA")); r.ErrCode != 40001 {
		t.Fatalf("A's token after A's force_refresh: %+v, want 40001", r)
	}
	s.RevokeTokens()
	if r := send(t, s, tokB, meeting("oB")); r.ErrCode != 0 {
		t.Fatalf("B's token after A's refresh and revoke: %+v", r)
	}
	b.RevokeTokens()
	if r := send(t, s, tokB, meeting("oB")); r.ErrCode != 40001 {
		t.Fatalf("B's token after B's revoke: %+v, want 40001", r)
	}
	// getTemplate lists the token's account's templates.
	var list struct {
		Data []struct {
			PriTmplID string `json:"priTmplId"`
		} `json:"data"`
	}
	res, err := http.Get(s.URL + "/wxaapi/newtmpl/gettemplate?access_token=" + url.QueryEscape(stableOf(t, s, b)))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if err := json.NewDecoder(res.Body).Decode(&list); err != nil || len(list.Data) != len(DemoTemplates())+1 {
		t.Fatalf("B's templates: %+v %v", list, err)
	}
	if c := s.Counts().GetTemplate; c != 0 {
		t.Fatalf("B's getTemplate counted on A: %d", c)
	}
}

// A login code is redeemed only with the appid and secret of the account that
// issued it.
func TestAccountLoginCodesAreTheirOwn(t *testing.T) {
	s, b, _ := newTwoApps(t)
	if r := code2Session(t, s, s.AppID(), s.Secret(), b.IssueCode("oB")); r.ErrCode != 40029 {
		t.Fatalf("B's code redeemed by A: %+v, want 40029", r)
	}
	if r := code2Session(t, s, b.AppID(), s.Secret(), b.IssueCode("oB")); r.ErrCode != 40125 {
		t.Fatalf("B's appid with A's secret: %+v, want 40125", r)
	}
	if r := code2Session(t, s, "wxnotserved", b.Secret(), b.IssueCode("oB")); r.ErrCode != 40013 {
		t.Fatalf("an appid the fake does not serve: %+v, want 40013", r)
	}
	if r := code2Session(t, s, b.AppID(), b.Secret(), b.IssueCode("oB")); r.ErrCode != 0 || r.OpenID != "oB" {
		t.Fatalf("B's code redeemed by B: %+v", r)
	}
	b.BlockUser("oX")
	if r := code2Session(t, s, s.AppID(), s.Secret(), s.IssueCode("oX")); r.ErrCode != 0 {
		t.Fatalf("a user blocked in B logs in to A: %+v", r)
	}
	if c := s.Counts().Code2Session; c != 2 {
		t.Fatalf("A answered %d code2Session calls, want 2", c)
	}
}

// The same openid in two accounts has two ledgers, and each account has its
// own daily quota and its own sends; msgids stay unique across accounts.
func TestAccountLedgersQuotaAndSendsAreTheirOwn(t *testing.T) {
	s, b, _ := newTwoApps(t)
	tokA, tokB := stableOf(t, s, s.Account), stableOf(t, s, b)
	s.Grant("o1", MeetingTemplateID, 2)
	b.IssueCode("o1") // known to B, with no credit there
	if r := send(t, s, tokB, meeting("o1")); r.ErrCode != wechat.CodeNoCredit {
		t.Fatalf("B's send on A's credit: %+v, want 43101", r)
	}
	if s.Credits("o1", MeetingTemplateID) != 2 || b.Credits("o1", MeetingTemplateID) != 0 {
		t.Fatalf("credits A %d, B %d", s.Credits("o1", MeetingTemplateID), b.Credits("o1", MeetingTemplateID))
	}
	if g, err := b.ReportAccept("o1", MeetingTemplateID); err != nil || !g {
		t.Fatalf("B's report: %v %v", g, err)
	}
	if s.Credits("o1", MeetingTemplateID) != 2 || b.Credits("o1", MeetingTemplateID) != 1 {
		t.Fatal("B's report granted at A")
	}

	s.SetFaults(Faults{DailyQuota: 1})
	ra := send(t, s, tokA, meeting("o1"))
	if ra.ErrCode != 0 {
		t.Fatalf("A's first send: %+v", ra)
	}
	if r := send(t, s, tokA, meeting("o1")); r.ErrCode != wechat.CodeQuota {
		t.Fatalf("A's second send over A's quota: %+v, want 45009", r)
	}
	rb := send(t, s, tokB, meeting("o1"))
	if rb.ErrCode != 0 {
		t.Fatalf("B's send while A is over its quota: %+v", rb)
	}
	if ra.MsgID == rb.MsgID {
		t.Fatalf("A and B answered the same msgid %s", ra.MsgID)
	}
	sa, sb := s.Sends(), b.Sends()
	if len(sa) != 1 || len(sb) != 1 || sa[0].MsgID == sb[0].MsgID {
		t.Fatalf("sends A %+v, B %+v", sa, sb)
	}
	if s.Counts().Send != 2 || b.Counts().Send != 2 {
		t.Fatalf("send counts A %+v, B %+v", s.Counts(), b.Counts())
	}
}

// A send in flight to a user of one account does not make the same openid
// busy (43108) in another.
func TestAccountInflightIsPerAccount(t *testing.T) {
	s, b, _ := newTwoApps(t)
	tokA, tokB := stableOf(t, s, s.Account), stableOf(t, s, b)
	s.Grant("o1", MeetingTemplateID, 5)
	b.Grant("o1", MeetingTemplateID, 5)
	arrived := make(chan string, 1)
	s.NotifySends(arrived)
	s.SetFaults(Faults{HangRate: 1}) // A's sends hang until the client gives up
	ctx, cancel := context.WithCancel(context.Background())
	hung := make(chan error, 1)
	go func() {
		req, _ := http.NewRequestWithContext(ctx, "POST", s.URL+"/cgi-bin/message/subscribe/send?access_token="+tokA,
			strings.NewReader(`{"touser":"o1","template_id":"`+MeetingTemplateID+`"}`))
		res, err := http.DefaultClient.Do(req)
		if err == nil {
			res.Body.Close()
		}
		hung <- err
	}()
	<-arrived
	if r := send(t, s, tokA, meeting("o1")); r.ErrCode != wechat.CodeUserBusy {
		t.Fatalf("A's second send to o1 while one is in flight: %+v, want 43108", r)
	}
	if r := send(t, s, tokB, meeting("o1")); r.ErrCode != 0 {
		t.Fatalf("B's send to its o1 while A's is in flight: %+v", r)
	}
	cancel()
	if err := <-hung; err == nil {
		t.Fatal("the hung send was answered")
	}
	if s.Counts().UserBusy != 1 || b.Counts().UserBusy != 0 {
		t.Fatalf("busy counts A %d, B %d", s.Counts().UserBusy, b.Counts().UserBusy)
	}
}

// appReceiver is a push endpoint of one account: it opens what that account
// signed and encrypted, and refuses anything else.
func appReceiver(t *testing.T, appID, token, aesKey string, now func() time.Time) (*httptest.Server, chan *wechat.Event) {
	t.Helper()
	rcv, err := wechat.NewReceiver(wechat.PushConfig{Token: token, AESKey: aesKey, AppID: appID, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	events := make(chan *wechat.Event, 10)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		ev, err := rcv.Open(r.URL.Query(), body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		events <- ev
		_, _ = io.WriteString(w, "success")
	}))
	t.Cleanup(srv.Close)
	return srv, events
}

// Each account pushes to its own URL, signed with its own token and
// encrypted with its own key for its own appid.
func TestAccountPushTargetsAreTheirOwn(t *testing.T) {
	s, b, clock := newTwoApps(t)
	keyA, keyB := strings.Repeat("A", 43), strings.Repeat("B", 43)
	srvA, evA := appReceiver(t, s.AppID(), "tokA", keyA, clock.Now)
	srvB, evB := appReceiver(t, b.AppID(), "tokB", keyB, clock.Now)
	if err := s.SetPush(srvA.URL, "tokA", keyA, false); err != nil {
		t.Fatal(err)
	}
	if err := b.SetPush(srvB.URL, "tokB", keyB, true); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := b.Popup(ctx, "o1", map[string]string{MeetingTemplateID: "accept"}); err != nil {
		t.Fatal(err)
	}
	eb := <-evB
	if eb.Event != "subscribe_msg_popup_event" || eb.FromUserName != "o1" {
		t.Fatalf("B's popup event %+v", eb)
	}
	if _, err := s.Popup(ctx, "o2", map[string]string{MeetingTemplateID: "accept"}); err != nil {
		t.Fatal(err)
	}
	ea := <-evA
	if ea.FromUserName != "o2" || ea.ToUserName == eb.ToUserName {
		t.Fatalf("A's popup event %+v (B's to %s)", ea, eb.ToUserName)
	}
	if len(s.Pushes()) != 1 || len(b.Pushes()) != 1 {
		t.Fatalf("pushes A %+v, B %+v", s.Pushes(), b.Pushes())
	}
	// A push to a receiver of the other account is refused by it.
	if err := b.SetPush(srvA.URL, "tokB", keyB, false); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Popup(ctx, "o1", map[string]string{MeetingTemplateID: "accept"}); err == nil {
		t.Fatal("A's receiver accepted B's push")
	}
	if b.Credits("o1", MeetingTemplateID) != 2 || s.Credits("o1", MeetingTemplateID) != 0 {
		t.Fatalf("B's popups credited A: A %d, B %d", s.Credits("o1", MeetingTemplateID), b.Credits("o1", MeetingTemplateID))
	}
}

// The /fake/* controls act on the account named by appid (query or body),
// on the default one without, and refuse an appid the fake does not serve.
func TestFakeControlsNameTheirAccount(t *testing.T) {
	s, b, _ := newTwoApps(t)
	post := func(path, body string) (int, map[string]any) {
		t.Helper()
		res, err := http.Post(s.URL+path, "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var out map[string]any
		_ = json.NewDecoder(res.Body).Decode(&out)
		return res.StatusCode, out
	}
	st, out := post("/fake/login?appid="+b.AppID(), `{"openid":"oB"}`)
	if st != 200 || out["appid"] != b.AppID() {
		t.Fatalf("login to B: %d %v", st, out)
	}
	if r := code2Session(t, s, b.AppID(), b.Secret(), out["code"].(string)); r.OpenID != "oB" {
		t.Fatalf("B's /fake/login code at B: %+v", r)
	}
	_, out = post("/fake/login", `{"openid":"oA"}`)
	if r := code2Session(t, s, s.AppID(), s.Secret(), out["code"].(string)); r.OpenID != "oA" {
		t.Fatalf("the default /fake/login code at A: %+v", r)
	}
	if st, _ := post("/fake/login?appid=wxnotserved", `{"openid":"oA"}`); st != 404 {
		t.Fatalf("login to an app not served: %d, want 404", st)
	}
	// The body's appid names the account too (a mini-program's fetch).
	if st, out := post("/fake/popup", `{"appid":"`+b.AppID()+`","openid":"oB","answers":{"`+MeetingTemplateID+`":"accept"}}`); st != 200 ||
		out["errMsg"] != "requestSubscribeMessage:ok" || b.Credits("oB", MeetingTemplateID) != 1 || s.Credits("oB", MeetingTemplateID) != 0 {
		t.Fatalf("popup at B: %d %v, credits A %d B %d", st, out, s.Credits("oB", MeetingTemplateID), b.Credits("oB", MeetingTemplateID))
	}
	if st, _ := post("/fake/fail-next-sends?appid="+b.AppID(), `{"n":1,"fault":"empty_answer"}`); st != 200 {
		t.Fatalf("fail-next-sends at B: %d", st)
	}
	if r := send(t, s, stableOf(t, s, b), meeting("oB")); r.ErrCode != 0 || r.MsgID != "" {
		t.Fatalf("B's send after B's fail-next-sends: %+v, want an empty answer", r)
	}

	get := func(path string, v any) int {
		t.Helper()
		res, err := http.Get(s.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		_ = json.NewDecoder(res.Body).Decode(v)
		return res.StatusCode
	}
	var sends struct {
		AppID string `json:"appid"`
		Sends []struct {
			MsgID  string `json:"msgid"`
			ToUser string `json:"touser"`
		} `json:"sends"`
	}
	if st := get("/fake/sends?appid="+b.AppID(), &sends); st != 200 || sends.AppID != b.AppID() || len(sends.Sends) != 1 ||
		sends.Sends[0].ToUser != "oB" || sends.Sends[0].MsgID != "1700000000000000001" {
		t.Fatalf("B's sends: %d %+v", st, sends)
	}
	if st := get("/fake/sends", &sends); st != 200 || sends.AppID != s.AppID() || len(sends.Sends) != 0 {
		t.Fatalf("A's sends: %d %+v", st, sends)
	}
	var apps struct {
		Apps []struct {
			AppID string `json:"appid"`
			Sends int    `json:"sends"`
		} `json:"apps"`
	}
	if st := get("/fake/apps", &apps); st != 200 || len(apps.Apps) != 2 || apps.Apps[0].AppID != s.AppID() ||
		apps.Apps[1].AppID != b.AppID() || apps.Apps[1].Sends != 1 {
		t.Fatalf("apps: %d %+v", st, apps)
	}
}

// AddApp adds an account to a running fake; a duplicate or empty appid is
// refused.
func TestAddApp(t *testing.T) {
	s, _ := newFake(t)
	c := s.AddApp(AppOptions{AppID: "wxadded", Secret: "added-secret"})
	if s.App("wxadded") != c || len(s.Apps()) != 2 || c.Secret() != "added-secret" {
		t.Fatalf("added %+v, apps %d", c, len(s.Apps()))
	}
	if r := code2Session(t, s, "wxadded", "added-secret", c.IssueCode("oC")); r.OpenID != "oC" {
		t.Fatalf("the added account's login: %+v", r)
	}
	for _, o := range []AppOptions{{AppID: "wxadded"}, {AppID: DefaultAppID}, {}} {
		if _, err := newServer(Options{Apps: []AppOptions{{AppID: "wxadded"}, o}}); err == nil {
			t.Errorf("options with apps wxadded and %q accepted", o.AppID)
		}
	}
	if _, err := Start("127.0.0.1:0", Options{Apps: []AppOptions{{AppID: DefaultAppID}}}); err == nil {
		t.Error("Start accepted the default appid twice")
	}
}
