package api_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/reminderd/reminderd/internal/api"
	"github.com/reminderd/reminderd/internal/catalog"
	"github.com/reminderd/reminderd/internal/db"
	"github.com/reminderd/reminderd/internal/db/postgres"
	"github.com/reminderd/reminderd/internal/store"
	"github.com/reminderd/reminderd/internal/testkit"
	"github.com/reminderd/reminderd/internal/wechat"
	"github.com/reminderd/reminderd/internal/wechat/wechattest"
)

func TestSession(t *testing.T) {
	h := newHarness(t)
	code := h.fake.IssueCode("oA")
	r := h.do("POST", "/v1/session", "", map[string]string{"code": code})
	h.want(r, 200, "")
	if r.str("openid") != "oA" || len(r.str("token")) < 40 {
		t.Fatalf("session answer %s", r.raw)
	}
	if exp, err := time.Parse(time.RFC3339, r.str("expires_at")); err != nil || !exp.Equal(t0.Add(30*24*time.Hour)) {
		t.Fatalf("expires_at %q", r.str("expires_at"))
	}
	if strings.Contains(r.raw, "session_key") || strings.Contains(r.raw, "FAKE_SESSION_KEY") {
		t.Fatalf("session_key left the server: %s", r.raw)
	}
	// The token works; the code does not work twice.
	h.want(h.do("GET", "/v1/consents", r.str("token"), nil), 200, "")
	h.want(h.do("POST", "/v1/session", "", map[string]string{"code": code}), 401, "invalid_code")
	h.want(h.do("POST", "/v1/session", "", map[string]string{"code": "forged"}), 401, "invalid_code")
	h.fake.BlockUser("oBlocked")
	h.want(h.do("POST", "/v1/session", "", map[string]string{"code": h.fake.IssueCode("oBlocked")}), 401, "invalid_code")
	r = h.do("POST", "/v1/session", "", map[string]string{})
	h.want(r, 422, "validation_failed")
	if r.field("code") == "" {
		t.Fatalf("missing code not named: %s", r.raw)
	}
	// Only a hash of the token is stored.
	var stored string
	if err := testkit.QueryRow(h.t, h.db, `SELECT token_hash FROM sessions`).Scan(&stored); err != nil {
		t.Fatal(err)
	}
	if stored == r.str("token") || len(stored) != 64 {
		t.Fatalf("sessions table holds %q", stored)
	}
	// Expiry, also of a session already used (and so remembered).
	tok := h.login("oA")
	h.want(h.do("GET", "/v1/consents", tok, nil), 200, "")
	h.clock.Advance(30 * 24 * time.Hour)
	h.want(h.do("GET", "/v1/consents", tok, nil), 401, "unauthorized")
	h.clock.Advance(time.Second)
	h.want(h.do("GET", "/v1/consents", tok, nil), 401, "unauthorized")
}

func TestSessionWeChatUnavailable(t *testing.T) {
	h := newHarness(t)
	h.fake.SetFaults(wechattest.Faults{BusyRate: 1, AllEndpoints: true})
	h.want(h.do("POST", "/v1/session", "", map[string]string{"code": h.fake.IssueCode("oA")}), 503, "unavailable")
	h.fake.Close()
	h.want(h.do("POST", "/v1/session", "", map[string]string{"code": "x"}), 503, "unavailable")
}

type loginFunc func(context.Context, string) (wechat.Session, error)

func (f loginFunc) Code2Session(ctx context.Context, code string) (wechat.Session, error) {
	return f(ctx, code)
}

func TestSessionRateLimited(t *testing.T) {
	d := testkit.Store(t)
	limited := loginFunc(func(context.Context, string) (wechat.Session, error) {
		return wechat.Session{}, fmt.Errorf("code2session: %w", wechat.ErrRateLimited)
	})
	srv := httptest.NewServer(api.New(api.Config{DB: d, Catalog: catalog.New(d, nil, time.Now, nil), Login: limited}))
	defer srv.Close()
	h := &harness{t: t, srv: srv}
	r := h.do("POST", "/v1/session", "", map[string]string{"code": "abc"})
	h.want(r, 429, "rate_limited")
	if r.header.Get("Retry-After") == "" {
		t.Fatal("429 without Retry-After")
	}
}

func TestBadBodies(t *testing.T) {
	h := newHarness(t)
	tok := h.login("oA")
	for _, tc := range []struct {
		name   string
		body   string
		status int
		code   string
	}{
		{"empty", "", 400, "invalid_json"},
		{"malformed", `{"code":`, 400, "invalid_json"},
		{"syntax", `{"code" "x"}`, 400, "invalid_json"},
		{"not an object", `[1,2]`, 400, "invalid_json"},
		{"unknown field", `{"code":"x","extra":1}`, 400, "invalid_json"},
		{"wrong type", `{"code":42}`, 422, "validation_failed"},
		{"trailing data", `{"code":"x"} {"code":"y"}`, 400, "invalid_json"},
		{"too large", `{"code":"` + strings.Repeat("a", api.MaxBodyBytes) + `"}`, 413, "body_too_large"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h.t = t
			h.want(h.do("POST", "/v1/session", "", tc.body), tc.status, tc.code)
			h.want(h.do("POST", "/v1/reminders", tok, strings.Replace(tc.body, `"code"`, `"template_id"`, 1)), tc.status, tc.code)
		})
	}
	h.t = t
	r := h.do("POST", "/v1/reminders", tok, `{"template_id":"x","bogus":true}`)
	if !strings.Contains(r.raw, "bogus") {
		t.Fatalf("unknown field not named: %s", r.raw)
	}
	var n int
	if err := testkit.QueryRow(h.t, h.db, `SELECT count(*) FROM reminders`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Fatal("a bad body created a reminder")
	}
}

