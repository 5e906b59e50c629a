package api_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/reminderd/reminderd/internal/testkit"
	"github.com/reminderd/reminderd/internal/wechat"
)

// TestAnUndeliveredSendIsVisibleOnTheReminder: WeChat's sent event with an
// ErrorCode other than 0 marks the delivery undelivered and the reminder
// "delivery": "failed", and the admin can list such reminders.
func TestAnUndeliveredSendIsVisibleOnTheReminder(t *testing.T) {
	h := newHarness(t)
	a := h.login("oA")
	id := h.create(a, meeting(time.Hour))["id"].(string)
	other := h.create(a, meeting(2*time.Hour))["id"].(string)
	testkit.Exec(h.t, h.db, `INSERT INTO deliveries (reminder_id, occurrence_at, attempt, status, errcode, msgid, started_at, finished_at, latency_ms)
		VALUES (?, (SELECT fire_at FROM reminders WHERE id = ?), 1, 'sent', 0, 1700000000000000123, ?, ?, 12)`, id, id, t0.UnixMilli(), t0.UnixMilli())
	ev := &wechat.Event{ToUserName: "gh_x", FromUserName: "oA", CreateTime: t0.Unix(), MsgType: "event", Event: wechat.EventSubscribeMsgSent,
		Sent: []wechat.SentItem{{TemplateID: meetingID, MsgID: 1700000000000000123, ErrorCode: 10005, ErrorStatus: "failed:user block"}}}
	msg, _ := wechat.MarshalEvent(ev, false)
	q, body, err := h.receiver().Seal(msg, "gh_x", false)
	if err != nil {
		t.Fatal(err)
	}
	if r := h.do("POST", "/wechat/push?"+q.Encode(), "", string(body)); r.status != 200 || r.raw != "success" {
		t.Fatalf("push: %d %s", r.status, r.raw)
	}
	r := h.do("GET", "/v1/reminders/"+id, a, nil)
	d := r.body["deliveries"].([]any)[0].(map[string]any)
	if r.body["delivery"] != "failed" || d["delivered"] != false || d["possible_duplicate"] != false {
		t.Fatalf("reminder delivery %v, its delivery %v", r.body["delivery"], d)
	}
	if r := h.do("GET", "/v1/reminders/"+other, a, nil); r.body["delivery"] != nil {
		t.Fatalf("a reminder no event spoke of has delivery %v", r.body["delivery"])
	}
	list := h.do("GET", "/admin/v1/reminders?delivery=failed", adminToken, nil)
	if rs := list.body["reminders"].([]any); list.status != 200 || len(rs) != 1 || rs[0].(map[string]any)["id"] != id {
		t.Fatalf("?delivery=failed: %d %s", list.status, list.raw)
	}
	if list := h.do("GET", "/admin/v1/reminders?delivery=delivered", adminToken, nil); len(list.body["reminders"].([]any)) != 0 {
		t.Fatalf("?delivery=delivered: %s", list.raw)
	}
	h.want(h.do("GET", "/admin/v1/reminders?delivery=maybe", adminToken, nil), 422, "validation_failed")
	h.want(h.do("GET", "/v1/reminders?delivery=failed", a, nil), 422, "validation_failed")
}

// TestPushDeduplicationSurvivesARestart: a popup push delivered again after
// a restart (its in-memory duplicate cache gone) adds no second credit.
func TestPushDeduplicationSurvivesARestart(t *testing.T) {
	h := newHarness(t)
	a := h.login("oA")
	popup := &wechat.Event{ToUserName: "gh_x", FromUserName: "oA", CreateTime: t0.Unix(), MsgType: "event", Event: wechat.EventSubscribeMsgPopup,
		Popup: []wechat.PopupItem{{TemplateID: meetingID, SubscribeStatus: "accept"}}}
	msg, _ := wechat.MarshalEvent(popup, false)
	q, body, err := h.receiver().Seal(msg, "gh_x", false)
	if err != nil {
		t.Fatal(err)
	}
	if r := h.do("POST", "/wechat/push?"+q.Encode(), "", string(body)); r.status != 200 {
		t.Fatalf("popup push: %d %s", r.status, r.raw)
	}
	h.restart(h.receiver())
	// WeChat's retry, re-encrypted with another nonce, after the restart.
	q2, body2, err := h.receiver().Seal(msg, "gh_x", false)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range [][2]string{{q.Encode(), string(body)}, {q2.Encode(), string(body2)}} {
		if r := h.do("POST", "/wechat/push?"+p[0], "", p[1]); r.status != 200 || r.raw != "success" {
			t.Fatalf("retried popup push: %d %s", r.status, r.raw)
		}
	}
	if c := credits(t, h.do("GET", "/v1/consents", a, nil), meetingID); c != 1 {
		t.Fatalf("one popup event delivered again after a restart gave %v credits", c)
	}
}

