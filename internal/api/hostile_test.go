package api_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/reminderd/reminderd/internal/testkit"
	"github.com/reminderd/reminderd/internal/wechat"
)

// digest fingerprints every row of every table: "nothing changed" is an
// equal digest.
func digest(t testing.TB, h *harness) [32]byte {
	t.Helper()
	hash := sha256.New()
	for _, table := range []string{"sessions", "templates", "consents", "consent_grants", "reminders", "deliveries", "pending_sent_events"} {
		if testkit.OnPostgres() { // every row as PostgreSQL writes a row value
			var rows string
			if err := testkit.QueryRow(t, h.db, "SELECT coalesce(string_agg(CAST(t AS text), E'\\n' ORDER BY CAST(t AS text)), '') FROM "+table+" t").Scan(&rows); err != nil {
				t.Fatal(err)
			}
			fmt.Fprintf(hash, "%s%s\n", table, rows)
			continue
		}
		rows, err := h.sqlite("raw SQL").R.Query("SELECT * FROM " + table + " ORDER BY 1")
		if err != nil {
			t.Fatal(err)
		}
		cols, _ := rows.Columns()
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		for rows.Next() {
			if err := rows.Scan(ptrs...); err != nil {
				t.Fatal(err)
			}
			fmt.Fprintf(hash, "%s%v\n", table, vals)
		}
		rows.Close()
	}
	var out [32]byte
	copy(out[:], hash.Sum(nil))
	return out
}

func TestHostileRequestsChangeNothing(t *testing.T) {
	h := newHarness(t)
	a, b := h.login("oA"), h.login("oB")
	h.do("POST", "/v1/consents", a, map[string]any{"results": map[string]string{meetingID: "accept"}})
	idA := h.create(a, meeting(time.Hour))["id"].(string)
	idB := h.create(b, meeting(2*time.Hour))["id"].(string)
	rcv := h.receiver()
	popup := &wechat.Event{ToUserName: "gh_x", FromUserName: "oA", CreateTime: t0.Unix(), MsgType: "event", Event: wechat.EventSubscribeMsgPopup,
		Popup: []wechat.PopupItem{{TemplateID: meetingID, SubscribeStatus: "accept"}}}
	msg, _ := wechat.MarshalEvent(popup, true)
	q, body, _ := rcv.Seal(msg, "gh_x", true)
	forged := url.Values{}
	for k, v := range q {
		forged[k] = v
	}
	forged.Set("msg_signature", strings.Repeat("a", 40))
	stale, staleBody, _ := rcv.SealAt(msg, "gh_x", true, t0.Add(-time.Hour), "n")
	tampered := strings.Replace(string(body), `"Encrypt":"`, `"Encrypt":"AAAA`, 1)
	sqlish := "x' OR '1'='1'; DROP TABLE reminders; --"

	before := digest(t, h)
	for _, tc := range []struct {
		name, method, path, token string
		body                      any
		headers                   []string
		status                    int
		code                      string
	}{
		{"oversized", "POST", "/v1/reminders", a, `{"template_id":"` + strings.Repeat("x", 200<<10) + `"}`, nil, 413, "body_too_large"},
		{"malformed", "POST", "/v1/reminders", a, `{"template_id":`, nil, 400, "invalid_json"},
		{"fire_at as a number", "POST", "/v1/reminders", a, `{"template_id":"t","fire_at":1767225600,"data":{}}`, nil, 422, "validation_failed"},
		{"data as an array", "POST", "/v1/reminders", a, `{"template_id":"t","data":["a"]}`, nil, 422, "validation_failed"},
		{"template_id as a bool", "POST", "/v1/reminders", a, `{"template_id":true}`, nil, 422, "validation_failed"},
		{"duplicate keys, unknown field", "POST", "/v1/reminders", a, `{"template_id":"a","template_id":"b","x":1}`, nil, 400, "invalid_json"},
		{"invalid UTF-8 value", "POST", "/v1/reminders", a, "{\"template_id\":\"" + meetingID + "\",\"fire_at\":\"2026-12-01T18:00:00+08:00\",\"data\":{\"thing1\":\"\xff\xfe\",\"time2\":\"2026-12-01 14:00\",\"thing3\":\"A\"}}", nil, 422, "validation_failed"},
		{"bidi override", "POST", "/v1/reminders", a, map[string]any{"template_id": meetingID, "fire_at": t0.Add(time.Hour).Format(time.RFC3339),
			"data": map[string]string{"thing1": "会议\u202e", "time2": "2026-12-01 14:00", "thing3": "A"}}, nil, 422, "validation_failed"},
		{"SQL in template_id", "POST", "/v1/reminders", a, map[string]any{"template_id": sqlish, "data": meetingData(), "fire_at": t0.Add(time.Hour).Format(time.RFC3339)}, nil, 422, "validation_failed"},
		{"SQL in the path", "GET", "/v1/reminders/" + url.PathEscape(sqlish), a, nil, nil, 404, "not_found"},
		{"SQL in a cursor", "GET", "/v1/reminders?cursor=" + url.QueryEscape(sqlish), a, nil, nil, 422, "validation_failed"},
		{"SQL in an admin filter", "POST", "/admin/v1/reminders/" + url.PathEscape(sqlish) + "/cancel", adminToken, nil, nil, 404, "not_found"},
		{"huge limit", "GET", "/v1/reminders?limit=100000000000000000000", a, nil, nil, 422, "validation_failed"},
		{"control characters in Idempotency-Key", "POST", "/v1/reminders", a, meeting(time.Hour), []string{"Idempotency-Key", "k\tk"}, 422, "validation_failed"},
		{"another user's reminder: read", "GET", "/v1/reminders/" + idB, a, nil, nil, 404, "not_found"},
		{"another user's reminder: change", "PATCH", "/v1/reminders/" + idB, a, map[string]any{"page": "pages/index/index"}, nil, 404, "not_found"},
		{"another user's reminder: cancel", "DELETE", "/v1/reminders/" + idB, a, nil, nil, 404, "not_found"},
		{"no token", "DELETE", "/v1/reminders/" + idA, "", nil, nil, 401, "unauthorized"},
		{"forged token", "DELETE", "/v1/reminders/" + idA, "forged", nil, nil, 401, "unauthorized"},
		{"10 KB token", "GET", "/v1/reminders", strings.Repeat("t", 10<<10), nil, nil, 401, "unauthorized"},
		{"user token on admin", "POST", "/admin/v1/reminders/" + idA + "/cancel", a, nil, nil, 403, "forbidden"},
		{"forged push signature", "POST", "/wechat/push?" + forged.Encode(), "", string(body), nil, 401, "unauthorized"},
		{"stale (replayed) push", "POST", "/wechat/push?" + stale.Encode(), "", string(staleBody), nil, 401, "unauthorized"},
		{"tampered push body", "POST", "/wechat/push?" + q.Encode(), "", tampered, nil, 401, "unauthorized"},
		{"push body too large", "POST", "/wechat/push?" + q.Encode(), "", strings.Repeat("x", 100<<10), nil, 413, "body_too_large"},
		{"static path traversal", "GET", "/admin/static/../../../../etc/passwd", "", nil, nil, 404, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h.t = t
			r := h.do(tc.method, tc.path, tc.token, tc.body, tc.headers...)
			if r.status != tc.status || (tc.code != "" && r.errCode() != tc.code) {
				t.Fatalf("got %d %.300s, want %d %s", r.status, r.raw, tc.status, tc.code)
			}
			if strings.Contains(r.raw, "DROP TABLE") && tc.code != "validation_failed" {
				t.Fatalf("the answer echoes the hostile input: %.300s", r.raw)
			}
			if after := digest(t, h); after != before {
				t.Fatal("the request changed the database")
			}
		})
	}
	h.t = t
	// A genuine push, then its replay: the first counts, the replay changes nothing.
	if r := h.do("POST", "/wechat/push?"+q.Encode(), "", string(body)); r.status != 200 {
		t.Fatalf("genuine push: %d %s", r.status, r.raw)
	}
	mid := digest(t, h)
	if r := h.do("POST", "/wechat/push?"+q.Encode(), "", string(body)); r.status != 200 || digest(t, h) != mid {
		t.Fatal("a replayed push changed the database")
	}
}

