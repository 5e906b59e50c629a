package storetest

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/reminderd/reminderd/internal/store"
)

// RecordOutcome completes or reschedules the claimed reminder as told: a
// retry keeps the attempt count, a series moves to its next occurrence, a
// completed reminder is claimed no more; a pause is persisted with it.
func testRecordOutcome(t *testing.T, s store.EngineStore) {
	ctx := context.Background()
	create(t, s, "a", "oA", oneTime, et0)
	c := claimAt(t, s, "w", et0, 10)[0]
	if n, err := s.OccurrenceFirstAttempt(ctx, "a", et0); err != nil || n != 0 {
		t.Fatalf("first attempt before any record: %d, %v; want 0", n, err)
	}
	// A retry in ten seconds.
	retry := store.Outcome{Claim: c, At: et0.Add(time.Second), Delivery: &store.Delivery{Status: store.DeliveryRetry, ErrCode: -1,
		HasErrCode: true, ErrMsg: "system busy", Latency: time.Millisecond},
		Reschedule: &store.Reschedule{FireAt: et0, DueAt: et0.Add(10 * time.Second), Attempts: c.Reminder.Attempts},
		Pause:      &store.Pause{Name: "quota", Until: et0.Add(time.Hour), Reason: "daily quota reached", Since: et0.Add(time.Second)}}
	if rec := record(t, s, retry); rec.Lost || rec.Status != store.DeliveryRetry {
		t.Fatalf("retry recorded %+v", rec)
	}
	if p, err := s.Pause(ctx, "quota"); err != nil || !p.Until.Equal(et0.Add(time.Hour)) || p.Reason != "daily quota reached" {
		t.Fatalf("the outcome's pause: %+v, %v", p, err)
	}
	if next, err := s.NextDueAt(ctx); err != nil || !next.Equal(et0.Add(10*time.Second)) {
		t.Fatalf("next due %v, %v; want the retry's instant", next, err)
	}
	if n, err := s.OccurrenceFirstAttempt(ctx, "a", et0); err != nil || n != 1 {
		t.Fatalf("first attempt: %d, %v; want 1", n, err)
	}
	c = claimAt(t, s, "w", et0.Add(10*time.Second), 10)[0]
	if c.Reminder.Attempts != 2 || !c.Reminder.FireAt.Equal(et0) {
		t.Fatalf("the retry's claim: %+v; want the second attempt of the same occurrence", c.Reminder)
	}
	// The series' next occurrence, a day later, with an hour's window.
	next := et0.Add(24 * time.Hour)
	o := sent(c, et0.Add(11*time.Second), 0)
	o.Complete, o.Reschedule = nil, &store.Reschedule{FireAt: next, DueAt: next, ExpiresAt: next.Add(time.Hour)}
	record(t, s, o)
	if cs := claimAt(t, s, "w", next.Add(-time.Millisecond), 10); len(cs) != 0 {
		t.Fatalf("claimed before the next occurrence: %v", claimIDs(cs))
	}
	c = claimAt(t, s, "w", next, 10)[0]
	if r := c.Reminder; r.Attempts != 1 || !r.FireAt.Equal(next) || !r.ExpiresAt.Equal(next.Add(time.Hour)) || !r.UnknownAt.IsZero() {
		t.Fatalf("the next occurrence's claim: %+v", r)
	}
	if n, err := s.OccurrenceFirstAttempt(ctx, "a", next); err != nil || n != 0 {
		t.Fatalf("first attempt of the new occurrence: %d, %v; want 0", n, err)
	}
	// Failed for good: not claimed again.
	record(t, s, store.Outcome{Claim: c, At: next.Add(time.Second), Delivery: &store.Delivery{Status: store.DeliveryFailed, ErrCode: 40003,
		HasErrCode: true}, Complete: &store.Completion{Status: store.StatusFailed, Reason: store.ReasonOpenIDInvalid}})
	if cs := claimAt(t, s, "w", next.Add(time.Hour), 10); len(cs) != 0 {
		t.Fatalf("claimed after it failed: %v", claimIDs(cs))
	}
	if next, err := s.NextDueAt(ctx); err != nil || !next.IsZero() {
		t.Fatalf("next due %v, %v; want none", next, err)
	}
	if _, err := s.RecordOutcome(ctx, store.Outcome{Claim: c, At: next}); err == nil {
		t.Fatal("an outcome that neither completes nor reschedules was recorded")
	}
}

