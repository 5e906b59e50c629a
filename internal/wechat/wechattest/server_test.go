package wechattest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/reminderd/reminderd/internal/wechat"
)

var t0 = time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)

type answer struct {
	ErrCode     int         `json:"errcode"`
	ErrMsg      string      `json:"errmsg"`
	AccessToken string      `json:"access_token"`
	ExpiresIn   int         `json:"expires_in"`
	OpenID      string      `json:"openid"`
	SessionKey  string      `json:"session_key"`
	MsgID       json.Number `json:"msgid"`
	status      int
}

func newFake(t *testing.T) (*Server, *Clock) {
	t.Helper()
	clock := NewClock(t0)
	s := New(Options{Now: clock.Now, Seed: 7})
	t.Cleanup(s.Close)
	for _, tm := range DemoTemplates() {
		s.AddTemplate(tm)
	}
	return s, clock
}

func call(t *testing.T, method, u string, body any) answer {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, u, rd)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var a answer
	a.status = resp.StatusCode
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode == http.StatusOK {
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.UseNumber()
		if err := dec.Decode(&a); err != nil {
			t.Fatalf("answer %q: %v", data, err)
		}
	}
	return a
}

func stable(t *testing.T, s *Server, force bool) answer {
	return call(t, "POST", s.URL+"/cgi-bin/stable_token", map[string]any{
		"grant_type": "client_credential", "appid": s.AppID(), "secret": s.Secret(), "force_refresh": force})
}

func legacy(t *testing.T, s *Server) answer {
	q := url.Values{"grant_type": {"client_credential"}, "appid": {s.AppID()}, "secret": {s.Secret()}}
	return call(t, "GET", s.URL+"/cgi-bin/token?"+q.Encode(), nil)
}

func meeting(openID string) map[string]any {
	return map[string]any{"touser": openID, "template_id": MeetingTemplateID, "page": "pages/meeting/detail?id=1",
		"miniprogram_state": "formal", "lang": "zh_CN",
		"data": map[string]any{"thing1": map[string]string{"value": "项目评审会"}, "time2": map[string]string{"value": "2026-12-01 14:00"},
			"thing3": map[string]string{"value": "A栋201"}}}
}

func send(t *testing.T, s *Server, tok string, body any) answer {
	return call(t, "POST", s.URL+"/cgi-bin/message/subscribe/send?access_token="+url.QueryEscape(tok), body)
}

func TestStableTokenRules(t *testing.T) {
	s, clock := newFake(t)
	a := stable(t, s, false)
	if a.ErrCode != 0 || a.AccessToken == "" || a.ExpiresIn != 7200 {
		t.Fatalf("first stable token: %+v", a)
	}
	clock.Advance(time.Hour)
	b := stable(t, s, false)
	if b.AccessToken != a.AccessToken || b.ExpiresIn != 3600 {
		t.Fatalf("normal mode must return the same token with its remaining life: %+v", b)
	}
	// 5 minutes before expiry a new token is issued; the old keeps working until it expires.
	clock.Advance(time.Hour - 5*time.Minute)
	c := stable(t, s, false)
	if c.AccessToken == a.AccessToken || c.ExpiresIn != 7200 {
		t.Fatalf("no new token 5 minutes before expiry: %+v", c)
	}
	s.Grant("o1", MeetingTemplateID, 3)
	if r := send(t, s, a.AccessToken, meeting("o1")); r.ErrCode != 0 {
		t.Fatalf("old token during the overlap: %+v", r)
	}
	clock.Advance(5 * time.Minute)
	if r := send(t, s, a.AccessToken, meeting("o1")); r.ErrCode != 42001 {
		t.Fatalf("old token after expiry: %+v, want 42001", r)
	}
	// force_refresh invalidates the current token at once.
	d := stable(t, s, true)
	if d.AccessToken == c.AccessToken {
		t.Fatal("force_refresh returned the same token")
	}
	if r := send(t, s, c.AccessToken, meeting("o1")); r.ErrCode != 40001 {
		t.Fatalf("token after force_refresh: %+v, want 40001", r)
	}
	if r := send(t, s, d.AccessToken, meeting("o1")); r.ErrCode != 0 {
		t.Fatalf("new token: %+v", r)
	}
}

