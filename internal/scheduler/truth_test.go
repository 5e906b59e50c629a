package scheduler_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/reminderd/reminderd/internal/scheduler"
	"github.com/reminderd/reminderd/internal/testkit"
	"github.com/reminderd/reminderd/internal/wechat"
	"github.com/reminderd/reminderd/internal/wechat/wechattest"
)

// slowSender moves the fake clock on by d during each send: WeChat answers
// d after the request.
type slowSender struct {
	scheduler.Sender
	clock *wechattest.Clock
	d     time.Duration
}

func (s slowSender) Send(ctx context.Context, r wechat.SendRequest) (wechat.SendResult, error) {
	s.clock.Advance(s.d)
	return s.Sender.Send(ctx, r)
}

// TestASendAnsweredAfterItsWindowIsSentAndCountedLate: a send started
// inside its window whose answer comes after the window closed is recorded
// as sent (WeChat has it) and counted late.
func TestASendAnsweredAfterItsWindowIsSentAndCountedLate(t *testing.T) {
	var mu sync.Mutex
	var outcomes []scheduler.Outcome
	h := newHarness(t, nil)
	h.eng = h.engine(h.db, func(c *scheduler.Config) {
		c.Sender = slowSender{Sender: c.Sender, clock: h.clock, d: 7 * time.Second}
		c.ClientTimeout = 5 * time.Second
		c.Observer = func(o scheduler.Outcome) { mu.Lock(); outcomes = append(outcomes, o); mu.Unlock() }
	})
	h.grant("oA", meetingID, 1)
	id := h.add("oA", t0, withExpiry(8*time.Second))
	h.clock.Set(t0.Add(2 * time.Second)) // 6 s left: more than the client timeout; answered at 9 s
	h.cycle()
	h.wantState(id, "sent", "")
	mu.Lock()
	defer mu.Unlock()
	if len(outcomes) != 1 || !outcomes[0].Late || outcomes[0].Status != "sent" {
		t.Fatalf("outcomes %+v, want one sent and late", outcomes)
	}
}

// TestNoSendStartsWithLessThanTheClientTimeoutLeft: a reminder whose window
// has less than the client timeout left is skipped, not started.
func TestNoSendStartsWithLessThanTheClientTimeoutLeft(t *testing.T) {
	h := newHarness(t, func(c *scheduler.Config) { c.ClientTimeout = 10 * time.Second })
	h.grant("oA", meetingID, 1)
	id := h.add("oA", t0, withExpiry(30*time.Second))
	h.clock.Set(t0.Add(21 * time.Second))
	h.cycle()
	h.wantState(id, "skipped", "expired")
	if len(h.fake.Sends()) != 0 {
		t.Fatal("a send started with 9 s of its window left and a 10 s client timeout")
	}
	if h.credits("oA", meetingID) != 1 {
		t.Fatal("the skipped reminder kept its credit")
	}
}

// TestTheQuotaPauseSurvivesARestart: a 45009 pauses sending until the
// quota resets, and a process started meanwhile keeps the pause.
func TestTheQuotaPauseSurvivesARestart(t *testing.T) {
	h := newHarness(t, nil)
	h.clock.Set(time.Date(2026, 12, 1, 15, 0, 0, 0, time.UTC)) // 23:00 in Beijing
	for _, o := range []string{"o1", "o2"} {
		h.grant(o, meetingID, 1)
		h.add(o, h.clock.Now(), withExpiry(3*time.Hour))
	}
	h.fake.SetFaults(wechattest.Faults{DailyQuota: 1})
	h.cycle()
	want := time.Date(2026, 12, 1, 16, 0, 0, 0, time.UTC)
	if got := h.eng.QuotaPausedUntil(); !got.Equal(want) {
		t.Fatalf("paused until %v, want %v", got, want)
	}
	restarted := h.engine(h.db, nil)
	if got := restarted.QuotaPausedUntil(); !got.Equal(want) {
		t.Fatalf("after a restart: paused until %v, want %v", got, want)
	}
	calls := h.fake.Counts().Send
	h.eng = restarted
	h.cycle()
	if h.fake.Counts().Send != calls {
		t.Fatal("the restarted process sent while the quota was paused")
	}
}