// rescueAndReclaim claims a (credit held), lets its lease expire, rescues
// it and claims it again: it returns the first claim (now stale) and the
// second.
func rescueAndReclaim(t *testing.T, s store.EngineStore) (stale, current store.Claim) {
	t.Helper()
	create(t, s, "a", "oA", oneTime, et0)
	accept(t, s, "oA", oneTime, et0.Add(-time.Hour))
	stale = claimAt(t, s, "w1", et0, 10)[0]
	if n, err := s.RescueExpiredLeases(context.Background(), et0.Add(2*time.Minute), 0); err != nil || n != 1 {
		t.Fatalf("rescued %d, %v", n, err)
	}
	cs := claimAt(t, s, "w2", et0.Add(2*time.Minute), 10)
	if len(cs) != 1 || cs[0].Reminder.Attempts != 2 || !cs[0].Covered {
		t.Fatalf("claim after the rescue: %+v", cs)
	}
	return stale, cs[0]
}

// A record on a stale claim (rescued and claimed again: a newer attempt)
// loses: the reminder and the ledger are as the newer claim left them, and
// the newer claim's record wins.
func testStaleClaimLoses(t *testing.T, s store.EngineStore) {
	stale, current := rescueAndReclaim(t, s)
	now := et0.Add(3 * time.Minute)
	// The stale claim's worker would retry now and give the credit back.
	o := deferred(stale, now, now)
	o.Delivery.Status = store.DeliveryRetry
	if rec := record(t, s, o); !rec.Lost {
		t.Fatalf("stale record %+v: want Lost", rec)
	}
	// The late outcome took the rescuer's abandoned row, and says so.
	if ds, ok := s.(store.Deliveries); ok {
		dls, err := ds.ListDeliveries(context.Background(), "a")
		if err != nil || len(dls) == 0 || dls[0].Status != store.DeliveryRetry || !strings.Contains(dls[0].ErrMsg, "lease ran out") {
			t.Fatalf("deliveries after the stale record: %+v, %v; want the first a retry noting the lost lease", dls, err)
		}
	}
	if cs := claimAt(t, s, "w3", now, 10); len(cs) != 0 {
		t.Fatalf("the stale record rescheduled the reminder: claimed %v", claimIDs(cs))
	}
	create(t, s, "b", "oA", oneTime, et0)
	if cs := claimAt(t, s, "w3", now, 10); len(cs) != 1 || cs[0].Covered {
		t.Fatalf("the stale record refunded the credit: %+v", cs)
	}
	if rec := record(t, s, sent(current, now, 42)); rec.Lost || rec.Status != store.DeliverySent {
		t.Fatalf("the current claim's record %+v: want sent", rec)
	}
	if ok, err := s.OccurrenceSent(context.Background(), "a", et0); err != nil || !ok {
		t.Fatalf("occurrence sent: %v, %v", ok, err)
	}
}

// A send of an occurrence already recorded sent is recorded a duplicate
// (the stale claim's send, accepted after the newer one's).
func testDuplicateSend(t *testing.T, s store.EngineStore) {
	stale, current := rescueAndReclaim(t, s)
	now := et0.Add(3 * time.Minute)
	if rec := record(t, s, sent(current, now, 2)); rec.Status != store.DeliverySent {
		t.Fatalf("current: %+v", rec)
	}
	if rec := record(t, s, sent(stale, now, 1)); !rec.Lost || rec.Status != store.DeliveryDuplicate {
		t.Fatalf("stale send after the current one: %+v; want Lost, duplicate", rec)
	}
}