func TestTokenCredentialChecks(t *testing.T) {
	s, _ := newFake(t)
	for _, tc := range []struct {
		appid, secret string
		want          int
	}{{"wxother", s.Secret(), 40013}, {s.AppID(), "nope", 40125}} {
		a := call(t, "POST", s.URL+"/cgi-bin/stable_token", map[string]any{"grant_type": "client_credential", "appid": tc.appid, "secret": tc.secret})
		if a.ErrCode != tc.want {
			t.Errorf("stable_token(%s): %+v, want %d", tc.appid, a, tc.want)
		}
		q := url.Values{"grant_type": {"client_credential"}, "appid": {tc.appid}, "secret": {tc.secret}}
		if a := call(t, "GET", s.URL+"/cgi-bin/token?"+q.Encode(), nil); a.ErrCode != tc.want {
			t.Errorf("token(%s): %+v, want %d", tc.appid, a, tc.want)
		}
	}
	if r := send(t, s, "", meeting("o1")); r.ErrCode != 41001 {
		t.Fatalf("no token: %+v", r)
	}
	if r := send(t, s, "made-up", meeting("o1")); r.ErrCode != 40001 {
		t.Fatalf("unknown token: %+v", r)
	}
}

func TestLegacyTokenRotation(t *testing.T) {
	s, clock := newFake(t)
	s.Grant("o1", MeetingTemplateID, 10)
	a := legacy(t, s)
	st := stable(t, s, false)
	b := legacy(t, s)
	if a.AccessToken == b.AccessToken {
		t.Fatal("each legacy call must issue a new token")
	}
	if r := send(t, s, a.AccessToken, meeting("o1")); r.ErrCode != 0 {
		t.Fatalf("previous token within the 5-minute overlap: %+v", r)
	}
	clock.Advance(5 * time.Minute)
	if r := send(t, s, a.AccessToken, meeting("o1")); r.ErrCode != 40001 {
		t.Fatalf("previous token after the overlap: %+v, want 40001", r)
	}
	if r := send(t, s, b.AccessToken, meeting("o1")); r.ErrCode != 0 {
		t.Fatalf("newest legacy token: %+v", r)
	}
	if r := send(t, s, st.AccessToken, meeting("o1")); r.ErrCode != 0 {
		t.Fatalf("stable token must be isolated from legacy rotation: %+v", r)
	}
}

func TestLoginCodes(t *testing.T) {
	s, clock := newFake(t)
	q := func(code string) string {
		return s.URL + "/sns/jscode2session?" + url.Values{"appid": {s.AppID()}, "secret": {s.Secret()},
			"js_code": {code}, "grant_type": {"authorization_code"}}.Encode()
	}
	code := s.IssueCode("oA")
	if a := call(t, "GET", q(code), nil); a.OpenID != "oA" || a.SessionKey == "" {
		t.Fatalf("code2session: %+v", a)
	}
	if a := call(t, "GET", q(code), nil); a.ErrCode != 40029 {
		t.Fatalf("second use: %+v, want 40029", a)
	}
	old := s.IssueCode("oA")
	clock.Advance(5 * time.Minute)
	if a := call(t, "GET", q(old), nil); a.ErrCode != 40029 {
		t.Fatalf("expired: %+v, want 40029", a)
	}
	s.BlockUser("oB")
	if a := call(t, "GET", q(s.IssueCode("oB")), nil); a.ErrCode != 40226 {
		t.Fatalf("blocked: %+v, want 40226", a)
	}
	bad := s.URL + "/sns/jscode2session?" + url.Values{"appid": {s.AppID()}, "secret": {"x"}, "js_code": {s.IssueCode("oA")}, "grant_type": {"authorization_code"}}.Encode()
	if a := call(t, "GET", bad, nil); a.ErrCode != 40125 {
		t.Fatalf("bad secret: %+v", a)
	}
}