func TestRoutesAnswerInContractShape(t *testing.T) {
	h := newHarness(t)
	h.want(h.do("GET", "/nope", "", nil), 404, "not_found")
	h.want(h.do("PUT", "/v1/session", "", nil), 405, "method_not_allowed")
	h.want(h.do("GET", "/healthz", "", nil), 200, "")
	h.want(h.do("GET", "/readyz", "", nil), 200, "")
}

func TestReadyzWaitsForTemplates(t *testing.T) {
	d := testkit.Store(t)
	fake := wechattest.New(wechattest.Options{})
	defer fake.Close()
	fake.AddTemplate(wechattest.DemoTemplates()[0])
	client, _ := wechat.New(wechat.Config{BaseURL: fake.URL, AppID: fake.AppID(), Secret: fake.Secret()})
	cat := catalog.New(d, client, time.Now, nil)
	srv := httptest.NewServer(api.New(api.Config{DB: d, Catalog: cat, Login: client}))
	defer srv.Close()
	h := &harness{t: t, srv: srv}
	r := h.do("GET", "/readyz", "", nil)
	h.want(r, 503, "unavailable")
	if !strings.Contains(r.raw, "templates") {
		t.Fatalf("readyz does not say what is missing: %s", r.raw)
	}
	if err := cat.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	h.want(h.do("GET", "/readyz", "", nil), 200, "")
	// A restart with WeChat down serves the last known templates.
	fake.SetFaults(wechattest.Faults{HTTP500Rate: 1, AllEndpoints: true})
	cat2 := catalog.New(d, client, time.Now, nil)
	if err := cat2.Load(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := cat2.SyncIfDue(context.Background()); err == nil {
		t.Fatal("sync succeeded against a failing WeChat")
	}
	if !cat2.Ready() || len(cat2.List()) != 1 {
		t.Fatal("failed sync dropped the last known templates")
	}
}

func TestTemplates(t *testing.T) {
	h := newHarness(t)
	r := h.do("GET", "/v1/templates", h.login("oA"), nil)
	h.want(r, 200, "")
	ts := r.body["templates"].([]any)
	if len(ts) != len(wechattest.SandboxTemplates()) {
		t.Fatalf("templates: %s", r.raw)
	}
	m := ts[0].(map[string]any)
	f := m["fields"].([]any)[0].(map[string]any)
	if m["id"] != meetingID || m["kind"] != "one_time" || f["key"] != "thing1" || f["type"] != "thing" || f["label"] != "会议名称" {
		t.Fatalf("meeting template: %v", m)
	}
	if ts[2].(map[string]any)["kind"] != "long_term" {
		t.Fatal("long-term kind")
	}
}

func credits(t *testing.T, r resp, tmpl string) float64 {
	t.Helper()
	for _, c := range r.body["consents"].([]any) {
		m := c.(map[string]any)
		if m["template_id"] == tmpl {
			return m["credits"].(float64)
		}
	}
	return 0
}

func TestConsentsReportAndEventCountOnce(t *testing.T) {
	h := newHarness(t)
	tok := h.login("oA")
	ctx := context.Background()
	// The user taps: WeChat pushes the popup event, the mini-program reports the result.
	res, err := h.fake.Popup(ctx, "oA", map[string]string{meetingID: "accept"})
	if err != nil {
		t.Fatal(err)
	}
	r := h.do("POST", "/v1/consents", tok, map[string]any{"results": res})
	h.want(r, 200, "")
	if got := credits(t, r, meetingID); got != 1 {
		t.Fatalf("one accept seen twice gave %v credits", got)
	}
	// A second accept, reported first this time.
	h.clock.Advance(10 * time.Second)
	h.want(h.do("POST", "/v1/consents", tok, map[string]any{"results": map[string]string{meetingID: "accept", "errMsg": "requestSubscribeMessage:ok"}}), 200, "")
	if _, err := h.fake.Popup(ctx, "oA", map[string]string{meetingID: "accept"}); err != nil {
		t.Fatal(err)
	}
	r = h.do("GET", "/v1/consents", tok, nil)
	if got := credits(t, r, meetingID); got != 2 {
		t.Fatalf("two accepts gave %v credits", got)
	}
	// An event alone (the mini-program never reported) still counts.
	h.clock.Advance(time.Hour)
	if _, err := h.fake.Popup(ctx, "oA", map[string]string{meetingID: "acceptWithAudio", deadlineID: "reject"}); err != nil {
		t.Fatal(err)
	}
	r = h.do("GET", "/v1/consents", tok, nil)
	if credits(t, r, meetingID) != 3 {
		t.Fatalf("event-only accept: %s", r.raw)
	}
	// Unsubscribing in settings zeroes the ledger.
	if err := h.fake.Unsubscribe(ctx, "oA", meetingID); err != nil {
		t.Fatal(err)
	}
	r = h.do("GET", "/v1/consents", tok, nil)
	if credits(t, r, meetingID) != 0 || !strings.Contains(r.raw, `"unsubscribed"`) {
		t.Fatalf("after unsubscribe: %s", r.raw)
	}
}

func TestConsentReportValidation(t *testing.T) {
	h := newHarness(t)
	tok := h.login("oA")
	r := h.do("POST", "/v1/consents", tok, map[string]any{"results": map[string]string{"nope": "accept", meetingID: "maybe"}})
	h.want(r, 422, "validation_failed")
	if r.field("results.nope") == "" || r.field("results."+meetingID) != "" {
		t.Fatalf("the unknown template must be named, the unknown value not refused: %s", r.raw)
	}
	// A result value WeChat might add later is ignored, not refused.
	h.want(h.do("POST", "/v1/consents", tok, map[string]any{"results": map[string]string{meetingID: "maybe"}}), 200, "")
	h.want(h.do("POST", "/v1/consents", tok, map[string]any{"results": map[string]string{"errMsg": "requestSubscribeMessage:ok"}}), 422, "validation_failed")
	h.want(h.do("POST", "/v1/consents", tok, map[string]any{}), 422, "validation_failed")
	// Nothing was recorded by the rejected requests.
	r = h.do("GET", "/v1/consents", tok, nil)
	if len(r.body["consents"].([]any)) != 0 {
		t.Fatalf("rejected report changed the ledger: %s", r.raw)
	}
	// reject/ban/filter change the status, not the credits; long-term grants.
	h.do("POST", "/v1/consents", tok, map[string]any{"results": map[string]string{meetingID: "accept"}})
	h.clock.Advance(time.Second)
	r = h.do("POST", "/v1/consents", tok, map[string]any{"results": map[string]string{meetingID: "reject", clinicID: "accept"}})
	h.want(r, 200, "")
	for _, c := range r.body["consents"].([]any) {
		m := c.(map[string]any)
		switch m["template_id"] {
		case meetingID:
			if m["status"] != "reject" || m["credits"] != 1.0 {
				t.Fatalf("meeting after reject: %v", m)
			}
		case clinicID:
			if m["long_term"] != true || m["status"] != "accept" {
				t.Fatalf("long-term accept: %v", m)
			}
		}
	}
}

func TestConsentPrompt(t *testing.T) {
	h := newHarness(t)
	tok := h.login("oA")
	prompt := func() []any {
		r := h.do("GET", "/v1/consents/prompt", tok, nil)
		h.want(r, 200, "")
		return r.body["template_ids"].([]any)
	}
	if got := prompt(); len(got) != 0 {
		t.Fatalf("no reminders, prompt %v", got)
	}
	deadline := map[string]any{"template_id": deadlineID, "fire_at": t0.Add(2 * time.Hour).Format(time.RFC3339),
		"data": map[string]string{"thing1": "提交报告", "date2": "2026-12-02", "enum_string3": "高", "character_string4": "A-1"}}
	h.create(tok, deadline)
	h.create(tok, meeting(3*time.Hour))
	h.create(tok, meeting(4*time.Hour))
	clinic := map[string]any{"template_id": clinicID, "fire_at": t0.Add(time.Hour).Format(time.RFC3339),
		"data": map[string]string{"name1": "张三", "time2": "2026-12-01 11:00", "thing3": "内科", "phone_number4": "13800000000"}}
	h.create(tok, clinic)
	// The clinic (long-term) reminder is the most urgent: its kind goes alone.
	if got := prompt(); len(got) != 1 || got[0] != clinicID {
		t.Fatalf("prompt %v, want the long-term template alone", got)
	}
	h.do("POST", "/v1/consents", tok, map[string]any{"results": map[string]string{clinicID: "accept"}})
	if got := prompt(); len(got) != 2 || got[0] != deadlineID || got[1] != meetingID {
		t.Fatalf("prompt %v, want deadline then meeting", got)
	}
	// One meeting credit covers the first meeting, not the second.
	h.do("POST", "/v1/consents", tok, map[string]any{"results": map[string]string{meetingID: "accept", deadlineID: "accept"}})
	if got := prompt(); len(got) != 1 || got[0] != meetingID {
		t.Fatalf("prompt %v, want meeting (two reminders, one credit)", got)
	}
	h.clock.Advance(3 * time.Second)
	h.do("POST", "/v1/consents", tok, map[string]any{"results": map[string]string{meetingID: "accept"}})
	if got := prompt(); len(got) != 0 {
		t.Fatalf("everything covered, prompt %v", got)
	}
}

func TestCreateReminder(t *testing.T) {
	h := newHarness(t)
	tok := h.login("oA")
	h.do("POST", "/v1/consents", tok, map[string]any{"results": map[string]string{meetingID: "accept"}})
	body := meeting(time.Hour)
	body["expires_at"] = t0.Add(90 * time.Minute).Format(time.RFC3339)
	rem := h.create(tok, body)
	if !strings.HasPrefix(rem["id"].(string), "rem_") || rem["status"] != "scheduled" || rem["openid"] != "oA" ||
		rem["reason"] != nil || rem["recurrence"] != nil || rem["timezone"] != "Asia/Shanghai" || rem["attempts"] != 0.0 {
		t.Fatalf("reminder %v", rem)
	}
	if rem["fire_at"] != "2026-12-01T18:00:00+08:00" || rem["expires_at"] != "2026-12-01T18:30:00+08:00" {
		t.Fatalf("instants %v %v", rem["fire_at"], rem["expires_at"])
	}
	if d := rem["data"].(map[string]any); d["thing3"] != "A栋201会议室" || rem["page"] != "pages/meeting/detail?id=42" {
		t.Fatalf("data/page %v", rem)
	}
	if c := rem["consent"].(map[string]any); c["credits"] != 1.0 || c["covered"] != true {
		t.Fatalf("consent %v", c)
	}
	second := h.create(tok, meeting(2*time.Hour))
	if c := second["consent"].(map[string]any); c["covered"] != false {
		t.Fatalf("second reminder on one credit reported covered: %v", c)
	}
	h.engine.mu.Lock()
	woke := len(h.engine.times)
	h.engine.mu.Unlock()
	if woke != 2 {
		t.Fatalf("scheduler woken %d times for 2 creates", woke)
	}
}

func TestCoverageCountsCreditsHeldByClaims(t *testing.T) {
	// Two accepts, two reminders; the first is claimed by the scheduler,
	// which reserves its credit (the ledger shows one left). Both are
	// covered, and the planner asks for nothing.
	h := newHarness(t)
	tok := h.login("oA")
	for range 2 {
		h.do("POST", "/v1/consents", tok, map[string]any{"results": map[string]string{meetingID: "accept"}})
		h.clock.Advance(3 * time.Second)
	}
	first := h.create(tok, meeting(time.Hour))
	second := h.create(tok, meeting(2*time.Hour))
	ctx := context.Background()
	// The engine claims the first (due in an hour), holding one credit.
	claims, err := h.db.ClaimDue(ctx, store.ClaimParams{Now: t0.Add(time.Hour), LeaseUntil: t0.Add(time.Hour + time.Minute), Owner: "engine", Max: 1,
		Kind: func(string, string) (store.TemplateKind, bool) { return store.KindOneTime, true }})
	if err != nil || len(claims) != 1 || claims[0].Reminder.ID != first["id"].(string) || !claims[0].Reminder.CreditHeld {
		t.Fatalf("claimed %+v (%v), want the first holding a credit", claims, err)
	}
	for _, id := range []string{first["id"].(string), second["id"].(string)} {
		r := h.do("GET", "/v1/reminders/"+id, tok, nil)
		h.want(r, 200, "")
		if c := r.body["consent"].(map[string]any); c["credits"] != 1.0 || c["covered"] != true {
			t.Fatalf("%s (%v): consent %v", id, r.body["status"], c)
		}
	}
	if got := h.do("GET", "/v1/consents/prompt", tok, nil).body["template_ids"].([]any); len(got) != 0 {
		t.Fatalf("prompt %v with every reminder covered", got)
	}
}

func TestCreateReminderValidation(t *testing.T) {
	h := newHarness(t)
	tok := h.login("oA")
	mod := func(f func(m map[string]any)) map[string]any {
		m := meeting(time.Hour)
		f(m)
		return m
	}
	data := func(m map[string]any) map[string]string { return m["data"].(map[string]string) }
	for _, tc := range []struct {
		name  string
		body  map[string]any
		field string
		hint  string
	}{
		{"unknown template", mod(func(m map[string]any) { m["template_id"] = "nope" }), "template_id", "unknown"},
		{"no template", mod(func(m map[string]any) { delete(m, "template_id") }), "template_id", "required"},
		{"no data", mod(func(m map[string]any) { delete(m, "data") }), "data", "required"},
		{"missing key", mod(func(m map[string]any) { delete(data(m), "thing3") }), "data.thing3", "required"},
		{"unknown key", mod(func(m map[string]any) { data(m)["thing9"] = "x" }), "data.thing9", "not a field"},
		{"thing too long", mod(func(m map[string]any) { data(m)["thing1"] = strings.Repeat("会", 21) }), "data.thing1", "at most 20"},
		{"full-width range", mod(func(m map[string]any) { data(m)["time2"] = "14:00～15:00" }), "data.time2", "～"},
		{"newline", mod(func(m map[string]any) { data(m)["thing3"] = "A栋\n201" }), "data.thing3", "newline"},
		{"empty value", mod(func(m map[string]any) { data(m)["thing1"] = "" }), "data.thing1", "empty"},
		{"non-string value", mod(func(m map[string]any) { m["data"] = map[string]any{"thing1": 5, "time2": "14:00", "thing3": "x"} }), "data.thing1", "string"},
		{"past", mod(func(m map[string]any) { m["fire_at"] = t0.Add(-time.Second).Format(time.RFC3339) }), "fire_at", "past"},
		{"no offset", mod(func(m map[string]any) { m["fire_at"] = "2026-12-01T13:45:00" }), "fire_at", "RFC 3339"},
		{"no fire_at", mod(func(m map[string]any) { delete(m, "fire_at") }), "fire_at", "required"},
		{"expires before fire", mod(func(m map[string]any) { m["expires_at"] = t0.Format(time.RFC3339) }), "expires_at", "before"},
		{"bad zone", mod(func(m map[string]any) { m["timezone"] = "Mars/Base" }), "timezone", "IANA"},
		{"bad recurrence", mod(func(m map[string]any) { m["recurrence"] = "every monday" }), "recurrence", "cron"},
		{"never fires", mod(func(m map[string]any) { m["recurrence"] = "0 0 30 2 *" }), "recurrence", "never"},
		{"bad page", mod(func(m map[string]any) { m["page"] = "/pages/a b" }), "page", "page path"},
		{"bad policy", mod(func(m map[string]any) { m["value_policy"] = "ignore" }), "value_policy", "reject or fit"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h.t = t
			r := h.do("POST", "/v1/reminders", tok, tc.body)
			h.want(r, 422, "validation_failed")
			if !strings.Contains(r.field(tc.field), tc.hint) {
				t.Fatalf("field %s: %q, want it to mention %q (%s)", tc.field, r.field(tc.field), tc.hint, r.raw)
			}
		})
	}
	h.t = t
	var n int
	if err := testkit.QueryRow(h.t, h.db, `SELECT count(*) FROM reminders`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Fatalf("invalid requests created %d reminders", n)
	}
}

