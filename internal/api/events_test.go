package api_test

import (
	"context"
	"fmt"
	"io"
	"maps"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/reminderd/reminderd/internal/store"
	"github.com/reminderd/reminderd/internal/wechat/wechattest"
)

const meetingStartID = wechattest.MeetingStartTemplateID

// meetingEvent is a valid event body starting in d, with the contract's
// two templates.
func meetingEvent(d time.Duration, leads ...string) map[string]any {
	return map[string]any{"title": "项目评审会", "start_at": t0.Add(d).Format(time.RFC3339), "location": "A栋201会议室",
		"timezone": "Asia/Shanghai", "page": "pages/meeting/detail?id=42", "external_ref": "meeting-42",
		"leads": leads,
		"templates": []map[string]any{
			{"template_id": meetingID, "data": map[string]string{"thing1": "{title}", "time2": "{start}", "thing3": "{location}"}},
			{"template_id": meetingStartID, "data": map[string]string{"thing1": "{title}", "time4": "{start}"}},
		}}
}

func list(v any) []any             { l, _ := v.([]any); return l }
func obj(v any) map[string]any     { m, _ := v.(map[string]any); return m }
func strOf(v any, k string) string { s, _ := obj(v)[k].(string); return s }

// A created event answers its fields and one reminder per lead, due at
// start_at − lead, expiring at start_at, rendered through the first
// template in the event's zone, with the templates as alternatives.
func TestCreateEvent(t *testing.T) {
	h := newHarness(t)
	tok := h.login("oA")
	r := h.do("POST", "/v1/events", tok, meetingEvent(48*time.Hour, "P1D", "PT15M"))
	h.want(r, 201, "")
	if r.str("status") != "scheduled" || r.str("external_ref") != "meeting-42" || r.str("title") != "项目评审会" ||
		r.str("start_at") != "2026-12-03T17:00:00+08:00" || len(list(r.body["leads_skipped"])) != 0 {
		t.Errorf("event: %s", r.raw)
	}
	if loc := r.header.Get("Location"); loc != "/v1/events/"+r.str("id") {
		t.Errorf("Location %q", loc)
	}
	rems := list(r.body["reminders"])
	if len(rems) != 2 {
		t.Fatalf("reminders: %s", r.raw)
	}
	first, second := obj(rems[0]), obj(rems[1])
	if strOf(first, "lead") != "P1D" || strOf(first, "fire_at") != "2026-12-02T17:00:00+08:00" ||
		strOf(first, "expires_at") != "2026-12-03T17:00:00+08:00" || strOf(first, "event_id") != r.str("id") ||
		strOf(first, "template_id") != meetingID || strOf(second, "lead") != "PT15M" ||
		strOf(second, "fire_at") != "2026-12-03T16:45:00+08:00" {
		t.Errorf("reminders: %v", rems)
	}
	data := obj(first["data"])
	if data["thing1"] != "项目评审会" || data["time2"] != "2026-12-03 17:00" || data["thing3"] != "A栋201会议室" {
		t.Errorf("rendered data: %v", data)
	}
	if alts := list(first["alternatives"]); len(alts) != 2 || alts[1] != meetingStartID {
		t.Errorf("alternatives: %v", first["alternatives"])
	}
	// GET answers the same, and the reminder is the user's own.
	g := h.do("GET", "/v1/events/"+r.str("id"), tok, nil)
	h.want(g, 200, "")
	if len(list(g.body["reminders"])) != 2 || g.str("id") != r.str("id") {
		t.Errorf("GET: %s", g.raw)
	}
	rr := h.do("GET", "/v1/reminders/"+strOf(first, "id"), tok, nil)
	h.want(rr, 200, "")
	if rr.str("event_id") != r.str("id") || rr.str("lead") != "P1D" {
		t.Errorf("the reminder of the event: %s", rr.raw)
	}
	// Another user's event does not exist for them.
	other := h.login("oB")
	h.want(h.do("GET", "/v1/events/"+r.str("id"), other, nil), 404, "not_found")
	h.want(h.do("PATCH", "/v1/events/"+r.str("id"), other, map[string]any{"title": "x"}), 404, "not_found")
	h.want(h.do("DELETE", "/v1/events/"+r.str("id"), other, nil), 404, "not_found")
	if l := h.do("GET", "/v1/events", other, nil); len(list(l.body["events"])) != 0 {
		t.Errorf("another user's listing: %s", l.raw)
	}
}

