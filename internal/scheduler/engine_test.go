package scheduler_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/reminderd/reminderd/internal/db"
	"github.com/reminderd/reminderd/internal/db/dbsqlc"
	"github.com/reminderd/reminderd/internal/scheduler"
	"github.com/reminderd/reminderd/internal/store"
	"github.com/reminderd/reminderd/internal/testkit"
	"github.com/reminderd/reminderd/internal/wechat"
	"github.com/reminderd/reminderd/internal/wechat/wechattest"
)

func TestSendsDueReminderAndConsumesCredit(t *testing.T) {
	h := newHarness(t, nil)
	h.grant("oA", meetingID, 1)
	id := h.add("oA", t0.Add(time.Minute))
	h.cycle()
	if h.rem(id).Status != "scheduled" || len(h.fake.Sends()) != 0 {
		t.Fatal("a reminder was sent before its time")
	}
	h.clock.Advance(time.Minute)
	h.cycle()
	r := h.wantState(id, "sent", "")
	ds := h.deliveries(id)
	sends := h.fake.Sends()
	if len(sends) != 1 || len(ds) != 1 || ds[0].Status != "sent" || ds[0].MsgID != sends[0].MsgID || ds[0].ErrCode != 0 {
		t.Fatalf("deliveries %+v, sends %+v", ds, sends)
	}
	if s := sends[0]; s.ToUser != "oA" || s.Data["thing1"] != "会议 "+id || s.Page != "pages/meeting/detail?id=1" {
		t.Fatalf("payload %+v", s)
	}
	if r.Attempts != 1 || !r.LeaseUntil.IsZero() || h.credits("oA", meetingID) != 0 || h.fake.Credits("oA", meetingID) != 0 {
		t.Fatalf("after send: %+v, ledger %d", r, h.credits("oA", meetingID))
	}
}

func TestClaimBatchReservesInDueOrder(t *testing.T) {
	// One claim batch holds users with several reminders and fewer
	// credits, a long-term grant, a long-term template without one, and no
	// consent at all: the credits go to each user's earliest reminders.
	h := newHarness(t, nil)
	h.grant("oA", meetingID, 2)
	h.grant("oB", meetingID, 1)
	h.grant("oC", clinicID, 1)
	clinic := withTemplate(clinicID, map[string]string{"name1": "张三", "time2": "2026-12-01 14:00", "thing3": "内科", "phone_number4": "13800000000"})
	a3 := h.add("oA", t0)
	a1 := h.add("oA", t0.Add(-2*time.Minute))
	b1 := h.add("oB", t0.Add(-time.Minute))
	a2 := h.add("oA", t0.Add(-time.Minute))
	b2 := h.add("oB", t0)
	c1, c2 := h.add("oC", t0, clinic), h.add("oC", t0.Add(-time.Minute), clinic)
	d1 := h.add("oD", t0, clinic)
	e1 := h.add("oE", t0)
	h.cycle()
	for _, id := range []string{a1, a2, b1, c1, c2} {
		h.wantState(id, "sent", "")
	}
	for _, id := range []string{a3, b2, d1, e1} {
		h.wantState(id, "skipped", "no_consent")
	}
	if h.credits("oA", meetingID) != 0 || h.credits("oB", meetingID) != 0 || len(h.fake.Sends()) != 5 {
		t.Fatalf("ledger oA %d oB %d, sends %d", h.credits("oA", meetingID), h.credits("oB", meetingID), len(h.fake.Sends()))
	}
	var held int
	if err := testkit.QueryRow(h.t, h.db, `SELECT count(*) FROM reminders WHERE credit_held = TRUE`).Scan(&held); err != nil || held != 0 {
		t.Fatalf("credits still held after the outcomes: %d (%v)", held, err)
	}
}

func TestClaimSurvivesKeysJSONCannotCarry(t *testing.T) {
	// Hand-edited rows whose id or openid is not UTF-8: the batched claim
	// passes its keys as JSON, which would alter them, so such a batch is
	// claimed one row at a time: nothing gets stuck and the credit counts.
	testkit.SQLiteOnly(t, "PostgreSQL's text holds only UTF-8: no such row there")
	h := newHarness(t, nil)
	bad := "o\xffA"
	if err := h.db.(*db.DB).Write.AddCredit(context.Background(), dbsqlc.AddCreditParams{Openid: bad, TemplateID: meetingID, Credits: 1, Now: 1}); err != nil {
		t.Fatal(err)
	}
	h.grant("oB", meetingID, 2)
	x, y, z := h.add(bad, t0), h.add("oB", t0), h.add("oB", t0)
	badID := "rem_\xff"
	testkit.Exec(h.t, h.db, `UPDATE reminders SET id = ? WHERE id = ?`, badID, z)
	h.cycle()
	h.wantState(y, "sent", "")
	h.wantState(badID, "sent", "")
	// WeChat refuses the openid; the point is that its credit was reserved.
	h.wantState(x, "failed", "openid_invalid")
	if h.credits("oB", meetingID) != 0 || h.credits(bad, meetingID) != 1 {
		t.Fatalf("ledger: oB %d, bad %d", h.credits("oB", meetingID), h.credits(bad, meetingID))
	}
}

func TestNoConsentIsSkipped(t *testing.T) {
	h := newHarness(t, nil)
	h.fake.IssueCode("oA")
	id := h.add("oA", t0)
	h.cycle()
	h.wantState(id, "skipped", "no_consent")
	if len(h.fake.Sends()) != 0 || h.fake.Counts().Send != 0 {
		t.Fatal("a reminder without consent reached WeChat")
	}
	if ds := h.deliveries(id); len(ds) != 1 || ds[0].Status != "skipped" {
		t.Fatalf("deliveries %+v", ds)
	}
}

func TestCreditNeverSpentTwice(t *testing.T) {
	// Three reminders for one user and template, two credits: two are sent,
	// the third is skipped, and the ledger ends at zero, never below.
	h := newHarness(t, nil)
	h.grant("oA", meetingID, 2)
	a, b, c := h.add("oA", t0), h.add("oA", t0), h.add("oA", t0)
	h.cycle()
	got := map[string]int{}
	for _, id := range []string{a, b, c} {
		r := h.rem(id)
		got[string(r.Status)+"/"+string(r.Reason)]++
	}
	if got["sent/"] != 2 || got["skipped/no_consent"] != 1 || h.credits("oA", meetingID) != 0 || len(h.fake.Sends()) != 2 {
		t.Fatalf("outcomes %v, ledger %d, sends %d", got, h.credits("oA", meetingID), len(h.fake.Sends()))
	}
}