func TestCreateReminderFitPolicyAndRecurrence(t *testing.T) {
	h := newHarness(t)
	tok := h.login("oA")
	body := meeting(time.Hour)
	body["value_policy"] = "fit"
	body["data"] = map[string]string{"thing1": strings.Repeat("长", 30), "time2": t0.Add(time.Hour).Format(time.RFC3339), "thing3": "A栋\n201"}
	rem := h.create(tok, body)
	d := rem["data"].(map[string]any)
	if d["thing1"] != strings.Repeat("长", 17)+"..." || d["time2"] != "2026-12-01 18:00" || d["thing3"] != "A栋 201" {
		t.Fatalf("fitted data %v", d)
	}
	// Recurrence without fire_at: the next occurrence in the reminder's zone.
	rec := h.create(tok, map[string]any{"template_id": meetingID, "data": meetingData(), "recurrence": "45 13 * * MON", "timezone": "America/New_York"})
	if rec["fire_at"] != "2026-12-07T13:45:00-05:00" || rec["recurrence"] != "45 13 * * MON" {
		t.Fatalf("recurring reminder %v %v", rec["fire_at"], rec["recurrence"])
	}
}

func TestIdempotencyKey(t *testing.T) {
	h := newHarness(t)
	tok := h.login("oA")
	first := h.do("POST", "/v1/reminders", tok, meeting(time.Hour), "Idempotency-Key", "k1")
	h.want(first, 201, "")
	// Same key and body (whitespace aside): the same reminder, 200 — even once fire_at is past.
	h.clock.Advance(2 * time.Hour)
	again := h.do("POST", "/v1/reminders", tok, meeting(time.Hour), "Idempotency-Key", "k1")
	h.want(again, 200, "")
	if again.str("id") != first.str("id") {
		t.Fatal("same key returned another reminder")
	}
	other := meeting(time.Hour)
	other["page"] = "pages/index/index"
	h.want(h.do("POST", "/v1/reminders", tok, other, "Idempotency-Key", "k1"), 409, "conflict")
	// Keys are per user.
	h.want(h.do("POST", "/v1/reminders", h.login("oB"), meeting(3*time.Hour), "Idempotency-Key", "k1"), 201, "")
	// Concurrent requests with one key create one reminder.
	var wg sync.WaitGroup
	ids := make(chan string, 8)
	for range 8 {
		wg.Go(func() {
			r := h.do("POST", "/v1/reminders", tok, meeting(5*time.Hour), "Idempotency-Key", "race")
			if r.status != 200 && r.status != 201 {
				t.Errorf("concurrent create: %d %s", r.status, r.raw)
			}
			ids <- r.str("id")
		})
	}
	wg.Wait()
	close(ids)
	seen := map[string]bool{}
	for id := range ids {
		seen[id] = true
	}
	if len(seen) != 1 {
		t.Fatalf("one key created %d reminders", len(seen))
	}
	h.want(h.do("POST", "/v1/reminders", tok, meeting(5*time.Hour), "Idempotency-Key", strings.Repeat("k", 256)), 422, "validation_failed")
}

