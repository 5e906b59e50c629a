package api_test

import (
	"database/sql"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/reminderd/reminderd/internal/api"
	"github.com/reminderd/reminderd/internal/testkit"
)

// page is an admin page as the browser gets it, in English.
type page struct {
	status int
	body   string
	header http.Header
}

var (
	rowRE  = regexp.MustCompile(`<tr data-id="([^"]+)">`)
	csrfRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)
)

func webGet(t *testing.T, c *http.Client, h *harness, path string) page {
	t.Helper()
	req, _ := http.NewRequest("GET", h.srv.URL+path, nil)
	req.Header.Set("Accept-Language", "en")
	res, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return page{res.StatusCode, string(b), res.Header}
}

func webPost(t *testing.T, c *http.Client, h *harness, path string, form url.Values) page {
	t.Helper()
	req, _ := http.NewRequest("POST", h.srv.URL+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept-Language", "en")
	res, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return page{res.StatusCode, string(b), res.Header}
}

// rows are the reminder ids a list page shows, in order.
func (p page) rows() []string {
	var out []string
	for _, m := range rowRE.FindAllStringSubmatch(p.body, -1) {
		out = append(out, m[1])
	}
	return out
}

// link is the href of the element with id, "" when there is none.
func (p page) link(id string) string {
	m := regexp.MustCompile(`href="([^"]*)" id="` + regexp.QuoteMeta(id) + `"`).FindStringSubmatch(p.body)
	if m == nil {
		return ""
	}
	return html.UnescapeString(m[1])
}

func (p page) csrf(t *testing.T) string {
	t.Helper()
	m := csrfRE.FindStringSubmatch(p.body)
	if m == nil {
		t.Fatalf("no CSRF token on the page:\n%s", p.body)
	}
	return m[1]
}

// setState puts a reminder in a status (and reason, "" for none) directly.
func (h *harness) setState(id, status, reason string) {
	h.t.Helper()
	r := sql.NullString{String: reason, Valid: reason != ""}
	testkit.Exec(h.t, h.db, `UPDATE reminders SET status = ?, reason = ? WHERE id = ?`, status, r, id)
}

func (h *harness) state(id string) (status, reason string, fireAt int64) {
	h.t.Helper()
	var r sql.NullString
	if err := testkit.QueryRow(h.t, h.db, `SELECT status, reason, fire_at FROM reminders WHERE id = ?`, id).Scan(&status, &r, &fireAt); err != nil {
		h.t.Fatal(err)
	}
	return status, r.String, fireAt
}

// The list's previous and first links: next, then previous, gives back the
// rows of the page before, exactly and in order, with the filter kept.
func TestAdminListPreviousPages(t *testing.T) {
	h := newHarness(t)
	a, b := h.login("oA"), h.login("oB")
	var want []string // oA's, in fire_at order
	for i := range 130 {
		if i%10 == 9 {
			h.create(b, meeting(time.Duration(i+1)*time.Minute))
			continue
		}
		want = append(want, h.create(a, meeting(time.Duration(i+1)*time.Minute))["id"].(string))
	}
	if len(want) != 117 {
		t.Fatalf("seeded %d", len(want))
	}
	c := webClient(t, h)
	get := func(path string) page {
		t.Helper()
		if path == "" {
			t.Fatal("the page has no such link")
		}
		p := webGet(t, c, h, path)
		if p.status != 200 {
			t.Fatalf("GET %s: %d\n%s", path, p.status, p.body)
		}
		if !strings.HasPrefix(path, "/admin/?") || !strings.Contains(path, "openid=oA") {
			t.Fatalf("a page link lost the filter: %q", path)
		}
		return p
	}
	p1 := get("/admin/?openid=oA")
	if got := p1.rows(); !slices.Equal(got, want[:50]) {
		t.Fatalf("first page: %v", got)
	}
	if p1.link("prev-page") != "" || p1.link("first-page") != "" || p1.link("next-page") == "" {
		t.Fatalf("first page links: prev %q first %q next %q", p1.link("prev-page"), p1.link("first-page"), p1.link("next-page"))
	}
	p2 := get(p1.link("next-page"))
	if got := p2.rows(); !slices.Equal(got, want[50:100]) {
		t.Fatalf("second page: %v", got)
	}
	if p2.link("prev-page") == "" || p2.link("first-page") == "" {
		t.Fatalf("second page has no previous or first link:\n%s", p2.body)
	}
	p3 := get(p2.link("next-page"))
	if got := p3.rows(); !slices.Equal(got, want[100:]) || p3.link("next-page") != "" {
		t.Fatalf("last page: %v, next %q", got, p3.link("next-page"))
	}
	// Back from the third page: the second, then the first.
	back2 := get(p3.link("prev-page"))
	if got := back2.rows(); !slices.Equal(got, want[50:100]) {
		t.Fatalf("previous of the third page: %v", got)
	}
	back1 := get(back2.link("prev-page"))
	if got := back1.rows(); !slices.Equal(got, want[:50]) {
		t.Fatalf("previous of the second page: %v", got)
	}
	if back1.link("prev-page") != "" || back1.link("first-page") != "" {
		t.Fatalf("the first page, reached backwards, has prev %q first %q", back1.link("prev-page"), back1.link("first-page"))
	}
	// Going forward again from there walks the same pages.
	if got := get(back1.link("next-page")).rows(); !slices.Equal(got, want[50:100]) {
		t.Fatalf("next after going back: %v", got)
	}
	first := get(p3.link("first-page"))
	if got := first.rows(); !slices.Equal(got, want[:50]) || first.link("prev-page") != "" {
		t.Fatalf("first page from the third: %v, prev %q", got, first.link("prev-page"))
	}
}

// The detail page offers a retry only where it can succeed: a reason a
// retry cannot fix, or a lack of consent the user has not made good, shows
// a warning instead of the button.
func TestAdminRetryWarnings(t *testing.T) {
	h := newHarness(t)
	a := h.login("oA")
	c := webClient(t, h)
	const (
		button    = "button"
		permanent = "A retry cannot fix this reason"
		consent   = "The user has no credit for this template now"
	)
	check := func(id, want string) {
		t.Helper()
		p := webGet(t, c, h, "/admin/reminders/"+id)
		status, reason, _ := h.state(id)
		hasButton := strings.Contains(p.body, `id="retry"`)
		hasWarning := strings.Contains(p.body, `id="retry-warning"`)
		switch {
		case p.status != 200:
			t.Fatalf("%s %s: %d", status, reason, p.status)
		case want == button && (!hasButton || hasWarning):
			t.Errorf("%s %s: button %v, warning %v; want the retry button", status, reason, hasButton, hasWarning)
		case want != button && (hasButton || !hasWarning || !strings.Contains(p.body, want)):
			t.Errorf("%s %s: button %v, warning %v; want the warning %q", status, reason, hasButton, hasWarning, want)
		}
	}
	id := h.create(a, meeting(time.Hour))["id"].(string)
	for _, reason := range []string{"openid_invalid", "template_invalid", "content_rejected", "banned", "invalid_data", "page_invalid"} {
		for _, status := range []string{"failed", "skipped"} {
			h.setState(id, status, reason)
			check(id, permanent)
		}
	}
	h.setState(id, "failed", "retries_exhausted")
	check(id, button)
	h.setState(id, "skipped", "expired")
	check(id, button)
	// Consent: no credit, a warning; a credit now, the button.
	h.setState(id, "skipped", "no_consent")
	check(id, consent)
	h.setState(id, "failed", "user_refused")
	check(id, consent)
	h.want(h.do("POST", "/v1/consents", a, map[string]any{"results": map[string]string{meetingID: "accept"}}), 200, "")
	h.setState(id, "skipped", "no_consent")
	check(id, button)
	h.setState(id, "failed", "user_refused")
	check(id, button)
	// The credit does not make a permanent reason retryable.
	h.setState(id, "failed", "content_rejected")
	check(id, permanent)
	// A long-term template needs the user's long-term grant, as the engine
	// does (credits do not count): without it a retry is skipped again.
	lt := h.create(a, map[string]any{"template_id": clinicID, "fire_at": t0.Add(time.Hour).Format(time.RFC3339),
		"data": map[string]string{"name1": "张三", "time2": "2026-12-01 15:00", "thing3": "内科", "phone_number4": "13800000000"}})["id"].(string)
	h.setState(lt, "skipped", "no_consent")
	check(lt, consent)
	h.want(h.do("POST", "/v1/consents", a, map[string]any{"results": map[string]string{clinicID: "accept"}}), 200, "")
	check(lt, button)
	// Neither a scheduled nor a sent reminder offers a retry.
	for _, st := range []string{"scheduled", "sent", "canceled"} {
		h.setState(id, st, "")
		if p := webGet(t, c, h, "/admin/reminders/"+id); strings.Contains(p.body, `id="retry"`) || strings.Contains(p.body, `id="retry-warning"`) {
			t.Errorf("a %s reminder offers a retry or warns of one", st)
		}
	}
}

// bulkSeed makes, for oA, one reminder in each bulk outcome and, for oB, a
// retryable one outside the filter; it returns them by name.
func bulkSeed(t *testing.T, h *harness) map[string]string {
	a, b := h.login("oA"), h.login("oB")
	ids := map[string]string{}
	for i, k := range []string{"exhausted", "noconsent", "openid", "rejected", "scheduled", "canceled", "sent"} {
		ids[k] = h.create(a, meeting(time.Duration(i+1)*time.Hour))["id"].(string)
	}
	ids["other"] = h.create(b, meeting(time.Hour))["id"].(string)
	h.setState(ids["exhausted"], "failed", "retries_exhausted")
	h.setState(ids["noconsent"], "skipped", "no_consent")
	h.setState(ids["openid"], "failed", "openid_invalid")
	h.setState(ids["rejected"], "skipped", "content_rejected")
	h.setState(ids["canceled"], "canceled", "")
	h.setState(ids["sent"], "sent", "")
	h.setState(ids["other"], "failed", "retries_exhausted")
	return ids
}

type wantState struct{ status, reason string }

func (h *harness) wantStates(ids map[string]string, want map[string]wantState) {
	h.t.Helper()
	for k, w := range want {
		if st, reason, _ := h.state(ids[k]); st != w.status || reason != w.reason {
			h.t.Errorf("%s: %s %q, want %s %q", k, st, reason, w.status, w.reason)
		}
	}
}

func counts(body map[string]any, keys ...string) string {
	var out []string
	for _, k := range keys {
		out = append(out, fmt.Sprintf("%s=%v", k, body[k]))
	}
	return strings.Join(out, " ")
}

func TestAdminBulkRetryAndCancelCountEachOutcome(t *testing.T) {
	h := newHarness(t)
	ids := bulkSeed(t, h)
	h.clock.Advance(10 * time.Minute)
	h.engine.mu.Lock()
	h.engine.times = nil
	h.engine.mu.Unlock()
	r := h.do("POST", "/admin/v1/reminders/retry", adminToken, map[string]any{"filter": map[string]string{"openid": "oA"}})
	h.want(r, 200, "")
	if got := counts(r.body, "matched", "retried", "conflict", "permanent", "not_found"); got != "matched=7 retried=2 conflict=3 permanent=2 not_found=0" {
		t.Fatalf("bulk retry by filter: %s", got)
	}
	unchanged := map[string]wantState{
		"openid": {"failed", "openid_invalid"}, "rejected": {"skipped", "content_rejected"},
		"canceled": {"canceled", ""}, "sent": {"sent", ""}, "other": {"failed", "retries_exhausted"},
	}
	want := map[string]wantState{"exhausted": {"scheduled", ""}, "noconsent": {"scheduled", ""}, "scheduled": {"scheduled", ""}}
	h.wantStates(ids, want)
	h.wantStates(ids, unchanged)
	for _, k := range []string{"exhausted", "noconsent"} {
		if _, _, fa := h.state(ids[k]); fa != h.clock.Now().UnixMilli() {
			t.Errorf("%s retried to fire at %v, not now", k, time.UnixMilli(fa))
		}
	}
	h.engine.mu.Lock()
	woken := slices.Clone(h.engine.times)
	h.engine.mu.Unlock()
	if len(woken) != 1 || !woken[0].Equal(h.clock.Now()) {
		t.Fatalf("the engine was woken at %v, want once, now", woken)
	}

	// Again: nothing left to retry; a status filter narrows.
	r = h.do("POST", "/admin/v1/reminders/retry", adminToken, map[string]any{"filter": map[string]string{"openid": "oA", "status": "failed"}})
	h.want(r, 200, "")
	if got := counts(r.body, "matched", "retried", "conflict", "permanent", "not_found"); got != "matched=1 retried=0 conflict=0 permanent=1 not_found=0" {
		t.Fatalf("bulk retry of the failed ones: %s", got)
	}
	h.engine.mu.Lock()
	woken = slices.Clone(h.engine.times)
	h.engine.mu.Unlock()
	if len(woken) != 1 {
		t.Fatalf("a bulk retry that retried nothing woke the engine: %v", woken)
	}

	// Cancel by filter: the three scheduled ones, the rest conflicts.
	r = h.do("POST", "/admin/v1/reminders/cancel", adminToken, map[string]any{"filter": map[string]string{"openid": "oA"}})
	h.want(r, 200, "")
	if got := counts(r.body, "matched", "canceled", "conflict", "not_found"); got != "matched=7 canceled=3 conflict=4 not_found=0" {
		t.Fatalf("bulk cancel by filter: %s", got)
	}
	h.wantStates(ids, map[string]wantState{"exhausted": {"canceled", ""}, "noconsent": {"canceled", ""}, "scheduled": {"canceled", ""}})
	h.wantStates(ids, unchanged)

	// By ids: duplicates count once, unknown ids are not_found.
	r = h.do("POST", "/admin/v1/reminders/retry", adminToken, map[string]any{"ids": []string{ids["other"], "rem_nope", ids["other"], ids["openid"], ids["sent"]}})
	h.want(r, 200, "")
	if got := counts(r.body, "matched", "retried", "conflict", "permanent", "not_found"); got != "matched=4 retried=1 conflict=1 permanent=1 not_found=1" {
		t.Fatalf("bulk retry by ids: %s", got)
	}
	h.wantStates(ids, map[string]wantState{"other": {"scheduled", ""}})
	r = h.do("POST", "/admin/v1/reminders/cancel", adminToken, map[string]any{"ids": []string{"rem_nope", "rem_nada"}})
	h.want(r, 200, "")
	if got := counts(r.body, "matched", "canceled", "conflict", "not_found"); got != "matched=2 canceled=0 conflict=0 not_found=2" {
		t.Fatalf("bulk cancel of unknown ids: %s", got)
	}
	// A filter that matches nothing changes nothing, and says so.
	for _, path := range []string{"/admin/v1/reminders/retry", "/admin/v1/reminders/cancel"} {
		r = h.do("POST", path, adminToken, map[string]any{"filter": map[string]string{"openid": "nobody"}})
		h.want(r, 200, "")
		if r.body["matched"] != 0.0 {
			t.Fatalf("%s of nothing: %s", path, r.raw)
		}
	}
	// Malformed requests.
	for _, tc := range []struct {
		body  any
		field string
	}{
		{map[string]any{}, "ids"},
		{map[string]any{"ids": []string{}}, "ids"},
		{map[string]any{"ids": []string{""}}, "ids"},
		{map[string]any{"ids": []string{ids["other"]}, "filter": map[string]string{}}, "ids"},
		{map[string]any{"filter": map[string]string{"status": "lost"}}, "filter.status"},
		{map[string]any{"filter": map[string]string{"from": "yesterday"}}, "filter.from"},
	} {
		for _, path := range []string{"/admin/v1/reminders/retry", "/admin/v1/reminders/cancel"} {
			r := h.do("POST", path, adminToken, tc.body)
			h.want(r, 422, "validation_failed")
			if r.field(tc.field) == "" {
				t.Fatalf("%s %v: no error for %s: %s", path, tc.body, tc.field, r.raw)
			}
		}
	}
}

// The page's bulk form: by selection and by "all matching the filter", the
// confirmation first, then the counts in the redirect.
func TestAdminPageBulkCountsEachOutcome(t *testing.T) {
	h := newHarness(t)
	ids := bulkSeed(t, h)
	c := webClient(t, h)
	csrf := webGet(t, c, h, "/admin/").csrf(t)
	bulk := func(form url.Values) url.Values {
		t.Helper()
		form.Set("csrf", csrf)
		ask := webPost(t, c, h, "/admin/bulk", form)
		n := len(dedupeStrings(form["id"]))
		if form.Get("all") == "1" {
			n = 7
		}
		question := fmt.Sprintf("Retry %d reminder(s)?", n)
		if form.Get("action") == "cancel" {
			question = fmt.Sprintf("Cancel %d reminder(s)?", n)
		}
		if ask.status != 200 || !strings.Contains(ask.body, `id="confirm-question"`) || !strings.Contains(ask.body, question) {
			t.Fatalf("bulk %v: no confirmation counting %d: %d\n%s", form, n, ask.status, ask.body)
		}
		form.Set("confirm", "1")
		done := webPost(t, c, h, "/admin/bulk", form)
		loc, err := url.Parse(done.header.Get("Location"))
		if done.status != http.StatusSeeOther || err != nil || loc.Path != "/admin/" {
			t.Fatalf("bulk %v: %d %q", form, done.status, done.header.Get("Location"))
		}
		return loc.Query()
	}
	got := func(q url.Values) string {
		return fmt.Sprintf("ok=%s conflict=%s permanent=%s missing=%s", q.Get("ok"), q.Get("conflict"), q.Get("permanent"), q.Get("missing"))
	}
	// A selection, with an id that does not exist and one picked twice.
	q := bulk(url.Values{"action": {"retry"}, "id": {ids["exhausted"], ids["openid"], ids["sent"], "rem_nope", ids["exhausted"]}})
	if g := got(q); g != "ok=1 conflict=1 permanent=1 missing=1" || q.Get("done") != "bulk-retry" {
		t.Fatalf("retry the selection: %s (%v)", g, q)
	}
	h.wantStates(ids, map[string]wantState{"exhausted": {"scheduled", ""}, "openid": {"failed", "openid_invalid"}, "noconsent": {"skipped", "no_consent"}})
	// The flash says it.
	if p := webGet(t, c, h, "/admin/?"+q.Encode()); !strings.Contains(p.body, "Retried 1; 1 not retryable (not failed or skipped); 1 left alone (a retry cannot fix their reason); 1 not found.") {
		t.Fatalf("the flash after a bulk retry:\n%s", p.body)
	}
	// All matching the filter: oA's only; the filter comes back.
	q = bulk(url.Values{"action": {"retry"}, "all": {"1"}, "openid": {"oA"}})
	if g := got(q); g != "ok=1 conflict=4 permanent=2 missing=0" || q.Get("openid") != "oA" {
		t.Fatalf("retry all matching: %s (%v)", g, q)
	}
	h.wantStates(ids, map[string]wantState{"noconsent": {"scheduled", ""}, "rejected": {"skipped", "content_rejected"}, "other": {"failed", "retries_exhausted"}})
	q = bulk(url.Values{"action": {"cancel"}, "all": {"1"}, "openid": {"oA"}})
	if g := got(q); g != "ok=3 conflict=4 permanent= missing=0" || q.Get("done") != "bulk-cancel" {
		t.Fatalf("cancel all matching: %s (%v)", g, q)
	}
	h.wantStates(ids, map[string]wantState{"exhausted": {"canceled", ""}, "noconsent": {"canceled", ""}, "scheduled": {"canceled", ""},
		"sent": {"sent", ""}, "other": {"failed", "retries_exhausted"}})
	// Nothing selected, or nothing matching: refused, nothing asked.
	for _, form := range []url.Values{{"action": {"cancel"}}, {"action": {"retry"}, "all": {"1"}, "openid": {"nobody"}}} {
		form.Set("csrf", csrf)
		if p := webPost(t, c, h, "/admin/bulk", form); p.status != http.StatusConflict || !strings.Contains(p.body, "No reminder was selected.") {
			t.Fatalf("bulk of nothing %v: %d\n%s", form, p.status, p.body)
		}
	}
}

func dedupeStrings(s []string) []string {
	var out []string
	for _, x := range s {
		if !slices.Contains(out, x) {
			out = append(out, x)
		}
	}
	return out
}

// A bulk action changes at most 5,000 reminders: a filter matching more is
// refused whole (422 naming filter, on the page a 409 that says so),
// exactly 5,000 is done.
func TestAdminBulkCap(t *testing.T) {
	h := newHarness(t)
	a := h.login("oA")
	model := h.create(a, meeting(time.Hour))["id"].(string)
	testkit.Exec(h.t, h.db, `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 5001)
		INSERT INTO reminders (id, openid, template_id, status, fire_at, due_at, timezone, data, page, created_at, updated_at)
		SELECT 'rem_bulk' || substr(CAST(10000000000000000 + i AS TEXT), 2), 'oC', template_id, 'scheduled', fire_at + i, due_at + i, timezone, data, page, created_at, updated_at
		FROM n, reminders WHERE reminders.id = ?`, model)
	scheduled := func() (n int) {
		t.Helper()
		if err := testkit.QueryRow(h.t, h.db, `SELECT count(*) FROM reminders WHERE openid = 'oC' AND status = 'scheduled'`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	for _, path := range []string{"/admin/v1/reminders/cancel", "/admin/v1/reminders/retry"} {
		r := h.do("POST", path, adminToken, map[string]any{"filter": map[string]string{"openid": "oC"}})
		h.want(r, 422, "validation_failed")
		if !strings.Contains(r.field("filter"), "5000") {
			t.Fatalf("%s of 5,001: %s", path, r.raw)
		}
	}
	many := make([]string, 5001)
	for i := range many {
		many[i] = fmt.Sprintf("rem_bulk%016d", i+1) // as long as a real id
	}
	r := h.do("POST", "/admin/v1/reminders/cancel", adminToken, map[string]any{"ids": many})
	h.want(r, 422, "validation_failed")
	if r.field("ids") == "" {
		t.Fatalf("5,001 ids: %s", r.raw)
	}
	// 5,000 ids fit in a body (more than 64 KiB of them).
	r = h.do("POST", "/admin/v1/reminders/retry", adminToken, map[string]any{"ids": many[:5000]})
	h.want(r, 200, "")
	if got := counts(r.body, "matched", "retried", "conflict", "permanent", "not_found"); got != "matched=5000 retried=0 conflict=5000 permanent=0 not_found=0" {
		t.Fatalf("bulk retry of 5,000 ids: %s", got)
	}
	h.want(h.do("POST", "/admin/v1/reminders/retry", adminToken, `{"ids":["`+strings.Repeat("a", api.MaxBulkBodyBytes)+`"]}`), 413, "body_too_large")
	c := webClient(t, h)
	csrf := webGet(t, c, h, "/admin/").csrf(t)
	p := webPost(t, c, h, "/admin/bulk", url.Values{"csrf": {csrf}, "action": {"cancel"}, "all": {"1"}, "openid": {"oC"}, "confirm": {"1"}})
	if p.status != http.StatusConflict || !strings.Contains(p.body, "More than 5000 reminders match") {
		t.Fatalf("the page's bulk cancel of 5,001: %d\n%s", p.status, p.body)
	}
	if n := scheduled(); n != 5001 {
		t.Fatalf("a refused bulk action changed reminders: %d of 5001 still scheduled", n)
	}
	// Exactly 5,000 is within the cap.
	h.want(h.do("POST", "/admin/v1/reminders/rem_bulk0000000000000001/cancel", adminToken, nil), 200, "")
	r = h.do("POST", "/admin/v1/reminders/cancel", adminToken, map[string]any{"filter": map[string]string{"openid": "oC", "status": "scheduled"}})
	h.want(r, 200, "")
	if got := counts(r.body, "matched", "canceled", "conflict", "not_found"); got != "matched=5000 canceled=5000 conflict=0 not_found=0" {
		t.Fatalf("bulk cancel of 5,000: %s", got)
	}
	if n := scheduled(); n != 0 {
		t.Fatalf("%d left scheduled", n)
	}
}

// The API's view of the admin pause. The harness's engine is a stand-in
// (harness_test.go): that a paused engine claims nothing, across a restart,
// is internal/scheduler's TestAdminPauseStopsClaimsAndSurvivesRestart.
func TestAdminPauseInStats(t *testing.T) {
	h := newHarness(t)
	stats := func() string {
		t.Helper()
		r := h.do("GET", "/admin/v1/stats", adminToken, nil)
		h.want(r, 200, "")
		return counts(r.body, "paused", "paused_since", "paused_reason")
	}
	if got := stats(); got != "paused=false paused_since=<nil> paused_reason=<nil>" {
		t.Fatalf("stats before a pause: %s", got)
	}
	h.want(h.do("POST", "/admin/v1/pause", adminToken, map[string]string{"reason": strings.Repeat("长", 201)}), 422, "validation_failed")
	if _, _, paused := h.engine.AdminPaused(); paused {
		t.Fatal("a refused pause paused")
	}
	h.want(h.do("POST", "/admin/v1/pause", adminToken, map[string]string{"reason": strings.Repeat("长", 200)}), 200, "")
	r := h.do("POST", "/admin/v1/pause", adminToken, map[string]string{"reason": "  模板审核中 "})
	h.want(r, 200, "")
	if got := counts(r.body, "paused", "since", "reason"); got != "paused=true since=2026-12-01T09:00:00Z reason=模板审核中" {
		t.Fatalf("pause: %s", got)
	}
	if got := stats(); got != "paused=true paused_since=2026-12-01T09:00:00Z paused_reason=模板审核中" {
		t.Fatalf("stats while paused: %s", got)
	}
	r = h.do("POST", "/admin/v1/resume", adminToken, nil)
	h.want(r, 200, "")
	if got := counts(r.body, "paused", "since", "reason"); got != "paused=false since=<nil> reason=<nil>" {
		t.Fatalf("resume: %s", got)
	}
	if got := stats(); got != "paused=false paused_since=<nil> paused_reason=<nil>" {
		t.Fatalf("stats after resume: %s", got)
	}
	// No body is a pause without a reason.
	h.want(h.do("POST", "/admin/v1/pause", adminToken, nil), 200, "")
	if got := stats(); got != "paused=true paused_since=2026-12-01T09:00:00Z paused_reason=" {
		t.Fatalf("stats after a pause without a body: %s", got)
	}
}