func TestSendRules(t *testing.T) {
	s, _ := newFake(t)
	tok := stable(t, s, false).AccessToken
	s.IssueCode("oNoCredit")
	s.Grant("o1", MeetingTemplateID, 2)
	s.Grant("oLong", ClinicTemplateID, 1)
	mod := func(openID string, f func(m map[string]any)) map[string]any {
		m := meeting(openID)
		f(m)
		return m
	}
	data := func(m map[string]any) map[string]any { return m["data"].(map[string]any) }
	for _, tc := range []struct {
		name string
		body any
		code int
		msg  string
	}{
		{"unknown openid", meeting("oStranger"), 40003, "invalid openid"},
		{"unknown template", mod("o1", func(m map[string]any) { m["template_id"] = "nope" }), 40037, ""},
		{"unknown page", mod("o1", func(m map[string]any) { m["page"] = "pages/nope/index?x=1" }), 41030, ""},
		{"bad state", mod("o1", func(m map[string]any) { m["miniprogram_state"] = "beta" }), 47003, "miniprogram_state"},
		{"bad lang", mod("o1", func(m map[string]any) { m["lang"] = "fr" }), 47003, "lang"},
		{"missing value", mod("o1", func(m map[string]any) { delete(data(m), "thing3") }), 47003, "data.thing3.value is emtpy"},
		{"empty value", mod("o1", func(m map[string]any) { data(m)["thing1"] = map[string]string{"value": ""} }), 47003, "data.thing1.value"},
		{"value not an object", mod("o1", func(m map[string]any) { data(m)["thing1"] = "项目评审会" }), 47001, ""},
		{"no credit", meeting("oNoCredit"), 43101, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := send(t, s, tok, tc.body)
			if r.ErrCode != tc.code || !strings.Contains(r.ErrMsg, tc.msg) || !strings.Contains(r.ErrMsg, " rid: ") {
				t.Fatalf("answer %+v, want errcode %d with %q and a rid", r, tc.code, tc.msg)
			}
		})
	}
	if len(s.Sends()) != 0 || s.Credits("o1", MeetingTemplateID) != 2 {
		t.Fatal("a rejected send was recorded or consumed a credit")
	}
	// One credit per send, then 43101.
	var ids []int64
	for range 2 {
		r := send(t, s, tok, meeting("o1"))
		if r.ErrCode != 0 {
			t.Fatalf("send with credit: %+v", r)
		}
		id, err := r.MsgID.Int64()
		if err != nil || id <= 1<<53 {
			t.Fatalf("msgid %q must be an int64 above 2^53", r.MsgID)
		}
		ids = append(ids, id)
	}
	if ids[1] <= ids[0] {
		t.Fatalf("msgids not increasing: %v", ids)
	}
	if r := send(t, s, tok, meeting("o1")); r.ErrCode != 43101 {
		t.Fatalf("third send on two credits: %+v", r)
	}
	// Long-term: unlimited after one accept.
	clinic := map[string]any{"touser": "oLong", "template_id": ClinicTemplateID, "miniprogram_state": "formal", "lang": "zh_CN",
		"data": map[string]any{"name1": map[string]string{"value": "张三"}, "time2": map[string]string{"value": "2026-12-01 14:00"},
			"thing3": map[string]string{"value": "内科"}, "phone_number4": map[string]string{"value": "+86-0766-66888866"}}}
	for range 3 {
		if r := send(t, s, tok, clinic); r.ErrCode != 0 {
			t.Fatalf("long-term send: %+v", r)
		}
	}
	sends := s.Sends()
	if len(sends) != 5 || sends[0].MsgID != ids[0] || sends[0].Data["thing1"] != "项目评审会" || sends[0].Page != "pages/meeting/detail?id=1" {
		t.Fatalf("record of sends: %+v", sends)
	}
}

func TestSendValidatesValuesByKeywordType(t *testing.T) {
	s, _ := newFake(t)
	tok := stable(t, s, false).AccessToken
	s.Grant("o1", MeetingTemplateID, 1)
	m := meeting("o1")
	m["data"].(map[string]any)["time2"] = map[string]string{"value": "2026-12-01 14:00～15:00"}
	if r := send(t, s, tok, m); r.ErrCode != 47003 || !strings.Contains(r.ErrMsg, "data.time2.value invalid") {
		t.Fatalf("full-width range: %+v, want 47003 naming data.time2", r)
	}
	m["data"].(map[string]any)["time2"] = map[string]string{"value": "2026-12-01 14:00"}
	m["data"].(map[string]any)["thing1"] = map[string]string{"value": strings.Repeat("会", 21)}
	if r := send(t, s, tok, m); r.ErrCode != 47003 || !strings.Contains(r.ErrMsg, "data.thing1.value invalid") {
		t.Fatalf("21-character thing: %+v, want 47003 naming data.thing1", r)
	}
	if s.Credits("o1", MeetingTemplateID) != 1 {
		t.Fatal("invalid value consumed a credit")
	}
}

