package storetest

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/reminderd/reminderd/internal/store"
)

// The apps of events and of the webhook outbox's rows, and the service
// API's creates of one event per attendee (store.Events.CreateEvents).

// inApp is e and its reminders in app.
func inApp(app string, e store.Event, rems []store.NewReminder) (store.Event, []store.NewReminder) {
	e.AppID = app
	for i := range rems {
		rems[i].AppID = app
	}
	return e, rems
}

// An event keeps its app; the listings filter by it; the reference lists
// every attendee's event of one app that is not canceled; adoption gives
// the events without an app to the configured one.
func testEventApps(t *testing.T, s store.Store) {
	ctx := context.Background()
	start := et0.Add(48 * time.Hour)
	for _, x := range []struct{ id, app, openid string }{
		{"evt_a1", "wxa", "oA"}, {"evt_a2", "wxa", "oB"}, {"evt_b1", "wxb", "oA"}, {"evt_old", "", "oC"},
	} {
		e, rems := newEvent(x.id, x.openid, start, time.Hour)
		e.ExternalRef = "meeting-42"
		e, rems = inApp(x.app, e, rems)
		mustCreateEvent(t, s, e, rems)
	}
	if e, err := s.GetEvent(ctx, "evt_b1"); err != nil || e.AppID != "wxb" {
		t.Fatalf("GetEvent: %+v %v", e, err)
	}
	ids := func(q store.EventQuery) []string {
		t.Helper()
		q.Limit = 100
		p, err := s.ListEvents(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, e := range p.Events {
			out = append(out, e.ID)
		}
		return out
	}
	if got := ids(store.EventQuery{AppID: "wxa"}); !slices.Equal(got, []string{"evt_a1", "evt_a2"}) {
		t.Errorf("app wxa: %v", got)
	}
	if got := ids(store.EventQuery{AppID: "wxb", OpenID: "oA"}); !slices.Equal(got, []string{"evt_b1"}) {
		t.Errorf("oA of wxb: %v", got)
	}
	if got := ids(store.EventQuery{}); len(got) != 4 {
		t.Errorf("every app's: %v", got)
	}
	byRef := func(app string) []string {
		t.Helper()
		got, err := s.EventIDsByExternalRef(ctx, app, "meeting-42")
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	if got := byRef("wxa"); !slices.Equal(got, []string{"evt_a1", "evt_a2"}) {
		t.Errorf("wxa's meeting-42: %v", got)
	}
	if _, err := s.CancelEvent(ctx, "evt_a1", et0); err != nil {
		t.Fatal(err)
	}
	if got := byRef("wxa"); !slices.Equal(got, []string{"evt_a2"}) {
		t.Errorf("wxa's meeting-42 after a cancel: %v", got)
	}
	if got, err := s.EventIDsByExternalRef(ctx, "wxa", "other"); err != nil || len(got) != 0 {
		t.Errorf("another reference: %v %v", got, err)
	}
	if _, err := s.AdoptRows(ctx, "wxa"); err != nil {
		t.Fatal(err)
	}
	if e, err := s.GetEvent(ctx, "evt_old"); err != nil || e.AppID != "wxa" {
		t.Fatalf("adopted: %+v %v", e, err)
	}
	if e, _ := s.GetEvent(ctx, "evt_b1"); e.AppID != "wxb" {
		t.Fatalf("adoption moved another app's event: %+v", e)
	}
}

// CreateEvents writes every attendee's event or none: one past the limit
// refuses all; a key replays all.
func testCreateEvents(t *testing.T, s store.Store) {
	ctx := context.Background()
	start := et0.Add(48 * time.Hour)
	create(t, s, "r1", "oB", oneTime, et0.Add(time.Hour))
	batch := func(key string) []store.NewEvent {
		var out []store.NewEvent
		for _, oid := range []string{"oA", "oB"} {
			e, rems := newEvent("evt_"+oid, oid, start, time.Hour, 2*time.Hour)
			if key != "" {
				e.IdempotencyKey, e.RequestHash = key, "h"
			}
			e, rems = inApp("wxa", e, rems)
			out = append(out, store.NewEvent{Event: e, Reminders: rems})
		}
		return out
	}
	// oB holds one scheduled reminder: two more take it past 2.
	if _, err := s.CreateEvents(ctx, batch(""), store.CreateOptions{MaxScheduled: 2}); !errors.Is(err, store.ErrLimit) {
		t.Fatalf("past the limit: %v, want ErrLimit", err)
	}
	for _, id := range []string{"evt_oA", "evt_oB"} {
		if _, err := s.GetEvent(ctx, id); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("%s was written by a refused create: %v", id, err)
		}
	}
	if rs := eventRems(t, s, "evt_oA"); len(rs) != 0 {
		t.Errorf("reminders of a refused create: %v", remIDs(rs))
	}
	got, err := s.CreateEvents(ctx, batch("k"), store.CreateOptions{MaxScheduled: 3})
	if err != nil || len(got) != 2 || got[0].Event.ID != "evt_oA" || got[1].Event.ID != "evt_oB" || got[0].Replayed {
		t.Fatalf("create: %+v %v", got, err)
	}
	if rs := eventRems(t, s, "evt_oB"); len(rs) != 2 || rs[0].AppID != "wxa" {
		t.Fatalf("oB's reminders: %+v", rs)
	}
	again, err := s.CreateEvents(ctx, batch("k"), store.CreateOptions{MaxScheduled: 3})
	if err != nil || len(again) != 2 || !again[0].Replayed || !again[1].Replayed || again[1].Event.ID != "evt_oB" {
		t.Fatalf("replay: %+v %v", again, err)
	}
	other := batch("k")
	other[1].Event.RequestHash = "other"
	if _, err := s.CreateEvents(ctx, other, store.CreateOptions{}); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("the key with another request: %v, want ErrConflict", err)
	}
}