// A lead already past is skipped and listed; none left is 422 naming
// leads; PT0S is sent as the meeting starts.
func TestCreateEventLeadsSkipped(t *testing.T) {
	h := newHarness(t)
	tok := h.login("oA")
	r := h.do("POST", "/v1/events", tok, meetingEvent(10*time.Minute, "P1D", "PT15M", "PT5M", "PT0S"))
	h.want(r, 201, "")
	skipped := list(r.body["leads_skipped"])
	if len(skipped) != 2 || skipped[0] != "P1D" || skipped[1] != "PT15M" || len(list(r.body["reminders"])) != 2 {
		t.Errorf("skipped %v: %s", skipped, r.raw)
	}
	zero := obj(list(r.body["reminders"])[1])
	if strOf(zero, "lead") != "PT0S" || strOf(zero, "fire_at") != "2026-12-01T17:10:00+08:00" || strOf(zero, "expires_at") != "2026-12-01T17:20:00+08:00" {
		t.Errorf("the PT0S lead: %v", zero)
	}
	r = h.do("POST", "/v1/events", tok, meetingEvent(10*time.Minute, "P1D", "PT15M"))
	h.want(r, 422, "validation_failed")
	if r.field("leads") == "" {
		t.Errorf("no lead left: %s", r.raw)
	}
}

// Every invalid field is named by its JSON path.
func TestCreateEventValidation(t *testing.T) {
	h := newHarness(t)
	tok := h.login("oA")
	for name, c := range map[string]struct {
		tweak func(map[string]any)
		field string
	}{
		"no start":     {func(b map[string]any) { delete(b, "start_at") }, "start_at"},
		"no leads":     {func(b map[string]any) { delete(b, "leads") }, "leads"},
		"six leads":    {func(b map[string]any) { b["leads"] = []string{"PT1M", "PT2M", "PT3M", "PT4M", "PT5M", "PT6M"} }, "leads"},
		"bad lead":     {func(b map[string]any) { b["leads"] = []string{"PT15M", "15 minutes"} }, "leads[1]"},
		"same lead":    {func(b map[string]any) { b["leads"] = []string{"PT1H", "PT60M"} }, "leads[1]"},
		"no templates": {func(b map[string]any) { delete(b, "templates") }, "templates"},
		"unknown":      {func(b map[string]any) { b["templates"].([]map[string]any)[1]["template_id"] = "nope" }, "templates[1].template_id"},
		"missing key": {func(b map[string]any) {
			delete(b["templates"].([]map[string]any)[0]["data"].(map[string]string), "thing3")
		}, "templates[0].data.thing3"},
		"unknown key": {func(b map[string]any) {
			b["templates"].([]map[string]any)[1]["data"].(map[string]string)["thing9"] = "x"
		}, "templates[1].data.thing9"},
		"thing too long": {func(b map[string]any) { b["title"] = "一二三四五六七八九十一二三四五六七八九十一" }, "templates[0].data.thing1"},
		"no end": {func(b map[string]any) {
			b["templates"].([]map[string]any)[1]["data"].(map[string]string)["time4"] = "{end}"
		}, "templates[1].data.time4"},
		"bad placeholder": {func(b map[string]any) {
			b["templates"].([]map[string]any)[0]["data"].(map[string]string)["thing3"] = "{room}"
		}, "templates[0].data.thing3"},
		"past start": {func(b map[string]any) { b["start_at"] = t0.Add(-time.Hour).Format(time.RFC3339) }, "start_at"},
		"bad zone":   {func(b map[string]any) { b["timezone"] = "Mars/Olympus" }, "timezone"},
	} {
		t.Run(name, func(t *testing.T) {
			b := meetingEvent(48*time.Hour, "P1D", "PT15M")
			c.tweak(b)
			r := h.do("POST", "/v1/events", tok, b)
			h.want(r, 422, "validation_failed")
			if r.field(c.field) == "" {
				t.Errorf("want %s named: %s", c.field, r.raw)
			}
		})
	}
	// With value_policy fit, a long title is fitted instead.
	b := meetingEvent(48*time.Hour, "PT15M")
	b["title"], b["value_policy"] = "一二三四五六七八九十一二三四五六七八九十一", "fit"
	h.want(h.do("POST", "/v1/events", tok, b), 201, "")
	// {end} renders the end_at in a date keyword as a date.
	b = meetingEvent(48*time.Hour, "PT15M")
	b["end_at"] = t0.Add(49 * time.Hour).Format(time.RFC3339)
	b["templates"] = []map[string]any{{"template_id": deadlineID, "data": map[string]string{"thing1": "{title}", "date2": "{end}",
		"enum_string3": "高", "character_string4": "A1"}}}
	r := h.do("POST", "/v1/events", tok, b)
	h.want(r, 201, "")
	if d := obj(obj(list(r.body["reminders"])[0])["data"]); d["date2"] != "2026年12月3日" {
		t.Errorf("{end} in a date keyword: %v", d)
	}
}

