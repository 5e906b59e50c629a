package api_test

import (
	"slices"
	"testing"
	"time"

	"github.com/reminderd/reminderd/internal/testkit"
)

// consentOf returns the caller's consent entry for a template from a
// ledger answer (nil when absent).
func consentOf(r resp, templateID string) map[string]any {
	list, _ := r.body["consents"].([]any)
	for _, c := range list {
		if m := c.(map[string]any); m["template_id"] == templateID {
			return m
		}
	}
	return nil
}

func strs(v any) []string {
	out := []string{}
	list, _ := v.([]any)
	for _, s := range list {
		out = append(out, s.(string))
	}
	return out
}

// Every accept… variant counts, and the ledger keeps whether it was
// acceptWithAudio; a plain accept afterwards clears it.
func TestConsentReportKeepsTheAcceptVariant(t *testing.T) {
	h := newHarness(t)
	a := h.login("oA")
	r := h.do("POST", "/v1/consents", a, map[string]any{"results": map[string]string{meetingID: "acceptWithAudio",
		deadlineID: "acceptWithAlert", "errMsg": "requestSubscribeMessage:ok"}})
	h.want(r, 200, "")
	m, d := consentOf(r, meetingID), consentOf(r, deadlineID)
	if m["credits"] != 1.0 || m["audio"] != true || m["status"] != "accept" || m["setting"] != nil {
		t.Fatalf("acceptWithAudio: %v", m)
	}
	if d["credits"] != 1.0 || d["audio"] != false {
		t.Fatalf("acceptWithAlert: %v", d)
	}
	r = h.do("POST", "/v1/consents", a, map[string]any{"results": map[string]string{meetingID: "accept"}})
	h.want(r, 200, "")
	if m := consentOf(r, meetingID); m["credits"] != 2.0 || m["audio"] != false {
		t.Fatalf("a plain accept after acceptWithAudio: %v", m)
	}
}

// wx.getSetting's subscriptionsSetting is stored: the saved choices show on
// the ledger, unknown keys and templates are ignored, and the prompt plans
// with them: "always accept" is silent, "always reject" blocked, the main
// switch off asks for nothing.
func TestConsentSettingsShapeThePrompt(t *testing.T) {
	h := newHarness(t)
	a := h.login("oA")
	h.create(a, meeting(time.Hour))
	h.create(a, map[string]any{"template_id": deadlineID, "fire_at": t0.Add(2 * time.Hour).Format(time.RFC3339),
		"data": map[string]string{"thing1": "提交报告", "date2": "2026-12-02", "enum_string3": "高", "character_string4": "A-1"}})
	r := h.do("GET", "/v1/consents/prompt", a, nil)
	h.want(r, 200, "")
	if got := strs(r.body["template_ids"]); !slices.Equal(got, []string{meetingID, deadlineID}) || r.body["main_switch"] != true {
		t.Fatalf("prompt before any setting: %s", r.raw)
	}

	r = h.do("POST", "/v1/consents/settings", a, map[string]any{"mainSwitch": true, "futureKey": "x",
		"itemSettings": map[string]string{deadlineID: "accept", meetingID: "reject", "notOurTemplate": "ban"}})
	h.want(r, 200, "")
	if m := consentOf(r, meetingID); m["setting"] != "reject" || m["credits"] != 0.0 {
		t.Fatalf("meeting's setting: %s", r.raw)
	}
	if consentOf(r, deadlineID)["setting"] != "accept" || consentOf(r, "notOurTemplate") != nil {
		t.Fatalf("settings: %s", r.raw)
	}
	r = h.do("GET", "/v1/consents/prompt", a, nil)
	h.want(r, 200, "")
	if got := strs(r.body["template_ids"]); !slices.Equal(got, []string{deadlineID}) {
		t.Fatalf("template_ids %v, want the deadline template only (meeting is always rejected): %s", got, r.raw)
	}
	if !slices.Equal(strs(r.body["silent"]), []string{deadlineID}) || !slices.Equal(strs(r.body["blocked"]), []string{meetingID}) {
		t.Fatalf("silent/blocked: %s", r.raw)
	}

	// A later report replaces the choices; the main switch off asks nothing.
	h.want(h.do("POST", "/v1/consents/settings", a, map[string]any{"mainSwitch": false}), 200, "")
	r = h.do("GET", "/v1/consents/prompt", a, nil)
	h.want(r, 200, "")
	if len(strs(r.body["template_ids"])) != 0 || r.body["main_switch"] != false || len(strs(r.body["blocked"])) != 0 {
		t.Fatalf("prompt with the main switch off: %s", r.raw)
	}
	if r := h.do("GET", "/v1/consents", a, nil); consentOf(r, meetingID)["setting"] != nil {
		t.Fatalf("a setting no longer reported is kept: %s", r.raw)
	}

	for _, tc := range []struct {
		body  any
		field string
	}{
		{map[string]any{"itemSettings": map[string]string{}}, "mainSwitch"},
		{map[string]any{"mainSwitch": "yes"}, "mainSwitch"},
		{map[string]any{"mainSwitch": true, "itemSettings": map[string]string{meetingID: "maybe"}}, "itemSettings." + meetingID},
		{map[string]any{"mainSwitch": true, "itemSettings": map[string]int{meetingID: 1}}, "itemSettings." + meetingID},
		{map[string]any{"mainSwitch": true, "itemSettings": []string{"x"}}, "itemSettings"},
	} {
		r := h.do("POST", "/v1/consents/settings", a, tc.body)
		h.want(r, 422, "validation_failed")
		if r.field(tc.field) == "" {
			t.Fatalf("%v: 422 does not name %s: %s", tc.body, tc.field, r.raw)
		}
	}
}

