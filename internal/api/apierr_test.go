package api_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/reminderd/reminderd/internal/api"
	"github.com/reminderd/reminderd/internal/db"
	"github.com/reminderd/reminderd/internal/testkit"
	"github.com/reminderd/reminderd/internal/wechat"
)

// A field of the wrong JSON type is 422 validation_failed naming the field
// by its JSON path; a body that is not a JSON object stays 400 invalid_json.
func TestTypeErrorsNameTheField(t *testing.T) {
	h := newHarness(t)
	a := h.login("oA")
	id := h.create(a, meeting(time.Hour))["id"].(string)
	withData := func(v any) map[string]any {
		m := meeting(time.Hour)
		d := map[string]any{}
		for k, x := range meetingData() {
			d[k] = x
		}
		d["thing1"] = v
		m["data"] = d
		return m
	}
	for _, tc := range []struct {
		name, method, path string
		body               any
		field, problem     string
	}{
		{"fire_at a number", "POST", "/v1/reminders", `{"template_id":"` + meetingID + `","fire_at":5,"data":{}}`, "fire_at", "must be a string, not a number"},
		{"data an array", "POST", "/v1/reminders", `{"template_id":"` + meetingID + `","data":["a"]}`, "data", "must be an object, not an array"},
		{"a data value a number", "POST", "/v1/reminders", withData(3), "data.thing1", "must be a string, not a number"},
		{"a data value null", "POST", "/v1/reminders", withData(nil), "data.thing1", "must be a string, not null"},
		{"a data value in WeChat's shape", "POST", "/v1/reminders", withData(map[string]string{"value": "项目评审会"}), "data.thing1",
			`give the value itself ("项目评审会"), not WeChat's {"value":…} object`},
		{"a data value in WeChat's shape, patched", "PATCH", "/v1/reminders/" + id, map[string]any{"data": map[string]any{"thing3": map[string]string{"value": "A栋"}}}, "data.thing3",
			`give the value itself ("A栋"), not WeChat's {"value":…} object`},
		{"page a number", "PATCH", "/v1/reminders/" + id, `{"page":42}`, "page", "must be a string, not a number"},
		{"code a number", "POST", "/v1/session", `{"code":42}`, "code", "must be a string, not a number"},
		{"results an array", "POST", "/v1/consents", `{"results":[]}`, "results", "must be an object, not an array"},
		{"a result a number", "POST", "/v1/consents", `{"results":{"` + meetingID + `":1,"errMsg":"requestSubscribeMessage:ok"}}`, "results." + meetingID, "must be a string"},
		{"a result an object", "POST", "/v1/consents", `{"results":{"` + meetingID + `":{"status":"accept"}}}`, "results." + meetingID, "must be a string"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h.t = t
			tok := a
			if tc.path == "/v1/session" {
				tok = ""
			}
			r := h.do(tc.method, tc.path, tok, tc.body)
			h.want(r, 422, "validation_failed")
			if got := r.field(tc.field); !strings.HasPrefix(got, tc.problem) {
				t.Fatalf("fields[%q] = %q, want %q…: %s", tc.field, got, tc.problem, r.raw)
			}
		})
	}
	h.t = t
	// Not a JSON object, or an unknown field: 400, no fields.
	for _, body := range []string{`[]`, `5`, `{"template_id":`, `{"template_id":"x","bogus":1}`} {
		r := h.do("POST", "/v1/reminders", a, body)
		h.want(r, 400, "invalid_json")
		if strings.Contains(r.raw, `"fields"`) {
			t.Fatalf("%s: 400 with fields: %s", body, r.raw)
		}
	}
	// Nothing of the refused reports reached the ledger.
	r := h.do("GET", "/v1/consents", a, nil)
	if len(r.body["consents"].([]any)) != 0 {
		t.Fatalf("a refused report changed the ledger: %s", r.raw)
	}
}