// The same Idempotency-Key and body answer the same event with 200;
// another body is 409.
func TestCreateEventIdempotent(t *testing.T) {
	h := newHarness(t)
	tok := h.login("oA")
	body := meetingEvent(48*time.Hour, "P1D", "PT15M")
	r := h.do("POST", "/v1/events", tok, body, "Idempotency-Key", "k1")
	h.want(r, 201, "")
	again := h.do("POST", "/v1/events", tok, body, "Idempotency-Key", "k1")
	h.want(again, 200, "")
	if again.str("id") != r.str("id") || len(list(again.body["reminders"])) != 2 {
		t.Errorf("replay: %s", again.raw)
	}
	h.want(h.do("POST", "/v1/events", tok, meetingEvent(48*time.Hour, "P1D"), "Idempotency-Key", "k1"), 409, "conflict")
	if l := h.do("GET", "/v1/events", tok, nil); len(list(l.body["events"])) != 1 {
		t.Errorf("events after the replay: %s", l.raw)
	}
}

// A PATCH re-plans every scheduled reminder in one transaction: moved and
// re-rendered, a lead removed canceled, a lead added created; DELETE
// cancels what is not sent.
func TestPatchAndDeleteEvent(t *testing.T) {
	h := newHarness(t)
	tok := h.login("oA")
	r := h.do("POST", "/v1/events", tok, meetingEvent(48*time.Hour, "P1D", "PT15M"))
	h.want(r, 201, "")
	id := r.str("id")
	rems := list(r.body["reminders"])
	p := h.do("PATCH", "/v1/events/"+id, tok, map[string]any{"start_at": t0.Add(50 * time.Hour).Format(time.RFC3339),
		"leads": []string{"PT15M", "PT1H"}, "title": "改期评审会"})
	h.want(p, 200, "")
	got := map[string]map[string]any{}
	for _, x := range list(p.body["reminders"]) {
		got[strOf(x, "lead")+"/"+strOf(x, "status")] = obj(x)
	}
	moved, added, canceled := got["PT15M/scheduled"], got["PT1H/scheduled"], got["P1D/canceled"]
	if moved == nil || added == nil || canceled == nil || len(got) != 3 {
		t.Fatalf("after the patch: %s", p.raw)
	}
	if strOf(moved, "id") != strOf(rems[1], "id") || strOf(moved, "fire_at") != "2026-12-03T18:45:00+08:00" ||
		obj(moved["data"])["thing1"] != "改期评审会" || obj(moved["data"])["time2"] != "2026-12-03 19:00" {
		t.Errorf("moved reminder: %v", moved)
	}
	if strOf(canceled, "id") != strOf(rems[0], "id") || p.str("title") != "改期评审会" || p.str("status") != "scheduled" {
		t.Errorf("after the patch: %s", p.raw)
	}
	// A bad patch changes nothing.
	bad := h.do("PATCH", "/v1/events/"+id, tok, map[string]any{"leads": []string{"P1X"}})
	h.want(bad, 422, "validation_failed")
	if bad.field("leads[0]") == "" {
		t.Errorf("bad patch: %s", bad.raw)
	}
	d := h.do("DELETE", "/v1/events/"+id, tok, nil)
	h.want(d, 200, "")
	if d.str("status") != "canceled" {
		t.Errorf("deleted: %s", d.raw)
	}
	for _, x := range list(d.body["reminders"]) {
		if strOf(x, "status") != "canceled" {
			t.Errorf("a reminder of a canceled event: %v", x)
		}
	}
	h.want(h.do("DELETE", "/v1/events/"+id, tok, nil), 409, "conflict")
	h.want(h.do("PATCH", "/v1/events/"+id, tok, map[string]any{"title": "x"}), 409, "conflict")
}

