package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/reminderd/reminderd/internal/store"
)

// WebhookDriver is a driver of the webhook half: the outbox is written by
// the reminder and engine operations, so it needs the whole store.
type WebhookDriver interface {
	store.Store
}

// Webhooks runs the webhook half (webhooks.go): the outbox written in the
// transactions of outcomes, push events and consent changes, and the
// dispatcher's claims, results, listing and retry.
func Webhooks(t *testing.T, open Open[WebhookDriver]) {
	for _, tc := range []struct {
		name string
		fn   func(t *testing.T, s store.Store)
	}{
		{"NothingWrittenUntilEnabled", testWebhooksOff},
		{"OutcomesWriteTheirEvents", testWebhookOutcomes},
		{"PlainSentBatchWritesEachEvent", testWebhookBatch},
		{"SentEventsWriteDeliveredOrUndelivered", testWebhookSentEvents},
		{"ConsentChangesWriteTheirEvents", testWebhookConsents},
		{"ConsentReportsAndSnoozesWriteTheirEvents", testWebhookReports},
		{"ClaimLeasesAndFinishIsACompareAndSet", testWebhookClaim},
		{"ConcurrentClaimsNeverOverlap", testWebhookConcurrentClaims},
		{"ListAndRetry", testWebhookListRetry},
		{"RetainDeletesOldDeliveredAndDead", testWebhookRetain},
		{"EachRowIsItsAppsOwn", testWebhookApps}, // apps_events.go
	} {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, fresh(t, open)) })
	}
}

const hookApp = "wxHookApp"

// outbox claims every due row at now (a long lease) and returns them in
// due order; they stay leased.
func outbox(t *testing.T, s store.WebhookStore, now time.Time) []store.Webhook {
	t.Helper()
	rows, err := s.ClaimWebhooks(context.Background(), now, "reader", now.Add(time.Hour), 1000)
	if err != nil {
		t.Fatalf("claim webhooks: %v", err)
	}
	return rows
}

func types(rows []store.Webhook) []string {
	out := make([]string, len(rows))
	for i, r := range rows {
		out[i] = r.Type
	}
	return out
}

// payload decodes a row's payload.
func payload(t *testing.T, w store.Webhook) store.WebhookPayload {
	t.Helper()
	var p store.WebhookPayload
	if err := json.Unmarshal([]byte(w.Payload), &p); err != nil {
		t.Fatalf("payload of %s: %v: %s", w.ID, err, w.Payload)
	}
	return p
}

// Without EnableWebhooks the send path, the push and the ledger write no
// event.
func testWebhooksOff(t *testing.T, s store.Store) {
	create(t, s, "a", "oA", longTerm, et0)
	accept(t, s, "oA", longTerm, et0)
	record(t, s, sent(claimAt(t, s, "w", et0, 10)[0], et0.Add(time.Second), 11))
	sentEvent(t, s, "oA", longTerm, 11, et0.Add(2*time.Second))
	if _, err := s.RecordAccept(context.Background(), "", "oB", oneTime, false, store.SourceClient, et0); err != nil {
		t.Fatal(err)
	}
	if rows := outbox(t, s, et0.Add(time.Hour)); len(rows) != 0 {
		t.Fatalf("events written without webhooks: %v", types(rows))
	}
	if n, err := s.WebhookDepth(context.Background()); err != nil || n != 0 {
		t.Fatalf("depth %d, %v", n, err)
	}
}