func TestListPagination(t *testing.T) {
	h := newHarness(t)
	a, b := h.login("oA"), h.login("oB")
	var want []string
	for i := range 5 {
		want = append(want, h.create(a, meeting(time.Duration(5-i)*time.Hour))["id"].(string))
	}
	h.create(b, meeting(time.Hour))
	// Listed by fire time: reversed creation order.
	var got []string
	cursor := ""
	for pages := 0; ; pages++ {
		r := h.do("GET", "/v1/reminders?limit=2&cursor="+url.QueryEscape(cursor), a, nil)
		h.want(r, 200, "")
		for _, x := range r.body["reminders"].([]any) {
			got = append(got, x.(map[string]any)["id"].(string))
		}
		if r.body["next_cursor"] == nil {
			break
		}
		cursor = r.body["next_cursor"].(string)
		if pages > 5 {
			t.Fatal("pagination does not end")
		}
	}
	if len(got) != 5 || got[0] != want[4] || got[4] != want[0] {
		t.Fatalf("pages %v, want %v reversed", got, want)
	}
	h.do("DELETE", "/v1/reminders/"+want[0], a, nil)
	r := h.do("GET", "/v1/reminders?status=canceled", a, nil)
	if l := r.body["reminders"].([]any); len(l) != 1 || l[0].(map[string]any)["id"] != want[0] {
		t.Fatalf("status filter: %s", r.raw)
	}
	for _, q := range []string{"limit=0", "limit=201", "limit=x", "cursor=***", "cursor=bm9waXBl", "status=done", "openid=oB"} {
		h.want(h.do("GET", "/v1/reminders?"+q, a, nil), 422, "validation_failed")
	}
}

