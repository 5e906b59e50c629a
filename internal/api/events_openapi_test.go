package api_test

import (
	"testing"
	"time"
)

// testContractEvents drives the events' operations through the contract
// client: every request and answer is checked against openapi.json.
func testContractEvents(t *testing.T, h *harness, cl *client) {
	tok := cl.login(h, "oEvents")
	body := meetingEvent(48*time.Hour, "P1D", "PT15M", "PT0S")
	r := cl.call(docValid, "POST", "/v1/events", tok, body, "Idempotency-Key", "ev-1")
	cl.want(r, 201, "")
	id := r.str("id")
	cl.want(cl.call(docValid, "POST", "/v1/events", tok, body, "Idempotency-Key", "ev-1"), 200, "")
	cl.want(cl.call(docValid, "POST", "/v1/events", tok, meetingEvent(48*time.Hour, "P2D"), "Idempotency-Key", "ev-1"), 409, "conflict")
	cl.want(cl.call(docInvalid, "POST", "/v1/events", tok, map[string]any{"title": "x"}), 422, "validation_failed")
	cl.want(cl.call(docValid, "POST", "/v1/events", tok, meetingEvent(10*time.Minute, "P1D")), 422, "validation_failed")
	cl.want(cl.call(docInvalid, "POST", "/v1/events", tok, "{"), 400, "invalid_json")
	cl.want(cl.call(docInvalid, "POST", "/v1/events", "", body), 401, "")
	cl.want(cl.call(docValid, "GET", "/v1/events", tok, nil), 200, "")
	cl.want(cl.call(docValid, "GET", "/v1/events/"+id, tok, nil), 200, "")
	cl.want(cl.call(docValid, "GET", "/v1/events/evt_none", tok, nil), 404, "not_found")
	p := cl.call(docValid, "PATCH", "/v1/events/"+id, tok, map[string]any{"leads": []string{"PT30M"}, "end_at": nil,
		"start_at": t0.Add(49 * time.Hour).Format(time.RFC3339)})
	cl.want(p, 200, "")
	cl.want(cl.call(docValid, "PATCH", "/v1/events/"+id, tok, map[string]any{"leads": []string{"PT1X"}}), 422, "validation_failed")
	cl.want(cl.call(docValid, "GET", "/admin/v1/events?openid=oEvents", adminToken, nil), 200, "")
	cl.want(cl.call(docValid, "GET", "/admin/v1/events/"+id, adminToken, nil), 200, "")
	cl.want(cl.call(docValid, "DELETE", "/v1/events/"+id, tok, nil), 200, "")
	cl.want(cl.call(docValid, "DELETE", "/v1/events/"+id, tok, nil), 409, "conflict")
	cl.want(cl.call(docValid, "PATCH", "/v1/events/"+id, tok, map[string]any{"title": "x"}), 409, "conflict")
}