func TestConcurrentSendsToOneOpenID(t *testing.T) {
	s, _ := newFake(t)
	tok := stable(t, s, false).AccessToken
	s.Grant("o1", MeetingTemplateID, 5)
	s.Grant("o2", MeetingTemplateID, 5)
	s.SetFaults(Faults{Latency: 200 * time.Millisecond})
	var wg sync.WaitGroup
	codes := make(chan string, 3)
	for _, o := range []string{"o1", "o1", "o2"} {
		wg.Go(func() { codes <- fmt.Sprintf("%s:%d", o, send(t, s, tok, meeting(o)).ErrCode) })
	}
	wg.Wait()
	close(codes)
	got := map[string]int{}
	for c := range codes {
		got[c]++
	}
	if got["o1:0"] != 1 || got["o1:43108"] != 1 || got["o2:0"] != 1 {
		t.Fatalf("answers %v, want one o1 success, one o1 43108, o2 unaffected", got)
	}
}

func TestDailyQuotaResetsAtBeijingMidnight(t *testing.T) {
	s, clock := newFake(t)
	clock.Set(time.Date(2026, 12, 1, 15, 0, 0, 0, time.UTC)) // 23:00 in Beijing
	tok := stable(t, s, false).AccessToken
	s.Grant("o1", MeetingTemplateID, 5)
	s.SetFaults(Faults{DailyQuota: 2})
	for i, want := range []int{0, 0, 45009} {
		if r := send(t, s, tok, meeting("o1")); r.ErrCode != want {
			t.Fatalf("send %d: %+v, want %d", i, r, want)
		}
	}
	if got, want := s.QuotaResetsAt(), time.Date(2026, 12, 1, 16, 0, 0, 0, time.UTC); !got.Equal(want) {
		t.Fatalf("QuotaResetsAt = %v, want %v", got, want)
	}
	clock.Set(time.Date(2026, 12, 1, 16, 0, 1, 0, time.UTC))
	if r := send(t, s, tok, meeting("o1")); r.ErrCode != 0 {
		t.Fatalf("after reset: %+v", r)
	}
}

func TestFaults(t *testing.T) {
	s, _ := newFake(t)
	tok := stable(t, s, false).AccessToken
	s.Grant("o1", MeetingTemplateID, 5)
	s.SetFaults(Faults{BusyRate: 1})
	if r := send(t, s, tok, meeting("o1")); r.ErrCode != -1 {
		t.Fatalf("busy: %+v", r)
	}
	s.SetFaults(Faults{HTTP500Rate: 1})
	if r := send(t, s, tok, meeting("o1")); r.status != 500 {
		t.Fatalf("500: %+v", r)
	}
	s.SetFaults(Faults{HangRate: 1})
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	b, _ := json.Marshal(meeting("o1"))
	req, _ := http.NewRequestWithContext(ctx, "POST", s.URL+"/cgi-bin/message/subscribe/send?access_token="+tok, bytes.NewReader(b))
	if _, err := http.DefaultClient.Do(req); err == nil {
		t.Fatal("hang: got an answer")
	}
	// Token endpoints are unaffected unless AllEndpoints.
	if a := stable(t, s, false); a.ErrCode != 0 {
		t.Fatalf("stable_token hit by send faults: %+v", a)
	}
	// A share: about half of 400 sends are -1 with BusyRate 0.5.
	s.SetFaults(Faults{BusyRate: 0.5})
	s.Grant("o1", MeetingTemplateID, 1000)
	busy := 0
	for range 400 {
		if send(t, s, tok, meeting("o1")).ErrCode == -1 {
			busy++
		}
	}
	if busy < 150 || busy > 250 {
		t.Fatalf("BusyRate 0.5 gave %d/400", busy)
	}
	if s.Credits("o1", MeetingTemplateID) != 1005-(400-busy) {
		t.Fatal("failed sends consumed credits")
	}
}