// Each outcome writes the event it reports, with the delivery as recorded;
// retries and deferrals write none.
func testWebhookOutcomes(t *testing.T, s store.Store) {
	for _, id := range []string{"sent", "failed", "skipped", "retry"} {
		create(t, s, id, "o"+id, longTerm, et0)
		accept(t, s, "o"+id, longTerm, et0.Add(-time.Hour))
	}
	s.EnableWebhooks(store.WebhookApps{Default: hookApp})
	cs := claimAt(t, s, "w", et0, 10)
	at := et0.Add(time.Second)
	record(t, s, sent(byID(t, cs, "sent"), at, 77))
	record(t, s, store.Outcome{Claim: byID(t, cs, "failed"), At: at, Delivery: &store.Delivery{Status: store.DeliveryFailed,
		ErrCode: 40003, HasErrCode: true, ErrMsg: "invalid openid"}, Complete: &store.Completion{Status: store.StatusFailed,
		Reason: store.ReasonOpenIDInvalid}})
	record(t, s, store.Outcome{Claim: byID(t, cs, "skipped"), At: at, Delivery: &store.Delivery{Status: store.DeliverySkipped,
		ErrMsg: "expired"}, Complete: &store.Completion{Status: store.StatusSkipped, Reason: store.ReasonExpired}})
	rc := byID(t, cs, "retry")
	record(t, s, store.Outcome{Claim: rc, At: at, Delivery: &store.Delivery{Status: store.DeliveryRetry, ErrCode: -1, HasErrCode: true},
		Reschedule: &store.Reschedule{FireAt: et0, DueAt: et0.Add(time.Minute), Attempts: rc.Reminder.Attempts}})
	rows := outbox(t, s, at)
	got := map[string]store.Webhook{}
	for _, w := range rows {
		got[w.ReminderID] = w
	}
	want := map[string]string{"sent": store.EventReminderSent, "failed": store.EventReminderFailed, "skipped": store.EventReminderSkipped}
	if len(rows) != len(want) {
		t.Fatalf("events %v of %d rows; want one each for sent, failed, skipped", types(rows), len(rows))
	}
	for id, typ := range want {
		w := got[id]
		if w.Type != typ || w.AppID != hookApp || w.OpenID != "o"+id || w.State != store.WebhookPending || w.Attempts != 0 ||
			!w.CreatedAt.Equal(at) || !w.NextAt.Equal(at) || w.Body != "" || w.ID == "" {
			t.Errorf("%s: %+v; want a pending %s written at the outcome", id, w, typ)
		}
	}
	d := payload(t, got["sent"]).Delivery
	if d == nil || d.Status != "sent" || d.MsgID == nil || *d.MsgID != "77" || d.Attempt != 1 || d.Errcode == nil || *d.Errcode != 0 {
		t.Fatalf("the sent event's delivery: %+v", d)
	}
	if d := payload(t, got["failed"]).Delivery; d == nil || d.Status != "failed" || d.Errcode == nil || *d.Errcode != 40003 || d.Errmsg != "invalid openid" {
		t.Fatalf("the failed event's delivery: %+v", d)
	}
	if n, err := s.WebhookDepth(context.Background()); err != nil || n != 3 {
		t.Fatalf("depth %d, %v; want 3", n, err)
	}
}

// The plain sends of one group commit each write their event.
func testWebhookBatch(t *testing.T, s store.Store) {
	ids := []string{"a", "b", "c", "d", "e", "f"}
	for _, id := range ids {
		create(t, s, id, "o"+id, longTerm, et0)
		accept(t, s, "o"+id, longTerm, et0.Add(-time.Hour))
	}
	s.EnableWebhooks(store.WebhookApps{Default: hookApp})
	cs := claimAt(t, s, "w", et0, 10)
	var wg sync.WaitGroup
	for i, c := range cs {
		wg.Go(func() { record(t, s, sent(c, et0.Add(time.Second), int64(100+i))) })
	}
	wg.Wait()
	rows := outbox(t, s, et0.Add(time.Second))
	var got []string
	for _, w := range rows {
		if w.Type != store.EventReminderSent {
			t.Fatalf("event %s", w.Type)
		}
		got = append(got, w.ReminderID)
	}
	slices.Sort(got)
	if !slices.Equal(got, ids) {
		t.Fatalf("sent events of %v; want one per send %v", got, ids)
	}
}

