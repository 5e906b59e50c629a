package scheduler_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/reminderd/reminderd/internal/db/pgtest"
	"github.com/reminderd/reminderd/internal/db/postgres"
	"github.com/reminderd/reminderd/internal/scheduler"
	"github.com/reminderd/reminderd/internal/store"
	"github.com/reminderd/reminderd/internal/testkit"
	"github.com/reminderd/reminderd/internal/wechat"
	"github.com/reminderd/reminderd/internal/wechat/wechattest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// Two engines on one database (two handles on one file): the one that
// hits 45009 records the quota pause, and the other, built before it and
// holding no pause in memory, stops sending at its next scan until the
// pause ends.
func TestQuotaPauseHoldsAcrossProcesses(t *testing.T) {
	h := newHarness(t, nil)
	h.clock.Set(time.Date(2026, 12, 1, 15, 0, 0, 0, time.UTC)) // 23:00 in Beijing
	d2 := testkit.Reopen(t, h.db)                              // another process on the same database
	other := h.engine(d2, nil)
	for i := range 4 {
		o := fmt.Sprintf("o%d", i)
		h.grant(o, meetingID, 1)
		h.add(o, h.clock.Now(), withExpiry(3*time.Hour))
	}
	h.fake.SetFaults(wechattest.Faults{DailyQuota: 2})
	h.cycle() // the first engine: two sent, then 45009
	if h.count("sent") != 2 || h.eng.QuotaPausedUntil().IsZero() {
		t.Fatalf("first engine: sent %d, paused until %v; want 2 and a pause", h.count("sent"), h.eng.QuotaPausedUntil())
	}
	if !other.QuotaPausedUntil().IsZero() {
		t.Fatal("the other engine knew of the pause before reading it")
	}
	h.grant("o9", meetingID, 1)
	h.add("o9", h.clock.Now(), withExpiry(3*time.Hour))
	calls := h.fake.Counts().Send
	h.clock.Advance(2 * time.Second)
	if err := other.ScanOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	other.WaitIdle()
	if got := h.fake.Counts().Send; got != calls {
		t.Fatalf("the other engine sent %d during the pause", got-calls)
	}
	if want := time.Date(2026, 12, 1, 16, 0, 0, 0, time.UTC); !other.QuotaPausedUntil().Equal(want) {
		t.Fatalf("the other engine is paused until %v, want %v", other.QuotaPausedUntil(), want)
	}
	// The pause ends (and the quota is lifted, so that all three fit in
	// the new day): the other engine sends what is due.
	h.fake.SetFaults(wechattest.Faults{})
	h.clock.Set(time.Date(2026, 12, 1, 16, 0, 1, 0, time.UTC))
	if err := other.ScanOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	other.WaitIdle()
	if h.count("sent") != 5 {
		for i := 1; i <= h.n; i++ {
			r := h.rem(fmt.Sprintf("rem_%05d", i))
			t.Logf("%s %s %s due %v attempts %v", r.ID, r.OpenID, r.Status, r.DueAt, r.Attempts)
		}
		t.Fatalf("after the reset: sent %d, want 5", h.count("sent"))
	}
}