// A sent event that arrives before the outcome is recorded is parked, and
// applied to the delivery when the outcome is recorded (the reminder learns
// of it); the parked event is gone then.
func testEarlySentEvent(t *testing.T, s store.EngineStore) {
	ctx := context.Background()
	create(t, s, "a", "oA", oneTime, et0)
	create(t, s, "b", "oB", oneTime, et0)
	cs := claimAt(t, s, "w", et0, 10)
	if applied := sentEvent(t, s, "oA", oneTime, 77, et0.Add(time.Second)); applied.Woken || applied.Duplicate {
		t.Fatalf("early sent event: %+v", applied)
	}
	if ev, err := s.PendingSentEvent(ctx, "", "oA", oneTime, et0); err != nil || ev.MsgID != 77 || !ev.Delivered {
		t.Fatalf("parked event: %+v, %v", ev, err)
	}
	// Both outcomes keep their reminders scheduled at the same occurrence,
	// so that the next claim shows what the reminder learnt.
	for i, c := range cs {
		o := sent(c, et0.Add(2*time.Second), int64(77+i*1000))
		o.Complete, o.Reschedule = nil, &store.Reschedule{FireAt: et0, DueAt: et0.Add(time.Hour), Attempts: c.Reminder.Attempts}
		record(t, s, o)
	}
	if _, err := s.PendingSentEvent(ctx, "", "oA", oneTime, et0); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("the parked event after the record: %v, want ErrNotFound", err)
	}
	again := claimAt(t, s, "w", et0.Add(time.Hour), 10)
	if a, b := byID(t, again, "a"), byID(t, again, "b"); a.Reminder.Delivery != store.ReportDelivered || b.Reminder.Delivery != "" {
		t.Fatalf("delivery reports: a %q, b %q; want a delivered, b none", a.Reminder.Delivery, b.Reminder.Delivery)
	}
}

// Concurrent records (committed together, when the store groups them: the
// record wait is told they are all coming) each get their own result and
// error: one failing outcome does not fail the others, nor is any written
// twice.
func testGroupCommit(t *testing.T, s store.EngineStore) {
	ctx := context.Background()
	ids := []string{"p1", "p2", "p3", "p4", "bad", "a_lost"} // a_lost first in due order
	for _, id := range ids {
		create(t, s, id, "o"+id, longTerm, et0)
		accept(t, s, "o"+id, longTerm, et0)
	}
	// a_lost is claimed first, with a short lease, and rescued.
	lost, err := s.ClaimDue(ctx, store.ClaimParams{Now: et0, LeaseUntil: et0.Add(time.Second), Owner: "w", Max: 1,
		Kind: func(string, string) (store.TemplateKind, bool) { return store.KindLongTerm, true }})
	if err != nil || len(lost) != 1 {
		t.Fatalf("claim: %v, %v", claimIDs(lost), err)
	}
	cs := append(claimAt(t, s, "w", et0, 10), lost...)
	if len(cs) != len(ids) {
		t.Fatalf("claimed %v", claimIDs(cs))
	}
	lostID := lost[0].Reminder.ID
	if n, err := s.RescueExpiredLeases(ctx, et0.Add(2*time.Second), time.Hour); err != nil || n != 1 {
		t.Fatalf("rescued %d, %v", n, err)
	}
	var inFlight atomic.Int64
	inFlight.Store(int64(len(cs)))
	s.ExpectOutcomes(time.Minute, &inFlight)
	defer s.ExpectOutcomes(0, nil)
	recs := make([]store.Recorded, len(cs))
	errs := make([]error, len(cs))
	var wg sync.WaitGroup
	for i, c := range cs {
		o := sent(c, et0.Add(3*time.Second), int64(100+i))
		if c.Reminder.ID == "bad" {
			// A reminder failed without a reason: a store refuses it.
			o.Delivery.Status, o.Complete.Status = store.DeliveryFailed, store.StatusFailed
		}
		o.Counted = true
		wg.Go(func() { recs[i], errs[i] = s.RecordOutcome(ctx, o) })
	}
	wg.Wait()
	for i, c := range cs {
		id, rec, err := c.Reminder.ID, recs[i], errs[i]
		switch {
		case id == "bad":
			if err == nil {
				t.Errorf("bad: recorded %+v, want an error", rec)
			}
		case err != nil:
			t.Errorf("%s: %v (another outcome's failure failed it)", id, err)
		case id == lostID:
			if !rec.Lost {
				t.Errorf("%s: %+v, want Lost", id, rec)
			}
		case rec.Lost || rec.Status != store.DeliverySent:
			t.Errorf("%s: %+v, want sent", id, rec)
		default:
			if ok, err := s.OccurrenceSent(ctx, id, et0); err != nil || !ok {
				t.Errorf("%s: occurrence sent %v, %v", id, ok, err)
			}
		}
	}
	if n := inFlight.Load(); n != 0 {
		t.Errorf("%d outcomes still counted in flight after all were recorded", n)
	}
	// The failed outcome changed nothing: its claim is still out, and the
	// rescuer finds it once its lease runs out.
	if n, err := s.RescueExpiredLeases(ctx, et0.Add(2*time.Minute), 0); err != nil || n != 1 {
		t.Errorf("rescued %d, %v; want the bad outcome's claim only", n, err)
	}
}