func TestUserRefusedZeroesLedger(t *testing.T) {
	h := newHarness(t, nil)
	// reminderd believes in 3 credits; WeChat has none (the user unsubscribed
	// and the change event was lost).
	h.grant("oA", meetingID, 3)
	h.fake.Grant("oA", meetingID, -3)
	id := h.add("oA", t0)
	h.cycle()
	h.wantState(id, "failed", "user_refused")
	c, _ := h.db.GetConsent(context.Background(), "", "oA", meetingID)
	if c.Credits != 0 || c.Status != "refused" {
		t.Fatalf("ledger after 43101: %+v", c)
	}
	if ds := h.deliveries(id); len(ds) != 1 || ds[0].ErrCode != 43101 {
		t.Fatalf("deliveries %+v", ds)
	}
}

func TestPermanentErrorsFailAtOnce(t *testing.T) {
	h := newHarness(t, nil)
	h.grant("oA", meetingID, 5)
	page := h.add("oA", t0, withPage("pages/missing/index"))
	h.fake.Grant("oStranger", meetingID, 0)
	h.grant("oB", meetingID, 1)
	h.cycle()
	h.wantState(page, "failed", "page_invalid")
	if r := h.rem(page); r.Attempts != 1 {
		t.Fatalf("permanent error retried: attempts %d", r.Attempts)
	}
	// A template deleted on WeChat's side, still in the catalog.
	h.fake.RemoveTemplate(meetingID)
	gone := h.add("oB", t0)
	h.cycle()
	h.wantState(gone, "failed", "template_invalid")
	if h.credits("oA", meetingID) != 5 || h.credits("oB", meetingID) != 1 {
		t.Fatal("a failed send consumed a credit")
	}
}

func TestTransientRetriesWithBackoffThenExhausted(t *testing.T) {
	h := newHarness(t, func(c *scheduler.Config) { c.MaxAttempts = 4 })
	h.grant("oA", meetingID, 1)
	h.fake.SetFaults(wechattest.Faults{BusyRate: 1})
	// A window of 20 s; a send must start with the client timeout (10 s)
	// left in it.
	id := h.add("oA", t0, withExpiry(20*time.Second))
	for attempt := int64(1); attempt <= 3; attempt++ {
		h.cycle()
		r := h.wantState(id, "scheduled", "")
		delay := time.Duration(r.DueAt.UnixMilli()-h.clock.Now().UnixMilli()) * time.Millisecond
		base := time.Second << (attempt - 1)
		if r.Attempts != attempt || delay < base*3/4 || delay > base*5/4 {
			t.Fatalf("after attempt %d: attempts %d, retry in %v, want about %v", attempt, r.Attempts, delay, base)
		}
		h.cycle() // not due yet: nothing happens
		if h.rem(id).Attempts != attempt {
			t.Fatal("retried before its backoff")
		}
		h.clock.Set(time.UnixMilli(r.DueAt.UnixMilli()))
	}
	// The fourth attempt (about 7 s in) leaves 13 s: more than a quarter of
	// the window, so the count does not end it. Its backoff (8 s) would pass
	// the last instant a send may start (10 s, the client timeout before the
	// end): the retry is moved to that instant, the window's last try.
	h.cycle()
	r := h.wantState(id, "scheduled", "")
	if r.DueAt.UnixMilli() != t0.Add(10*time.Second).UnixMilli() {
		t.Fatalf("the last retry is due at %v, want the last instant a send may start", time.UnixMilli(r.DueAt.UnixMilli()).Sub(t0))
	}
	h.clock.Set(time.UnixMilli(r.DueAt.UnixMilli()))
	h.cycle()
	h.wantState(id, "failed", "retries_exhausted")
	ds := h.deliveries(id)
	if len(ds) != 5 || ds[0].Status != "retry" || ds[4].Status != "failed" || ds[4].ErrCode != -1 {
		t.Fatalf("deliveries %+v", ds)
	}
	if h.credits("oA", meetingID) != 1 {
		t.Fatal("failed sends consumed the credit")
	}
}

// TestAnOutageDoesNotExhaustAnOpenWindow: attempts used up early in a
// wide window (an outage) do not fail the reminder while more than a quarter
// of its window is left; it is sent once WeChat is back.
func TestAnOutageDoesNotExhaustAnOpenWindow(t *testing.T) {
	h := newHarness(t, func(c *scheduler.Config) { c.MaxAttempts = 4; c.BreakerFailures = 100 })
	h.grant("oA", meetingID, 1)
	h.fake.SetFaults(wechattest.Faults{BusyRate: 1})
	id := h.add("oA", t0) // the default window: 15 min
	for h.clock.Now().Before(t0.Add(45 * time.Second)) {
		h.cycle()
		r := h.wantState(id, "scheduled", "")
		h.clock.Set(time.UnixMilli(r.DueAt.UnixMilli()))
	}
	if r := h.rem(id); r.Attempts <= 4 {
		t.Fatalf("only %d attempts in a 45 s outage: the test needs more than MaxAttempts", r.Attempts)
	}
	h.fake.SetFaults(wechattest.Faults{})
	h.cycle()
	h.wantState(id, "sent", "")
}

func TestRetriesNeverPastExpiry(t *testing.T) {
	h := newHarness(t, nil)
	h.grant("oA", meetingID, 1)
	h.fake.SetFaults(wechattest.Faults{HTTP500Rate: 1})
	id := h.add("oA", t0, withExpiry(30*time.Second))
	for range 10 {
		h.cycle()
		r := h.rem(id)
		if r.Status != "scheduled" {
			break
		}
		if r.DueAt.UnixMilli() > r.ExpiresAt.UnixMilli() {
			t.Fatalf("retry scheduled at %v past expiry %v", r.DueAt, r.ExpiresAt.UnixMilli())
		}
		h.clock.Set(time.UnixMilli(r.DueAt.UnixMilli()))
	}
	r := h.wantState(id, "failed", "retries_exhausted")
	for _, d := range h.deliveries(id) {
		// Never started with less than the client timeout (10 s) left.
		if d.StartedAt.UnixMilli() > r.ExpiresAt.UnixMilli()-10000 {
			t.Fatalf("attempt at %v, less than the client timeout before expiry %v", d.StartedAt, r.ExpiresAt.UnixMilli())
		}
	}
}