// TestAPlaintextQueryAdmitsOneBody: in plaintext mode the signature covers
// only the timestamp and nonce; a signed query seen before, with another
// body, is refused (a query copied from a proxy's log granted forged
// credits), durably, across a restart; the same body again is a duplicate.
func TestAPlaintextQueryAdmitsOneBody(t *testing.T) {
	plaintext := func(h *harness) *wechat.Receiver {
		rcv, err := wechat.NewReceiver(wechat.PushConfig{Token: pushToken, AESKey: aesKey, AppID: h.fake.AppID(), Now: h.clock.Now,
			AllowPlaintext: true})
		if err != nil {
			t.Fatal(err)
		}
		return rcv
	}
	h := newHarness(t)
	h.restart(plaintext(h))
	a := h.login("oA")
	ts := fmt.Sprint(t0.Unix())
	q := fmt.Sprintf("signature=%s&timestamp=%s&nonce=n7", wechat.Signature(pushToken, ts, "n7"), ts)
	accept := func(n int) string {
		e := &wechat.Event{ToUserName: "gh_x", FromUserName: "oA", CreateTime: t0.Unix() + int64(n), MsgType: "event",
			Event: wechat.EventSubscribeMsgPopup, Popup: []wechat.PopupItem{{TemplateID: meetingID, SubscribeStatus: "accept"}}}
		b, _ := wechat.MarshalEvent(e, true)
		return string(b)
	}
	if r := h.do("POST", "/wechat/push?"+q, "", accept(1)); r.status != 200 || r.raw != "success" {
		t.Fatalf("first plaintext push: %d %s", r.status, r.raw)
	}
	h.want(h.do("POST", "/wechat/push?"+q, "", accept(2)), 401, "unauthorized")
	h.restart(plaintext(h))
	h.want(h.do("POST", "/wechat/push?"+q, "", accept(3)), 401, "unauthorized")
	if r := h.do("POST", "/wechat/push?"+q, "", accept(1)); r.status != 200 || r.raw != "success" {
		t.Fatalf("the same body again (a retry): %d %s", r.status, r.raw)
	}
	if c := credits(t, h.do("GET", "/v1/consents", a, nil), meetingID); c != 1 {
		t.Fatalf("forged bodies under one signed query gave %v credits", c)
	}
}

// TestMovingAReminderEndsItsUnknownWait: a PATCH to a new fire_at is a new
// occurrence; the attempt of unknown outcome of the old one no longer holds
// the reminder back (nor lets it send without a credit).
func TestMovingAReminderEndsItsUnknownWait(t *testing.T) {
	h := newHarness(t)
	a := h.login("oA")
	id := h.create(a, meeting(time.Hour))["id"].(string)
	testkit.Exec(h.t, h.db, `UPDATE reminders SET unknown_at = ? WHERE id = ?`, t0.UnixMilli(), id)
	if r := h.do("PATCH", "/v1/reminders/"+id, a, map[string]any{"data": meeting(time.Hour)["data"]}); r.status != 200 {
		t.Fatalf("patch data: %d %s", r.status, r.raw)
	}
	var unknown *int64
	if err := testkit.QueryRow(h.t, h.db, `SELECT unknown_at FROM reminders WHERE id = ?`, id).Scan(&unknown); err != nil || unknown == nil {
		t.Fatalf("a PATCH that keeps fire_at ended the unknown wait (%v, %v)", unknown, err)
	}
	later := t0.Add(3 * time.Hour).Format(time.RFC3339)
	if r := h.do("PATCH", "/v1/reminders/"+id, a, map[string]any{"fire_at": later}); r.status != 200 {
		t.Fatalf("patch fire_at: %d %s", r.status, r.raw)
	}
	if err := testkit.QueryRow(h.t, h.db, `SELECT unknown_at FROM reminders WHERE id = ?`, id).Scan(&unknown); err != nil || unknown != nil {
		t.Fatalf("unknown_at %v after moving the reminder (%v)", unknown, err)
	}
}