// A sent event applied to its delivery writes reminder.delivered (or
// .undelivered for ErrorCode ≠ 0), whether it came after the outcome or
// before it (parked, applied by the record).
func testWebhookSentEvents(t *testing.T, s store.Store) {
	create(t, s, "late", "oA", longTerm, et0)
	create(t, s, "early", "oB", longTerm, et0)
	accept(t, s, "oA", longTerm, et0.Add(-time.Hour))
	accept(t, s, "oB", longTerm, et0.Add(-time.Hour))
	s.EnableWebhooks(store.WebhookApps{Default: hookApp})
	cs := claimAt(t, s, "w", et0, 10)
	record(t, s, sent(byID(t, cs, "late"), et0.Add(time.Second), 501))
	push(t, s, store.PushEvent{At: et0.Add(2 * time.Second), OpenID: "oA",
		Sent: []store.SentEvent{{MsgID: 501, Delivered: false, Status: "failed:user block", TemplateID: longTerm}}})
	// The event of 502 before its outcome: parked, then applied.
	sentEvent(t, s, "oB", longTerm, 502, et0.Add(2*time.Second))
	record(t, s, sent(byID(t, cs, "early"), et0.Add(3*time.Second), 502))
	rows := outbox(t, s, et0.Add(time.Hour))
	byType := map[string]store.Webhook{}
	for _, w := range rows {
		byType[w.ReminderID+" "+w.Type] = w
	}
	u, ok := byType["late "+store.EventReminderUndelivered]
	if !ok || len(rows) != 4 {
		t.Fatalf("events %v; want sent and undelivered for late, sent and delivered for early", types(rows))
	}
	if d := payload(t, u).Delivery; d == nil || d.Delivered == nil || *d.Delivered || d.EventStatus != "failed:user block" || d.MsgID == nil || *d.MsgID != "501" {
		t.Fatalf("undelivered's delivery: %+v", d)
	}
	e, ok := byType["early "+store.EventReminderDelivered]
	if !ok {
		t.Fatalf("no delivered event for the parked sent event: %v", types(rows))
	}
	if d := payload(t, e).Delivery; d == nil || d.Delivered == nil || !*d.Delivered {
		t.Fatalf("delivered's delivery: %+v", d)
	}
}

// A report, a popup answer and an unsubscribe each write consent.changed
// with the ledger row after the change; an accept paired with one already
// counted writes nothing more.
func testWebhookConsents(t *testing.T, s store.Store) {
	ctx := context.Background()
	s.EnableWebhooks(store.WebhookApps{Default: hookApp})
	if _, err := s.RecordAccept(ctx, "", "oA", oneTime, false, store.SourceClient, et0); err != nil {
		t.Fatal(err)
	}
	// The popup event of the same accept: paired, nothing changed.
	accept(t, s, "oA", oneTime, et0.Add(time.Second))
	if err := s.SetConsentStatus(ctx, "", "oA", longTerm, store.ConsentReject, et0.Add(2*time.Second)); err != nil {
		t.Fatal(err)
	}
	push(t, s, store.PushEvent{At: et0.Add(3 * time.Second), OpenID: "oA", Unsubscribed: []string{oneTime}})
	rows := outbox(t, s, et0.Add(time.Hour))
	if len(rows) != 3 {
		t.Fatalf("events %v; want three consent.changed", types(rows))
	}
	var causes []string
	for _, w := range rows {
		p := payload(t, w)
		if w.Type != store.EventConsentChanged || w.OpenID != "oA" || w.ReminderID != "" || p.Consent == nil || p.OpenID != "oA" {
			t.Fatalf("%+v (%s)", w, w.Payload)
		}
		causes = append(causes, p.Cause+" "+p.Consent.TemplateID+" "+p.Consent.Status)
	}
	slices.Sort(causes)
	want := []string{"report " + longTerm + " reject", "report " + oneTime + " accept", "unsubscribe " + oneTime + " unsubscribed"}
	if !slices.Equal(causes, want) {
		t.Fatalf("causes %v; want %v", causes, want)
	}
}