func TestPopupRules(t *testing.T) {
	s, _ := newFake(t)
	ctx := context.Background()
	res, err := s.Popup(ctx, "o1", map[string]string{MeetingTemplateID: "accept", DeadlineTemplateID: "reject"})
	if err != nil {
		t.Fatal(err)
	}
	if res[MeetingTemplateID] != "accept" || res["errMsg"] != "requestSubscribeMessage:ok" {
		t.Fatalf("popup result %v", res)
	}
	if s.Credits("o1", MeetingTemplateID) != 1 || s.Credits("o1", DeadlineTemplateID) != 0 {
		t.Fatal("accept must add one credit, reject none")
	}
	_, _ = s.Popup(ctx, "o1", map[string]string{MeetingTemplateID: "acceptWithAudio"})
	if s.Credits("o1", MeetingTemplateID) != 2 {
		t.Fatal("accepts must accumulate (acceptWithAudio counts as accept)")
	}
	for name, answers := range map[string]map[string]string{
		"four ids": {MeetingTemplateID: "accept", DeadlineTemplateID: "accept", "a": "accept", "b": "accept"},
		"mixed":    {MeetingTemplateID: "accept", ClinicTemplateID: "accept"},
		"unknown":  {"nope": "accept"},
		"none":     {},
	} {
		if _, err := s.Popup(ctx, "o1", answers); err == nil {
			t.Errorf("%s: popup accepted", name)
		}
	}
	if err := s.Unsubscribe(ctx, "o1", MeetingTemplateID); err != nil {
		t.Fatal(err)
	}
	if s.Credits("o1", MeetingTemplateID) != 0 {
		t.Fatal("unsubscribe must zero the credits")
	}
}

func TestStartRefusesNonLoopback(t *testing.T) {
	if _, err := Start("0.0.0.0:0", Options{}); err == nil {
		t.Fatal("Start on 0.0.0.0 must be refused")
	}
	s, err := Start("127.0.0.1:0", Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if a := stable(t, s, false); a.AccessToken == "" {
		t.Fatalf("started fake does not answer: %+v", a)
	}
}

func TestHTTPControls(t *testing.T) {
	s, _ := newFake(t)
	resp, err := http.Post(s.URL+"/fake/login", "application/json", strings.NewReader(`{"openid":"oX"}`))
	if err != nil {
		t.Fatal(err)
	}
	var login struct{ Code, OpenID string }
	_ = json.NewDecoder(resp.Body).Decode(&login)
	resp.Body.Close()
	if login.Code == "" {
		t.Fatal("no code")
	}
	body := fmt.Sprintf(`{"openid":"oX","answers":{%q:"accept"}}`, MeetingTemplateID)
	resp, err = http.Post(s.URL+"/fake/popup", "application/json", strings.NewReader(body))
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("popup control: %v %v", err, resp.Status)
	}
	resp.Body.Close()
	if s.Credits("oX", MeetingTemplateID) != 1 {
		t.Fatal("popup control did not add a credit")
	}
	resp, _ = http.Post(s.URL+"/fake/popup", "application/json", strings.NewReader(`{`))
	if resp.StatusCode != 400 {
		t.Fatalf("malformed control body: %v", resp.Status)
	}
	resp.Body.Close()
}

// receiver is a push endpoint that opens what the fake pushes.
func receiver(t *testing.T, token, aesKey string, now func() time.Time) (*httptest.Server, chan *wechat.Event) {
	rcv, err := wechat.NewReceiver(wechat.PushConfig{Token: token, AESKey: aesKey, AppID: DefaultAppID, Now: now})
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
		io.WriteString(w, "success")
	}))
	t.Cleanup(srv.Close)
	return srv, events
}