func TestGetPatchDelete(t *testing.T) {
	h := newHarness(t)
	a, b := h.login("oA"), h.login("oB")
	id := h.create(a, meeting(time.Hour))["id"].(string)
	r := h.do("GET", "/v1/reminders/"+id, a, nil)
	h.want(r, 200, "")
	if ds, ok := r.body["deliveries"].([]any); !ok || len(ds) != 0 {
		t.Fatalf("deliveries: %s", r.raw)
	}
	h.want(h.do("GET", "/v1/reminders/"+id, b, nil), 404, "not_found")
	h.want(h.do("GET", "/v1/reminders/rem_missing", a, nil), 404, "not_found")

	r = h.do("PATCH", "/v1/reminders/"+id, a, map[string]any{"fire_at": t0.Add(30 * time.Minute).Format(time.RFC3339),
		"data": map[string]string{"thing3": "B栋"}, "expires_at": t0.Add(time.Hour).Format(time.RFC3339)})
	h.want(r, 200, "")
	d := r.body["data"].(map[string]any)
	if r.str("fire_at") != "2026-12-01T17:30:00+08:00" || d["thing3"] != "B栋" || d["thing1"] != "项目评审会" || r.str("expires_at") != "2026-12-01T18:00:00+08:00" {
		t.Fatalf("patched %s", r.raw)
	}
	r = h.do("PATCH", "/v1/reminders/"+id, a, map[string]any{"expires_at": nil, "page": "pages/index/index"})
	h.want(r, 200, "")
	if r.body["expires_at"] != nil || r.str("page") != "pages/index/index" {
		t.Fatalf("patch to null: %s", r.raw)
	}
	r = h.do("PATCH", "/v1/reminders/"+id, a, map[string]any{"data": map[string]string{"thing1": strings.Repeat("x", 21)}, "fire_at": "yesterday"})
	h.want(r, 422, "validation_failed")
	if r.field("data.thing1") == "" || r.field("fire_at") == "" {
		t.Fatalf("patch validation: %s", r.raw)
	}
	h.want(h.do("PATCH", "/v1/reminders/"+id, a, map[string]any{"status": "sent"}), 400, "invalid_json")
	h.want(h.do("PATCH", "/v1/reminders/"+id, b, map[string]any{"page": ""}), 404, "not_found")
	h.want(h.do("DELETE", "/v1/reminders/"+id, b, nil), 404, "not_found")

	r = h.do("DELETE", "/v1/reminders/"+id, a, nil)
	h.want(r, 200, "")
	if r.str("status") != "canceled" {
		t.Fatalf("delete: %s", r.raw)
	}
	h.want(h.do("DELETE", "/v1/reminders/"+id, a, nil), 409, "conflict")
	h.want(h.do("PATCH", "/v1/reminders/"+id, a, map[string]any{"page": ""}), 409, "conflict")
}