// A whole consent report (POST /v1/consents) and the consent a snooze
// records write consent.changed for each row they changed, in their
// transaction; an accept that pairs with the popup's adds nothing.
func testWebhookReports(t *testing.T, s store.Store) {
	ctx := context.Background()
	s.EnableWebhooks(store.WebhookApps{Default: hookApp})
	if err := s.ReportConsents(ctx, "", "oA", []store.Answer{{TemplateID: oneTime, Status: store.ConsentAccept},
		{TemplateID: longTerm, Status: store.ConsentReject}}, et0); err != nil {
		t.Fatal(err)
	}
	// The popup event of the same accept: paired, nothing changed.
	accept(t, s, "oA", oneTime, et0.Add(time.Second))
	create(t, s, "a", "oA", oneTime, et0.Add(time.Hour))
	if _, err := s.SnoozeReminder(ctx, store.Snooze{ID: "a", OpenID: "oA", FireAt: et0.Add(2 * time.Hour), WasFireAt: et0.Add(time.Hour),
		Now: et0.Add(2 * time.Second), Answers: []store.Answer{{TemplateID: oneTime, Status: store.ConsentAccept}}}); err != nil {
		t.Fatal(err)
	}
	var causes []string
	for _, w := range outbox(t, s, et0.Add(time.Hour)) {
		p := payload(t, w)
		if w.Type != store.EventConsentChanged || p.Consent == nil {
			t.Fatalf("%+v (%s)", w, w.Payload)
		}
		causes = append(causes, fmt.Sprintf("%s %s %s %d", p.Cause, p.Consent.TemplateID, p.Consent.Status, p.Consent.Credits))
	}
	slices.Sort(causes)
	want := []string{"report " + longTerm + " reject 0", "report " + oneTime + " accept 1", "report " + oneTime + " accept 2"}
	if !slices.Equal(causes, want) {
		t.Fatalf("causes %v; want %v", causes, want)
	}
}

// A claim leases its rows: not claimed again before the lease ends; a
// result is recorded by the lease's owner only; a failing row is due at its
// next attempt; a delivered or dead one never again.
func testWebhookClaim(t *testing.T, s store.Store) {
	ctx := context.Background()
	s.EnableWebhooks(store.WebhookApps{Default: hookApp})
	for i, o := range []string{"oA", "oB", "oC"} {
		if _, err := s.RecordAccept(ctx, "", o, oneTime, false, store.SourceClient, et0.Add(time.Duration(i)*time.Second)); err != nil {
			t.Fatal(err)
		}
	}
	now := et0.Add(time.Minute)
	first, err := s.ClaimWebhooks(ctx, now, "p1", now.Add(30*time.Second), 2)
	if err != nil || len(first) != 2 || first[0].OpenID != "oA" || first[1].OpenID != "oB" {
		t.Fatalf("claimed %+v, %v; want the two oldest, in due order", first, err)
	}
	if w := first[0]; w.LeaseOwner != "p1" || !w.LeaseUntil.Equal(now.Add(30*time.Second)) {
		t.Fatalf("lease %q until %v", w.LeaseOwner, w.LeaseUntil)
	}
	second, err := s.ClaimWebhooks(ctx, now, "p2", now.Add(30*time.Second), 10)
	if err != nil || len(second) != 1 || second[0].OpenID != "oC" {
		t.Fatalf("second claim %+v, %v; want only the unleased row", second, err)
	}
	res := store.WebhookResult{ID: first[0].ID, Owner: "p2", At: now, Body: `{"x":1}`, State: store.WebhookDelivered, LastStatus: 200}
	if err := s.FinishWebhook(ctx, res); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("another owner's result: %v; want ErrConflict", err)
	}
	res.Owner = "p1"
	if err := s.FinishWebhook(ctx, res); err != nil {
		t.Fatal(err)
	}
	if err := s.FinishWebhook(ctx, res); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("a second result of one lease: %v; want ErrConflict", err)
	}
	next := now.Add(30 * time.Second)
	if err := s.FinishWebhook(ctx, store.WebhookResult{ID: first[1].ID, Owner: "p1", At: now, Body: `{"y":2}`,
		State: store.WebhookFailing, NextAt: next, LastStatus: 503, LastError: "answered 503"}); err != nil {
		t.Fatal(err)
	}
	if err := s.FinishWebhook(ctx, store.WebhookResult{ID: second[0].ID, Owner: "p2", At: now, Body: `{}`, State: store.WebhookDead,
		LastError: "post: timeout"}); err != nil {
		t.Fatal(err)
	}
	d, err := s.GetWebhook(ctx, first[0].ID)
	if err != nil || d.State != store.WebhookDelivered || d.Attempts != 1 || d.Body != `{"x":1}` || !d.DeliveredAt.Equal(now) ||
		d.LeaseOwner != "" || !d.LeaseUntil.IsZero() || d.LastStatus != 200 {
		t.Fatalf("delivered row %+v, %v", d, err)
	}
	if rows := outbox(t, s, next.Add(-time.Millisecond)); len(rows) != 0 {
		t.Fatalf("claimed before the retry is due: %v", types(rows))
	}
	rows := outbox(t, s, next)
	if len(rows) != 1 || rows[0].ID != first[1].ID || rows[0].State != store.WebhookFailing || rows[0].Attempts != 1 ||
		rows[0].Body != `{"y":2}` || rows[0].LastStatus != 503 || rows[0].LastError != "answered 503" {
		t.Fatalf("due at its retry: %+v", rows)
	}
	if n, err := s.WebhookDepth(ctx); err != nil || n != 1 {
		t.Fatalf("depth %d, %v; want 1 (the failing row)", n, err)
	}
	// An expired lease is claimed again (a process died mid-post).
	again, err := s.ClaimWebhooks(ctx, next.Add(time.Hour+time.Second), "p3", next.Add(2*time.Hour), 10)
	if err != nil || len(again) != 1 || again[0].LeaseOwner != "p3" {
		t.Fatalf("after the lease ran out: %+v, %v", again, err)
	}
}

