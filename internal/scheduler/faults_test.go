package scheduler_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/reminderd/reminderd/internal/scheduler"
	"github.com/reminderd/reminderd/internal/testkit"
	"github.com/reminderd/reminderd/internal/wechat"
	"github.com/reminderd/reminderd/internal/wechat/wechattest"
)

// TestFaultSuite runs the engine on the wall clock against a WeChat that
// answers -1, HTTP 500 and hangs for a share of requests, loses the answer
// of a share of the sends it accepted (connection closed or reset, body cut
// short, a hang, a 200 of {}), rotates its tokens, goes down completely for
// a while and hits its daily quota: every reminder within its window is
// eventually sent, once, or twice only with the second marked a possible
// duplicate; the breaker opens and closes, and no attempt is used while it
// is open.
func TestFaultSuite(t *testing.T) {
	n := 300
	if os.Getenv("REMINDERD_HEAVY") == "1" {
		n = 2000
	}
	h := newRealHarness(t, nil)
	// Hung requests give up after 300 ms.
	fast, err := wechat.New(wechat.Config{BaseURL: h.fake.URL, AppID: h.fake.AppID(), Secret: h.fake.Secret(),
		HTTPClient: &http.Client{Timeout: 300 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	var quotaHits atomic.Int64
	h.eng = h.engine(h.db, func(c *scheduler.Config) {
		c.Sender = fast
		c.Concurrency, c.BreakerFailures, c.BreakerTimeout = 8, 5, time.Second
		c.BackoffBase, c.BackoffMax, c.MaxAttempts = 50*time.Millisecond, 400*time.Millisecond, 30
		c.DefaultLateness, c.ScanEvery, c.Lease, c.SendBudget = 5*time.Minute, 100*time.Millisecond, 10*time.Second, 2*time.Second
		// A hung request is an unknown outcome: wait 500 ms for its sent
		// event, then send again.
		c.ClientTimeout, c.UnknownWait = 300*time.Millisecond, 500*time.Millisecond
		// The quota "resets" a second after it is hit (instead of at midnight).
		c.QuotaReset = func(now time.Time) time.Time { quotaHits.Add(1); return now.Add(time.Second) }
	})
	for i := range n {
		o := fmt.Sprintf("o%04d", i)
		h.grant(o, meetingID, 1)
		// Every other user accepted twice at WeChat, so that a resend
		// after a lost answer can really reach them twice.
		if i%2 == 0 {
			h.fake.Grant(o, meetingID, 1)
		}
		h.add(o, h.now())
	}
	sig := scheduler.InitTestSignals(h.eng)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.eng.Run(ctx) }()

	// Conditions are checked again each time a claim is processed (its
	// outcome recorded), up to the safety deadline.
	deadline := time.Now().Add(3 * time.Minute)
	// Each phase lasts until its condition holds (or the deadline).
	phase := func(f wechattest.Faults, until func() bool) {
		h.fake.SetFaults(f)
		sig.Done.WaitUntil(deadline, func() bool { return until() || h.count("sent") >= n })
	}
	const lat = 30 * time.Millisecond
	phase(wechattest.Faults{Latency: lat, BusyRate: 0.2, HTTP500Rate: 0.1, HangRate: 0.05,
		AfterLostRate: 0.03, AfterResetRate: 0.02, AfterTruncatedRate: 0.02, AfterHangRate: 0.02, AfterEmptyRate: 0.02},
		func() bool { return h.count("sent") >= n/4 })
	h.fake.RevokeTokens()
	// WeChat down: the breaker must open; attempts must not move while it is open.
	h.fake.SetFaults(wechattest.Faults{HTTP500Rate: 1})
	// The send that opens it is recorded after.
	if !sig.Done.WaitUntil(deadline, func() bool { return h.eng.Breaker() == "open" }) {
		t.Fatal("the breaker never opened while WeChat answered only 500s")
	}
	// Sends that entered the breaker before it opened may still reach
	// WeChat (a token retry within one send); let them finish first: no
	// claim left in progress (none is made while the breaker is open).
	sig.Done.WaitUntil(deadline, func() bool { return scheduler.PendingClaims(h.eng) == 0 || h.eng.Breaker() != "open" })
	var before, after int64
	opens := h.eng.BreakerOpens()
	if err := testkit.QueryRow(h.t, h.db, `SELECT coalesce(sum(attempts), 0) FROM reminders`).Scan(&before); err != nil {
		t.Fatal(err)
	}
	calls := h.fake.Counts().Send
	// Two due scans while it is open, well within its 1 s timeout (asked
	// for here: cron runs an @every under a second once a second). A scan
	// asked for while one runs makes that one go round again.
	scans := sig.Scanned.Count()
	for range 2 {
		if err := h.eng.ScanOnce(ctx); err != nil {
			t.Fatal(err)
		}
	}
	sig.Scanned.WaitUntil(deadline, func() bool { return sig.Scanned.Count() >= scans+2 || h.eng.Breaker() != "open" })
	sig.Done.WaitUntil(deadline, func() bool { return scheduler.PendingClaims(h.eng) == 0 || h.eng.Breaker() != "open" })
	if err := testkit.QueryRow(h.t, h.db, `SELECT coalesce(sum(attempts), 0) FROM reminders`).Scan(&after); err != nil {
		t.Fatal(err)
	}
	// Only while it stayed open throughout: on a loaded machine its 1 s
	// timeout may pass during the scans, and a half-open probe (a claim,
	// a call) that fails opens it again (a flake seen in CI under -race:
	// open at both ends, 100 attempts and one call in between).
	if h.eng.Breaker() == "open" && h.eng.BreakerOpens() == opens && (after > before || h.fake.Counts().Send != calls) {
		t.Fatalf("attempts %d → %d and WeChat calls %d → %d while the breaker was open", before, after, calls, h.fake.Counts().Send)
	}
	h.fake.RevokeTokens()
	phase(wechattest.Faults{Latency: lat, BusyRate: 0.1, DailyQuota: len(h.fake.Sends()) + 3}, func() bool { return quotaHits.Load() > 0 })
	phase(wechattest.Faults{Latency: lat}, func() bool { return false })
	cancel()
	<-done

	if h.count("sent") != n {
		t.Fatalf("sent %d of %d; failed %d, skipped %d, scheduled %d", h.count("sent"), n, h.count("failed"), h.count("skipped"), h.count("scheduled"))
	}
	seen := map[string]int{}
	for _, s := range h.fake.Sends() {
		seen[s.ToUser]++
	}
	// A second message comes from a resend after an unknown outcome, which
	// is marked whatever became of it: sent, or unknown itself when its
	// answer was lost too (a later 43101 then settles the first attempt).
	marked := map[string]bool{}
	for _, o := range testkit.Column(h.t, h.db, `SELECT r.openid FROM deliveries d JOIN reminders r ON r.id = d.reminder_id
		WHERE d.possible_duplicate = TRUE AND d.status IN ('sent', 'unknown', 'abandoned', 'duplicate')`) {
		marked[o] = true
	}
	duplicates := 0
	for u, k := range seen {
		switch {
		case k == 2 && marked[u]:
			duplicates++
		case k != 1:
			t.Fatalf("%s received %d messages (a resend marked possible_duplicate: %v)", u, k, marked[u])
		}
	}
	if h.eng.BreakerOpens() == 0 || h.eng.Breaker() != "closed" {
		t.Fatalf("breaker opened %d times, now %s", h.eng.BreakerOpens(), h.eng.Breaker())
	}
	var deferred, retried, unknown, settled int
	if err := testkit.QueryRow(h.t, h.db, `SELECT count(*) FILTER (WHERE status = 'deferred'), count(*) FILTER (WHERE status = 'retry'),
		count(*) FILTER (WHERE status = 'unknown'), count(*) FILTER (WHERE status = 'failed' AND possible_duplicate = TRUE AND errcode = 43101)
		FROM deliveries`).Scan(&deferred, &retried, &unknown, &settled); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d sent: %d once, %d twice (each second one marked); %d retries, %d deferrals, %d answers lost (unknown), "+
		"%d settled by a 43101 to the resend; breaker opened %d times, quota hit %d times",
		n, len(seen)-duplicates, duplicates, retried, deferred, unknown, settled, h.eng.BreakerOpens(), quotaHits.Load())
	if retried == 0 || deferred == 0 || quotaHits.Load() == 0 || unknown == 0 {
		t.Fatalf("the faults did not bite: %d retries, %d deferrals, %d quota hits, %d unknown", retried, deferred, quotaHits.Load(), unknown)
	}
}