func TestPushedEventsAreSignedEncryptedAndParse(t *testing.T) {
	for _, format := range []struct {
		name   string
		json   bool
		aesKey string
	}{{"xml safe", false, strings.Repeat("A", 43)}, {"json safe", true, strings.Repeat("B", 43)}, {"json plain", true, ""}} {
		t.Run(format.name, func(t *testing.T) {
			s, clock := newFake(t)
			srv, events := receiver(t, "pushtoken", format.aesKey, clock.Now)
			if err := s.SetPush(srv.URL, "pushtoken", format.aesKey, format.json); err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			if _, err := s.Popup(ctx, "o1", map[string]string{MeetingTemplateID: "accept", DeadlineTemplateID: "reject"}); err != nil {
				t.Fatal(err)
			}
			ev := <-events
			if ev.Event != "subscribe_msg_popup_event" || ev.FromUserName != "o1" || len(ev.Popup) != 2 {
				t.Fatalf("popup event %+v", ev)
			}
			tok := stable(t, s, false).AccessToken
			r := send(t, s, tok, meeting("o1"))
			s.WaitPushes()
			ev = <-events
			id, _ := r.MsgID.Int64()
			if ev.Event != "subscribe_msg_sent_event" || len(ev.Sent) != 1 || ev.Sent[0].MsgID != id || ev.Sent[0].ErrorCode != 0 {
				t.Fatalf("sent event %+v for msgid %d", ev, id)
			}
			if err := s.Unsubscribe(ctx, "o1", MeetingTemplateID); err != nil {
				t.Fatal(err)
			}
			if ev = <-events; ev.Event != "subscribe_msg_change_event" || ev.Change[0].TemplateID != MeetingTemplateID {
				t.Fatalf("change event %+v", ev)
			}
			for _, p := range s.Pushes() {
				if p.Status != 200 || p.Body != "success" {
					t.Fatalf("push record %+v", p)
				}
			}
		})
	}
}

func TestPushToWrongTokenIsRejectedByReceiver(t *testing.T) {
	s, clock := newFake(t)
	srv, _ := receiver(t, "right", strings.Repeat("A", 43), clock.Now)
	_ = s.SetPush(srv.URL, "wrong", strings.Repeat("A", 43), true)
	if _, err := s.Popup(context.Background(), "o1", map[string]string{MeetingTemplateID: "accept"}); err == nil {
		t.Fatal("push signed with the wrong token was accepted")
	}
	if p := s.Pushes(); len(p) != 1 || p[0].Status != 400 {
		t.Fatalf("push records %+v", p)
	}
}

// ReportAccept grants what reminderd was told the user accepted, once per
// report, and pairs with the fake's own popup within PairWindow, either way
// round, as reminderd's ledger pairs a report with the popup event.
func TestReportAcceptPairsWithPopups(t *testing.T) {
	clock := NewClock(time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC))
	s := New(Options{Now: clock.Now})
	defer s.Close()
	for _, tm := range DemoTemplates() {
		s.AddTemplate(tm)
	}
	ctx := context.Background()
	accept := map[string]string{MeetingTemplateID: "accept"}
	credits := func() int { return s.Credits("o1", MeetingTemplateID) }

	// A report alone: granted.
	if g, err := s.ReportAccept("o1", MeetingTemplateID); err != nil || !g || credits() != 1 {
		t.Fatalf("report alone: granted %v, %v, credits %d", g, err, credits())
	}
	// A popup within the window after it is the same accept.
	clock.Advance(PairWindow - time.Second)
	if _, err := s.Popup(ctx, "o1", accept); err != nil || credits() != 1 {
		t.Fatalf("popup after the report: %v, credits %d, want 1", err, credits())
	}
	// A popup, then its report: one accept.
	clock.Advance(time.Hour)
	if _, err := s.Popup(ctx, "o1", accept); err != nil || credits() != 2 {
		t.Fatalf("popup: %v, credits %d", err, credits())
	}
	if g, err := s.ReportAccept("o1", MeetingTemplateID); err != nil || g || credits() != 2 {
		t.Fatalf("report of the popup: granted %v, %v, credits %d, want 2", g, err, credits())
	}
	// A second report of it is another accept (reminderd counts it too).
	if g, _ := s.ReportAccept("o1", MeetingTemplateID); !g || credits() != 3 {
		t.Fatalf("second report: granted %v, credits %d, want 3", g, credits())
	}
	// A popup reported after the window: two accepts, as reminderd sees them.
	clock.Advance(time.Hour)
	_, _ = s.Popup(ctx, "o1", accept)
	clock.Advance(PairWindow + time.Second)
	if g, _ := s.ReportAccept("o1", MeetingTemplateID); !g || credits() != 5 {
		t.Fatalf("report after the window: granted %v, credits %d, want 5", g, credits())
	}
	// Another user's popup pairs with nothing of o1's.
	_, _ = s.Popup(ctx, "o2", accept)
	if g, _ := s.ReportAccept("o1", MeetingTemplateID); !g {
		t.Fatal("o1's report paired with o2's popup")
	}
	if _, err := s.ReportAccept("o1", "nope"); err == nil {
		t.Fatal("an unknown template was granted")
	}
}
