package scheduler_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/reminderd/reminderd/internal/scheduler"
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
	if r.FireAt != t0.Add(24*time.Hour).UnixMilli() {
		t.Fatalf("next occurrence at %v, want the next day", time.UnixMilli(r.FireAt).UTC())
	}
	ds := h.deliveries(id)
	if len(ds) != 1 || ds[0].Status != "failed" || ds[0].Errcode.Int64 != wechat.CodeInvalidPage {
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
	if ds := h.deliveries(id); len(ds) != 1 || !strings.Contains(ds[0].Errmsg, "41030") {
		t.Fatalf("deliveries %+v: the record does not say the page was dropped", ds)
	}
	if h.credits("oA", meetingID) != 0 {
		t.Fatal("the send did not use the credit")
	}
}