// FuzzAPIBodies sends arbitrary bodies to every endpoint that reads JSON:
// never a 5xx, never a panic, always the contract's error shape.
func FuzzAPIBodies(f *testing.F) {
	h := newHarness(f)
	tok := h.login("oFuzz")
	id := h.create(tok, meeting(time.Hour))["id"].(string)
	handler := h.srv.Config.Handler
	for _, s := range []string{`{}`, `{"code":"x"}`, `{"template_id":"` + meetingID + `","fire_at":"2026-12-01T18:00:00+08:00","data":{"thing1":"a","time2":"14:00","thing3":"b"}}`,
		`{"results":{"` + meetingID + `":"accept"}}`, `{"data":{"thing1":"x"}}`, `{"fire_at":null}`, `[]`, `"`, `{"expires_at":"2026-12-01T18:00:00Z","page":""}`} {
		f.Add(uint8(0), []byte(s))
	}
	targets := []struct{ method, path string }{
		{"POST", "/v1/session"}, {"POST", "/v1/reminders"}, {"POST", "/v1/consents"}, {"PATCH", "/v1/reminders/" + id},
	}
	f.Fuzz(func(t *testing.T, which uint8, body []byte) {
		tg := targets[int(which)%len(targets)]
		req := httptest.NewRequest(tg.method, tg.path, bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+tok)
		rec := httptest.NewRecorder()
		handler.ServeHTTP(rec, req.WithContext(context.Background()))
		if rec.Code >= 500 {
			t.Fatalf("%s %s with %q: %d %s", tg.method, tg.path, body, rec.Code, rec.Body)
		}
		if rec.Code >= 400 && !strings.Contains(rec.Body.String(), `"error":{"code":"`) {
			t.Fatalf("%d answer not in the contract's shape: %s", rec.Code, rec.Body)
		}
		if rec.Code != http.StatusOK && rec.Code != http.StatusCreated && rec.Code < 400 {
			t.Fatalf("unexpected status %d", rec.Code)
		}
	})
}