func TestReminderWithDeliveriesAndSentEvent(t *testing.T) {
	h := newHarness(t)
	a := h.login("oA")
	id := h.create(a, meeting(time.Hour))["id"].(string)
	// A delivery as the scheduler records it; WeChat's sent event marks it.
	q, body, ev := h.sentDeliveryPush(id)
	rcv := h.receiver()
	r := h.do("POST", "/wechat/push?"+q.Encode(), "", string(body))
	if r.status != 200 || r.raw != "success" {
		t.Fatalf("push: %d %s", r.status, r.raw)
	}
	r = h.do("GET", "/v1/reminders/"+id, a, nil)
	ds := r.body["deliveries"].([]any)
	d := ds[0].(map[string]any)
	if d["msgid"] != "1700000000000000099" || d["delivered"] != true || d["errcode"] != 0.0 || d["status"] != "sent" {
		t.Fatalf("delivery %v", d)
	}
	// A replayed push is answered "success" and changes nothing.
	r = h.do("POST", "/wechat/push?"+q.Encode(), "", string(body))
	if r.status != 200 || r.raw != "success" {
		t.Fatalf("replayed push: %d %s", r.status, r.raw)
	}
	popup := &wechat.Event{ToUserName: "gh_x", FromUserName: "oA", CreateTime: t0.Unix(), MsgType: "event", Event: wechat.EventSubscribeMsgPopup,
		Popup: []wechat.PopupItem{{TemplateID: meetingID, SubscribeStatus: "accept"}}}
	pmsg, _ := wechat.MarshalEvent(popup, false)
	pq, pbody, _ := rcv.Seal(pmsg, "gh_x", false)
	for range 3 { // WeChat retries up to three times
		if r := h.do("POST", "/wechat/push?"+pq.Encode(), "", string(pbody)); r.status != 200 {
			t.Fatalf("popup push: %d %s", r.status, r.raw)
		}
	}
	if c := credits(t, h.do("GET", "/v1/consents", a, nil), meetingID); c != 1 {
		t.Fatalf("one popup event delivered three times gave %v credits", c)
	}
	// A sent event for a send whose outcome is not recorded yet is parked.
	early := &wechat.Event{ToUserName: "gh_x", FromUserName: "oA", CreateTime: t0.Unix(), MsgType: "event", Event: wechat.EventSubscribeMsgSent,
		Sent: []wechat.SentItem{{TemplateID: meetingID, MsgID: 1700000000000000777, ErrorCode: 0, ErrorStatus: "success"}}}
	emsg, _ := wechat.MarshalEvent(early, true)
	eq, ebody, _ := rcv.Seal(emsg, "gh_x", true)
	if r := h.do("POST", "/wechat/push?"+eq.Encode(), "", string(ebody)); r.status != 200 {
		t.Fatalf("early sent event: %d %s", r.status, r.raw)
	}
	var parked int
	if err := testkit.QueryRow(h.t, h.db, `SELECT count(*) FROM pending_sent_events WHERE msgid = 1700000000000000777`).Scan(&parked); err != nil {
		t.Fatal(err)
	}
	if parked != 1 {
		t.Fatal("a sent event that arrived early was dropped")
	}
	// Forged and stale pushes are refused.
	forged := url.Values{}
	for k, v := range q {
		forged[k] = v
	}
	forged.Set("msg_signature", strings.Repeat("0", 40))
	h.want(h.do("POST", "/wechat/push?"+forged.Encode(), "", string(body)), 401, "unauthorized")
	h.clock.Advance(10 * time.Minute)
	msg, _ := wechat.MarshalEvent(ev, true)
	q2, body2, _ := rcv.SealAt(msg, "gh_x", true, t0, "1")
	h.want(h.do("POST", "/wechat/push?"+q2.Encode(), "", string(body2)), 401, "unauthorized")
	h.want(h.do("POST", "/wechat/push?timestamp=1&nonce=1&signature=x", "", "<xml>"), 400, "")
}

func TestPushHandshake(t *testing.T) {
	h := newHarness(t)
	ts := fmt.Sprint(t0.Unix())
	q := url.Values{"signature": {wechat.Signature(pushToken, ts, "n1")}, "timestamp": {ts}, "nonce": {"n1"}, "echostr": {"hello-42"}}
	r := h.do("GET", "/wechat/push?"+q.Encode(), "", nil)
	if r.status != 200 || r.raw != "hello-42" {
		t.Fatalf("handshake: %d %q", r.status, r.raw)
	}
	q.Set("signature", "bad")
	h.want(h.do("GET", "/wechat/push?"+q.Encode(), "", nil), 401, "unauthorized")
}

