package storetest

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/reminderd/reminderd/internal/store"
)

// engineTests: the operations of store.EngineStore and the invariants the
// engine relies on (engine_*.go).
func engineTests(t *testing.T, open Open[EngineDriver]) {
	for _, tc := range []struct {
		name string
		fn   func(t *testing.T, s store.EngineStore)
	}{
		{"CreateReminder", testCreateReminder},
		{"NextDueAt", testNextDueAt},
		{"ClaimDueInDueOrderWithALease", testClaimDueInDueOrder},
		{"ConcurrentClaimsNeverOverlap", testConcurrentClaimsNeverOverlap},
		{"ClaimAbortedRollsBack", testClaimAborted},
		{"CreditsNeverGoBelowZero", testCreditsNeverGoBelowZero},
		{"LongTermGrantCoversEveryClaim", testLongTermGrant},
		{"RecordOutcomeCompletesAndReschedules", testRecordOutcome},
		{"RecordOutcomeOnAStaleClaimLoses", testStaleClaimLoses},
		{"SentOccurrenceRecordedTwiceIsADuplicate", testDuplicateSend},
		{"EarlySentEventIsApplied", testEarlySentEvent},
		{"GroupCommitGivesEachCallerItsOwnResult", testGroupCommit},
		{"RescuerReturnsExpiredLeasesOnly", testRescuer},
		{"UnknownOutcomeSettledByItsSentEvent", testUnknownSettle},
		{"SettleRefusedWhenTheEventWasAnotherSends", testSettleEventTaken},
		{"PauseRoundTrips", testPause},
		{"PushEventsAppliedOnce", testPushOnce},
		{"PushConsentChanges", testPushConsent},
		{"Retain", testRetain},
		{"Templates", testTemplates},
		{"Token", testToken},
		{"LeaderOneCandidateWins", testLeaderOneWins},
		{"LeaderHolderReelects", testLeaderReelects},
		{"LeaderExpiredLeaseTakenOver", testLeaderTakeover},
		{"LeaderResignFreesTheLease", testLeaderResign},
		{"InstancesWithTheLeader", testInstances},
		{"TokenFetchLease", testTokenFetchLease},
		{"TokenInvalidationIsACompareAndSet", testTokenInvalidation},
		{"UserSendLease", testUserSendLease},
		{"RescuerGivesUnstartedClaimsBack", testRescueUnstarted},
		{"UserSendLeaseRefusedToALostClaim", testUserSendLeaseOfALostClaim},
		{"RecordReleasesTheUserSendLease", testRecordReleasesUserSend},
		{"UserSendLeasesAtOnce", testUserSendLeasesAtOnce},
		{"UserSendLeaseNamesTheAttempt", testUserSendLeaseNamesTheAttempt},
		{"SoleSenderAloneTakes", testSoleAloneTakes},
		{"SoleSenderHolderYields", testSoleHolderYields},
		{"SoleSenderDeadHolderRunsOut", testSoleDeadHolder},
		{"SoleSenderWaitsForUserSendLeases", testSoleWaitsForUserSendLeases},
		{"SoleSenderOneAtATime", testSoleOneAtATime},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, fresh(t, open)) })
	}
}

// et0 is the suite's instant; fixtures fire at and after it.
var et0 = time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)

// The suite's templates.
const (
	oneTime  = "tpl_one"
	longTerm = "tpl_long"
)

// kinds is the ClaimParams.Kind of the suite's templates.
func kinds(_, id string) (store.TemplateKind, bool) {
	switch id {
	case oneTime:
		return store.KindOneTime, true
	case longTerm:
		return store.KindLongTerm, true
	}
	return "", false
}

// create stores a reminder of user openid through template tpl, firing at.
func create(t *testing.T, s store.EngineStore, id, openid, tpl string, at time.Time) store.Reminder {
	t.Helper()
	r, err := s.CreateReminder(context.Background(), store.NewReminder{ID: id, OpenID: openid, TemplateID: tpl, FireAt: at,
		Timezone: "Asia/Shanghai", Data: `{"thing1":"x"}`, CreatedAt: at.Add(-time.Hour)})
	if err != nil {
		t.Fatalf("create %s: %v", id, err)
	}
	return r
}