func TestExpiredIsSkippedNeverSentLate(t *testing.T) {
	h := newHarness(t, func(c *scheduler.Config) { c.DefaultLateness = 10 * time.Minute })
	h.grant("oA", meetingID, 3)
	late := h.add("oA", t0.Add(-11*time.Minute))                           // past the default lateness
	window := h.add("oA", t0.Add(-2*time.Minute), withExpiry(time.Minute)) // past its expires_at
	recent := h.add("oA", t0.Add(-9*time.Minute))                          // fell due while down, still in its window
	h.cycle()
	h.wantState(late, "skipped", "expired")
	h.wantState(window, "skipped", "expired")
	h.wantState(recent, "sent", "")
	if len(h.fake.Sends()) != 1 || h.credits("oA", meetingID) != 2 {
		t.Fatalf("sends %d, credits %d", len(h.fake.Sends()), h.credits("oA", meetingID))
	}
}

func TestThousandDueAtOnceEachSentExactlyOnce(t *testing.T) {
	h := newHarness(t, func(c *scheduler.Config) { c.Concurrency = 16; c.BatchSize = 64 })
	want := map[string]string{}
	for i := range 1000 {
		openID := fmt.Sprintf("o%03d", i%250) // four reminders per user
		if i < 250 {
			h.grant(openID, meetingID, 4)
		}
		id := h.add(openID, t0)
		want["会议 "+id] = openID
	}
	for i := 0; h.count("scheduled") > 0; i++ {
		if i > 200 {
			t.Fatal("reminders left scheduled")
		}
		h.cycle()
	}
	if h.count("sent") != 1000 {
		t.Fatalf("%d sent", h.count("sent"))
	}
	seen := map[string]int{}
	for _, s := range h.fake.Sends() {
		seen[s.Data["thing1"]]++
		if want[s.Data["thing1"]] != s.ToUser {
			t.Fatalf("payload %q sent to %s", s.Data["thing1"], s.ToUser)
		}
	}
	if len(seen) != 1000 {
		t.Fatalf("%d distinct reminders sent", len(seen))
	}
	for k, n := range seen {
		if n != 1 {
			t.Fatalf("%s sent %d times", k, n)
		}
	}
	var busy int
	if err := testkit.QueryRow(h.t, h.db, `SELECT count(*) FROM deliveries WHERE errcode = 43108`).Scan(&busy); err != nil {
		t.Fatal(err)
	}
	if busy != 0 {
		t.Fatalf("%d sends collided on one user (43108)", busy)
	}
}

func TestConcurrentClaimersNeverDoubleClaim(t *testing.T) {
	h := newHarness(t, nil)
	// A second engine on its own connection to the same file: another process.
	d2 := testkit.Reopen(t, h.db) // another process on the same database
	e2 := h.engine(d2, func(c *scheduler.Config) { c.Owner = "other" })
	for i := range 300 {
		openID := fmt.Sprintf("o%03d", i)
		h.grant(openID, meetingID, 1)
		h.add(openID, t0)
	}
	var wg sync.WaitGroup
	for _, e := range []*scheduler.Engine{h.eng, e2} {
		wg.Go(func() {
			for range 100 {
				if err := e.ScanOnce(context.Background()); err != nil {
					t.Error(err)
				}
				e.WaitIdle()
			}
		})
	}
	wg.Wait()
	if h.count("sent") != 300 || len(h.fake.Sends()) != 300 {
		t.Fatalf("sent %d, WeChat accepted %d", h.count("sent"), len(h.fake.Sends()))
	}
	var rows, dup int
	if err := testkit.QueryRow(h.t, h.db, `SELECT count(*), count(*) - count(DISTINCT reminder_id) FROM deliveries`).Scan(&rows, &dup); err != nil {
		t.Fatal(err)
	}
	if rows != 300 || dup != 0 {
		t.Fatalf("%d delivery rows, %d reminders claimed twice", rows, dup)
	}
}

func TestBreakerOpensAndClosesWithoutBurningAttempts(t *testing.T) {
	h := newHarness(t, func(c *scheduler.Config) {
		c.BreakerFailures = 3
		c.BreakerTimeout = 300 * time.Millisecond
		c.Concurrency = 1
	})
	var ids []string
	for i := range 8 {
		o := fmt.Sprintf("o%d", i)
		h.grant(o, meetingID, 1)
		ids = append(ids, h.add(o, t0))
	}
	h.fake.SetFaults(wechattest.Faults{BusyRate: 1})
	for range 4 {
		h.cycle()
	}
	if h.eng.Breaker() != "open" {
		t.Fatalf("breaker %s after 3 consecutive failures", h.eng.Breaker())
	}
	opened := time.Now() // the breaker opened before this
	attempts := func() map[string]int64 {
		m := map[string]int64{}
		for _, id := range ids {
			m[id] = h.rem(id).Attempts
		}
		return m
	}
	before := attempts()
	calls := h.fake.Counts().Send
	// While open: scans claim nothing, WeChat is not called, no attempt is used.
	for range 5 {
		h.clock.Advance(10 * time.Second)
		h.cycle()
	}
	if after := attempts(); fmt.Sprint(after) != fmt.Sprint(before) || h.fake.Counts().Send != calls {
		t.Fatalf("attempts while open: %v -> %v, WeChat calls %d -> %d", before, after, calls, h.fake.Counts().Send)
	}
	var spent int64
	for _, n := range before {
		spent += n
	}
	if spent != 3 {
		t.Fatalf("attempts used before the breaker opened: %d, want 3", spent)
	}
	// WeChat recovers; after the breaker's timeout one probe closes it.
	// gobreaker counts its timeout on the wall clock (time.Now, no clock to
	// inject): the wait is that timeout, once, from the instant it opened.
	h.fake.SetFaults(wechattest.Faults{})
	time.Sleep(time.Until(opened.Add(300*time.Millisecond + time.Millisecond))) // kept: gobreaker's timeout is wall-clock only
	if h.eng.Breaker() == "open" {
		t.Fatal("breaker never left open")
	}
	for i := 0; h.count("scheduled") > 0; i++ {
		if i > 50 {
			t.Fatal("reminders stuck")
		}
		h.clock.Advance(10 * time.Second)
		h.cycle()
	}
	if h.eng.Breaker() != "closed" || h.count("sent") != 8 {
		t.Fatalf("breaker %s, sent %d", h.eng.Breaker(), h.count("sent"))
	}
}