// Two engines on one PostgreSQL database, several users each with many
// reminders due at once, WeChat slow enough that sends overlap: the
// per-openid send lease keeps every user at one send in flight across both
// (the fake answers 43108 to a concurrent send to one user), and every
// reminder is sent once.
func TestOneSendPerUserInFlightAcrossProcesses(t *testing.T) {
	ctx := context.Background()
	url := pgtest.Database(t)
	fake := wechattest.New(wechattest.Options{Seed: 5})
	t.Cleanup(fake.Close)
	for _, tm := range wechattest.DemoTemplates() {
		fake.AddTemplate(tm)
	}
	fake.SetFaults(wechattest.Faults{Latency: 20 * time.Millisecond})
	const users, perUser = 3, 8
	const total = users * perUser
	var mu sync.Mutex
	sent, busy := 0, 0
	done := make(chan struct{})
	observe := func(o scheduler.Outcome) {
		mu.Lock()
		defer mu.Unlock()
		if o.ErrCode == 43108 {
			busy++
		}
		if o.Status == "sent" {
			if sent++; sent == total {
				close(done)
			}
		}
	}
	var engines []*scheduler.Engine
	var first *postgres.DB
	for i := range 2 {
		d, err := postgres.Open(ctx, url, postgres.Options{MaxConns: 8})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { d.Close() })
		if first == nil {
			first = d
		}
		engines = append(engines, fleetEngine(t, d, fake, fmt.Sprintf("proc%d", i), observe, func(c *scheduler.Config) {
			c.ScanEvery, c.UserBusyDelay = 50*time.Millisecond, 10*time.Millisecond
		}))
	}
	now := time.Now()
	n := 0
	for u := range users {
		openID := fmt.Sprintf("fleet-o%d", u)
		for range perUser {
			n++
			p := store.NewReminder{ID: fmt.Sprintf("rem_%05d", n), OpenID: openID, TemplateID: meetingID, FireAt: now,
				ExpiresAt: now.Add(time.Hour), Window: time.Hour, HasWindow: true, Timezone: "Asia/Shanghai",
				Data: fmt.Sprintf(`{"thing1":"会议 %d","time2":"2026-12-01 14:00","thing3":"A栋201"}`, n), CreatedAt: now}
			if _, err := first.CreateReminder(ctx, p); err != nil {
				t.Fatal(err)
			}
			if _, err := first.ApplyPushEvent(ctx, store.PushEvent{At: now, BodyHash: fmt.Sprintf("accept-%d", n), OpenID: openID,
				Answers: []store.ConsentAnswer{{TemplateID: meetingID, Accept: true}}}); err != nil {
				t.Fatal(err)
			}
		}
		fake.Grant(openID, meetingID, perUser)
	}
	runCtx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for _, e := range engines {
		wg.Add(1)
		go func() { defer wg.Done(); _ = e.Run(runCtx) }()
	}
	select {
	case <-done:
	case <-time.After(60 * time.Second):
		t.Error("not every reminder was sent within 60 s")
	}
	stop()
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	if busy != 0 || sent != total {
		t.Fatalf("sent %d of %d, %d sends answered 43108 (two in flight to one user); want all, none", sent, total, busy)
	}
	if got := len(fake.Sends()); got != total {
		t.Fatalf("WeChat has %d messages, want %d", got, total)
	}
}

// gatedSender holds the first send until released.
type gatedSender struct {
	scheduler.Sender
	once    sync.Once
	entered chan struct{}
	release chan struct{}
}

func (g *gatedSender) Send(ctx context.Context, r wechat.SendRequest) (wechat.SendResult, error) {
	first := false
	g.once.Do(func() { first = true })
	if first {
		close(g.entered)
		<-g.release
	}
	return g.Sender.Send(ctx, r)
}

// A claim that waited for a send slot until less than the send budget was
// left of its lease is not sent: the rescuer may have
// taken it back and another process be sending it. It goes back to
// scheduled with no attempt used and is sent on a fresh claim.
func TestClaimHeldPastItsLeaseIsNotSent(t *testing.T) {
	var gate *gatedSender
	h := newHarness(t, func(c *scheduler.Config) {
		if gate == nil {
			gate = &gatedSender{Sender: c.Sender, entered: make(chan struct{}), release: make(chan struct{})}
		}
		c.Sender = gate
		c.Lease, c.SendBudget, c.Concurrency = time.Minute, 10*time.Second, 1
	})
	h.grant("oA", meetingID, 1)
	h.grant("oB", meetingID, 1)
	first := h.add("oA", h.clock.Now())
	second := h.add("oB", h.clock.Now())
	if err := h.eng.ScanOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	<-gate.entered // the first send is in flight; the second waits for the slot
	h.clock.Advance(55 * time.Second)
	close(gate.release)
	h.eng.WaitIdle()
	sends := h.fake.Sends()
	if len(sends) != 1 {
		t.Fatalf("WeChat received %d sends, want only the first: the second's lease had 5 s left of a 10 s send budget", len(sends))
	}
	// Either claim may have taken the one send slot first.
	sent, held := first, second
	if sends[0].ToUser == "oB" {
		sent, held = second, first
	}
	h.wantState(sent, "sent", "")
	if r := h.rem(held); r.Status != "scheduled" || r.Attempts != 0 {
		t.Fatalf("the held claim: %s with %d attempts, want scheduled with none used", r.Status, r.Attempts)
	}
	h.cycle()
	h.wantState(held, "sent", "")
}