// pushes numbers the push events of the suite, so that none is a duplicate
// of another.
var pushes atomic.Int64

// push applies e with a body of its own.
func push(t *testing.T, s store.EngineStore, e store.PushEvent) store.PushApplied {
	t.Helper()
	if e.BodyHash == "" {
		e.BodyHash = fmt.Sprintf("body-%d", pushes.Add(1))
	}
	out, err := s.ApplyPushEvent(context.Background(), e)
	if err != nil {
		t.Fatalf("apply push event: %v", err)
	}
	return out
}

// accept adds one accept of tpl by openid at, in app "" (create's): a
// credit of a one-time template, the grant of a long-term one.
func accept(t *testing.T, s store.EngineStore, openid, tpl string, at time.Time) {
	t.Helper()
	acceptIn(t, s, "", openid, tpl, at)
}

// acceptIn is accept in app's ledger (a popup pushed for app).
func acceptIn(t *testing.T, s store.EngineStore, app, openid, tpl string, at time.Time) {
	t.Helper()
	push(t, s, store.PushEvent{At: at, AppID: app, OpenID: openid,
		Answers: []store.ConsentAnswer{{TemplateID: tpl, LongTerm: tpl == longTerm, Accept: true}}})
}

// sentEvent applies WeChat's sent event for msgid at.
func sentEvent(t *testing.T, s store.EngineStore, openid, tpl string, msgid int64, at time.Time) store.PushApplied {
	t.Helper()
	return push(t, s, store.PushEvent{At: at, OpenID: openid,
		Sent: []store.SentEvent{{MsgID: msgid, Delivered: true, Status: "success", TemplateID: tpl}}})
}

// claimAt claims up to max reminders due at now for owner, with a lease of
// a minute.
func claimAt(t *testing.T, s store.EngineStore, owner string, now time.Time, max int) []store.Claim {
	t.Helper()
	cs, err := s.ClaimDue(context.Background(), store.ClaimParams{Now: now, LeaseUntil: now.Add(time.Minute), Owner: owner,
		Max: max, Kind: kinds})
	if err != nil {
		t.Fatalf("claim at %v: %v", now, err)
	}
	return cs
}

// claimIDs are the ids of cs, in order.
func claimIDs(cs []store.Claim) []string {
	ids := make([]string, len(cs))
	for i, c := range cs {
		ids[i] = c.Reminder.ID
	}
	return ids
}

// byID finds the claim of reminder id in cs.
func byID(t *testing.T, cs []store.Claim, id string) store.Claim {
	t.Helper()
	for _, c := range cs {
		if c.Reminder.ID == id {
			return c
		}
	}
	t.Fatalf("%s not among the claims %v", id, claimIDs(cs))
	return store.Claim{}
}

// sent is the outcome of a send WeChat accepted with msgid: the reminder
// ends sent, the claim's credit used.
func sent(c store.Claim, at time.Time, msgid int64) store.Outcome {
	return store.Outcome{Claim: c, At: at,
		Delivery: &store.Delivery{Status: store.DeliverySent, HasErrCode: true, MsgID: msgid, HasMsgID: msgid != 0, Latency: 7 * time.Millisecond},
		Complete: &store.Completion{Status: store.StatusSent}}
}

// deferred is the outcome of a claim that did not send (not an attempt):
// due again at due, its held credit given back.
func deferred(c store.Claim, at, due time.Time) store.Outcome {
	r := c.Reminder
	return store.Outcome{Claim: c, At: at, Delivery: &store.Delivery{Status: store.DeliveryDeferred, ErrMsg: "not now"},
		Reschedule: &store.Reschedule{FireAt: r.FireAt, DueAt: due, ExpiresAt: r.ExpiresAt, Attempts: r.Attempts - 1},
		Credit:     store.CreditRefund}
}

// record writes o and fails the test on an error.
func record(t *testing.T, s store.EngineStore, o store.Outcome) store.Recorded {
	t.Helper()
	rec, err := s.RecordOutcome(context.Background(), o)
	if err != nil {
		t.Fatalf("record outcome of %s: %v", o.Claim.Reminder.ID, err)
	}
	return rec
}