func TestPerUserErrorsDoNotTripBreaker(t *testing.T) {
	h := newHarness(t, func(c *scheduler.Config) { c.BreakerFailures = 2 })
	for i := range 6 {
		o := fmt.Sprintf("o%d", i)
		h.grant(o, meetingID, 1)
		h.add(o, t0, withPage("pages/missing/index")) // 41030 each
	}
	h.cycle()
	if h.eng.Breaker() != "closed" || h.count("failed") != 6 {
		t.Fatalf("breaker %s after per-user errors; failed %d", h.eng.Breaker(), h.count("failed"))
	}
}

func TestTokenRotatedMidRunLosesNothing(t *testing.T) {
	h := newHarness(t, func(c *scheduler.Config) { c.BatchSize = 10; c.Concurrency = 4 })
	for i := range 60 {
		o := fmt.Sprintf("o%02d", i)
		h.grant(o, meetingID, 1)
		h.add(o, t0)
	}
	h.cycle()
	h.fake.RevokeTokens()
	for i := 0; h.count("scheduled") > 0; i++ {
		if i == 2 {
			h.fake.RevokeTokens()
		}
		h.cycle()
	}
	if h.count("sent") != 60 || len(h.fake.Sends()) != 60 {
		t.Fatalf("sent %d, accepted %d", h.count("sent"), len(h.fake.Sends()))
	}
	var retries int
	if err := testkit.QueryRow(h.t, h.db, `SELECT count(*) FROM deliveries WHERE status <> 'sent'`).Scan(&retries); err != nil {
		t.Fatal(err)
	}
	if retries != 0 {
		t.Fatalf("%d attempts lost to the rotation", retries)
	}
}

func TestRecurrenceAcrossZones(t *testing.T) {
	h := newHarness(t, nil)
	// 09:00 every day in Shanghai (01:00 UTC) and in New York (14:00 UTC in winter).
	h.grant("oA", meetingID, 10)
	h.grant("oB", meetingID, 10)
	sh := h.add("oA", time.Date(2026, 12, 1, 1, 0, 0, 0, time.UTC), withRecurrence("0 9 * * *", "Asia/Shanghai"), withExpiry(30*time.Minute))
	ny := h.add("oB", time.Date(2026, 12, 1, 14, 0, 0, 0, time.UTC), withRecurrence("0 9 * * *", "America/New_York"))
	h.clock.Set(time.Date(2026, 12, 1, 1, 5, 0, 0, time.UTC)) // five minutes late
	h.cycle()
	r := h.wantState(sh, "scheduled", "")
	if next := time.UnixMilli(r.FireAt.UnixMilli()).UTC(); next != time.Date(2026, 12, 2, 1, 0, 0, 0, time.UTC) {
		t.Fatalf("next Shanghai occurrence %v: computed from the scheduled instant, not from now", next)
	}
	if r.ExpiresAt.UnixMilli() != r.FireAt.UnixMilli()+30*60*1000 || r.Attempts != 0 {
		t.Fatalf("next occurrence's window/attempts: %+v", r)
	}
	if h.rem(ny).FireAt.UnixMilli() != time.Date(2026, 12, 1, 14, 0, 0, 0, time.UTC).UnixMilli() {
		t.Fatal("New York occurrence fired early")
	}
	h.clock.Set(time.Date(2026, 12, 1, 14, 0, 1, 0, time.UTC))
	h.cycle()
	if next := time.UnixMilli(h.rem(ny).FireAt.UnixMilli()).UTC(); next != time.Date(2026, 12, 2, 14, 0, 0, 0, time.UTC) {
		t.Fatalf("next New York occurrence %v", next)
	}
	// Down for three days: the missed occurrences past their window are not
	// sent late; the series resumes at the first one still in its window
	// (Dec 5, 09:00 in Shanghai, ten minutes ago), which is sent now.
	h.clock.Set(time.Date(2026, 12, 5, 1, 10, 0, 0, time.UTC))
	h.cycle()
	h.cycle() // the resumed occurrence may or may not have been claimed by the first scan
	ds := h.deliveries(sh)
	if len(ds) != 3 || ds[0].Status != "sent" || ds[1].Status != "skipped" || ds[2].Status != "sent" ||
		ds[2].OccurrenceAt.UnixMilli() != time.Date(2026, 12, 5, 1, 0, 0, 0, time.UTC).UnixMilli() {
		t.Fatalf("deliveries %+v", ds)
	}
	if next := time.UnixMilli(h.rem(sh).FireAt.UnixMilli()).UTC(); next != time.Date(2026, 12, 6, 1, 0, 0, 0, time.UTC) {
		t.Fatalf("next occurrence %v", next)
	}
	// Each occurrence is keyed by its instant: one sent row per occurrence.
	var dups int
	if err := testkit.QueryRow(h.t, h.db, `SELECT count(*) FROM (SELECT reminder_id, occurrence_at FROM deliveries WHERE status='sent' GROUP BY 1, 2 HAVING count(*) > 1) AS dup`).Scan(&dups); err != nil {
		t.Fatal(err)
	}
	if dups != 0 {
		t.Fatal("an occurrence was sent twice")
	}
}

