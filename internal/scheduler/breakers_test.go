package scheduler_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/reminderd/reminderd/internal/scheduler"
	"github.com/reminderd/reminderd/internal/store"
	"github.com/reminderd/reminderd/internal/wechat"
)

// appSender sends app "wxbad"'s messages into a WeChat that fails (a
// transient -1), "wxquota"'s into one whose daily quota is used up, every
// other app's through the harness's fake.
type appSender struct{ good scheduler.Sender }

func (s appSender) Send(ctx context.Context, req wechat.SendRequest) (wechat.SendResult, error) {
	switch req.AppID {
	case "wxbad":
		return wechat.SendResult{}, &wechat.APIError{Code: -1, Msg: "system busy"}
	case "wxquota":
		return wechat.SendResult{}, &wechat.APIError{Code: wechat.CodeQuota, Msg: "reach max api daily quota limit"}
	}
	return s.good.Send(ctx, req)
}

func inApp(app string) func(*store.NewReminder) { return func(p *store.NewReminder) { p.AppID = app } }

// One app's WeChat failing opens its breaker only: its reminders are
// deferred (no attempt used, WeChat not called), the other app's are sent,
// and sending as a whole is not paused.
func TestBreakerIsPerApp(t *testing.T) {
	h := newHarness(t, func(c *scheduler.Config) {
		c.Sender = appSender{good: c.Sender}
		c.BreakerFailures = 3
		c.BreakerTimeout = time.Hour
		c.Concurrency = 1
		c.Apps = func() []string { return []string{"wxbad", "wxgood"} }
	})
	var bad []string
	for i := range 3 {
		o := fmt.Sprintf("b%d", i)
		h.grantIn("wxbad", o, meetingID, 1)
		bad = append(bad, h.add(o, t0, inApp("wxbad")))
	}
	for range 3 {
		h.cycle()
	}
	if h.eng.BreakerOf("wxbad") != "open" || h.eng.BreakerOf("wxgood") != "closed" || h.eng.Breaker() != "closed" {
		t.Fatalf("breakers: bad %s, good %s, together %s", h.eng.BreakerOf("wxbad"), h.eng.BreakerOf("wxgood"), h.eng.Breaker())
	}
	spent := func() (n int64) {
		for _, id := range bad {
			n += h.rem(id).Attempts
		}
		return n
	}
	before := spent()
	var good []string
	for i := range 3 {
		o := fmt.Sprintf("g%d", i)
		h.grantIn("wxgood", o, meetingID, 1)
		good = append(good, h.add(o, h.now(), inApp("wxgood")))
	}
	late := h.add("b9", h.now(), inApp("wxbad"))
	for range 3 {
		h.clock.Advance(10 * time.Second)
		h.cycle()
	}
	for _, id := range good {
		if r := h.rem(id); r.Status != store.StatusSent {
			t.Errorf("the good app's %s is %s", id, r.Status)
		}
	}
	if r := h.rem(late); r.Status != store.StatusScheduled || r.Attempts != 0 {
		t.Errorf("the failing app's reminder while its breaker is open: %s, %d attempts", r.Status, r.Attempts)
	}
	if after := spent(); after != before {
		t.Errorf("attempts of the failing app while open: %d -> %d", before, after)
	}
	if len(h.fake.Sends()) != 3 {
		t.Errorf("WeChat got %d sends, want the good app's 3", len(h.fake.Sends()))
	}
}

// One app's daily quota pauses that app only: its reminders wait (no
// attempt used) until the reset, recorded in its own pause row for the
// fleet, while the other app's are sent.
func TestQuotaPauseIsPerApp(t *testing.T) {
	h := newHarness(t, func(c *scheduler.Config) {
		c.Sender = appSender{good: c.Sender}
		c.Concurrency = 1
		c.Apps = func() []string { return []string{"wxquota", "wxgood"} }
	})
	h.grantIn("wxquota", "q1", meetingID, 1)
	q1 := h.add("q1", t0, inApp("wxquota"))
	h.cycle()
	until := h.eng.QuotaPausedUntilOf("wxquota")
	if until.IsZero() || !h.eng.QuotaPausedUntilOf("wxgood").IsZero() || !h.eng.QuotaPausedUntil().IsZero() {
		t.Fatalf("quota pauses: wxquota %v, wxgood %v, every app %v", until, h.eng.QuotaPausedUntilOf("wxgood"), h.eng.QuotaPausedUntil())
	}
	if p, err := h.db.Pause(context.Background(), "quota:wxquota"); err != nil || !p.Until.Equal(until) {
		t.Fatalf("the app's pause row: %+v %v", p, err)
	}
	if _, err := h.db.Pause(context.Background(), "quota"); err == nil {
		t.Fatal("one app's quota wrote the pause of every app")
	}
	h.grantIn("wxgood", "g1", meetingID, 1)
	g1 := h.add("g1", h.now(), inApp("wxgood"))
	q2 := h.add("q1", h.now(), inApp("wxquota"))
	for range 3 {
		h.clock.Advance(10 * time.Second)
		h.cycle()
	}
	if r := h.rem(g1); r.Status != store.StatusSent {
		t.Errorf("the other app's reminder is %s", r.Status)
	}
	for _, id := range []string{q1, q2} {
		if r := h.rem(id); r.Status != store.StatusScheduled || r.Attempts != 0 {
			t.Errorf("%s of the paused app: %s, %d attempts", id, r.Status, r.Attempts)
		}
	}
}