// Listings are the user's own, paginated; the admin sees everyone's.
func TestListEvents(t *testing.T) {
	h := newHarness(t)
	tok, other := h.login("oA"), h.login("oB")
	for i := range 3 {
		h.want(h.do("POST", "/v1/events", tok, meetingEvent(time.Duration(48+i)*time.Hour, "PT15M")), 201, "")
	}
	h.want(h.do("POST", "/v1/events", other, meetingEvent(48*time.Hour, "PT15M")), 201, "")
	var ids []string
	path := "/v1/events?limit=2"
	for range 3 {
		l := h.do("GET", path, tok, nil)
		h.want(l, 200, "")
		for _, e := range list(l.body["events"]) {
			ids = append(ids, strOf(e, "id"))
		}
		c, _ := l.body["next_cursor"].(string)
		if c == "" {
			break
		}
		path = "/v1/events?limit=2&cursor=" + c
	}
	if len(ids) != 3 {
		t.Errorf("oA's events: %v", ids)
	}
	h.want(h.do("GET", "/v1/events?openid=oB", tok, nil), 422, "validation_failed")
	a := h.do("GET", "/admin/v1/events?openid=oB", adminToken, nil)
	h.want(a, 200, "")
	if evs := list(a.body["events"]); len(evs) != 1 || strOf(evs[0], "openid") != "oB" {
		t.Errorf("admin listing: %s", a.raw)
	}
	one := h.do("GET", fmt.Sprintf("/admin/v1/events/%s", ids[0]), adminToken, nil)
	h.want(one, 200, "")
	if len(list(one.body["reminders"])) != 1 {
		t.Errorf("admin event: %s", one.raw)
	}
	h.want(h.do("GET", "/admin/v1/events/evt_none", adminToken, nil), http.StatusNotFound, "not_found")
}