func TestRescuerReturnsExpiredLeases(t *testing.T) {
	h := newHarness(t, func(c *scheduler.Config) { c.Lease = time.Minute })
	h.grant("oA", meetingID, 1)
	id := h.add("oA", t0)
	// A process claims it and dies before recording anything.
	ctx := context.Background()
	if n := h.claimAs("dead", t0, 10); n != 1 {
		t.Fatalf("claim: %d", n)
	}
	if c := h.credits("oA", meetingID); c != 0 || !h.rem(id).CreditHeld {
		t.Fatalf("the claim holds no credit: ledger %v, held %v", c, h.rem(id).CreditHeld)
	}
	h.cycle()
	if n, _ := h.eng.RescueLeases(ctx); n != 0 || h.rem(id).Status != "sending" {
		t.Fatal("a live lease was rescued or the claimed reminder was claimed again")
	}
	h.clock.Advance(time.Minute + time.Millisecond)
	if n, err := h.eng.RescueLeases(ctx); n != 1 || err != nil {
		t.Fatalf("rescued %d (%v)", n, err)
	}
	// WeChat may have the dead process's send: its credit counts as used,
	// and the reminder waits for a sent event until the unknown wait since
	// the claim is over.
	r := h.rem(id)
	if c := h.credits("oA", meetingID); c != 0 || r.CreditHeld || r.UnknownAt.UnixMilli() != t0.UnixMilli() ||
		r.DueAt.UnixMilli() != t0.Add(2*time.Minute).UnixMilli() {
		t.Fatalf("after the rescue: ledger %v, held %v, unknown_at %v, due %v", c, r.CreditHeld, r.UnknownAt, r.DueAt)
	}
	h.cycle()
	h.wantState(id, "scheduled", "")
	h.clock.Set(t0.Add(2 * time.Minute))
	h.cycle()
	r = h.wantState(id, "sent", "")
	ds := h.deliveries(id)
	if len(ds) != 2 || ds[0].Status != "abandoned" || ds[0].Attempt != 1 || ds[0].StartedAt.UnixMilli() != t0.UnixMilli() ||
		ds[1].Status != "sent" || !ds[1].PossibleDuplicate || r.Attempts != 2 {
		t.Fatalf("deliveries %+v attempts %d", ds, r.Attempts)
	}
	if c := h.credits("oA", meetingID); c != 0 {
		t.Fatalf("ledger %d after the send, want 0", c)
	}
}

func TestRescuerHandlesInFlightRowsOfEarlierVersions(t *testing.T) {
	// A binary that wrote a 'sending' delivery row at the claim may leave
	// one in the database; a database upgraded with such a claim in flight
	// gets that row abandoned (not a second one).
	h := newHarness(t, func(c *scheduler.Config) { c.Lease = time.Minute })
	h.grant("oA", meetingID, 1)
	id := h.add("oA", t0)
	testkit.Exec(h.t, h.db, `UPDATE reminders SET status = 'sending', attempts = 1, lease_until = ?, lease_owner = 'old' WHERE id = ?`,
		t0.Add(time.Minute).UnixMilli(), id)
	testkit.Exec(h.t, h.db, `INSERT INTO deliveries (reminder_id, occurrence_at, attempt, status, started_at) VALUES (?, ?, 1, 'sending', ?)`,
		id, t0.UnixMilli(), t0.UnixMilli())
	h.clock.Advance(time.Minute + time.Millisecond)
	if n, err := h.eng.RescueLeases(context.Background()); n != 1 || err != nil {
		t.Fatalf("rescued %d (%v)", n, err)
	}
	h.clock.Advance(2 * time.Minute) // the unknown wait
	h.cycle()
	h.wantState(id, "sent", "")
	if ds := h.deliveries(id); len(ds) != 2 || ds[0].Status != "abandoned" || ds[1].Status != "sent" || !ds[1].PossibleDuplicate {
		t.Fatalf("deliveries %+v", ds)
	}
	// An old claim held no credit, and the resend after an attempt of
	// unknown outcome takes none.
	if c := h.credits("oA", meetingID); c != 1 {
		t.Fatalf("ledger %d after the send, want 1", c)
	}
}

func TestLateOutcomeReplacesAbandoned(t *testing.T) {
	// A send that outlives its lease (a stalled process): the rescuer takes
	// the lease and its credit back and records the attempt abandoned; when
	// the send's real outcome arrives after all, it replaces the abandoned
	// record and takes the credit it used.
	h := newRealHarness(t, func(c *scheduler.Config) { c.Lease = 400 * time.Millisecond; c.SendBudget = 50 * time.Millisecond })
	h.grant("oA", meetingID, 2)
	id := h.add("oA", time.Now())
	h.fake.SetFaults(wechattest.Faults{Latency: 900 * time.Millisecond})
	arrived := make(chan string, 1)
	h.fake.NotifySends(arrived)
	// One scan, no periodic jobs: nothing else claims or rescues meanwhile.
	if err := h.eng.ScanOnce(context.Background()); err != nil || h.count("sending") != 1 {
		t.Fatalf("scan: %v, %d sending", err, h.count("sending"))
	}
	// The send is at WeChat (a claim whose send had not started would be
	// given back as never sent, on a store shared by processes).
	select {
	case <-arrived:
	case <-time.After(10 * time.Second):
		t.Fatal("the send did not reach WeChat")
	}
	// Another process rescues the lease while the send is still in flight
	// (WeChat answers after 900 ms): its clock is past the lease already.
	other := h.engine(h.db, func(c *scheduler.Config) {
		c.Lease = 400 * time.Millisecond
		c.Now = func() time.Time { return time.Now().Add(450 * time.Millisecond) }
	})
	if n, err := other.RescueLeases(context.Background()); n != 1 || err != nil {
		t.Fatalf("rescued %d (%v)", n, err)
	}
	if ds := h.deliveries(id); len(ds) != 1 || ds[0].Status != "abandoned" {
		t.Fatalf("after the rescue: %+v", ds)
	}
	if c := h.credits("oA", meetingID); c != 1 {
		t.Fatalf("ledger %d after the rescue, want 1: the held credit counts as used", c)
	}
	h.eng.WaitIdle() // the late outcome arrives
	if ds := h.deliveries(id); len(ds) != 1 || ds[0].Status != "sent" || !ds[0].HasMsgID {
		t.Fatalf("the late outcome did not replace the abandoned record: %+v", ds)
	}
	if c := h.credits("oA", meetingID); c != 1 {
		t.Fatalf("ledger %d, want 1: the late send used the credit the rescue counted", c)
	}
	if r := h.rem(id); r.Status != "scheduled" {
		t.Fatalf("the rescued reminder is %s; the late outcome must not move it", r.Status)
	}
}