// The last report ban blocks the template; the reminder's coverage follows
// the one coverage rule (two reminders, one credit: the earlier is covered).
func TestPromptBlocksBannedAndCoverageSharesCredits(t *testing.T) {
	h := newHarness(t)
	a := h.login("oA")
	late := h.create(a, meeting(2*time.Hour))["id"].(string)
	early := h.create(a, meeting(time.Hour))["id"].(string)
	h.want(h.do("POST", "/v1/consents", a, map[string]any{"results": map[string]string{meetingID: "accept"}}), 200, "")
	covered := func(id string) bool {
		r := h.do("GET", "/v1/reminders/"+id, a, nil)
		h.want(r, 200, "")
		return r.body["consent"].(map[string]any)["covered"] == true
	}
	if !covered(early) || covered(late) {
		t.Fatalf("covered: early %v, late %v; want the earlier only", covered(early), covered(late))
	}
	r := h.do("GET", "/v1/consents/prompt", a, nil)
	if !slices.Equal(strs(r.body["template_ids"]), []string{meetingID}) {
		t.Fatalf("prompt with one of two covered: %s", r.raw)
	}
	h.want(h.do("POST", "/v1/consents", a, map[string]any{"results": map[string]string{meetingID: "ban"}}), 200, "")
	r = h.do("GET", "/v1/consents/prompt", a, nil)
	if len(strs(r.body["template_ids"])) != 0 || !slices.Equal(strs(r.body["blocked"]), []string{meetingID}) {
		t.Fatalf("prompt after ban: %s", r.raw)
	}
}

// Snooze: from sent, skipped or scheduled, due again at the new time, with
// the consent of the tap recorded; the rules of the body; 409 and 404.
func TestSnoozeReminder(t *testing.T) {
	h := newHarness(t)
	a, b := h.login("oA"), h.login("oB")
	id := h.create(a, meeting(time.Hour))["id"].(string)
	testkit.Exec(t, h.db, `UPDATE reminders SET status = 'sent' WHERE id = ?`, id)
	testkit.Exec(t, h.db, `INSERT INTO deliveries (reminder_id, occurrence_at, attempt, status, errcode, errmsg, started_at, finished_at)
		VALUES (?, ?, 1, 'sent', 0, 'ok', ?, ?)`, id, t0.Add(time.Hour).UnixMilli(), t0.UnixMilli(), t0.UnixMilli())
	path := "/v1/reminders/" + id + "/snooze"

	r := h.do("POST", path, a, map[string]any{"in": "PT10M", "consent": map[string]string{meetingID: "acceptWithAudio", "errMsg": "requestSubscribeMessage:ok"}})
	h.want(r, 200, "")
	if r.str("status") != "scheduled" || r.str("id") != id || len(r.body["deliveries"].([]any)) != 1 {
		t.Fatalf("snoozed: %s", r.raw)
	}
	if at, _ := time.Parse(time.RFC3339, r.str("fire_at")); !at.Equal(t0.Add(10 * time.Minute)) {
		t.Fatalf("fire_at %s, want now + 10 min", r.str("fire_at"))
	}
	if r.body["consent"].(map[string]any)["covered"] != true {
		t.Fatalf("the snooze's accept does not cover it: %s", r.raw)
	}
	if c := consentOf(h.do("GET", "/v1/consents", a, nil), meetingID); c["credits"] != 1.0 || c["audio"] != true {
		t.Fatalf("the snooze's consent: %v", c)
	}
	if !h.engine.wokeAt(t0.Add(10 * time.Minute)) {
		t.Fatal("the engine was not woken for the snooze's time")
	}

	until := t0.Add(3 * time.Hour).Format(time.RFC3339)
	h.want(h.do("POST", path, a, map[string]any{"until": until}), 200, "")
	testkit.Exec(t, h.db, `UPDATE reminders SET status = 'skipped', reason = 'no_consent' WHERE id = ?`, id)
	r = h.do("POST", path, a, map[string]any{"until": until})
	h.want(r, 200, "")
	if r.body["reason"] != nil {
		t.Fatalf("a skipped reminder snoozed keeps its reason: %s", r.raw)
	}

	for _, tc := range []struct {
		body  any
		field string
	}{
		{map[string]any{}, "in"},
		{map[string]any{"in": "PT10M", "until": until}, "until"},
		{map[string]any{"in": "10m"}, "in"},
		{map[string]any{"in": "PT0S"}, "in"},
		{map[string]any{"in": "P400D"}, "in"},
		{map[string]any{"until": t0.Add(-time.Minute).Format(time.RFC3339)}, "until"},
		{map[string]any{"until": "tomorrow"}, "until"},
		{map[string]any{"in": "PT1M", "consent": map[string]string{"nope": "accept"}}, "consent.nope"},
	} {
		r := h.do("POST", path, a, tc.body)
		h.want(r, 422, "validation_failed")
		if r.field(tc.field) == "" {
			t.Fatalf("%v: 422 does not name %s: %s", tc.body, tc.field, r.raw)
		}
	}
	h.want(h.do("POST", path, b, map[string]any{"in": "PT10M"}), 404, "not_found")
	h.want(h.do("POST", "/v1/reminders/rem_missing/snooze", a, map[string]any{"in": "PT10M"}), 404, "not_found")
	for _, st := range []string{"failed", "canceled"} {
		reason := "NULL"
		if st == "failed" {
			reason = "'retries_exhausted'"
		}
		testkit.Exec(t, h.db, `UPDATE reminders SET status = '`+st+`', reason = `+reason+` WHERE id = ?`, id)
		h.want(h.do("POST", path, a, map[string]any{"in": "PT10M"}), 409, "conflict")
	}
}