func TestAdmin(t *testing.T) {
	h := newHarness(t)
	a, b := h.login("oA"), h.login("oB")
	ra := h.create(a, meeting(time.Hour))["id"].(string)
	rb := h.create(b, meeting(2*time.Hour))["id"].(string)
	deadline := map[string]any{"template_id": deadlineID, "fire_at": t0.Add(3 * time.Hour).Format(time.RFC3339),
		"data": map[string]string{"thing1": "提交报告", "date2": "2026-12-02", "enum_string3": "高", "character_string4": "A-1"}}
	rd := h.create(b, deadline)["id"].(string)

	list := func(q string) []string {
		r := h.do("GET", "/admin/v1/reminders?"+q, adminToken, nil)
		h.want(r, 200, "")
		var ids []string
		for _, x := range r.body["reminders"].([]any) {
			ids = append(ids, x.(map[string]any)["id"].(string))
		}
		return ids
	}
	if got := list(""); len(got) != 3 {
		t.Fatalf("admin list %v", got)
	}
	if got := list("openid=oB"); len(got) != 2 {
		t.Fatalf("openid filter %v", got)
	}
	if got := list("template_id=" + deadlineID); len(got) != 1 || got[0] != rd {
		t.Fatalf("template filter %v", got)
	}
	if got := list("openid=oB&template_id=" + meetingID); len(got) != 1 || got[0] != rb {
		t.Fatalf("openid and template filters %v", got)
	}
	if got := list("openid=oA&status=canceled"); len(got) != 0 {
		t.Fatalf("openid and status filters %v", got)
	}
	if got := list("status=scheduled"); len(got) != 3 || got[0] != ra || got[2] != rd {
		t.Fatalf("status filter %v", got)
	}
	if got := list("status=scheduled&template_id=" + deadlineID); len(got) != 1 || got[0] != rd {
		t.Fatalf("status and template filters %v", got)
	}
	if got := list("status=failed"); len(got) != 0 {
		t.Fatalf("status filter %v", got)
	}
	from, to := url.QueryEscape(t0.Add(90*time.Minute).Format(time.RFC3339)), url.QueryEscape(t0.Add(150*time.Minute).Format(time.RFC3339))
	if got := list("from=" + from + "&to=" + to); len(got) != 1 || got[0] != rb {
		t.Fatalf("time range %v", got)
	}
	h.want(h.do("GET", "/admin/v1/reminders?from=yesterday", adminToken, nil), 422, "validation_failed")

	r := h.do("GET", "/admin/v1/reminders/"+ra, adminToken, nil)
	h.want(r, 200, "")
	if _, ok := r.body["deliveries"]; !ok {
		t.Fatal("admin detail without deliveries")
	}
	h.want(h.do("POST", "/admin/v1/reminders/"+ra+"/retry", adminToken, nil), 409, "conflict")
	r = h.do("POST", "/admin/v1/reminders/"+ra+"/cancel", adminToken, nil)
	if r.status != 200 || r.str("status") != "canceled" {
		t.Fatalf("admin cancel: %s", r.raw)
	}
	h.want(h.do("POST", "/admin/v1/reminders/"+ra+"/cancel", adminToken, nil), 409, "conflict")
	h.want(h.do("POST", "/admin/v1/reminders/rem_nope/cancel", adminToken, nil), 404, "not_found")
	h.want(h.do("POST", "/admin/v1/reminders/rem_nope/retry", adminToken, nil), 404, "not_found")

	// A failed reminder is scheduled again, now.
	testkit.Exec(h.t, h.db, `UPDATE reminders SET status='failed', reason='retries_exhausted', attempts=5 WHERE id=?`, rb)
	h.clock.Advance(5 * time.Hour)
	r = h.do("POST", "/admin/v1/reminders/"+rb+"/retry", adminToken, nil)
	h.want(r, 200, "")
	// Attempts continue across the retry (docs/reminders.md).
	if r.str("status") != "scheduled" || r.body["reason"] != nil || r.body["attempts"] != 5.0 || r.str("fire_at") != "2026-12-01T22:00:00+08:00" {
		t.Fatalf("retried %s", r.raw)
	}

	r = h.do("GET", "/admin/v1/stats", adminToken, nil)
	h.want(r, 200, "")
	rs := r.body["reminders"].(map[string]any)
	if rs["scheduled"] != 2.0 || rs["canceled"] != 1.0 || rs["sent"] != 0.0 || r.body["due_backlog"] != 2.0 ||
		r.body["oldest_due_age_seconds"] != 7200.0 || r.body["breaker"] != "closed" || r.body["quota_paused_until"] != nil {
		t.Fatalf("stats %s", r.raw)
	}
	if _, err := time.Parse(time.RFC3339, r.str("token_expires_at")); err != nil {
		t.Fatalf("token_expires_at %s", r.raw)
	}
	r = h.do("GET", "/admin/v1/jobs", adminToken, nil)
	h.want(r, 200, "")
	j := r.body["jobs"].([]any)[0].(map[string]any)
	if j["name"] != "due_scan" || j["schedule"] != "@every 1s" || j["last_error"] != nil || j["next_run_at"] == nil {
		t.Fatalf("jobs %s", r.raw)
	}
}

func TestAuthorizationMatrix(t *testing.T) {
	h := newHarness(t)
	a, b := h.login("oA"), h.login("oB")
	idA := h.create(a, meeting(time.Hour))["id"].(string)
	who := map[string]string{"anonymous": "", "userA": a, "userB": b, "admin": adminToken, "bogus": "not-a-token"}
	type row struct {
		method, path string
		body         any
		want         map[string]int
	}
	user := func(okA, okB int) map[string]int {
		return map[string]int{"anonymous": 401, "userA": okA, "userB": okB, "admin": 401, "bogus": 401}
	}
	adminOnly := map[string]int{"anonymous": 401, "userA": 403, "userB": 403, "admin": 200, "bogus": 401}
	rows := []row{
		{"GET", "/v1/templates", nil, user(200, 200)},
		{"GET", "/v1/consents", nil, user(200, 200)},
		{"GET", "/v1/consents/prompt", nil, user(200, 200)},
		{"GET", "/v1/reminders", nil, user(200, 200)},
		{"GET", "/v1/reminders/" + idA, nil, user(200, 404)},
		{"PATCH", "/v1/reminders/" + idA, map[string]any{"page": "pages/index/index"}, user(200, 404)},
		{"GET", "/admin/v1/reminders", nil, adminOnly},
		{"GET", "/admin/v1/reminders/" + idA, nil, adminOnly},
		{"GET", "/admin/v1/jobs", nil, adminOnly},
		{"GET", "/admin/v1/stats", nil, adminOnly},
		{"POST", "/admin/v1/reminders/" + idA + "/retry", nil, map[string]int{"anonymous": 401, "userA": 403, "userB": 403, "admin": 409, "bogus": 401}},
		{"POST", "/v1/consents", map[string]any{"results": map[string]string{meetingID: "reject"}}, user(200, 200)},
		{"POST", "/v1/reminders", meeting(9 * time.Hour), user(201, 201)},
		{"DELETE", "/v1/reminders/" + idA, nil, user(200, 404)}, // cancels A's reminder
		{"POST", "/admin/v1/reminders/" + idA + "/cancel", nil, map[string]int{"anonymous": 401, "userA": 403, "userB": 403, "admin": 409, "bogus": 401}},
	}
	for _, rw := range rows {
		for _, name := range []string{"anonymous", "userB", "admin", "bogus", "userA"} {
			r := h.do(rw.method, rw.path, who[name], rw.body)
			if r.status != rw.want[name] {
				t.Errorf("%s %s as %s: %d %s, want %d", rw.method, rw.path, name, r.status, r.raw, rw.want[name])
			}
		}
	}
	// B learned nothing: the answers for A's reminder and a missing one are identical.
	x := h.do("GET", "/v1/reminders/"+idA, b, nil)
	y := h.do("GET", "/v1/reminders/rem_doesnotexist", b, nil)
	if x.status != y.status || x.errCode() != y.errCode() || strings.Contains(x.raw, "oA") {
		t.Fatalf("someone else's reminder vs missing: %s vs %s", x.raw, y.raw)
	}
}