func TestRefundNeverResurrectsAnEmptiedLedger(t *testing.T) {
	// The user unsubscribes while a send holding a credit is in flight and
	// the send fails transiently: the credit is not given back.
	h := newHarness(t, nil)
	h.grant("oA", meetingID, 1)
	id := h.add("oA", t0)
	ctx := context.Background()
	h.claimAs("dead", t0, 10)
	h.clock.Advance(time.Second)
	h.pushes++ // the user turns the template off (a change event)
	if _, err := h.db.ApplyPushEvent(ctx, store.PushEvent{At: h.now(), BodyHash: fmt.Sprintf("change-%d", h.pushes), OpenID: "oA",
		Unsubscribed: []string{meetingID}}); err != nil {
		t.Fatal(err)
	}
	h.clock.Advance(2 * time.Minute)
	if n, err := h.eng.RescueLeases(ctx); n != 1 || err != nil {
		t.Fatalf("rescued %d (%v)", n, err)
	}
	if c := h.credits("oA", meetingID); c != 0 {
		t.Fatalf("ledger %d: a credit reserved before the unsubscribe came back after it", c)
	}
	// The dead claim's outcome is unknown: once the wait is over it is sent
	// again (WeChat answers 43101 if the first send used the user's credit),
	// marked as a possible duplicate, and the ledger stays empty.
	h.cycle()
	h.wantState(id, "sent", "")
	if ds := h.deliveries(id); len(ds) != 2 || !ds[1].PossibleDuplicate {
		t.Fatalf("deliveries %+v", ds)
	}
	if c := h.credits("oA", meetingID); c != 0 {
		t.Fatalf("ledger %d after the resend", c)
	}
}

func TestQuotaPausesWithoutBurningAttempts(t *testing.T) {
	h := newHarness(t, nil)
	h.clock.Set(time.Date(2026, 12, 1, 15, 0, 0, 0, time.UTC)) // 23:00 in Beijing
	var ids []string
	for i := range 5 {
		o := fmt.Sprintf("o%d", i)
		h.grant(o, meetingID, 1)
		ids = append(ids, h.add(o, h.clock.Now(), withExpiry(3*time.Hour)))
	}
	h.fake.SetFaults(wechattest.Faults{DailyQuota: 3})
	h.cycle()
	h.cycle()
	if h.count("sent") != 3 {
		t.Fatalf("sent %d before the quota", h.count("sent"))
	}
	until := h.eng.QuotaPausedUntil()
	if !until.Equal(time.Date(2026, 12, 1, 16, 0, 0, 0, time.UTC)) {
		t.Fatalf("paused until %v, want Beijing midnight", until)
	}
	calls := h.fake.Counts().Send
	h.clock.Advance(30 * time.Minute)
	h.cycle()
	if h.fake.Counts().Send != calls {
		t.Fatal("sent while the quota was paused")
	}
	for _, id := range ids {
		if r := h.rem(id); r.Status == "scheduled" && r.Attempts != 0 {
			t.Fatalf("quota burned an attempt: %+v", r)
		}
	}
	h.clock.Set(time.Date(2026, 12, 1, 16, 0, 1, 0, time.UTC))
	h.cycle()
	if h.count("sent") != 5 || !h.eng.QuotaPausedUntil().IsZero() {
		t.Fatalf("after the reset: sent %d, paused until %v", h.count("sent"), h.eng.QuotaPausedUntil())
	}
}

// busyOnce answers 43108 to the first send: another process sent to the same user.
type busyOnce struct {
	scheduler.Sender
	mu   sync.Mutex
	done bool
}

func (b *busyOnce) Send(ctx context.Context, r wechat.SendRequest) (wechat.SendResult, error) {
	b.mu.Lock()
	first := !b.done
	b.done = true
	b.mu.Unlock()
	if first {
		return wechat.SendResult{}, &wechat.APIError{Code: 43108, Msg: "concurrent"}
	}
	return b.Sender.Send(ctx, r)
}

func TestUserBusyIsDeferredNotCounted(t *testing.T) {
	var h *harness
	h = newHarness(t, func(c *scheduler.Config) { c.Sender = &busyOnce{Sender: c.Sender} })
	h.grant("oA", meetingID, 1)
	id := h.add("oA", t0)
	h.cycle()
	r := h.wantState(id, "scheduled", "")
	if r.Attempts != 0 || r.DueAt.UnixMilli() != t0.Add(2*time.Second).UnixMilli() {
		t.Fatalf("after 43108: %+v", r)
	}
	h.clock.Advance(2 * time.Second)
	h.cycle()
	h.wantState(id, "sent", "")
	if ds := h.deliveries(id); len(ds) != 2 || ds[0].Status != "deferred" || ds[0].ErrCode != 43108 {
		t.Fatalf("deliveries %+v", ds)
	}
}

func TestLongTermTemplateConsumesNoCredit(t *testing.T) {
	h := newHarness(t, nil)
	h.grant("oA", clinicID, 1)
	data := map[string]string{"name1": "张三", "time2": "2026-12-01 14:00", "thing3": "内科", "phone_number4": "13800000000"}
	for range 3 {
		h.add("oA", t0, withTemplate(clinicID, data))
	}
	h.cycle()
	if h.count("sent") != 3 {
		t.Fatalf("sent %d", h.count("sent"))
	}
}

func TestRunWakesEarlyAndShutsDownCleanly(t *testing.T) {
	h := newHarness(t, func(c *scheduler.Config) { c.ScanEvery = time.Hour; c.ShutdownGrace = 5 * time.Second })
	for i := range 5 {
		o := fmt.Sprintf("o%d", i)
		h.grant(o, meetingID, 1)
	}
	sig := scheduler.InitTestSignals(h.eng)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.eng.Run(ctx) }()
	// The periodic scan is an hour away: only Wake can get this sent.
	id := h.add("o0", t0)
	h.eng.Wake(t0)
	if !sig.Done.WaitUntil(time.Now().Add(5*time.Second), func() bool { return h.rem(id).Status == "sent" }) {
		t.Fatal("Wake did not trigger a scan")
	}
	// Shutdown under load: sends in flight finish and are recorded.
	h.fake.SetFaults(wechattest.Faults{Latency: 300 * time.Millisecond})
	for i := 1; i < 5; i++ {
		h.add(fmt.Sprintf("o%d", i), t0)
	}
	h.eng.Wake(t0)
	// Every reminder claimed: shutdown happens under load.
	sig.Claimed.WaitFor(t, 30*time.Second, "every reminder claimed", func() bool { return h.count("scheduled") == 0 })
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	var inflight int64
	if err := testkit.QueryRow(h.t, h.db, `SELECT count(*) FROM deliveries WHERE status = 'sending'`).Scan(&inflight); err != nil {
		t.Fatal(err)
	}
	if h.count("sending") != 0 || inflight != 0 || h.count("sent") != 5 {
		t.Fatalf("after shutdown: sending %d, in-flight deliveries %d, sent %d", h.count("sending"), inflight, h.count("sent"))
	}
}