// TestARefusedPageEndsTheOccurrenceNotTheSeries: WeChat refusing a page
// (41030) fails that occurrence; the series goes on (the page may be
// published by then).
func TestARefusedPageEndsTheOccurrenceNotTheSeries(t *testing.T) {
	h := newHarness(t, nil)
	h.grant("oA", meetingID, 2)
	// 17:00 in Shanghai every day; t0 is 17:00 there.
	id := h.add("oA", t0, withRecurrence("0 17 * * *", "Asia/Shanghai"), withPage("pages/missing/index"))
	h.cycle()
	r := h.wantState(id, "scheduled", "")
	if r.FireAt.UnixMilli() != t0.Add(24*time.Hour).UnixMilli() {
		t.Fatalf("next occurrence at %v, want the next day", time.UnixMilli(r.FireAt.UnixMilli()).UTC())
	}
	ds := h.deliveries(id)
	if len(ds) != 1 || ds[0].Status != "failed" || ds[0].ErrCode != wechat.CodeInvalidPage {
		t.Fatalf("deliveries %+v", ds)
	}
}

// TestARefusedPageIsSentWithoutItWhenAllowed: with ResendWithoutPage, a
// message whose page WeChat refuses is sent again without it.
func TestARefusedPageIsSentWithoutItWhenAllowed(t *testing.T) {
	h := newHarness(t, func(c *scheduler.Config) { c.ResendWithoutPage = true })
	h.grant("oA", meetingID, 1)
	id := h.add("oA", t0, withPage("pages/missing/index"))
	h.cycle()
	h.wantState(id, "sent", "")
	sends := h.fake.Sends()
	if len(sends) != 1 || sends[0].Page != "" {
		t.Fatalf("sends %+v, want one without its page", sends)
	}
	if ds := h.deliveries(id); len(ds) != 1 || !strings.Contains(ds[0].ErrMsg, "41030") {
		t.Fatalf("deliveries %+v: the record does not say the page was dropped", ds)
	}
	if h.credits("oA", meetingID) != 0 {
		t.Fatal("the send did not use the credit")
	}
}

// sentEvent applies WeChat's subscribe_msg_sent_event for the fake's send
// msgid as the push handler does when no delivery has that msgid yet: it is
// parked with its user and template, and a reminder waiting out an unknown
// outcome of theirs is due now.
func (h *harness) sentEvent(s wechattest.Send, delivered bool) {
	h.t.Helper()
	h.sentEventFor(s.ToUser, s.TemplateID, s.MsgID, delivered)
}

// TestAnUnknownOutcomeIsSettledByItsSentEvent: WeChat accepts a send and
// the answer is lost; the attempt is recorded unknown, nothing is sent
// again, and WeChat's sent event settles it as sent with its msgid.
func TestAnUnknownOutcomeIsSettledByItsSentEvent(t *testing.T) {
	for _, f := range []wechattest.FaultAfterAccept{wechattest.AnswerLost, wechattest.ConnectionReset,
		wechattest.TruncatedAnswer, wechattest.EmptyAnswer} {
		t.Run(f.String(), func(t *testing.T) {
			h := newHarness(t, nil)
			h.grant("oA", meetingID, 1)
			id := h.add("oA", t0)
			h.fake.FailNextSends(1, f)
			h.cycle()
			r := h.wantState(id, "scheduled", "")
			ds := h.deliveries(id)
			if len(ds) != 1 || ds[0].Status != "unknown" || !!r.UnknownAt.IsZero() || r.DueAt.UnixMilli() != t0.Add(2*time.Minute).UnixMilli() {
				t.Fatalf("after the lost answer: %+v, deliveries %+v", r, ds)
			}
			if h.credits("oA", meetingID) != 0 {
				t.Fatal("the credit of a send WeChat may have was given back")
			}
			h.clock.Advance(30 * time.Second)
			h.cycle() // still waiting: nothing is sent
			sends := h.fake.Sends()
			if len(sends) != 1 || h.fake.Counts().Send != 1 {
				t.Fatalf("%d sends, %d calls while waiting for the sent event", len(sends), h.fake.Counts().Send)
			}
			h.sentEvent(sends[0], true)
			h.cycle()
			r = h.wantState(id, "sent", "")
			ds = h.deliveries(id)
			if len(ds) != 1 || ds[0].Status != "sent" || ds[0].MsgID != sends[0].MsgID || !ds[0].Delivered ||
				r.Delivery != "delivered" || !r.UnknownAt.IsZero() {
				t.Fatalf("after the sent event: %+v, deliveries %+v", r, ds)
			}
			if h.fake.Counts().Send != 1 || h.credits("oA", meetingID) != 0 {
				t.Fatalf("%d calls, ledger %d", h.fake.Counts().Send, h.credits("oA", meetingID))
			}
		})
	}
}