// Every answer carries X-Request-Id: the client's when it is sane, else a
// new one; the error log lines name it.
func TestRequestIDOnEveryAnswer(t *testing.T) {
	h := newHarnessWith(t, db.Options{}, func(c *api.Config) {
		c.Login = loginFunc(func(ctx context.Context, code string) (wechat.Session, error) {
			switch code {
			case "boom":
				panic("boom")
			case "down":
				return wechat.Session{}, errors.New("connection refused")
			}
			return wechat.Session{OpenID: "o" + code}, nil
		})
	})
	tok := h.do("POST", "/v1/session", "", map[string]string{"code": "A"}).str("token")
	sane := regexp.MustCompile(`^[0-9a-f]{16}$`)
	seen := map[string]bool{}
	for _, tc := range []struct{ method, path, token string }{
		{"GET", "/healthz", ""}, {"GET", "/metrics", ""}, {"GET", "/openapi.json", ""}, {"GET", "/admin", ""},
		{"GET", "/nope", ""}, {"PUT", "/v1/session", ""}, {"GET", "/v1/reminders", ""}, {"GET", "/v1/reminders", tok},
		{"GET", "/v1/reminders/rem_nope", tok}, {"GET", "/admin/v1/stats", adminToken}, {"GET", "/admin/", ""},
	} {
		r := h.do(tc.method, tc.path, tc.token, nil)
		id := r.header.Get("X-Request-Id")
		if !sane.MatchString(id) || seen[id] {
			t.Errorf("%s %s: %d with X-Request-Id %q (a fresh 16-hex-digit id wanted)", tc.method, tc.path, r.status, id)
		}
		seen[id] = true
	}
	for in, want := range map[string]string{
		"req-42":                     "req-42",
		"trace:01HV/7=+@a_b.c":       "trace:01HV/7=+@a_b.c",
		"two words":                  "",
		`quote"`:                     "",
		"tab\there":                  "",
		strings.Repeat("x", 129):     "",
		strings.Repeat("y", 128):     strings.Repeat("y", 128),
		"caf\u00e9":                  "",
		"new\nline-is-refused-by-Go": "-", // net/http refuses to send it: skipped below
	} {
		if want == "-" {
			continue
		}
		r := h.do("GET", "/v1/reminders/rem_nope", tok, nil, "X-Request-Id", in)
		got := r.header.Get("X-Request-Id")
		if want != "" && got != want || want == "" && !sane.MatchString(got) {
			t.Errorf("incoming %q: answered X-Request-Id %q, want %q", in, got, want)
		}
	}
	// A 500 names the id in its message and in the log line that explains it.
	r := h.do("POST", "/v1/session", "", map[string]string{"code": "boom"}, "X-Request-Id", "rid-500")
	h.want(r, 500, "internal")
	if r.header.Get("X-Request-Id") != "rid-500" || !strings.Contains(r.raw, "rid-500") {
		t.Fatalf("500: %s %s", r.header.Get("X-Request-Id"), r.raw)
	}
	h.want(h.do("POST", "/v1/session", "", map[string]string{"code": "down"}, "X-Request-Id", "rid-503"), 503, "unavailable")
	for _, tc := range []struct{ msg, id string }{{"request failed", "rid-500"}, {"code2session failed", "rid-503"}} {
		found := false
		for _, l := range strings.Split(h.logs.String(), "\n") {
			var m map[string]any
			if json.Unmarshal([]byte(l), &m) == nil && m["msg"] == tc.msg {
				found = true
				if m["request_id"] != tc.id {
					t.Errorf("log line %q without its request id %s: %s", tc.msg, tc.id, l)
				}
			}
		}
		if !found {
			t.Errorf("no log line %q:\n%s", tc.msg, h.logs.String())
		}
	}
}

