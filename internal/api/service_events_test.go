package api_test

import (
	"context"
	"net/url"
	"testing"
	"time"

	"github.com/reminderd/reminderd/internal/api"
	"github.com/reminderd/reminderd/internal/db"
	"github.com/reminderd/reminderd/internal/store"
)

// serviceEvent is a meeting for the attendees openids.
func serviceEvent(d time.Duration, openids ...string) map[string]any {
	b := meetingEvent(d, "P1D", "PT15M")
	b["openids"] = openids
	return b
}

// countEvents counts every event in the store.
func countEvents(t *testing.T, s store.Store) int {
	t.Helper()
	p, err := s.ListEvents(context.Background(), store.EventQuery{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	return len(p.Events)
}

// One create makes one event per attendee, each that user's own (their
// session reads it, another's does not), each with its coverage; the same
// Idempotency-Key answers the same events.
func TestServiceCreateEventsPerAttendee(t *testing.T) {
	h := newServiceHarness(t, false)
	a := h.login("oA")
	h.want(h.do("POST", "/v1/consents", a, map[string]any{"results": map[string]string{meetingID: "accept"}}), 200, "")
	r := h.do("POST", "/service/v1/events", serviceToken, serviceEvent(48*time.Hour, "oA", "oB"), "Idempotency-Key", "k1")
	h.want(r, 201, "")
	evs := list(r.body["events"])
	if len(evs) != 2 || strOf(evs[0], "openid") != "oA" || strOf(evs[1], "openid") != "oB" ||
		strOf(evs[0], "appid") != testAppID || strOf(evs[0], "external_ref") != "meeting-42" {
		t.Fatalf("events: %s", r.raw)
	}
	// oA's one credit covers one of the two leads; oB holds none.
	covA, covB := obj(obj(evs[0])["coverage"]), obj(obj(evs[1])["coverage"])
	if covA["covered"] != float64(1) || covA["uncovered"] != float64(1) || covB["covered"] != float64(0) || covB["uncovered"] != float64(2) {
		t.Fatalf("coverage A %v, B %v", covA, covB)
	}
	idA, idB := strOf(evs[0], "id"), strOf(evs[1], "id")
	h.want(h.do("GET", "/v1/events/"+idA, a, nil), 200, "")
	h.want(h.do("GET", "/v1/events/"+idB, a, nil), 404, "not_found")
	if len(list(obj(list(r.body["events"])[1])["reminders"])) != 2 {
		t.Fatalf("oB's reminders: %s", r.raw)
	}

	again := h.do("POST", "/service/v1/events", serviceToken, serviceEvent(48*time.Hour, "oA", "oB"), "Idempotency-Key", "k1")
	h.want(again, 200, "")
	if ev := list(again.body["events"]); strOf(ev[0], "id") != idA || strOf(ev[1], "id") != idB {
		t.Fatalf("replay: %s", again.raw)
	}
	h.want(h.do("POST", "/service/v1/events", serviceToken, serviceEvent(48*time.Hour, "oA", "oC"), "Idempotency-Key", "k1"), 409, "conflict")
	if n := countEvents(t, h.db); n != 2 {
		t.Fatalf("%d events after the replay and the conflict, want 2", n)
	}
}

// A create is all or nothing: an attendee that is not an openid, one listed
// twice, an event the rules refuse, or one attendee past the limit of
// scheduled reminders creates no event for anyone.
func TestServiceCreateEventsAllOrNothing(t *testing.T) {
	h := newServiceHarness(t, false)
	for _, tc := range []struct {
		body  map[string]any
		field string
	}{
		{serviceEvent(48 * time.Hour), "openids"},
		{serviceEvent(48*time.Hour, "oA", ""), "openids[1]"},
		{serviceEvent(48*time.Hour, "oA", "oB", "oA"), "openids[2]"},
		{func() map[string]any {
			b := serviceEvent(48*time.Hour, "oA", "oB")
			b["leads"] = []string{"bogus"}
			return b
		}(), "leads[0]"},
	} {
		r := h.do("POST", "/service/v1/events", serviceToken, tc.body)
		h.want(r, 422, "validation_failed")
		if r.field(tc.field) == "" {
			t.Errorf("no %s in %s", tc.field, r.raw)
		}
	}
	if n := countEvents(t, h.db); n != 0 {
		t.Fatalf("%d events after refused creates", n)
	}

	lim := newHarnessWith(t, db.Options{}, func(c *api.Config) {
		c.Apps = api.NewApps(api.App{AppID: testAppID, Login: c.Login, Token: c.Token, ServiceToken: serviceToken})
		c.MaxScheduledPerUser = 3
	})
	// oB holds two scheduled reminders already: the event's two leads
	// take it past 3, so nobody's event is created.
	for i := range 2 {
		lim.want(lim.do("POST", "/service/v1/reminders", serviceToken, serviceMeeting("oB", time.Duration(i+1)*time.Hour)), 201, "")
	}
	lim.want(lim.do("POST", "/service/v1/events", serviceToken, serviceEvent(48*time.Hour, "oA", "oB")), 429, "rate_limited")
	if n := countEvents(t, lim.db); n != 0 {
		t.Fatalf("%d events after the limit refused one attendee", n)
	}
}

// The service token reads, changes and cancels any event of its app; the
// reference cancels every attendee's event at once.
func TestServiceEventsByIDAndReference(t *testing.T) {
	h := newServiceHarness(t, false)
	r := h.do("POST", "/service/v1/events", serviceToken, serviceEvent(48*time.Hour, "oA", "oB", "oC"))
	h.want(r, 201, "")
	evs := list(r.body["events"])
	id := strOf(evs[0], "id")
	h.want(h.do("GET", "/service/v1/events/"+id, serviceToken, nil), 200, "")
	p := h.do("PATCH", "/service/v1/events/"+id, serviceToken, map[string]any{"title": "改期的评审会"})
	h.want(p, 200, "")
	if p.str("title") != "改期的评审会" {
		t.Fatalf("patched: %s", p.raw)
	}
	h.want(h.do("DELETE", "/service/v1/events/"+id, serviceToken, nil), 200, "")
	h.want(h.do("DELETE", "/service/v1/events/"+id, serviceToken, nil), 409, "conflict")
	h.want(h.do("GET", "/service/v1/events/evt_nope", serviceToken, nil), 404, "not_found")

	// Another reference's event stays.
	other := serviceEvent(72*time.Hour, "oA")
	other["external_ref"] = "meeting-43"
	o := h.do("POST", "/service/v1/events", serviceToken, other)
	h.want(o, 201, "")
	c := h.do("DELETE", "/service/v1/events?external_ref="+url.QueryEscape("meeting-42"), serviceToken, nil)
	h.want(c, 200, "")
	got := list(c.body["events"])
	if len(got) != 2 { // the first was canceled already
		t.Fatalf("canceled by reference: %s", c.raw)
	}
	for _, e := range got {
		if strOf(e, "status") != "canceled" {
			t.Fatalf("not canceled: %s", c.raw)
		}
	}
	if g := h.do("GET", "/service/v1/events/"+strOf(list(o.body["events"])[0], "id"), serviceToken, nil); g.str("status") != "scheduled" {
		t.Fatalf("meeting-43: %s", g.raw)
	}
	if n := h.do("DELETE", "/service/v1/events?external_ref=none", serviceToken, nil); len(list(n.body["events"])) != 0 {
		t.Fatalf("unknown reference: %s", n.raw)
	}
	h.want(h.do("DELETE", "/service/v1/events", serviceToken, nil), 422, "validation_failed")
	h.want(h.do("DELETE", "/service/v1/events?external_ref=meeting-42", h.login("oA"), nil), 401, "unauthorized")
}