// An Idempotency-Key makes a repeated snooze answer the same result and
// record nothing twice; the key with another body is 409.
func TestSnoozeIdempotencyKey(t *testing.T) {
	h := newHarness(t)
	a := h.login("oA")
	id := h.create(a, meeting(time.Hour))["id"].(string)
	path := "/v1/reminders/" + id + "/snooze"
	body := map[string]any{"in": "PT10M", "consent": map[string]string{meetingID: "accept"}}
	first := h.do("POST", path, a, body, "Idempotency-Key", "tap-1")
	h.want(first, 200, "")
	h.clock.Advance(time.Minute)
	again := h.do("POST", path, a, body, "Idempotency-Key", "tap-1")
	h.want(again, 200, "")
	if again.str("fire_at") != first.str("fire_at") {
		t.Fatalf("the repeat moved the reminder: %s then %s", first.str("fire_at"), again.str("fire_at"))
	}
	if c := consentOf(h.do("GET", "/v1/consents", a, nil), meetingID); c["credits"] != 1.0 {
		t.Fatalf("the repeat counted its accept again: %v", c)
	}
	h.want(h.do("POST", path, a, map[string]any{"in": "PT20M"}, "Idempotency-Key", "tap-1"), 409, "conflict")
	h.want(h.do("POST", path, a, body, "Idempotency-Key", "tap-2"), 200, "")
}

// A recurring reminder's snooze must come before the series' next
// occurrence (422 naming the field that asked for it).
func TestSnoozeOfASeriesBeforeItsNextOccurrence(t *testing.T) {
	h := newHarness(t)
	a := h.login("oA")
	r := h.do("POST", "/v1/reminders", a, map[string]any{"template_id": meetingID, "data": meetingData(),
		"recurrence": "0 10 * * *", "timezone": "UTC"})
	h.want(r, 201, "")
	id := r.str("id")
	next, _ := time.Parse(time.RFC3339, r.str("fire_at"))
	path := "/v1/reminders/" + id + "/snooze"
	r = h.do("POST", path, a, map[string]any{"until": next.Format(time.RFC3339)})
	h.want(r, 422, "validation_failed")
	if r.field("until") == "" {
		t.Fatalf("a snooze reaching the next occurrence: %s", r.raw)
	}
	r = h.do("POST", path, a, map[string]any{"in": "PT10M"})
	h.want(r, 200, "")
	if r.str("recurrence") != "0 10 * * *" {
		t.Fatalf("snoozed series: %s", r.raw)
	}
}

// wokeAt reports whether the engine was woken for t.
func (w *wake) wokeAt(t time.Time) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.ContainsFunc(w.times, t.Equal)
}

// A ban saved in the settings of a template never answered blocks it only
// while it is saved: the next settings report that lifts it unblocks it.
func TestSavedBanIsLiftedBySettings(t *testing.T) {
	h := newHarness(t)
	a := h.login("oA")
	h.create(a, meeting(time.Hour))
	h.want(h.do("POST", "/v1/consents/settings", a, map[string]any{"mainSwitch": true,
		"itemSettings": map[string]string{meetingID: "ban"}}), 200, "")
	r := h.do("GET", "/v1/consents/prompt", a, nil)
	h.want(r, 200, "")
	if !slices.Equal(strs(r.body["blocked"]), []string{meetingID}) || len(strs(r.body["template_ids"])) != 0 {
		t.Fatalf("prompt with the ban saved: %s", r.raw)
	}
	h.want(h.do("POST", "/v1/consents/settings", a, map[string]any{"mainSwitch": true}), 200, "")
	r = h.do("GET", "/v1/consents/prompt", a, nil)
	h.want(r, 200, "")
	if len(strs(r.body["blocked"])) != 0 || !slices.Equal(strs(r.body["template_ids"]), []string{meetingID}) {
		t.Fatalf("prompt after the ban was lifted: %s", r.raw)
	}
}
