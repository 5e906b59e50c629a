package scheduler

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/reminderd/reminderd/internal/db"
	"github.com/reminderd/reminderd/internal/db/dbsqlc"
	"github.com/reminderd/reminderd/internal/store"
	"github.com/reminderd/reminderd/internal/testkit"
	"github.com/reminderd/reminderd/internal/wechat"
)

type templateMap map[string]*wechat.Template

func (m templateMap) Get(id string) (*wechat.Template, bool) { t, ok := m[id]; return t, ok }

// recordWorld is a database with claimed reminders, for the outcome batch.
type recordWorld struct {
	t      *testing.T
	ctx    context.Context
	d      *db.DB
	e      *Engine
	now    time.Time
	claims map[string]store.Claim
	seq    int
	reqs   []*outcomeReq // the last batch recorded
}

// outcomeReq is one outcome of the batch a test records.
type outcomeReq struct {
	c   store.Claim
	res result
	now time.Time
	rec store.Recorded
}

// newRecordWorld claims one reminder per spec: id → (openid, template,
// recurrence). Each user of the one-time template has one credit; the
// users of the long-term one have accepted it.
func newRecordWorld(t *testing.T, specs map[string][3]string) *recordWorld {
	t.Helper()
	ctx := context.Background()
	now := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	d := seedDue(t, now, specs)
	tpl := templateMap{"one": {ID: "one", Kind: wechat.OneTime}, "long": {ID: "long", Kind: wechat.LongTerm}}
	e, err := New(Config{Store: d, Sender: nopSender{}, Templates: tpl, Now: func() time.Time { return now },
		Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	w := &recordWorld{t: t, ctx: ctx, d: d, e: e, now: now, claims: map[string]store.Claim{}}
	cs, err := w.claim(now, 100)
	for _, c := range cs {
		w.claims[c.Reminder.ID] = c
	}
	if err != nil || len(w.claims) != len(specs) {
		t.Fatalf("claimed %d of %d: %v", len(w.claims), len(specs), err)
	}
	return w
}

// seedDue opens a database with one reminder due at now per spec: id →
// (openid, template, recurrence). Each user has accepted the template once
// (the template "long" as long-term).
func seedDue(t *testing.T, now time.Time, specs map[string][3]string) *db.DB {
	t.Helper()
	ctx := context.Background()
	d := testkit.SQLite(t) // the record world reads the SQLite rows (sqlc)
	for id, s := range specs {
		if _, err := d.CreateReminder(ctx, store.NewReminder{ID: id, OpenID: s[0], TemplateID: s[1], FireAt: now, Recurrence: s[2],
			Timezone: "Asia/Shanghai", Data: `{}`, CreatedAt: now}); err != nil {
			t.Fatal(err)
		}
		if _, err := d.RecordAccept(ctx, "", s[0], s[1], s[1] == "long", store.SourceClient, now.Add(-time.Hour)); err != nil {
			t.Fatal(err)
		}
	}
	return d
}

type nopSender struct{}

func (nopSender) Send(context.Context, wechat.SendRequest) (wechat.SendResult, error) {
	return wechat.SendResult{}, nil
}

func sent(msgid int64) result {
	return result{verdict: vSent, hasErrcode: true, msgid: msgid, hasMsgid: true, latency: 7 * time.Millisecond}
}

// claim claims up to max reminders due at now, as the engine does.
func (w *recordWorld) claim(now time.Time, max int) ([]store.Claim, error) {
	return w.d.ClaimDue(w.ctx, store.ClaimParams{Now: now, LeaseUntil: now.Add(time.Minute), Owner: w.e.cfg.Owner, Max: max,
		Kind: TemplateKinds(w.e.cfg.Templates)})
}

// out is an outcome of c, recorded a second and a few ms (one more for
// each outcome) after the claim.
func (w *recordWorld) out(c store.Claim, res result) *outcomeReq {
	w.seq++
	return &outcomeReq{c: c, res: res, now: w.now.Add(time.Second + time.Duration(w.seq)*time.Millisecond)}
}

// record writes the outcomes of the claims by id as one batch, and returns
// how many commits that took.
func (w *recordWorld) record(outcomes map[string]result, more ...*outcomeReq) int64 {
	w.t.Helper()
	reqs := more
	for id, res := range outcomes {
		reqs = append(reqs, w.out(w.claims[id], res))
	}
	w.reqs = reqs
	before := w.d.Commits()
	// Recorded concurrently, with the record wait told that they are all
	// coming: the store commits them as one batch (if it can).
	var inFlight atomic.Int64
	inFlight.Store(int64(len(reqs)))
	w.d.ExpectOutcomes(time.Hour, &inFlight)
	defer w.d.ExpectOutcomes(0, nil)
	errs := make([]error, len(reqs))
	var wg sync.WaitGroup
	for i, req := range reqs {
		wg.Go(func() {
			o := w.e.outcome(req.c, req.res, req.now)
			o.Counted = true
			req.rec, errs[i] = w.d.RecordOutcome(w.ctx, o)
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			w.t.Fatalf("outcome of %s: %v", reqs[i].c.Reminder.ID, err)
		}
	}
	for _, req := range reqs {
		if want := deliveryStatus[req.res.verdict]; req.rec.Status != want && req.rec.Status != store.DeliveryDuplicate {
			w.t.Errorf("%s: recorded as %q, want %q", req.c.Reminder.ID, req.rec.Status, want)
		}
	}
	return w.d.Commits() - before
}

func (w *recordWorld) reminder(id string) dbsqlc.Reminder {
	w.t.Helper()
	r, err := w.d.Read.GetReminder(w.ctx, id)
	if err != nil {
		w.t.Fatal(err)
	}
	return r
}

func (w *recordWorld) deliveries(id string) []dbsqlc.Delivery {
	w.t.Helper()
	ds, err := w.d.Read.ListDeliveries(w.ctx, id)
	if err != nil {
		w.t.Fatal(err)
	}
	return ds
}

func (w *recordWorld) credits(openid, tpl string) int64 {
	w.t.Helper()
	c, err := w.d.GetConsent(w.ctx, "", openid, tpl)
	if err != nil {
		w.t.Fatal(err)
	}
	return c.Credits
}

// TestRecordBatchWritesEveryKindOfOutcomeInOneCommit: the sends whose record
// is all there is to write go through the batch statements, every other
// outcome beside them through the per-outcome path, in one transaction, and
// each ends exactly as it would alone.
func TestRecordBatchWritesEveryKindOfOutcomeInOneCommit(t *testing.T) {
	w := newRecordWorld(t, map[string][3]string{
		"plain1": {"u1", "one", ""}, "plain2": {"u2", "one", ""}, "big": {"u3", "one", ""},
		"long": {"u4", "long", ""}, "early": {"u5", "one", ""}, "lost": {"u6", "one", ""},
		"retry": {"u7", "one", ""}, "series": {"u8", "one", "0 9 * * *"},
	})
	ctx, q := w.ctx, w.d.Write
	// A sent event that arrives before its send's outcome.
	if _, err := w.d.ApplyPushEvent(ctx, store.PushEvent{At: w.now, BodyHash: "early", OpenID: "u5",
		Sent: []store.SentEvent{{MsgID: 505, Delivered: true, Status: "success", TemplateID: "one"}}}); err != nil {
		t.Fatal(err)
	}
	// The rescuer takes "lost" back (its lease expired) before its outcome.
	lost := w.claims["lost"]
	expired := w.now.Add(2 * time.Minute).UnixMilli()
	if n, err := q.RescueReminder(ctx, dbsqlc.RescueReminderParams{ID: "lost", Now: expired, Attempts: lost.Reminder.Attempts, DueAt: expired}); err != nil || n != 1 {
		t.Fatalf("rescue: %d, %v", n, err)
	}
	if err := q.InsertAbandonedDelivery(ctx, dbsqlc.InsertAbandonedDeliveryParams{ReminderID: "lost", OccurrenceAt: lost.Reminder.FireAt.UnixMilli(),
		Attempt: lost.Reminder.Attempts, StartedAt: lost.ClaimedAt.UnixMilli(), Now: w.now.UnixMilli()}); err != nil {
		t.Fatal(err)
	}
	// ... and claims it again, while the first claim's send is in flight.
	again, err := w.claim(time.UnixMilli(expired), 10)
	if err != nil || len(again) != 1 || again[0].Reminder.ID != "lost" || again[0].Reminder.CreditHeld || !again[0].Covered {
		t.Fatalf("second claim of lost: %+v, %v", again, err)
	}
	const bigMsgID = 1<<53 + 1 // not a float64
	commits := w.record(map[string]result{
		"plain1": sent(101), "plain2": sent(102), "big": sent(bigMsgID), "long": sent(404),
		"early": sent(505), "lost": sent(606), "retry": {verdict: vRetry, errcode: -1, hasErrcode: true, errmsg: "system busy", deferUntil: w.now.Add(time.Minute)},
		"series": sent(808),
	}, w.out(again[0], sent(607)))
	if commits != 1 {
		t.Errorf("%d commits for one batch of outcomes, want 1", commits)
	}
	// The batch statements write the sends of plain1, plain2, big and long
	// with one instant, the latest of theirs; the one-row path writes each
	// outcome's own (the second claim of lost among them: it follows an
	// attempt of unknown outcome). The first claim of lost was a candidate
	// of the batch too (its lease was lost, which the batch finds out).
	var batchNow int64
	own := map[string]int64{}
	for _, req := range w.reqs {
		if id := req.c.Reminder.ID; id == "plain1" || id == "plain2" || id == "big" || id == "long" || id == "lost" && req.c.Reminder.Attempts == 1 {
			batchNow = max(batchNow, req.now.UnixMilli())
		} else if id != "lost" {
			own[id] = req.now.UnixMilli()
		}
	}
	for id, msgid := range map[string]int64{"plain1": 101, "plain2": 102, "big": bigMsgID, "long": 404, "early": 505} {
		c := w.claims[id]
		at, ok := own[id]
		if !ok {
			at = batchNow
		}
		if r := w.reminder(id); r.Status != "sent" || r.LeaseUntil.Valid || r.LeaseOwner.Valid || r.CreditHeld != 0 || r.UpdatedAt != at {
			t.Errorf("%s: reminder %+v, want sent at %d with its lease cleared", id, r, at)
		}
		ds := w.deliveries(id)
		if len(ds) != 1 {
			t.Fatalf("%s: deliveries %+v", id, ds)
		}
		d := ds[0]
		if d.Status != "sent" || d.Msgid != sqlInt(msgid) || d.Errcode != sqlInt(0) || d.Errmsg != "" || d.Attempt != 1 ||
			d.OccurrenceAt != c.Reminder.FireAt.UnixMilli() || d.StartedAt != c.ClaimedAt.UnixMilli() || d.FinishedAt != sqlInt(at) || d.LatencyMs != sqlInt(7) {
			t.Errorf("%s: delivery %+v, want finished at %d", id, d, at)
		}
	}
	for _, u := range []string{"u1", "u2", "u3", "u5", "u6", "u8"} {
		if n := w.credits(u, "one"); n != 0 {
			t.Errorf("%s: %d credits left after a send, want 0", u, n)
		}
	}
	if n := w.credits("u7", "one"); n != 1 {
		t.Errorf("retry: the held credit was not given back (%d)", n)
	}
	if d := w.deliveries("early")[0]; d.Delivered != sqlInt(1) || d.EventStatus != "success" {
		t.Errorf("the early sent event was not applied: %+v", d)
	}
	var pending int
	if err := w.d.R.QueryRow(`SELECT count(*) FROM pending_sent_events`).Scan(&pending); err != nil || pending != 0 {
		t.Errorf("pending sent events left: %d, %v", pending, err)
	}
	// The second claim's send completes the reminder; the first claim's
	// abandoned row now holds its real outcome: a duplicate of the occurrence.
	if ds := w.deliveries("lost"); len(ds) != 2 || ds[0].Status != "duplicate" || ds[0].Msgid != sqlInt(606) || ds[0].Attempt != 1 ||
		ds[1].Status != "sent" || ds[1].Msgid != sqlInt(607) || ds[1].Attempt != 2 {
		t.Errorf("lost: deliveries %+v", ds)
	}
	if r := w.reminder("lost"); r.Status != "sent" || r.Attempts != 2 {
		t.Errorf("lost: reminder %s after %d attempts, want sent after 2", r.Status, r.Attempts)
	}
	if r := w.reminder("retry"); r.Status != "scheduled" || r.DueAt != w.now.Add(time.Minute).UnixMilli() {
		t.Errorf("retry: reminder %+v", r)
	}
	// 09:00 UTC is 17:00 in Shanghai: the next 9 o'clock there is 01:00 UTC.
	if r := w.reminder("series"); r.Status != "scheduled" || r.FireAt != time.Date(2026, 12, 2, 1, 0, 0, 0, time.UTC).UnixMilli() {
		t.Errorf("series: reminder %+v, want its next occurrence", r)
	}
	if ds := w.deliveries("series"); len(ds) != 1 || ds[0].Status != "sent" {
		t.Errorf("series: deliveries %+v", ds)
	}
}

// TestRecordBatchFailureFallsBackToEachAlone: a batch statement that fails
// (an occurrence already recorded as sent) rolls the batch back, and each
// outcome is then written alone, so the others are recorded exactly once
// and the culprit as a duplicate.
func TestRecordBatchFailureFallsBackToEachAlone(t *testing.T) {
	w := newRecordWorld(t, map[string][3]string{"a": {"u1", "one", ""}, "b": {"u2", "one", ""}, "c": {"u3", "one", ""}})
	c := w.claims["b"]
	if _, err := w.d.Write.InsertDelivery(w.ctx, dbsqlc.InsertDeliveryParams{ReminderID: "b", OccurrenceAt: c.Reminder.FireAt.UnixMilli(), Attempt: 1,
		Status: "sent", StartedAt: 1, Now: 1}); err != nil {
		t.Fatal(err)
	}
	if commits := w.record(map[string]result{"a": sent(1), "b": sent(2), "c": sent(3)}); commits != 3 {
		t.Errorf("%d commits, want 3 (each outcome alone)", commits)
	}
	for id, want := range map[string][]string{"a": {"sent"}, "b": {"sent", "duplicate"}, "c": {"sent"}} {
		ds := w.deliveries(id)
		var got []string
		for _, d := range ds {
			got = append(got, d.Status)
		}
		if len(got) != len(want) || got[0] != want[0] || got[len(got)-1] != want[len(want)-1] {
			t.Errorf("%s: deliveries %v, want %v", id, got, want)
		}
		if r := w.reminder(id); r.Status != "sent" {
			t.Errorf("%s: reminder %s, want sent", id, r.Status)
		}
	}
}

// pauseOnGet pauses the engine's sending (as a 45009 does) the first time
// the claim looks a template up: the pause arrives while the claim runs.
type pauseOnGet struct {
	templateMap
	e     *Engine
	until time.Time
}

func (p *pauseOnGet) Get(id string) (*wechat.Template, bool) {
	p.e.quotaUntil.CompareAndSwap(0, p.until.UnixMilli())
	return p.templateMap.Get(id)
}

// A pause that begins while a claim runs rolls the claim back: its
// reminders would only be deferred, so it would use attempts (and move
// credits) for nothing.
func TestClaimRolledBackWhenSendingPausesMeanwhile(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	d := seedDue(t, now, map[string][3]string{"r1": {"or1", "one", ""}, "r2": {"or2", "one", ""}})
	tpl := &pauseOnGet{templateMap: templateMap{"one": {ID: "one", Kind: wechat.OneTime}}, until: now.Add(time.Hour)}
	e, err := New(Config{Store: d, Sender: nopSender{}, Templates: tpl, Now: func() time.Time { return now },
		Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	tpl.e = e
	n, err := e.scanBatch(ctx)
	if err != nil || n != 0 {
		t.Fatalf("claimed %d while paused (%v)", n, err)
	}
	if e.quotaUntil.Load() == 0 {
		t.Fatal("the claim never looked a template up: the test did not pause it midway")
	}
	for _, id := range []string{"r1", "r2"} {
		r, err := d.Read.GetReminder(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		c, err := d.GetConsent(ctx, "", "o"+id, "one")
		if err != nil {
			t.Fatal(err)
		}
		if r.Status != "scheduled" || r.Attempts != 0 || r.CreditHeld != 0 || c.Credits != 1 {
			t.Fatalf("%s: %s, %d attempts, credit held %d, %d credits left: the claim made while paused stayed",
				id, r.Status, r.Attempts, r.CreditHeld, c.Credits)
		}
	}
}

// Claims go to idle workers (whose stacks are already grown) rather than to
// new goroutines, and the workers end with the engine.
func TestWorkersAreReusedAndEndWithTheEngine(t *testing.T) {
	now := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	specs := map[string][3]string{}
	for i := range 8 {
		specs[fmt.Sprintf("r%d", i)] = [3]string{fmt.Sprintf("o%d", i), "one", ""}
	}
	d := seedDue(t, now, specs)
	tpl := templateMap{"one": {ID: "one", Kind: wechat.OneTime}}
	e, err := New(Config{Store: d, Sender: nopSender{}, Templates: tpl, Now: func() time.Time { return now },
		Logger: slog.New(slog.DiscardHandler), Concurrency: 4})
	if err != nil {
		t.Fatal(err)
	}
	sig := InitTestSignals(e)
	ctx := context.Background()
	if err := e.ScanOnce(ctx); err != nil {
		t.Fatal(err)
	}
	e.WaitIdle()
	started := e.workersStarted.Load()
	if started < 1 || started > 8 {
		t.Fatalf("%d workers for 8 claims", started)
	}
	// Every worker back to waiting for a claim (a claim's record is done
	// before its worker gets there).
	if !sig.Workers.WaitUntil(time.Now().Add(30*time.Second), func() bool { return e.idleWorkers.Load() == e.workers.Load() }) {
		t.Fatalf("%d of %d workers idle after 30 s", e.idleWorkers.Load(), e.workers.Load())
	}
	// Eight more, due now: the idle workers take them.
	for i := range 8 {
		id, o := fmt.Sprintf("s%d", i), fmt.Sprintf("o%d", i)
		if _, err := d.CreateReminder(ctx, store.NewReminder{ID: id, OpenID: o, TemplateID: "one", FireAt: now,
			Timezone: "Asia/Shanghai", Data: `{}`, CreatedAt: now}); err != nil {
			t.Fatal(err)
		}
		if _, err := d.RecordAccept(ctx, "", o, "one", false, store.SourceClient, now); err != nil {
			t.Fatal(err)
		}
	}
	runCtx, stop := context.WithCancel(ctx)
	ran := make(chan error, 1)
	go func() { ran <- e.Run(runCtx) }()
	if !sig.Done.WaitUntil(time.Now().Add(30*time.Second), func() bool { return e.pending.Load() == 0 && countStatus(t, d, "sent") == 16 }) {
		t.Fatalf("%d sent after 30 s, want 16", countStatus(t, d, "sent"))
	}
	if n := e.workersStarted.Load(); n > 8 {
		t.Errorf("%d workers started for two batches of 8: the idle ones were not reused", n)
	}
	if n := e.sending.Load(); n != 0 {
		t.Errorf("%d sends still counted as at WeChat after every outcome was recorded", n)
	}
	stop()
	if err := <-ran; err != nil {
		t.Fatal(err)
	}
	// Well before their idle time runs out.
	if !sig.Workers.WaitUntil(time.Now().Add(workerIdle/2), func() bool { return e.workers.Load() == 0 }) {
		t.Fatalf("%d workers still alive after the engine stopped", e.workers.Load())
	}
}

// countStatus counts the reminders in one status with the admin's query.
func countStatus(t *testing.T, d *db.DB, status string) int64 {
	t.Helper()
	rows, err := d.Read.CountRemindersByStatus(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rows {
		if r.Status == status {
			return r.N
		}
	}
	return 0
}

func sqlInt(v int64) sql.NullInt64 { return sql.NullInt64{Int64: v, Valid: true} }