// Claims racing on one outbox never return one row twice.
func testWebhookConcurrentClaims(t *testing.T, s store.Store) {
	ctx := context.Background()
	s.EnableWebhooks(store.WebhookApps{Default: hookApp})
	const n = 40
	for i := range n {
		if err := s.SetConsentStatus(ctx, "", "o"+string(rune('A'+i%26))+string(rune('a'+i/26)), oneTime, store.ConsentReject, et0); err != nil {
			t.Fatal(err)
		}
	}
	var mu sync.Mutex
	seen := map[string]int{}
	var wg sync.WaitGroup
	for p := range 4 {
		wg.Go(func() {
			for {
				rows, err := s.ClaimWebhooks(ctx, et0, "p"+string(rune('0'+p)), et0.Add(time.Minute), 3)
				if err != nil {
					t.Error(err)
					return
				}
				if len(rows) == 0 {
					return
				}
				mu.Lock()
				for _, r := range rows {
					seen[r.ID]++
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(seen) != n {
		t.Fatalf("claimed %d rows, want %d", len(seen), n)
	}
	for id, k := range seen {
		if k != 1 {
			t.Fatalf("row %s claimed %d times", id, k)
		}
	}
}

// The listing pages newest first and filters by state; a retry makes a
// failing or dead row due now and refuses any other.
func testWebhookListRetry(t *testing.T, s store.Store) {
	ctx := context.Background()
	s.EnableWebhooks(store.WebhookApps{Default: hookApp})
	for i := range 3 {
		if err := s.SetConsentStatus(ctx, "", "oA", oneTime, store.ConsentReject, et0.Add(time.Duration(i)*time.Second)); err != nil {
			t.Fatal(err)
		}
	}
	page, err := s.ListWebhooks(ctx, store.WebhookQuery{Limit: 2})
	if err != nil || len(page.Webhooks) != 2 || page.Next == nil || !page.Webhooks[0].CreatedAt.Equal(et0.Add(2*time.Second)) {
		t.Fatalf("first page %+v, %v", page, err)
	}
	rest, err := s.ListWebhooks(ctx, store.WebhookQuery{Limit: 2, Before: page.Next})
	if err != nil || len(rest.Webhooks) != 1 || rest.Next != nil || !rest.Webhooks[0].CreatedAt.Equal(et0) {
		t.Fatalf("second page %+v, %v", rest, err)
	}
	oldest := rest.Webhooks[0].ID
	if err := s.RetryWebhook(ctx, oldest, et0); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("retry of a pending row: %v; want ErrConflict", err)
	}
	if err := s.RetryWebhook(ctx, "evt_nope", et0); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("retry of no row: %v; want ErrNotFound", err)
	}
	rows := outbox(t, s, et0.Add(time.Minute))
	for _, w := range rows {
		st := store.WebhookDead
		if w.ID != oldest {
			st = store.WebhookDelivered
		}
		if err := s.FinishWebhook(ctx, store.WebhookResult{ID: w.ID, Owner: "reader", At: et0.Add(time.Minute), Body: "{}", State: st}); err != nil {
			t.Fatal(err)
		}
	}
	dead, err := s.ListWebhooks(ctx, store.WebhookQuery{State: store.WebhookDead, Limit: 10})
	if err != nil || len(dead.Webhooks) != 1 || dead.Webhooks[0].ID != oldest {
		t.Fatalf("dead: %+v, %v", dead, err)
	}
	if err := s.RetryWebhook(ctx, rows[len(rows)-1].ID, et0); rows[len(rows)-1].ID != oldest && !errors.Is(err, store.ErrConflict) {
		t.Fatalf("retry of a delivered row: %v; want ErrConflict", err)
	}
	at := et0.Add(2 * time.Minute)
	if err := s.RetryWebhook(ctx, oldest, at); err != nil {
		t.Fatal(err)
	}
	due := outbox(t, s, at)
	if len(due) != 1 || due[0].ID != oldest || due[0].State != store.WebhookFailing || due[0].Body != "{}" {
		t.Fatalf("after the retry: %+v", due)
	}
}

// Retention deletes delivered events delivered before its cutoff and dead
// ones last changed before its other; the rest stay; zero cutoffs keep all.
func testWebhookRetain(t *testing.T, s store.Store) {
	ctx := context.Background()
	s.EnableWebhooks(store.WebhookApps{Default: hookApp})
	for i := range 4 {
		if err := s.SetConsentStatus(ctx, "", "oA", oneTime, store.ConsentReject, et0.Add(time.Duration(i)*time.Second)); err != nil {
			t.Fatal(err)
		}
	}
	rows := outbox(t, s, et0.Add(time.Minute))
	states := []store.WebhookState{store.WebhookDelivered, store.WebhookDelivered, store.WebhookDead, store.WebhookDead}
	for i, w := range rows {
		at := et0.Add(time.Duration(i) * time.Hour) // 0h, 1h: delivered; 2h, 3h: dead
		if err := s.FinishWebhook(ctx, store.WebhookResult{ID: w.ID, Owner: "reader", At: at, Body: "{}", State: states[i]}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Retain(ctx, store.Retention{}); err != nil {
		t.Fatal(err)
	}
	if page, _ := s.ListWebhooks(ctx, store.WebhookQuery{Limit: 10}); len(page.Webhooks) != 4 {
		t.Fatalf("zero cutoffs deleted: %d left", len(page.Webhooks))
	}
	if err := s.Retain(ctx, store.Retention{WebhooksDelivered: et0.Add(30 * time.Minute), WebhooksDead: et0.Add(150 * time.Minute)}); err != nil {
		t.Fatal(err)
	}
	page, err := s.ListWebhooks(ctx, store.WebhookQuery{Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	var left []string
	for _, w := range page.Webhooks {
		left = append(left, w.ID)
	}
	slices.Sort(left)
	want := []string{rows[1].ID, rows[3].ID}
	slices.Sort(want)
	if !slices.Equal(left, want) {
		t.Fatalf("left %v; want the later delivered and the later dead %v", left, want)
	}
}