func TestShutdownGraceInterruptsAndReleases(t *testing.T) {
	h := newHarness(t, func(c *scheduler.Config) { c.ShutdownGrace = 100 * time.Millisecond })
	h.grant("oA", meetingID, 1)
	id := h.add("oA", t0)
	h.fake.SetFaults(wechattest.Faults{Latency: 5 * time.Second})
	sig := scheduler.InitTestSignals(h.eng)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.eng.Run(ctx) }()
	sig.Claimed.WaitFor(t, 30*time.Second, "the reminder claimed", func() bool { return h.count("sending") > 0 })
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	r := h.wantState(id, "scheduled", "")
	if ds := h.deliveries(id); len(ds) != 1 || ds[0].Status != "abandoned" || !r.LeaseUntil.IsZero() || r.Attempts != 1 {
		t.Fatalf("interrupted send: %+v %+v", r, ds)
	}
}

func TestRateLimitSpacesSends(t *testing.T) {
	// 5 sends per second with a burst of 5: 15 sends need at least 2 s.
	h := newHarness(t, func(c *scheduler.Config) { c.RateLimit = 5; c.Concurrency = 8 })
	for i := range 15 {
		o := fmt.Sprintf("o%02d", i)
		h.grant(o, meetingID, 1)
		h.add(o, t0)
	}
	start := time.Now()
	for i := 0; h.count("scheduled") > 0; i++ {
		if i > 20 {
			t.Fatal("reminders stuck")
		}
		h.cycle()
	}
	if el := time.Since(start); el < 1900*time.Millisecond || h.count("sent") != 15 {
		t.Fatalf("15 sends at 5/s took %v (sent %d)", el, h.count("sent"))
	}
}

// TestSlowQueueNeverOutlivesItsLease: claims waiting for the rate limiter
// longer than their lease allows are released, not sent after the rescuer
// may have handed them on. Without the send budget check, the rescuer
// takes leases of claims still waiting in this process and the same
// occurrence is sent twice.
func TestSlowQueueNeverOutlivesItsLease(t *testing.T) {
	h := newRealHarness(t, func(c *scheduler.Config) {
		c.RateLimit = 2
		c.Concurrency = 8
		c.Lease = 1500 * time.Millisecond
		c.SendBudget = time.Second
		c.DefaultLateness = time.Minute
	})
	for i := range 8 {
		o := fmt.Sprintf("o%d", i)
		h.grant(o, meetingID, 1)
		h.add(o, h.now())
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() { // the rescuer, much more eager than its 10 s schedule
		for {
			select {
			case <-stop:
				return
			case <-time.After(50 * time.Millisecond):
				if _, err := h.eng.RescueLeases(context.Background()); err != nil {
					t.Error(err)
				}
			}
		}
	})
	sig := scheduler.InitTestSignals(h.eng)
	deadline := time.Now().Add(30 * time.Second)
	for h.count("sent") < 8 && time.Now().Before(deadline) {
		h.cycle()
		// As Run does: scan again at once while reminders are due (their
		// sends wait for the rate limiter), otherwise when the engine asks
		// for a scan (the next due instant, a rescue) or after ScanEvery.
		if next, err := h.db.NextDueAt(context.Background()); err == nil && next.After(time.Now()) {
			sig.Woken.Next(time.Second)
		}
	}
	close(stop)
	wg.Wait()
	h.eng.WaitIdle()
	seen := map[string]int{}
	for _, s := range h.fake.Sends() {
		seen[s.ToUser]++
	}
	if h.count("sent") != 8 || len(seen) != 8 {
		t.Fatalf("sent %d of 8 (%d users reached)", h.count("sent"), len(seen))
	}
	for u, n := range seen {
		if n != 1 {
			t.Fatalf("%s received %d messages for one occurrence", u, n)
		}
	}
}

// TestRateLimitNeverSendsPastTheWindow: a reminder waiting for a send slot
// past its window is skipped as expired, not sent late.
func TestRateLimitNeverSendsPastTheWindow(t *testing.T) {
	h := newRealHarness(t, func(c *scheduler.Config) {
		c.RateLimit = 1
		c.Concurrency = 8
		c.ClientTimeout = 100 * time.Millisecond
	})
	fire := h.now()
	for i := range 5 {
		o := fmt.Sprintf("o%d", i)
		h.grant(o, meetingID, 1)
		h.add(o, fire, withExpiry(1500*time.Millisecond))
	}
	h.cycle()
	expires := fire.Add(1500 * time.Millisecond)
	for _, s := range h.fake.Sends() {
		if s.At.After(expires) {
			t.Fatalf("sent at %v, after the window closed at %v", s.At, expires)
		}
	}
	if h.count("sent") < 1 || h.count("sent")+h.count("skipped") != 5 {
		t.Fatalf("sent %d, skipped %d", h.count("sent"), h.count("skipped"))
	}
	var expired int
	if err := testkit.QueryRow(h.t, h.db, `SELECT count(*) FROM reminders WHERE reason = 'expired'`).Scan(&expired); err != nil {
		t.Fatal(err)
	}
	if expired != h.count("skipped") {
		t.Fatal("skipped for another reason than expiry")
	}
}