// The admin page lists events with their leads, each lead's status and the
// template it was sent through.
func TestAdminPageShowsEvents(t *testing.T) {
	h := newHarness(t)
	tok := h.login("oA")
	r := h.do("POST", "/v1/events", tok, meetingEvent(48*time.Hour, "P1D", "PT15M"))
	h.want(r, 201, "")
	id := r.str("id")
	c := webClient(t, h)
	for _, path := range []string{"/admin/events", "/admin/events?openid=oA", "/admin/events/" + id} {
		res, err := c.Get(h.srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		page := string(b)
		if res.StatusCode != 200 {
			t.Fatalf("%s: %d %s", path, res.StatusCode, page)
		}
		for _, want := range []string{`data-event="` + id + `"`, `data-lead="P1D"`, `data-lead="PT15M"`, "项目评审会",
			`data-template="` + meetingID + `"`, "会议提醒", "会议开始提醒", `href="/admin/events"`} {
			if !strings.Contains(page, want) {
				t.Errorf("%s lacks %s", path, want)
			}
		}
	}
	res, err := c.Get(h.srv.URL + "/admin/events/evt_none")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 404 {
		t.Errorf("an unknown event's page: %d", res.StatusCode)
	}
	// Without a session, the sign-in page.
	res, err = http.Get(h.srv.URL + "/admin/events")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if strings.Contains(string(b), id) {
		t.Error("the events page without a session shows events")
	}
}

// A lead is covered when any of the event's templates has a credit for it:
// one credit of the second template covers the first lead only.
func TestEventCoverageCountsEveryTemplate(t *testing.T) {
	h := newHarness(t)
	tok := h.login("oA")
	h.want(h.do("POST", "/v1/consents", tok, map[string]any{"results": map[string]string{meetingStartID: "accept"}}), 200, "")
	r := h.do("POST", "/v1/events", tok, meetingEvent(48*time.Hour, "P1D", "PT15M"))
	h.want(r, 201, "")
	rems := list(r.body["reminders"])
	first, second := obj(obj(rems[0])["consent"]), obj(obj(rems[1])["consent"])
	if first["covered"] != true || first["credits"] != float64(1) || second["covered"] != false {
		t.Errorf("coverage: first %v, second %v", first, second)
	}
}

// A re-plan leaves a reminder that is being sent as it is and moves the
// others.
func TestPatchEventLeavesASendingLead(t *testing.T) {
	h := newHarness(t)
	tok := h.login("oA")
	r := h.do("POST", "/v1/events", tok, meetingEvent(time.Hour, "PT1H", "PT15M"))
	h.want(r, 201, "")
	id := r.str("id")
	kinds := func(string, string) (store.TemplateKind, bool) { return store.KindOneTime, true }
	cs, err := h.db.ClaimDue(context.Background(), store.ClaimParams{Now: t0, LeaseUntil: t0.Add(time.Minute), Owner: "w", Max: 10, Kind: kinds})
	if err != nil || len(cs) != 1 {
		t.Fatalf("claim: %d, %v", len(cs), err)
	}
	p := h.do("PATCH", "/v1/events/"+id, tok, map[string]any{"start_at": t0.Add(2 * time.Hour).Format(time.RFC3339)})
	h.want(p, 200, "")
	for _, x := range list(p.body["reminders"]) {
		switch strOf(x, "lead") {
		case "PT1H":
			if strOf(x, "status") != "sending" || strOf(x, "fire_at") != "2026-12-01T17:00:00+08:00" {
				t.Errorf("the sending lead changed: %v", x)
			}
		case "PT15M":
			if strOf(x, "status") != "scheduled" || strOf(x, "fire_at") != "2026-12-01T18:45:00+08:00" {
				t.Errorf("the scheduled lead: %v", x)
			}
		}
	}
	if len(list(p.body["reminders"])) != 2 || p.str("status") != "scheduled" {
		t.Errorf("after the patch: %s", p.raw)
	}
}

// The prompt plans over an event's leads with their alternatives: with no
// credit, one tap asking for both templates covers both leads; once one
// accept of the second template covers the first lead, the prompt asks
// only for what covers the second one (either template covers it).
func TestPromptPlansOverEventAlternatives(t *testing.T) {
	h := newHarness(t)
	tok := h.login("oA")
	h.want(h.do("POST", "/v1/events", tok, meetingEvent(48*time.Hour, "P1D", "PT15M")), 201, "")
	r := h.do("GET", "/v1/consents/prompt", tok, nil)
	h.want(r, 200, "")
	ids := list(r.body["template_ids"])
	if len(ids) != 2 || !(ids[0] == meetingID && ids[1] == meetingStartID || ids[0] == meetingStartID && ids[1] == meetingID) {
		t.Fatalf("prompt with two uncovered leads: %s; want both templates", r.raw)
	}
	h.want(h.do("POST", "/v1/consents", tok, map[string]any{"results": map[string]string{meetingStartID: "accept"}}), 200, "")
	r = h.do("GET", "/v1/consents/prompt", tok, nil)
	h.want(r, 200, "")
	if ids := list(r.body["template_ids"]); len(ids) != 1 {
		t.Fatalf("prompt with one lead left uncovered: %s; want one template, which covers it", r.raw)
	}
	h.want(h.do("POST", "/v1/consents", tok, map[string]any{"results": map[string]string{meetingID: "accept"}}), 200, "")
	r = h.do("GET", "/v1/consents/prompt", tok, nil)
	h.want(r, 200, "")
	if ids := list(r.body["template_ids"]); len(ids) != 0 {
		t.Fatalf("prompt with both leads covered: %s; want nothing to ask", r.raw)
	}
}

// A lead that ended unsent (skipped for want of consent) is planned afresh
// when the meeting moves so that its time is ahead again: the skipped
// reminder stays as its record, and the lead gets a new one.
func TestPatchEventReplansASkippedLead(t *testing.T) {
	h := newHarness(t)
	tok := h.login("oA")
	r := h.do("POST", "/v1/events", tok, meetingEvent(time.Hour, "PT1H", "PT15M"))
	h.want(r, 201, "")
	id := r.str("id")
	kinds := func(string, string) (store.TemplateKind, bool) { return store.KindOneTime, true }
	ctx := context.Background()
	cs, err := h.db.ClaimDue(ctx, store.ClaimParams{Now: t0, LeaseUntil: t0.Add(time.Minute), Owner: "w", Max: 10, Kind: kinds})
	if err != nil || len(cs) != 1 {
		t.Fatalf("claim: %d, %v", len(cs), err)
	}
	if _, err := h.db.RecordOutcome(ctx, store.Outcome{Claim: cs[0], At: t0,
		Delivery: &store.Delivery{Status: store.DeliverySkipped, ErrMsg: "no consent credit at fire time"},
		Complete: &store.Completion{Status: store.StatusSkipped, Reason: store.ReasonNoConsent}}); err != nil {
		t.Fatal(err)
	}
	p := h.do("PATCH", "/v1/events/"+id, tok, map[string]any{"start_at": t0.Add(3 * time.Hour).Format(time.RFC3339)})
	h.want(p, 200, "")
	got := map[string]int{}
	for _, x := range list(p.body["reminders"]) {
		got[strOf(x, "lead")+" "+strOf(x, "status")]++
		if strOf(x, "lead") == "PT1H" && strOf(x, "status") == "scheduled" && strOf(x, "fire_at") != "2026-12-01T19:00:00+08:00" {
			t.Errorf("the re-planned lead: %v", x)
		}
	}
	if want := map[string]int{"PT1H skipped": 1, "PT1H scheduled": 1, "PT15M scheduled": 1}; !maps.Equal(got, want) {
		t.Fatalf("reminders after the move %v, want %v: %s", got, want, p.raw)
	}
}

// A meeting under way can still be edited (its location fixed) without
// moving it: only a PATCH that sets start_at in the past is refused.
func TestPatchEventUnderWay(t *testing.T) {
	h := newHarness(t)
	tok := h.login("oA")
	r := h.do("POST", "/v1/events", tok, meetingEvent(time.Hour, "PT1H"))
	h.want(r, 201, "")
	id := r.str("id")
	// Its one lead was sent at t0.
	kinds := func(string, string) (store.TemplateKind, bool) { return store.KindOneTime, true }
	ctx := context.Background()
	cs, err := h.db.ClaimDue(ctx, store.ClaimParams{Now: t0, LeaseUntil: t0.Add(time.Minute), Owner: "w", Max: 10, Kind: kinds})
	if err != nil || len(cs) != 1 {
		t.Fatalf("claim: %d, %v", len(cs), err)
	}
	if _, err := h.db.RecordOutcome(ctx, store.Outcome{Claim: cs[0], At: t0, Delivery: &store.Delivery{Status: store.DeliverySent,
		HasErrCode: true, MsgID: 5, HasMsgID: true}, Complete: &store.Completion{Status: store.StatusSent}}); err != nil {
		t.Fatal(err)
	}
	h.clock.Advance(90 * time.Minute)
	p := h.do("PATCH", "/v1/events/"+id, tok, map[string]any{"location": "B栋302"})
	h.want(p, 200, "")
	if p.str("location") != "B栋302" {
		t.Errorf("after the patch: %s", p.raw)
	}
	p = h.do("PATCH", "/v1/events/"+id, tok, map[string]any{"start_at": t0.Add(time.Hour).Format(time.RFC3339)})
	h.want(p, 422, "validation_failed")
	if f := obj(obj(p.body["error"])["fields"]); f["start_at"] == nil {
		t.Errorf("a PATCH setting start_at in the past: %s", p.raw)
	}
}