func TestAdminDisabledWithoutToken(t *testing.T) {
	d := testkit.Store(t)
	srv := httptest.NewServer(api.New(api.Config{DB: d, Catalog: catalog.New(d, nil, time.Now, nil), Login: loginFunc(nil)}))
	defer srv.Close()
	h := &harness{t: t, srv: srv}
	for _, tok := range []string{"", "anything"} {
		h.want(h.do("GET", "/admin/v1/stats", tok, nil), 403, "forbidden")
	}
}

func TestNoSecretsInResponsesOrLogs(t *testing.T) {
	h := newHarness(t)
	a := h.login("oA")
	h.create(a, meeting(time.Hour))
	tok, err := h.client.AccessToken(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var all strings.Builder
	for _, p := range []string{"/admin/v1/stats", "/admin/v1/reminders", "/admin/v1/jobs"} {
		all.WriteString(h.do("GET", p, adminToken, nil).raw)
	}
	all.WriteString(h.do("GET", "/v1/reminders", a, nil).raw)
	all.WriteString(h.logs.String())
	for _, s := range []string{tok.Value.Reveal(), h.fake.Secret(), "FAKE_SESSION_KEY", adminToken, a, aesKey} {
		if strings.Contains(all.String(), s) {
			t.Fatalf("a secret (%.8s…) appears in a response or log", s)
		}
	}
}

func TestPanicsBecomeContract500(t *testing.T) {
	d := testkit.Store(t)
	boom := loginFunc(func(context.Context, string) (wechat.Session, error) { panic("boom: internal detail") })
	srv := httptest.NewServer(api.New(api.Config{DB: d, Catalog: catalog.New(d, nil, time.Now, nil), Login: boom}))
	defer srv.Close()
	h := &harness{t: t, srv: srv}
	r := h.do("POST", "/v1/session", "", map[string]string{"code": "x"})
	h.want(r, 500, "internal")
	if strings.Contains(r.raw, "boom") {
		t.Fatalf("500 reveals internals: %s", r.raw)
	}
	h.want(h.do("GET", "/healthz", "", nil), 200, "")
	_ = errors.New
}

func TestReminderIDsSortByCreation(t *testing.T) {
	h := newHarness(t)
	a := h.login("oA")
	var ids []string
	for range 3 {
		ids = append(ids, h.create(a, meeting(time.Hour))["id"].(string))
		h.clock.Advance(time.Millisecond)
	}
	for i, id := range ids {
		if len(id) != 24 || !strings.HasPrefix(id, "rem_") {
			t.Fatalf("id %q", id)
		}
		if i > 0 && id <= ids[i-1] {
			t.Fatalf("ids %v do not sort by creation", ids)
		}
	}
}

// An admin listing filtered by template alone reads a bounded stretch per
// page: a page may be short, even empty, and still have a next_cursor;
// following it finds every match once. The admin page says so.
func TestAdminTemplateListingPagesThroughShortPages(t *testing.T) {
	h := newHarness(t)
	defer func(w, pw int64) { db.MaxWalk, postgres.MaxWalk = w, pw }(db.MaxWalk, postgres.MaxWalk)
	db.MaxWalk, postgres.MaxWalk = 3, 3 // each driver's
	a := h.login("oA")
	var want []string
	for i := range 10 {
		id := h.create(a, meeting(time.Duration(i+1)*time.Hour))["id"].(string)
		if i == 7 {
			// Moved to a template of its own (no other reminder has it).
			testkit.Exec(h.t, h.db, `UPDATE reminders SET template_id = 'rare_tmpl' WHERE id = ?`, id)
			want = append(want, id)
		}
	}
	var got []string
	empty, cursor := 0, ""
	for pages := 0; ; pages++ {
		r := h.do("GET", "/admin/v1/reminders?template_id=rare_tmpl&limit=5&cursor="+url.QueryEscape(cursor), adminToken, nil)
		h.want(r, 200, "")
		list := r.body["reminders"].([]any)
		for _, x := range list {
			got = append(got, x.(map[string]any)["id"].(string))
		}
		if r.body["next_cursor"] == nil {
			break
		}
		if len(list) == 0 {
			empty++
		}
		cursor = r.body["next_cursor"].(string)
		if pages > 10 {
			t.Fatal("pagination does not end")
		}
	}
	if !slices.Equal(got, want) || empty == 0 {
		t.Fatalf("found %v (%d empty pages with a cursor), want %v after at least one empty page", got, empty, want)
	}
	res, err := webClient(t, h).Get(h.srv.URL + "/admin/?template_id=rare_tmpl")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if !strings.Contains(string(body), "下一页继续读取") || !strings.Contains(string(body), `id="next-page"`) {
		t.Fatalf("the admin page's first, empty stretch lacks its explanation or its next link:\n%s", body)
	}
}