// Each outbox row is its own app's: an outcome its reminder's, a consent
// change the app whose ledger it changed; an app without a webhook writes
// none, and Default takes what has no app.
func testWebhookApps(t *testing.T, s store.Store) {
	ctx := context.Background()
	// oneTime2 is B's only; longTerm every app's (the sandbox's fakes
	// share their template ids).
	if err := s.AppTemplates("wxb").SyncTemplates(ctx, []store.Template{tmpl(oneTime2, "B"), tmpl(longTerm, "B")}, et0); err != nil {
		t.Fatal(err)
	}
	if err := s.AppTemplates("wxa").SyncTemplates(ctx, []store.Template{tmpl(longTerm, "A")}, et0); err != nil {
		t.Fatal(err)
	}
	if err := s.AppTemplates("wxc").SyncTemplates(ctx, []store.Template{tmpl(longTerm, "C")}, et0); err != nil {
		t.Fatal(err)
	}
	for _, x := range []struct{ id, app string }{{"ra", "wxa"}, {"rb", "wxb"}, {"rc", "wxc"}, {"rold", ""}} {
		_, err := s.CreateReminder(ctx, store.NewReminder{ID: x.id, AppID: x.app, OpenID: "o" + x.id, TemplateID: longTerm,
			FireAt: et0, Timezone: "Asia/Shanghai", Data: `{"thing1":"x"}`, CreatedAt: et0.Add(-time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
		acceptIn(t, s, x.app, "o"+x.id, longTerm, et0.Add(-time.Hour))
	}
	// wxc has no webhook.
	s.EnableWebhooks(store.WebhookApps{Default: "wxa", On: func(app string) bool { return app == "wxa" || app == "wxb" }})
	cs := claimAt(t, s, "w", et0, 10)
	for i, id := range []string{"ra", "rb", "rc", "rold"} {
		record(t, s, sent(byID(t, cs, id), et0.Add(time.Second), int64(100+i)))
	}
	if _, err := s.RecordAccept(ctx, "wxb", "oX", oneTime2, false, store.SourceClient, et0.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	// A template of both apps: the app whose ledger it is.
	if _, err := s.RecordAccept(ctx, "wxb", "orb", longTerm, true, store.SourceClient, et0.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	// orc's app (wxc) has no webhook: no row, not even for wxa, which
	// lists the same template id.
	if _, err := s.RecordAccept(ctx, "wxc", "orc", longTerm, true, store.SourceClient, et0.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, w := range outbox(t, s, et0.Add(time.Minute)) {
		key := w.ReminderID
		if w.Type == store.EventConsentChanged {
			key = "consent " + w.OpenID
		}
		got[key] = w.AppID
	}
	want := map[string]string{"ra": "wxa", "rb": "wxb", "rold": "wxa", "consent oX": "wxb", "consent orb": "wxb"}
	if len(got) != len(want) {
		t.Fatalf("rows %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: app %q, want %q (rows %v)", k, got[k], v, got)
		}
	}
}
