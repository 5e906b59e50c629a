package api_test

import (
	"strings"
	"testing"
)

// GET /admin/v1/instances needs the admin token and lists the engine's
// instances, the leader flagged; the admin page says how many are live
// and which leads.
func TestAdminInstances(t *testing.T) {
	h := newHarness(t)
	if r := h.do("GET", "/admin/v1/instances", "", nil); r.status != 401 {
		t.Fatalf("without the admin token: %d", r.status)
	}
	r := h.do("GET", "/admin/v1/instances", adminToken, nil)
	list, _ := r.body["instances"].([]any)
	if r.status != 200 || len(list) != 2 {
		t.Fatalf("instances %d %s", r.status, r.raw)
	}
	first := list[0].(map[string]any)
	if first["id"] != "vm-1-1-aa" || first["host"] != "vm-1" || first["leader"] != true ||
		first["started_at"] != "2026-12-01T09:00:00Z" || first["last_seen_at"] != "2026-12-01T09:01:00Z" ||
		list[1].(map[string]any)["leader"] != false {
		t.Fatalf("instances %s", r.raw)
	}
	p := webGet(t, webClient(t, h), h, "/admin/engine")
	if p.status != 200 || !strings.Contains(p.body, "2 live; the leader (runs the periodic jobs): vm-1 (vm-1-1-aa)") {
		t.Fatalf("the engine page's fleet line: %d\n%s", p.status, p.body)
	}
}