// TestA43101AfterAnUnknownOutcomeSettlesItAsSent: no sent event came; the
// resend after the wait is marked a possible duplicate, and WeChat's 43101
// to it proves the first send used the credit: the reminder is sent, and
// the ledger is not emptied as if the user had refused.
func TestA43101AfterAnUnknownOutcomeSettlesItAsSent(t *testing.T) {
	h := newHarness(t, nil)
	h.grant("oA", meetingID, 1)
	id := h.add("oA", t0)
	h.fake.FailNextSends(1, wechattest.EmptyAnswer)
	h.cycle()
	h.wantState(id, "scheduled", "")
	h.clock.Advance(2 * time.Minute)
	h.cycle()
	r := h.wantState(id, "sent", "")
	ds := h.deliveries(id)
	if len(ds) != 2 || ds[0].Status != "sent" || ds[1].Status != "failed" || ds[1].ErrCode != wechat.CodeNoCredit ||
		!ds[1].PossibleDuplicate || r.Reason != "" {
		t.Fatalf("reminder %+v, deliveries %+v", r, ds)
	}
	var status string
	if err := testkit.QueryRow(h.t, h.db, `SELECT status FROM consents WHERE openid = 'oA' AND template_id = ?`, meetingID).Scan(&status); err != nil {
		t.Fatal(err)
	}
	if status == "refused" {
		t.Fatal("a 43101 after an unknown outcome marked the user as refusing")
	}
	if len(h.fake.Sends()) != 1 {
		t.Fatalf("the user got %d messages", len(h.fake.Sends()))
	}
}

// TestAnUnknownOutcomeBeforeAcceptanceIsSentAgainMarked: the request hung
// before WeChat took it (the client timed out after writing it): with no
// sent event, the reminder is sent again after the wait, once, marked as a
// possible duplicate, with the credit the first attempt held.
func TestAnUnknownOutcomeBeforeAcceptanceIsSentAgainMarked(t *testing.T) {
	h := newHarness(t, nil)
	h.grant("oA", meetingID, 1)
	id := h.add("oA", t0)
	h.fake.SetFaults(wechattest.Faults{HangRate: 1})
	h.cycle()
	if ds := h.deliveries(id); len(ds) != 1 || ds[0].Status != "unknown" {
		t.Fatalf("after the hang: deliveries %+v", ds)
	}
	h.fake.SetFaults(wechattest.Faults{})
	h.clock.Advance(2 * time.Minute)
	h.cycle()
	h.wantState(id, "sent", "")
	ds := h.deliveries(id)
	if len(ds) != 2 || ds[0].Status != "unknown" || ds[1].Status != "sent" || !ds[1].PossibleDuplicate {
		t.Fatalf("deliveries %+v", ds)
	}
	if len(h.fake.Sends()) != 1 || h.credits("oA", meetingID) != 0 {
		t.Fatalf("%d messages, ledger %d", len(h.fake.Sends()), h.credits("oA", meetingID))
	}
}