// The rescuer returns expired leases only: as attempts of unknown outcome,
// due once the unknown wait since their claim is over, their held credit
// counted used.
func testRescuer(t *testing.T, s store.EngineStore) {
	ctx := context.Background()
	create(t, s, "a", "oA", oneTime, et0)
	accept(t, s, "oA", oneTime, et0.Add(-time.Hour))
	a := claimAt(t, s, "dead", et0, 10)[0] // leased until et0+1m
	create(t, s, "b", "oB", oneTime, et0)
	claimAt(t, s, "live", et0.Add(2*time.Minute), 10) // b, leased until et0+3m
	if n, err := s.RescueExpiredLeases(ctx, et0.Add(time.Minute), 5*time.Minute); err != nil || n != 0 {
		t.Fatalf("rescued %d, %v at the lease's last instant; want 0", n, err)
	}
	if n, err := s.RescueExpiredLeases(ctx, et0.Add(2*time.Minute+time.Second), 5*time.Minute); err != nil || n != 1 {
		t.Fatalf("rescued %d, %v; want the one expired lease", n, err)
	}
	if next, err := s.NextDueAt(ctx); err != nil || !next.Equal(et0.Add(5*time.Minute)) {
		t.Fatalf("next due %v, %v; want the claim's instant plus the unknown wait", next, err)
	}
	if last, err := s.LastUnknownAttempt(ctx, "a", et0); err != nil || !last.Equal(a.ClaimedAt) {
		t.Fatalf("last unknown attempt %v, %v; want the rescued claim's %v", last, err, a.ClaimedAt)
	}
	cs := claimAt(t, s, "w", et0.Add(5*time.Minute), 10)
	if len(cs) != 1 || cs[0].Reminder.ID != "a" {
		t.Fatalf("claimed %v; want a only (b's lease is live)", claimIDs(cs))
	}
	if r := cs[0]; r.Reminder.Attempts != 2 || !r.Reminder.UnknownAt.Equal(a.ClaimedAt) || !r.Covered || r.Reminder.CreditHeld {
		t.Fatalf("claim after the rescue: %+v; want attempt 2, unknown since the first claim, covered without a credit", r)
	}
	create(t, s, "c", "oA", oneTime, et0)
	if cs := claimAt(t, s, "w", et0.Add(5*time.Minute), 10); len(cs) != 1 || cs[0].Covered {
		t.Fatalf("c: %+v; want it not covered (the rescued claim's credit counts used)", cs)
	}
}