// A 201 names what it created in Location.
func TestLocationOnCreate(t *testing.T) {
	h := newHarness(t)
	a := h.login("oA")
	r := h.do("POST", "/v1/reminders", a, meeting(time.Hour))
	h.want(r, 201, "")
	loc := r.header.Get("Location")
	if loc != "/v1/reminders/"+r.str("id") {
		t.Fatalf("201 with Location %q, id %s", loc, r.str("id"))
	}
	h.want(h.do("GET", loc, a, nil), 200, "")
}

// One rule for every instant of every answer: a reminder's instants in its
// timezone, every other instant in UTC; the milliseconds given come back.
func TestInstantsFollowOneRule(t *testing.T) {
	h := newHarness(t)
	a := h.login("oA")
	h.clock.Advance(250 * time.Millisecond) // the session, the consent and the reminder are written at .25 s
	login := h.do("POST", "/v1/session", "", map[string]string{"code": h.fake.IssueCode("oA")})
	h.do("POST", "/v1/consents", a, map[string]any{"results": map[string]string{meetingID: "accept"}})
	body := meeting(time.Hour)
	body["fire_at"] = "2026-12-01T05:00:00.125-05:00" // 10:00:00.125Z
	body["expires_at"] = "2026-12-01T18:30:00.5+08:00"
	body["timezone"] = "America/New_York"
	created := h.create(a, body)
	id := created["id"].(string)
	testkit.Exec(h.t, h.db, `INSERT INTO deliveries (reminder_id, occurrence_at, attempt, status, errcode, msgid, started_at, latency_ms)
		VALUES (?, ?, 1, 'sent', 0, 42, ?, 12)`, id, t0.Add(time.Hour+125*time.Millisecond).UnixMilli(), t0.Add(time.Hour+time.Second).UnixMilli())
	detail := h.do("GET", "/v1/reminders/"+id, a, nil).body
	d := detail["deliveries"].([]any)[0].(map[string]any)
	consents := h.do("GET", "/v1/consents", a, nil).body["consents"].([]any)
	stats := h.do("GET", "/admin/v1/stats", adminToken, nil).body
	jobs := h.do("GET", "/admin/v1/jobs", adminToken, nil).body["jobs"].([]any)
	for _, tc := range []struct{ what, got, want string }{
		{"fire_at", created["fire_at"].(string), "2026-12-01T05:00:00.125-05:00"},
		{"expires_at", created["expires_at"].(string), "2026-12-01T05:30:00.5-05:00"},
		{"created_at", created["created_at"].(string), "2026-12-01T04:00:00.25-05:00"},
		{"detail fire_at", detail["fire_at"].(string), "2026-12-01T05:00:00.125-05:00"},
		{"delivery at", d["at"].(string), "2026-12-01T05:00:01-05:00"},
		{"delivery occurrence_at", d["occurrence_at"].(string), "2026-12-01T05:00:00.125-05:00"},
		{"session expires_at", login.str("expires_at"), "2026-12-31T09:00:00.25Z"},
		{"consent updated_at", consents[0].(map[string]any)["updated_at"].(string), "2026-12-01T09:00:00.25Z"},
		{"stats token_expires_at", fmt.Sprint(stats["token_expires_at"]), "Z"},
		{"job next_run_at", jobs[0].(map[string]any)["next_run_at"].(string), "2026-12-01T09:00:01Z"},
	} {
		if tc.want == "Z" {
			if !strings.HasSuffix(tc.got, "Z") {
				t.Errorf("%s = %s, want UTC", tc.what, tc.got)
			}
			continue
		}
		if tc.got != tc.want {
			t.Errorf("%s = %s, want %s", tc.what, tc.got, tc.want)
		}
	}
}

// httpSeen records what the server tells its ObserveHTTP hook.
type httpSeen struct {
	mu   sync.Mutex
	seen []string
}

func (s *httpSeen) observe(method, route string, status int, d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seen = append(s.seen, fmt.Sprintf("%s %s %d", method, route, status))
}

