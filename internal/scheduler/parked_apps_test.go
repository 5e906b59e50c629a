package scheduler_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/reminderd/reminderd/internal/store"
	"github.com/reminderd/reminderd/internal/wechat/wechattest"
)

// sentEventIn applies WeChat's sent event for the fake's send s as the push
// handler of app's URL does.
func (h *harness) sentEventIn(app string, s wechattest.Send) store.PushApplied {
	h.t.Helper()
	h.pushes++
	applied, err := h.db.ApplyPushEvent(context.Background(), store.PushEvent{At: h.now(), BodyHash: fmt.Sprintf("sent-%d", h.pushes),
		AppID: app, OpenID: s.ToUser, Sent: []store.SentEvent{{MsgID: s.MsgID, Delivered: true, Status: "success", TemplateID: s.TemplateID}}})
	if err != nil {
		h.t.Fatal(err)
	}
	return applied
}

// sendOf is the fake's send of reminder id (its thing1 names it).
func (h *harness) sendOf(id string) wechattest.Send {
	h.t.Helper()
	for _, s := range h.fake.Sends() {
		if strings.Contains(s.Data["thing1"], id) {
			return s
		}
	}
	h.t.Fatalf("no send of %s in %+v", id, h.fake.Sends())
	return wechattest.Send{}
}

// Two apps' reminders of one openid and template both lose their answer;
// the sent event pushed to B's URL settles B's and leaves A's waiting out
// its unknown outcome, neither woken nor settled by another app's event.
func TestAParkedSentEventSettlesItsOwnAppsReminderOnly(t *testing.T) {
	h := newHarness(t, nil)
	h.grantIn("wxa", "oA", meetingID, 1)
	h.grantIn("wxb", "oA", meetingID, 1)
	a := h.add("oA", t0, inApp("wxa"))
	b := h.add("oA", t0, inApp("wxb"))
	h.fake.FailNextSends(2, wechattest.AnswerLost)
	h.cycle()
	for _, id := range []string{a, b} {
		if r := h.wantState(id, "scheduled", ""); r.UnknownAt.IsZero() {
			t.Fatalf("%s after the lost answer: %+v, want it waiting out an unknown outcome", id, r)
		}
	}
	h.clock.Advance(30 * time.Second)
	sb := h.sendOf(b)
	if applied := h.sentEventIn("wxb", sb); !applied.Woken {
		t.Fatalf("B's sent event woke nothing: %+v", applied)
	}
	h.cycle()
	if ds := h.deliveries(b); h.wantState(b, "sent", "").Delivery != "delivered" || len(ds) != 1 || ds[0].MsgID != sb.MsgID {
		t.Errorf("B's deliveries %+v: want its unknown attempt settled by its event", ds)
	}
	ra := h.wantState(a, "scheduled", "")
	if ds := h.deliveries(a); !ra.DueAt.Equal(t0.Add(2*time.Minute)) || len(ds) != 1 || ds[0].Status != "unknown" {
		t.Errorf("A after B's event: due %v, deliveries %+v; want it still waiting, its attempt unknown", ra.DueAt, ds)
	}
	if n := h.fake.Counts().Send; n != 2 {
		t.Errorf("%d sends, want the two lost ones only", n)
	}
}