// TestTokenFetchFailureIsNotTheMessagesFault: a bad secret or an IP not on
// WeChat's whitelist fails every token fetch; reminders wait (and the
// breaker opens) instead of failing as invalid data.
func TestTokenFetchFailureIsNotTheMessagesFault(t *testing.T) {
	h := newHarness(t, func(c *scheduler.Config) { c.BreakerFailures = 3; c.Concurrency = 1 })
	bad, err := wechat.New(wechat.Config{BaseURL: h.fake.URL, AppID: h.fake.AppID(), Secret: "rotated-secret", Now: h.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	h.eng = h.engine(h.db, func(c *scheduler.Config) { c.Sender = bad; c.BreakerFailures = 3; c.Concurrency = 1 })
	var ids []string
	for i := range 5 {
		o := fmt.Sprintf("o%d", i)
		h.grant(o, meetingID, 1)
		ids = append(ids, h.add(o, t0, withRecurrence("0 9 * * *", "Asia/Shanghai")))
	}
	for range 6 {
		h.cycle()
	}
	if h.count("failed") != 0 || h.count("sent") != 0 {
		t.Fatalf("token fetch failures ended reminders: failed %d", h.count("failed"))
	}
	if h.eng.Breaker() != "open" {
		t.Fatalf("breaker %s after repeated token fetch failures", h.eng.Breaker())
	}
	for _, id := range ids {
		if r := h.rem(id); r.Status != "scheduled" || r.FireAt.UnixMilli() != t0.UnixMilli() {
			t.Fatalf("%s: %+v", id, r)
		}
	}
	var codes int
	if err := testkit.QueryRow(h.t, h.db, `SELECT count(*) FROM deliveries WHERE errcode = 40125`).Scan(&codes); err != nil {
		t.Fatal(err)
	}
	if codes == 0 {
		t.Fatal("the token errcode is not visible in the delivery records")
	}
}

// eventFirst makes WeChat's sent event arrive before the send's answer is
// recorded: the push handler finds no delivery and parks the event.
type eventFirst struct {
	scheduler.Sender
	h *harness
}

func (e eventFirst) Send(ctx context.Context, r wechat.SendRequest) (wechat.SendResult, error) {
	res, err := e.Sender.Send(ctx, r)
	if err == nil {
		e.h.sentEventFor(r.ToUser, r.TemplateID, res.MsgID, true)
	}
	return res, err
}

func TestSentEventBeforeOutcomeIsNotLost(t *testing.T) {
	var h *harness
	h = newHarness(t, nil)
	h.eng = h.engine(h.db, func(c *scheduler.Config) { c.Sender = eventFirst{Sender: h.client, h: h} })
	h.grant("oA", meetingID, 1)
	id := h.add("oA", t0)
	h.cycle()
	ds := h.deliveries(id)
	if len(ds) != 1 || ds[0].Status != "sent" || !ds[0].HasDelivered || !ds[0].Delivered || ds[0].EventStatus != "success" {
		t.Fatalf("delivery %+v: the early sent event was lost", ds)
	}
	var pending int
	if err := testkit.QueryRow(h.t, h.db, `SELECT count(*) FROM pending_sent_events`).Scan(&pending); err != nil {
		t.Fatal(err)
	}
	if pending != 0 {
		t.Fatal("the parked event was not cleared")
	}
}

// holdWriter, on its first send, takes the database's single writer and
// keeps it until release is closed, so that the outcome of that send cannot
// be recorded meanwhile.
type holdWriter struct {
	scheduler.Sender
	d       *db.DB
	once    sync.Once
	held    chan struct{}
	release chan struct{}
	sends   chan string
}

func (w *holdWriter) Send(ctx context.Context, r wechat.SendRequest) (wechat.SendResult, error) {
	w.once.Do(func() {
		go func() {
			_ = w.d.WithTx(context.Background(), func(*dbsqlc.Queries) error {
				close(w.held)
				<-w.release
				return nil
			})
		}()
		<-w.held
	})
	res, err := w.Sender.Send(ctx, r)
	w.sends <- r.ToUser
	return res, err
}

// The send slots bound the sends in flight to WeChat, not the outcomes
// waiting for the writer: with one slot, a second user's send goes out
// while the first send's record waits for the writer.
func TestSendSlotIsFreeWhileTheOutcomeWaitsForTheWriter(t *testing.T) {
	testkit.SQLiteOnly(t, "holds SQLite's one writer")
	var h *harness
	h = newHarness(t, nil)
	w := &holdWriter{Sender: h.client, d: h.db.(*db.DB), held: make(chan struct{}), release: make(chan struct{}), sends: make(chan string, 2)}
	h.eng = h.engine(h.db, func(c *scheduler.Config) { c.Sender = w; c.Concurrency = 1 })
	for _, o := range []string{"oA", "oB"} {
		h.grant(o, meetingID, 1)
		h.add(o, t0)
	}
	// The scan runs beside the test: after its claim it scans again, and
	// that claim waits for the writer the first send holds.
	scanned := make(chan error, 1)
	go func() { scanned <- h.eng.ScanOnce(context.Background()) }()
	got := map[string]bool{}
	timeout := time.After(10 * time.Second)
	for len(got) < 2 && !t.Failed() {
		select {
		case o := <-w.sends:
			got[o] = true
		case <-timeout:
			t.Errorf("sends %v: the second send waited for the first one's record", got)
		}
	}
	close(w.release)
	if err := <-scanned; err != nil {
		t.Fatal(err)
	}
	h.eng.WaitIdle()
	if t.Failed() {
		return
	}
	if h.count("sent") != 2 {
		t.Fatalf("%d sent, want 2", h.count("sent"))
	}
}

// gateSender holds every send until the test lets one through (pass).
type gateSender struct {
	scheduler.Sender
	arrived chan string
	pass    chan struct{}
}

func (g *gateSender) Send(ctx context.Context, r wechat.SendRequest) (wechat.SendResult, error) {
	g.arrived <- r.ToUser
	<-g.pass
	return g.Sender.Send(ctx, r)
}

// An outcome's record waits for the outcomes of the sends still in flight,
// so that they share one commit; without the wait each answer that finds
// the writer free commits alone.
func TestOutcomesOfSendsInFlightShareACommit(t *testing.T) {
	testkit.SQLiteOnly(t, "counts the SQLite writer's commits (group commit)")
	for _, tc := range []struct {
		name    string
		wait    time.Duration
		commits int64
	}{
		{"gathered", time.Minute, 1},
		{"without the wait", -1, 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, nil)
			g := &gateSender{Sender: h.client, arrived: make(chan string, 4), pass: make(chan struct{})}
			observed := make(chan struct{}, 4)
			h.eng = h.engine(h.db, func(c *scheduler.Config) {
				c.Sender, c.Concurrency, c.RecordWait = g, 4, tc.wait
				c.Observer = func(scheduler.Outcome) { observed <- struct{}{} }
			})
			for i := range 4 {
				o := fmt.Sprintf("o%d", i)
				h.grant(o, meetingID, 1)
				h.add(o, t0)
			}
			if err := h.eng.ScanOnce(context.Background()); err != nil {
				t.Fatal(err)
			}
			timeout := time.After(30 * time.Second)
			for range 4 {
				select {
				case <-g.arrived:
				case <-timeout:
					t.Fatal("the four sends did not all start")
				}
			}
			before := h.db.(*db.DB).Commits()
			for range 4 {
				g.pass <- struct{}{}
				if tc.wait < 0 {
					<-observed // recorded before the next send answers
				}
			}
			h.eng.WaitIdle()
			if got := h.db.(*db.DB).Commits() - before; got != tc.commits || h.count("sent") != 4 {
				t.Fatalf("%d commits for %d sent, want %d for 4", got, h.count("sent"), tc.commits)
			}
		})
	}
}