// Requests are reported by route pattern (bounded), never by path.
func TestHTTPObservedByRoutePattern(t *testing.T) {
	seen := &httpSeen{}
	h := newHarnessWith(t, db.Options{}, func(c *api.Config) { c.ObserveHTTP = seen.observe })
	a := h.login("oA")
	id := h.create(a, meeting(time.Hour))["id"].(string)
	h.do("GET", "/v1/reminders/"+id, a, nil)
	h.do("GET", "/v1/reminders/rem_nope", a, nil)
	h.do("GET", "/v1/reminders/"+id, "", nil)
	h.do("GET", "/nope/"+id, "", nil)
	h.do("GET", "/v1/nope", a, nil)
	h.do("POST", "/v1/reminders/"+id, a, nil)
	h.do("POST", "/admin/v1/reminders/"+id+"/cancel", adminToken, nil)
	want := []string{
		"POST /v1/session 200",
		"POST /v1/reminders 201",
		"GET /v1/reminders/{id} 200",
		"GET /v1/reminders/{id} 404",
		"GET /v1/reminders/{id} 401",
		"GET unmatched 404",
		"GET unmatched 404",
		"POST unmatched 405",
		"POST /admin/v1/reminders/{id}/cancel 200",
	}
	seen.mu.Lock()
	defer seen.mu.Unlock()
	if !slices.Equal(seen.seen, want) {
		t.Fatalf("observed\n%s\nwant\n%s", strings.Join(seen.seen, "\n"), strings.Join(want, "\n"))
	}
}

// grants records SandboxGrant's calls.
type grants struct {
	mu    sync.Mutex
	calls []string
	fail  string
}

func (g *grants) grant(openID, templateID string) (bool, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.calls = append(g.calls, openID+" "+templateID)
	if templateID == g.fail {
		return false, errors.New("refused")
	}
	return true, nil
}

// In sandbox mode a consent report is granted at the fake too: once per
// accepted template of the report, nothing for the rest, nothing for a
// refused report; the access log line says so.
func TestSandboxGrantOncePerAcceptedTemplate(t *testing.T) {
	g := &grants{}
	h := newHarnessWith(t, db.Options{}, func(c *api.Config) { c.SandboxGrant = g.grant })
	a := h.login("oA")
	h.want(h.do("POST", "/v1/consents", a, map[string]any{"results": map[string]string{
		meetingID: "accept", deadlineID: "reject", "errMsg": "requestSubscribeMessage:ok"}}), 200, "")
	h.want(h.do("POST", "/v1/consents", a, map[string]any{"results": map[string]string{clinicID: "acceptWithAudio"}}), 200, "")
	h.want(h.do("POST", "/v1/consents", a, map[string]any{"results": map[string]string{meetingID: "accept", "nope": "accept"}}), 422, "validation_failed")
	h.want(h.do("POST", "/v1/consents", a, map[string]any{"results": map[string]string{deadlineID: "ban"}}), 200, "")
	g.mu.Lock()
	calls := slices.Clone(g.calls)
	g.mu.Unlock()
	if want := []string{"oA " + meetingID, "oA " + clinicID}; !slices.Equal(calls, want) {
		t.Fatalf("granted at the fake: %v, want %v", calls, want)
	}
	if !strings.Contains(h.logs.String(), `"sandbox_granted":["`+meetingID+`"]`) {
		t.Fatalf("the report's log line does not say it was granted at the fake:\n%s", h.logs.String())
	}
	// Without the hook (production), reports reach the ledger only: the
	// harness above is the only one that was called.
	h2 := newHarness(t)
	b := h2.login("oB")
	h2.want(h2.do("POST", "/v1/consents", b, map[string]any{"results": map[string]string{meetingID: "accept"}}), 200, "")
	if strings.Contains(h2.logs.String(), "sandbox") {
		t.Fatalf("a production report mentions the sandbox:\n%s", h2.logs.String())
	}
}