// An attempt of unknown outcome waits; a sent event for its user and
// template is parked and wakes it; the next claim settles the attempt as
// the occurrence's send and takes the event.
func testUnknownSettle(t *testing.T, s store.EngineStore) {
	ctx := context.Background()
	create(t, s, "a", "oA", oneTime, et0)
	accept(t, s, "oA", oneTime, et0.Add(-time.Hour))
	c := claimAt(t, s, "w", et0, 10)[0]
	record(t, s, store.Outcome{Claim: c, At: et0.Add(time.Second),
		Delivery:   &store.Delivery{Status: store.DeliveryUnknown, ErrMsg: "answer lost", Latency: time.Second},
		Reschedule: &store.Reschedule{FireAt: et0, DueAt: et0.Add(2 * time.Minute), Attempts: 1, UnknownAt: c.ClaimedAt}})
	if last, err := s.LastUnknownAttempt(ctx, "a", et0); err != nil || !last.Equal(c.ClaimedAt) {
		t.Fatalf("last unknown attempt %v, %v", last, err)
	}
	if ok, err := s.OccurrenceSent(ctx, "a", et0); err != nil || ok {
		t.Fatalf("occurrence sent before the settle: %v, %v", ok, err)
	}
	if _, err := s.PendingSentEvent(ctx, "", "oA", oneTime, et0); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("pending event before any: %v, want ErrNotFound", err)
	}
	at := et0.Add(10 * time.Second)
	if applied := sentEvent(t, s, "oA", oneTime, 9, at); !applied.Woken {
		t.Fatalf("the sent event did not wake the waiting reminder: %+v", applied)
	}
	if next, err := s.NextDueAt(ctx); err != nil || !next.Equal(at) {
		t.Fatalf("next due %v, %v; want the event's instant", next, err)
	}
	if _, err := s.PendingSentEvent(ctx, "", "oA", oneTime, at.Add(time.Millisecond)); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("an event received before since: %v, want ErrNotFound", err)
	}
	ev, err := s.PendingSentEvent(ctx, "", "oA", oneTime, c.ClaimedAt)
	if err != nil || ev.MsgID != 9 || !ev.Delivered || ev.Status != "success" {
		t.Fatalf("pending event %+v, %v", ev, err)
	}
	c2 := claimAt(t, s, "w", at, 10)
	if len(c2) != 1 || !c2[0].Covered || !c2[0].Reminder.UnknownAt.Equal(c.ClaimedAt) || c2[0].Reminder.CreditHeld {
		t.Fatalf("claim of the woken reminder: %+v", c2)
	}
	rec := record(t, s, store.Outcome{Claim: c2[0], At: at.Add(time.Second),
		Complete: &store.Completion{Status: store.StatusSent, Report: store.ReportDelivered},
		Settle:   &store.Settle{ErrMsg: "settled by WeChat's sent event", Event: ev, HasEvent: true}})
	if rec.Lost || rec.Unsettled {
		t.Fatalf("settle recorded %+v", rec)
	}
	if ok, err := s.OccurrenceSent(ctx, "a", et0); err != nil || !ok {
		t.Fatalf("occurrence sent after the settle: %v, %v", ok, err)
	}
	if _, err := s.PendingSentEvent(ctx, "", "oA", oneTime, c.ClaimedAt); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("the settling event is still parked: %v", err)
	}
	// The unknown attempt used the credit.
	create(t, s, "b", "oA", oneTime, et0)
	if cs := claimAt(t, s, "w", at, 10); len(cs) != 1 || cs[0].Covered {
		t.Fatalf("b: %+v; want it not covered", cs)
	}
}

