package scheduler_test

import (
	"context"
	"testing"
	"time"

	"github.com/reminderd/reminderd/internal/store"
	"github.com/reminderd/reminderd/internal/wechat/wechattest"
)

// An event's reminders are sent, each through the first of the event's
// templates the user holds a credit for (at WeChat too, with that
// template's data), one credit spent; with none the lead is skipped as
// no_consent. On both stores, through the engine and the fake WeChat.
func TestEventLeadsSentThroughTheFirstTemplateWithACredit(t *testing.T) {
	h := newHarness(t, nil)
	h.fake.AddTemplate(wechattest.MeetingStartTemplate())
	if err := h.cat.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	start := t0.Add(2 * time.Hour)
	alts := []store.Alternative{
		{TemplateID: meetingID, Data: `{"thing1":"评审会","time2":"2026-12-01 19:00","thing3":"A栋"}`},
		{TemplateID: wechattest.MeetingStartTemplateID, Data: `{"thing1":"评审会","time4":"2026-12-01 19:00"}`},
	}
	e := store.Event{ID: "evt_1", OpenID: "oA", Title: "评审会", StartAt: start, Timezone: "Asia/Shanghai", Leads: []string{"PT2H", "PT1H", "PT30M"},
		Templates: []store.EventTemplate{{TemplateID: meetingID, Data: []byte(`{}`)}}, CreatedAt: t0}
	var rems []store.NewReminder
	for i, l := range []time.Duration{2 * time.Hour, time.Hour, 30 * time.Minute} {
		rems = append(rems, store.NewReminder{ID: "evt_1-" + e.Leads[i], OpenID: "oA", TemplateID: meetingID, FireAt: start.Add(-l),
			ExpiresAt: start, Window: l, HasWindow: true, Timezone: "Asia/Shanghai", Data: alts[0].Data, CreatedAt: t0,
			EventID: e.ID, Lead: e.Leads[i], Alternatives: alts})
	}
	if _, err := h.db.CreateEvent(context.Background(), e, rems, store.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// One credit of the second template only: the first lead goes through it.
	h.grant("oA", wechattest.MeetingStartTemplateID, 1)
	h.cycle()
	first := h.wantState("evt_1-PT2H", "sent", "")
	sends := h.fake.Sends()
	if len(sends) != 1 || sends[0].TemplateID != wechattest.MeetingStartTemplateID || sends[0].Data["time4"] != "2026-12-01 19:00" ||
		first.TemplateID != wechattest.MeetingStartTemplateID {
		t.Fatalf("first lead: %+v, sends %+v", first, sends)
	}
	// Credits of both: the first template is taken first.
	h.grant("oA", meetingID, 1)
	h.grant("oA", wechattest.MeetingStartTemplateID, 1)
	h.clock.Advance(time.Hour)
	h.cycle()
	second := h.wantState("evt_1-PT1H", "sent", "")
	if sends := h.fake.Sends(); len(sends) != 2 || sends[1].TemplateID != meetingID || sends[1].Data["thing3"] != "A栋" ||
		second.TemplateID != meetingID || h.credits("oA", meetingID) != 0 || h.credits("oA", wechattest.MeetingStartTemplateID) != 1 {
		t.Fatalf("second lead: %+v, sends %+v", second, sends)
	}
	// The second template's credit is left for the last lead; then none.
	h.clock.Advance(30 * time.Minute)
	h.cycle()
	if third := h.wantState("evt_1-PT30M", "sent", ""); third.TemplateID != wechattest.MeetingStartTemplateID {
		t.Fatalf("third lead: %+v", third)
	}
	if got, _ := h.db.GetEvent(context.Background(), "evt_1"); got.Status() != "done" {
		t.Errorf("event after its leads: %s", got.Status())
	}
	// A lead with no credit of any template is skipped.
	e.ID, e.StartAt = "evt_2", start.Add(time.Hour)
	r := rems[0]
	r.ID, r.EventID, r.FireAt, r.ExpiresAt = "evt_2-a", "evt_2", h.now(), start.Add(time.Hour)
	r.Window = r.ExpiresAt.Sub(r.FireAt)
	if _, err := h.db.CreateEvent(context.Background(), e, []store.NewReminder{r}, store.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	h.cycle()
	if skipped := h.wantState("evt_2-a", "skipped", "no_consent"); skipped.TemplateID != meetingID {
		t.Errorf("uncovered lead: %+v", skipped)
	}
	if len(h.fake.Sends()) != 3 {
		t.Errorf("sends %d, want 3", len(h.fake.Sends()))
	}
}
