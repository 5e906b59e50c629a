package scheduler_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"testing"
	"time"

	"github.com/reminderd/reminderd/internal/catalog"
	"github.com/reminderd/reminderd/internal/scheduler"
	"github.com/reminderd/reminderd/internal/store"
	"github.com/reminderd/reminderd/internal/testkit"
	"github.com/reminderd/reminderd/internal/wechat"
	"github.com/reminderd/reminderd/internal/wechat/wechattest"
)

var t0 = testkit.T0

const (
	meetingID = wechattest.MeetingTemplateID
	clinicID  = wechattest.ClinicTemplateID
)

type harness struct {
	t      *testing.T
	clock  *wechattest.Clock // nil on the wall clock
	now    func() time.Time
	fake   *wechattest.Server
	db     store.Store
	client *wechat.Client
	cat    *catalog.Catalog
	eng    *scheduler.Engine
	n      int
	pushes int // push events applied (sentEventFor)
}

func newHarness(t *testing.T, mutate func(*scheduler.Config)) *harness {
	t.Helper()
	return newHarnessAt(t, testkit.Clock(), nil, mutate)
}

// newRealHarness runs on the wall clock: for what the rate limiter and the
// lease do in real time.
func newRealHarness(t *testing.T, mutate func(*scheduler.Config)) *harness {
	t.Helper()
	return newHarnessAt(t, nil, time.Now, mutate)
}