// A claim of an attempt of unknown outcome reads a parked sent event of its
// user and template; before its settle is written, the send the event
// really belongs to records its outcome and takes the event. The settle is
// then refused in its transaction: the occurrence stays of unknown outcome
// (one msgid never settles two deliveries), the reminder is due again at
// once with its unknown instant and without an attempt used, and the store
// says so (EventGone).
func testSettleEventTaken(t *testing.T, s store.EngineStore) {
	ctx := context.Background()
	create(t, s, "a", "oA", oneTime, et0)
	accept(t, s, "oA", oneTime, et0.Add(-2*time.Hour))
	accept(t, s, "oA", oneTime, et0.Add(-time.Hour))
	ca := claimAt(t, s, "w", et0, 10)[0]
	record(t, s, store.Outcome{Claim: ca, At: et0.Add(time.Second),
		Delivery:   &store.Delivery{Status: store.DeliveryUnknown, ErrMsg: "answer lost", Latency: time.Second},
		Reschedule: &store.Reschedule{FireAt: et0, DueAt: et0.Add(2 * time.Minute), Attempts: 1, UnknownAt: ca.ClaimedAt}})
	create(t, s, "b", "oA", oneTime, et0.Add(5*time.Second))
	cb := claimAt(t, s, "w", et0.Add(5*time.Second), 10)
	if len(cb) != 1 || cb[0].Reminder.ID != "b" || !cb[0].Covered {
		t.Fatalf("claim of b: %+v", cb)
	}
	// b is at WeChat: its event comes before its answer is recorded, is
	// parked, and wakes a.
	at := et0.Add(10 * time.Second)
	if applied := sentEvent(t, s, "oA", oneTime, 9, at); !applied.Woken {
		t.Fatalf("the sent event did not wake a: %+v", applied)
	}
	c2 := claimAt(t, s, "w", at, 10)
	if len(c2) != 1 || c2[0].Reminder.ID != "a" {
		t.Fatalf("claim of the woken reminder: %v", claimIDs(c2))
	}
	ev, err := s.PendingSentEvent(ctx, "", "oA", oneTime, c2[0].Reminder.UnknownAt)
	if err != nil || ev.MsgID != 9 {
		t.Fatalf("pending event %+v, %v", ev, err)
	}
	// b's outcome, with the event's msgid, takes the event.
	if rec := record(t, s, sent(cb[0], at.Add(time.Second), 9)); rec.Lost || rec.Status != store.DeliverySent {
		t.Fatalf("b recorded %+v", rec)
	}
	rec := record(t, s, store.Outcome{Claim: c2[0], At: at.Add(2 * time.Second),
		Complete: &store.Completion{Status: store.StatusSent, Report: store.ReportDelivered},
		Settle:   &store.Settle{ErrMsg: "settled by WeChat's sent event", Event: ev, HasEvent: true}})
	if !rec.EventGone || rec.Lost {
		t.Fatalf("settle with a taken event recorded %+v; want EventGone", rec)
	}
	if ok, err := s.OccurrenceSent(ctx, "a", et0); err != nil || ok {
		t.Fatalf("a's occurrence recorded sent (%v, %v) by b's event", ok, err)
	}
	if ok, err := s.OccurrenceSent(ctx, "b", et0.Add(5*time.Second)); err != nil || !ok {
		t.Fatalf("b's occurrence sent: %v, %v", ok, err)
	}
	if next, err := s.NextDueAt(ctx); err != nil || !next.Equal(at.Add(2*time.Second)) {
		t.Fatalf("next due %v, %v; want a due at once", next, err)
	}
	again := claimAt(t, s, "w", at.Add(2*time.Second), 10)
	if len(again) != 1 || again[0].Reminder.ID != "a" || !again[0].Reminder.UnknownAt.Equal(ca.ClaimedAt) ||
		again[0].Reminder.Attempts != c2[0].Reminder.Attempts || again[0].Reminder.CreditHeld {
		t.Fatalf("a's next claim %+v; want its unknown instant kept, no attempt used, no credit taken", again)
	}
}