// TestAnUnknownOutcomeNeverWaitsPastTheWindow: the wait ends with the
// window; with no event and no time to resend, the reminder ends sent with
// its delivery unknown.
func TestAnUnknownOutcomeNeverWaitsPastTheWindow(t *testing.T) {
	h := newHarness(t, nil)
	h.grant("oA", meetingID, 1)
	id := h.add("oA", t0, withExpiry(time.Minute))
	h.fake.FailNextSends(1, wechattest.AnswerLost)
	h.cycle()
	r := h.wantState(id, "scheduled", "")
	if r.DueAt.UnixMilli() != t0.Add(time.Minute).UnixMilli() {
		t.Fatalf("due at %v, want the window's end", time.UnixMilli(r.DueAt.UnixMilli()).UTC())
	}
	h.clock.Set(t0.Add(time.Minute))
	h.cycle()
	r = h.wantState(id, "sent", "")
	if r.Delivery != "unknown" || h.fake.Counts().Send != 1 {
		t.Fatalf("reminder %+v after %d calls", r, h.fake.Counts().Send)
	}
	if ds := h.deliveries(id); len(ds) != 1 || ds[0].Status != "unknown" {
		t.Fatalf("deliveries %+v", ds)
	}
}

// TestAMalformedAnswerIsAnAlarm: an HTTP 200 of {} (a wrong base URL, a
// proxy) is an unknown outcome and is reported as an invalid answer; a lost
// answer is unknown too, but no alarm.
func TestAMalformedAnswerIsAnAlarm(t *testing.T) {
	var mu sync.Mutex
	var outcomes []scheduler.Outcome
	h := newHarness(t, nil)
	h.eng = h.engine(h.db, func(c *scheduler.Config) {
		c.Observer = func(o scheduler.Outcome) { mu.Lock(); outcomes = append(outcomes, o); mu.Unlock() }
	})
	h.grant("oA", meetingID, 1)
	h.grant("oB", meetingID, 1)
	h.fake.FailNextSends(1, wechattest.EmptyAnswer)
	h.add("oA", t0)
	h.cycle()
	h.fake.FailNextSends(1, wechattest.AnswerLost)
	h.add("oB", t0)
	h.cycle()
	mu.Lock()
	defer mu.Unlock()
	if len(outcomes) != 2 || outcomes[0].Status != "unknown" || !outcomes[0].InvalidAnswer ||
		outcomes[1].Status != "unknown" || outcomes[1].InvalidAnswer {
		t.Fatalf("outcomes %+v", outcomes)
	}
}

// TestALostResendWaitsAgain: when the resend's answer is lost too, the next
// send waits the unknown wait again (it counts from the latest attempt of
// unknown outcome, not the first).
func TestALostResendWaitsAgain(t *testing.T) {
	h := newHarness(t, nil)
	h.grant("oA", meetingID, 5)
	id := h.add("oA", t0, withExpiry(time.Hour))
	h.fake.SetFaults(wechattest.Faults{AfterLostRate: 1})
	h.cycle()
	h.clock.Advance(2 * time.Minute)
	h.cycle() // the resend, lost too
	if n := len(h.fake.Sends()); n != 2 {
		t.Fatalf("%d messages after the first wait, want 2", n)
	}
	r := h.wantState(id, "scheduled", "")
	if want := h.clock.Now().Add(2 * time.Minute).UnixMilli(); r.DueAt.UnixMilli() != want {
		t.Fatalf("the next resend is due in %v, want the unknown wait", time.UnixMilli(r.DueAt.UnixMilli()).Sub(h.clock.Now()))
	}
	for range 4 {
		h.clock.Advance(time.Second)
		h.cycle()
	}
	if n := len(h.fake.Sends()); n != 2 {
		t.Fatalf("%d messages within seconds of a lost resend, want still 2", n)
	}
	for _, d := range h.deliveries(id)[1:] {
		if !d.PossibleDuplicate {
			t.Fatalf("a resend not marked: %+v", d)
		}
	}
}