func newHarnessAt(t *testing.T, clock *wechattest.Clock, wall func() time.Time, mutate func(*scheduler.Config)) *harness {
	t.Helper()
	now := wall
	if clock != nil {
		now = clock.Now
	}
	fake := testkit.WeChat(t, wechattest.Options{Now: now, Seed: 11})
	d := testkit.Store(t)
	client, err := wechat.New(wechat.Config{BaseURL: fake.URL, AppID: fake.AppID(), Secret: fake.Secret(), Now: now,
		HTTPClient: &http.Client{Timeout: 2 * time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	cat := catalog.New(d, client, now, nil)
	if err := cat.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, clock: clock, now: now, fake: fake, db: d, client: client, cat: cat}
	h.eng = h.engine(d, mutate)
	return h
}

func (h *harness) engine(d store.Store, mutate func(*scheduler.Config)) *scheduler.Engine {
	h.t.Helper()
	cfg := scheduler.Config{Store: d, Sender: h.client, Templates: h.cat, Now: h.now,
		Logger: slog.New(slog.DiscardHandler), BreakerFailures: 1000, Concurrency: 8}
	if mutate != nil {
		mutate(&cfg)
	}
	e, err := scheduler.New(cfg)
	if err != nil {
		h.t.Fatal(err)
	}
	return e
}

type remOpt func(*store.NewReminder)

func withRecurrence(spec, zone string) remOpt {
	return func(p *store.NewReminder) {
		p.Recurrence = spec
		p.Timezone = zone
	}
}

func withExpiry(d time.Duration) remOpt {
	return func(p *store.NewReminder) {
		p.ExpiresAt = p.FireAt.Add(d)
		p.Window, p.HasWindow = d, true
	}
}

func withPage(page string) remOpt { return func(p *store.NewReminder) { p.Page = page } }

func withTemplate(id string, data map[string]string) remOpt {
	return func(p *store.NewReminder) {
		p.TemplateID = id
		b, _ := json.Marshal(data)
		p.Data = string(b)
	}
}

// add inserts a meeting reminder for openID firing at fireAt; its thing1
// names it so that sends can be matched with reminders.
func (h *harness) add(openID string, fireAt time.Time, opts ...remOpt) string {
	h.t.Helper()
	h.n++
	id := fmt.Sprintf("rem_%05d", h.n)
	data, _ := json.Marshal(map[string]string{"thing1": fmt.Sprintf("会议 %s", id), "time2": "2026-12-01 14:00", "thing3": "A栋201"})
	p := store.NewReminder{ID: id, OpenID: openID, TemplateID: meetingID, FireAt: fireAt,
		Timezone: "Asia/Shanghai", Data: string(data), Page: "pages/meeting/detail?id=1", CreatedAt: h.now()}
	for _, o := range opts {
		o(&p)
	}
	if _, err := h.db.CreateReminder(context.Background(), p); err != nil {
		h.t.Fatal(err)
	}
	return id
}

// claimAs claims up to max reminders due at now for owner, as an engine
// there does (a process that then dies, in the tests of the rescuer), and
// returns how many it claimed.
func (h *harness) claimAs(owner string, now time.Time, max int) int {
	h.t.Helper()
	cs, err := h.db.ClaimDue(context.Background(), store.ClaimParams{Now: now, LeaseUntil: now.Add(time.Minute), Owner: owner, Max: max,
		Kind: scheduler.TemplateKinds(h.cat)})
	if err != nil {
		h.t.Fatal(err)
	}
	return len(cs)
}

// sentEventFor applies WeChat's sent event for msgid through the store,
// as the push handler does.
func (h *harness) sentEventFor(openID, templateID string, msgid int64, delivered bool) store.PushApplied {
	h.t.Helper()
	h.pushes++ // each a message of its own: none is a duplicate
	applied, err := h.db.ApplyPushEvent(context.Background(), store.PushEvent{At: h.now(), BodyHash: fmt.Sprintf("sent-%d", h.pushes),
		OpenID: openID, Sent: []store.SentEvent{{MsgID: msgid, Delivered: delivered, Status: "success", TemplateID: templateID}}})
	if err != nil {
		h.t.Fatal(err)
	}
	return applied
}

// grant gives openID n accepts of a template in reminderd's ledger (as
// popup events: n credits of a one-time template, the grant of a long-term
// one) and on WeChat.
func (h *harness) grant(openID, tmpl string, n int) {
	h.t.Helper()
	h.grantIn("", openID, tmpl, n)
}

// grantIn is grant in app's ledger (the popups pushed for app).
func (h *harness) grantIn(app, openID, tmpl string, n int) {
	h.t.Helper()
	t, _ := h.cat.Get(tmpl)
	for range n {
		h.pushes++
		if _, err := h.db.ApplyPushEvent(context.Background(), store.PushEvent{At: h.now(), BodyHash: fmt.Sprintf("accept-%d", h.pushes),
			AppID: app, OpenID: openID, Answers: []store.ConsentAnswer{{TemplateID: tmpl, LongTerm: t.Kind == wechat.LongTerm, Accept: true}}}); err != nil {
			h.t.Fatal(err)
		}
	}
	h.fake.Grant(openID, tmpl, n)
}

// cycle runs one scan and waits for its sends.
func (h *harness) cycle() {
	h.t.Helper()
	if err := h.eng.ScanOnce(context.Background()); err != nil {
		h.t.Fatal(err)
	}
	h.eng.WaitIdle()
}

func (h *harness) rem(id string) store.Reminder {
	h.t.Helper()
	r, err := h.db.GetReminder(context.Background(), id)
	if err != nil {
		h.t.Fatal(err)
	}
	return r
}

func (h *harness) deliveries(id string) []store.Delivery {
	h.t.Helper()
	ds, err := h.db.ListDeliveries(context.Background(), id)
	if err != nil {
		h.t.Fatal(err)
	}
	return ds
}

func (h *harness) credits(openID, tmpl string) int64 {
	c, _ := h.db.GetConsent(context.Background(), "", openID, tmpl) // none: 0 credits
	return c.Credits
}

func (h *harness) wantState(id, status, reason string) store.Reminder {
	h.t.Helper()
	r := h.rem(id)
	if string(r.Status) != status || string(r.Reason) != reason {
		h.t.Fatalf("%s: status %s/%s, want %s/%s (deliveries %+v)", id, r.Status, r.Reason, status, reason, h.deliveries(id))
	}
	return r
}

func (h *harness) count(status string) int {
	h.t.Helper()
	c, err := h.db.CountReminders(context.Background(), h.now())
	if err != nil {
		h.t.Fatal(err)
	}
	return int(c.ByStatus[store.Status(status)])
}