// TestASettleNeverBreaksAnOccurrenceRecordedSent: an occurrence recorded
// sent meanwhile (a stalled send's late outcome) is completed as sent, and a
// parked sent event of the user is left for the send it belongs to (before,
// settling the unknown row broke the one-sent-per-occurrence index, the
// record failed, and the rescuer looped the reminder for a day).
func TestASettleNeverBreaksAnOccurrenceRecordedSent(t *testing.T) {
	h := newHarness(t, nil)
	h.grant("oA", meetingID, 1)
	id := h.add("oA", t0)
	h.fake.FailNextSends(1, wechattest.AnswerLost)
	h.cycle()
	r := h.wantState(id, "scheduled", "")
	testkit.Exec(h.t, h.db, `INSERT INTO deliveries (reminder_id, occurrence_at, attempt, status, errcode, msgid, started_at, finished_at, possible_duplicate)
		VALUES (?, ?, 2, 'sent', 0, 999, ?, ?, TRUE)`, id, r.FireAt.UnixMilli(), h.now().UnixMilli(), h.now().UnixMilli())
	h.clock.Advance(10 * time.Second)
	other := wechattest.Send{MsgID: 12345, ToUser: "oA", TemplateID: meetingID}
	h.sentEvent(other, true)
	h.cycle()
	h.wantState(id, "sent", "")
	var parked int
	if err := testkit.QueryRow(h.t, h.db, `SELECT count(*) FROM pending_sent_events WHERE msgid = 12345`).Scan(&parked); err != nil || parked != 1 {
		t.Fatalf("the other send's parked event: %d (%v)", parked, err)
	}
}

// TestARescuedResendIsMarked: the rescuer's record of a claim made after an
// attempt of unknown outcome is marked possible_duplicate, like the resend
// it stands for.
func TestARescuedResendIsMarked(t *testing.T) {
	h := newHarness(t, func(c *scheduler.Config) { c.Lease = time.Minute })
	h.grant("oA", meetingID, 1)
	id := h.add("oA", t0)
	h.fake.FailNextSends(1, wechattest.AnswerLost)
	h.cycle()
	h.clock.Advance(2 * time.Minute)
	ctx := context.Background()
	if n := h.claimAs("dead", h.now(), 10); n != 1 {
		t.Errorf("claimed %d", n)
	}
	h.clock.Advance(time.Minute + time.Millisecond)
	if n, err := h.eng.RescueLeases(ctx); n != 1 || err != nil {
		t.Fatalf("rescued %d (%v)", n, err)
	}
	ds := h.deliveries(id)
	if len(ds) != 2 || ds[1].Status != "abandoned" || !ds[1].PossibleDuplicate {
		t.Fatalf("deliveries %+v", ds)
	}
}

// TestRetriesEndOnlyInTheLastQuarter: with a short window, a transient
// failure is retried until the last instant a send may start, and the
// count of attempts never ends it while more than a quarter is left.
func TestRetriesEndOnlyInTheLastQuarter(t *testing.T) {
	h := newHarness(t, nil)
	h.grant("oA", meetingID, 1)
	h.fake.SetFaults(wechattest.Faults{BusyRate: 1})
	win := time.Minute
	id := h.add("oA", t0, withExpiry(win))
	for range 40 {
		now := h.clock.Now()
		h.cycle()
		r := h.rem(id)
		if r.Status != "scheduled" {
			if left := t0.Add(win).Sub(now); string(r.Reason) != "retries_exhausted" || left > win/4 {
				t.Fatalf("%s/%s with %v of %v left", r.Status, string(r.Reason), left, win)
			}
			return
		}
		h.clock.Set(time.UnixMilli(r.DueAt.UnixMilli()))
	}
	t.Fatal("never ended")
}
