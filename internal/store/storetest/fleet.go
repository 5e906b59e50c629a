package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/reminderd/reminderd/internal/store"
)

// The fleet operations: the token's fetch lease and compare-and-set
// version, and the per-openid send lease. They are real on every driver
// (SharedByProcesses only tells the engine whether to take the send lease).

// The fetch lease goes to one holder at a time (of many racing), again to
// the holder that has it, to another once it has run out or is released;
// a save releases it and bumps the version.
func testTokenFetchLease(t *testing.T, s store.EngineStore) {
	ctx := context.Background()
	until := et0.Add(30 * time.Second)
	var mu sync.Mutex
	var winners []string
	var wg sync.WaitGroup
	for _, h := range []string{"p1", "p2", "p3", "p4"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ok, err := s.AcquireTokenFetch(ctx, h, et0, until)
			if err != nil {
				t.Error(err)
				return
			}
			if ok {
				mu.Lock()
				winners = append(winners, h)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if len(winners) != 1 {
		t.Fatalf("the fetch lease went to %v, want exactly one holder", winners)
	}
	w := winners[0]
	other := "p1"
	if w == other {
		other = "p2"
	}
	if _, err := s.LoadToken(ctx); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("a lease without a token: LoadToken %v, want ErrNotFound", err)
	}
	if ok, err := s.AcquireTokenFetch(ctx, w, et0.Add(time.Second), until.Add(time.Second)); err != nil || !ok {
		t.Fatalf("the holder again: %v, %v; want granted", ok, err)
	}
	if ok, err := s.AcquireTokenFetch(ctx, other, et0.Add(2*time.Second), until); err != nil || ok {
		t.Fatalf("another holder within the lease: %v, %v; want refused", ok, err)
	}
	// Run out: another holder takes it.
	if ok, err := s.AcquireTokenFetch(ctx, other, until.Add(time.Second), until.Add(time.Minute)); err != nil || !ok {
		t.Fatalf("another holder after the lease: %v, %v; want granted", ok, err)
	}
	// The holder whose lease ran out saves (its fetch was slow): the token
	// is stored, the new holder's lease stays.
	v1, err := s.SaveFetchedToken(ctx, store.Token{Value: "tok-1", ExpiresAt: et0.Add(2 * time.Hour)}, w, until.Add(2*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if got, err := s.LoadToken(ctx); err != nil || got.Value != "tok-1" || got.Version != v1 || !got.ExpiresAt.Equal(et0.Add(2*time.Hour)) {
		t.Fatalf("saved token read back as %+v, %v; want tok-1 at version %d", got, err, v1)
	}
	if ok, err := s.AcquireTokenFetch(ctx, w, until.Add(3*time.Second), until.Add(time.Hour)); err != nil || ok {
		t.Fatalf("a save by another holder released the lease: %v, %v", ok, err)
	}
	// The lease's holder saves: the version moves on, the lease is free.
	v2, err := s.SaveFetchedToken(ctx, store.Token{Value: "tok-2", ExpiresAt: et0.Add(3 * time.Hour)}, other, until.Add(4*time.Second))
	if err != nil || v2 <= v1 {
		t.Fatalf("second save: version %d (%v), want above %d", v2, err, v1)
	}
	if ok, err := s.AcquireTokenFetch(ctx, w, until.Add(5*time.Second), until.Add(time.Hour)); err != nil || !ok {
		t.Fatalf("the lease after its holder saved: %v, %v; want free", ok, err)
	}
	if err := s.ReleaseTokenFetch(ctx, other); err != nil { // not the holder: nothing
		t.Fatal(err)
	}
	if ok, err := s.AcquireTokenFetch(ctx, other, until.Add(6*time.Second), until.Add(time.Hour)); err != nil || ok {
		t.Fatalf("a release by a non-holder freed the lease: %v, %v", ok, err)
	}
	if err := s.ReleaseTokenFetch(ctx, w); err != nil {
		t.Fatal(err)
	}
	if ok, err := s.AcquireTokenFetch(ctx, other, until.Add(7*time.Second), until.Add(time.Hour)); err != nil || !ok {
		t.Fatalf("the lease after a release: %v, %v; want free", ok, err)
	}
	// SaveToken bumps the version too.
	if err := s.SaveToken(ctx, store.Token{Value: "tok-3", ExpiresAt: et0.Add(4 * time.Hour)}, until.Add(8*time.Second)); err != nil {
		t.Fatal(err)
	}
	if got, err := s.LoadToken(ctx); err != nil || got.Value != "tok-3" || got.Version <= v2 {
		t.Fatalf("after SaveToken: %+v, %v; want tok-3 above version %d", got, err, v2)
	}
}

// An invalidation drops the token only at the version it names: a stale
// one (the token was replaced meanwhile) keeps the new token.
func testTokenInvalidation(t *testing.T, s store.EngineStore) {
	ctx := context.Background()
	if ok, err := s.InvalidateToken(ctx, 1, et0); err != nil || ok {
		t.Fatalf("invalidating with no token: %v, %v", ok, err)
	}
	v1, err := s.SaveFetchedToken(ctx, store.Token{Value: "tok-1", ExpiresAt: et0.Add(2 * time.Hour)}, "p1", et0)
	if err != nil {
		t.Fatal(err)
	}
	v2, err := s.SaveFetchedToken(ctx, store.Token{Value: "tok-2", ExpiresAt: et0.Add(2 * time.Hour)}, "p2", et0)
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := s.InvalidateToken(ctx, v1, et0); err != nil || ok {
		t.Fatalf("a stale invalidation (version %d, the row at %d): %v, %v; want kept", v1, v2, ok, err)
	}
	if got, err := s.LoadToken(ctx); err != nil || got.Value != "tok-2" || got.Version != v2 {
		t.Fatalf("after a stale invalidation: %+v, %v; want tok-2", got, err)
	}
	// Three processes got 40001 with v2 at once: one drops it.
	var mu sync.Mutex
	dropped := 0
	var wg sync.WaitGroup
	for range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ok, err := s.InvalidateToken(ctx, v2, et0)
			if err != nil {
				t.Error(err)
			}
			if ok {
				mu.Lock()
				dropped++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if dropped != 1 {
		t.Fatalf("%d invalidations dropped the token, want 1", dropped)
	}
	if _, err := s.LoadToken(ctx); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("an invalidated token: LoadToken %v, want ErrNotFound", err)
	}
	v3, err := s.SaveFetchedToken(ctx, store.Token{Value: "tok-3", ExpiresAt: et0.Add(2 * time.Hour)}, "p1", et0)
	if err != nil || v3 <= v2 {
		t.Fatalf("save after an invalidation: version %d (%v), want above %d", v3, err, v2)
	}
	if ok, err := s.InvalidateToken(ctx, v2, et0); err != nil || ok {
		t.Fatalf("a late invalidation of the dropped version: %v, %v; want the new token kept", ok, err)
	}
}

// A user's send lease goes to one holder at a time, per user, until it
// runs out or its holder releases it.
func testUserSendLease(t *testing.T, s store.EngineStore) {
	ctx := context.Background()
	until := et0.Add(time.Minute)
	var mu sync.Mutex
	got := map[string]int{}
	var wg sync.WaitGroup
	for _, h := range []string{"p1", "p2", "p3"} {
		for _, u := range []string{"u1", "u2"} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				ok, err := s.AcquireUserSend(ctx, u, h, et0, until, "", 0)
				if err != nil {
					t.Error(err)
				}
				if ok {
					mu.Lock()
					got[u]++
					mu.Unlock()
				}
			}()
		}
	}
	wg.Wait()
	if got["u1"] != 1 || got["u2"] != 1 {
		t.Fatalf("send leases granted per user: %v, want one each", got)
	}
	if err := s.ReleaseUserSend(ctx, "u1", "p1"); err != nil {
		t.Fatal(err)
	}
	if err := s.ReleaseUserSend(ctx, "u1", "p2"); err != nil {
		t.Fatal(err)
	}
	if err := s.ReleaseUserSend(ctx, "u1", "p3"); err != nil {
		t.Fatal(err)
	}
	// Released by its holder (whichever it was): free.
	if ok, err := s.AcquireUserSend(ctx, "u1", "p9", et0.Add(time.Second), until, "", 0); err != nil || !ok {
		t.Fatalf("u1 after its release: %v, %v; want granted", ok, err)
	}
	if ok, err := s.AcquireUserSend(ctx, "u1", "p9", et0.Add(2*time.Second), until.Add(time.Second), "", 0); err != nil || !ok {
		t.Fatalf("u1 again by its holder: %v, %v; want granted", ok, err)
	}
	if err := s.ReleaseUserSend(ctx, "u1", "p8"); err != nil { // not the holder
		t.Fatal(err)
	}
	if ok, err := s.AcquireUserSend(ctx, "u1", "p8", et0.Add(3*time.Second), until, "", 0); err != nil || ok {
		t.Fatalf("u1 within p9's lease: %v, %v; want refused", ok, err)
	}
	// u2's lease runs out: anyone takes it.
	if ok, err := s.AcquireUserSend(ctx, "u2", "p8", until, until.Add(time.Minute), "", 0); err != nil || !ok {
		t.Fatalf("u2 after its lease: %v, %v; want granted", ok, err)
	}
}

// Claims marked (ClaimParams.MarkStarts) tell the rescuer whether their
// send started: a claim whose worker took the user's send lease is rescued
// as an attempt of unknown outcome, as ever; one whose worker never did
// (its process died with the claim queued) is given back as never claimed:
// due now, the attempt counter back, its credit returned, no delivery row,
// no unknown outcome.
func testRescueUnstarted(t *testing.T, s store.EngineStore) {
	ctx := context.Background()
	create(t, s, "a", "oA", oneTime, et0)
	create(t, s, "b", "oB", oneTime, et0)
	accept(t, s, "oA", oneTime, et0.Add(-time.Hour))
	accept(t, s, "oB", oneTime, et0.Add(-time.Hour))
	cs, err := s.ClaimDue(ctx, store.ClaimParams{Now: et0, LeaseUntil: et0.Add(time.Minute), Owner: "dead", Max: 10, Kind: kinds,
		MarkStarts: true})
	if err != nil || len(cs) != 2 {
		t.Fatalf("claimed %v, %v", claimIDs(cs), err)
	}
	if ok, err := s.AcquireUserSend(ctx, "oB", "dead", et0, et0.Add(2*time.Minute), "b", 1); err != nil || !ok {
		t.Fatalf("b's send lease: %v, %v", ok, err)
	}
	at := et0.Add(2 * time.Minute)
	if n, err := s.RescueExpiredLeases(ctx, at, 5*time.Minute); err != nil || n != 2 {
		t.Fatalf("rescued %d, %v; want both", n, err)
	}
	if last, err := s.LastUnknownAttempt(ctx, "a", et0); err != nil || !last.IsZero() {
		t.Fatalf("a's last unknown attempt %v, %v; want none (never sent)", last, err)
	}
	if last, err := s.LastUnknownAttempt(ctx, "b", et0); err != nil || !last.Equal(cs[0].ClaimedAt) {
		t.Fatalf("b's last unknown attempt %v, %v; want its claim", last, err)
	}
	again := claimAt(t, s, "w", at, 10)
	if len(again) != 1 || again[0].Reminder.ID != "a" {
		t.Fatalf("claimed %v at the rescue; want a (b waits out the unknown wait)", claimIDs(again))
	}
	if a := again[0]; a.Reminder.Attempts != 1 || !a.Reminder.UnknownAt.IsZero() || !a.Covered || !a.Reminder.CreditHeld {
		t.Fatalf("a's claim after the rescue %+v; want attempt 1 again, no unknown outcome, its credit held again", a)
	}
	if ds, ok := s.(store.Deliveries); ok {
		if dls, err := ds.ListDeliveries(ctx, "a"); err != nil || len(dls) != 0 {
			t.Fatalf("a's deliveries %+v, %v; want none", dls, err)
		}
		if dls, err := ds.ListDeliveries(ctx, "b"); err != nil || len(dls) != 1 || dls[0].Status != store.DeliveryAbandoned {
			t.Fatalf("b's deliveries %+v, %v; want one abandoned", dls, err)
		}
	}
}

// A claim rescued while its worker waited (given back as never started)
// takes no send lease for that worker: it reports false, leaves the user
// free and the reminder unmarked, so the worker does not send it.
func testUserSendLeaseOfALostClaim(t *testing.T, s store.EngineStore) {
	ctx := context.Background()
	create(t, s, "a", "oA", oneTime, et0)
	accept(t, s, "oA", oneTime, et0.Add(-time.Hour))
	if _, err := s.ClaimDue(ctx, store.ClaimParams{Now: et0, LeaseUntil: et0.Add(time.Minute), Owner: "slow", Max: 10, Kind: kinds,
		MarkStarts: true}); err != nil {
		t.Fatal(err)
	}
	at := et0.Add(2 * time.Minute)
	if n, err := s.RescueExpiredLeases(ctx, at, 5*time.Minute); err != nil || n != 1 {
		t.Fatalf("rescued %d, %v", n, err)
	}
	if ok, err := s.AcquireUserSend(ctx, "oA", "slow", at, at.Add(time.Minute), "a", 1); err != nil || ok {
		t.Fatalf("the lost claim's send lease: %v, %v; want refused", ok, err)
	}
	if ok, err := s.AcquireUserSend(ctx, "oA", "other", at, at.Add(time.Minute), "", 0); err != nil || !ok {
		t.Fatalf("another holder after the refusal: %v, %v; want the user free", ok, err)
	}
	// The reminder is claimable and was never marked started: a later
	// rescue of its next claim would still give it back.
	cs := claimAt(t, s, "w", at, 10)
	if len(cs) != 1 || cs[0].Reminder.Attempts != 1 || !cs[0].Reminder.UnknownAt.IsZero() {
		t.Fatalf("claim after the refusal: %+v", cs)
	}
}

// An outcome recorded with ReleaseUserSend gives the user's send lease up
// in its transaction: another holder may take it at once; one recorded
// without it leaves the lease held.
func testRecordReleasesUserSend(t *testing.T, s store.EngineStore) {
	ctx := context.Background()
	create(t, s, "a", "oA", oneTime, et0)
	create(t, s, "b", "oB", oneTime, et0)
	cs := claimAt(t, s, "p1", et0, 10)
	for _, c := range cs {
		if ok, err := s.AcquireUserSend(ctx, c.Reminder.OpenID, "p1", et0, et0.Add(5*time.Minute), c.Reminder.ID, c.Reminder.Attempts); err != nil || !ok {
			t.Fatalf("lease of %s: %v, %v", c.Reminder.OpenID, ok, err)
		}
	}
	a, b := byID(t, cs, "a"), byID(t, cs, "b")
	oa := sent(a, et0.Add(time.Second), 1)
	oa.ReleaseUserSend = "p1"
	record(t, s, oa)
	record(t, s, sent(b, et0.Add(time.Second), 2))
	if ok, err := s.AcquireUserSend(ctx, "oA", "p2", et0.Add(2*time.Second), et0.Add(time.Minute), "", 0); err != nil || !ok {
		t.Fatalf("oA after a record that released it: %v, %v; want free", ok, err)
	}
	if ok, err := s.AcquireUserSend(ctx, "oB", "p2", et0.Add(2*time.Second), et0.Add(time.Minute), "", 0); err != nil || ok {
		t.Fatalf("oB after a record that kept it: %v, %v; want still p1's", ok, err)
	}
}

// Send leases taken at once, as a busy process's workers take them (a
// driver may group them): each claim still its holder's gets its user's
// lease and is marked started; each claim rescued meanwhile is refused and
// its user left free; two holders asking for one user at once get it once.
func testUserSendLeasesAtOnce(t *testing.T, s store.EngineStore) {
	ctx := context.Background()
	const lost, live = 8, 24
	for i := range lost {
		id := fmt.Sprintf("l%02d", i)
		create(t, s, id, "u-"+id, oneTime, et0)
		accept(t, s, "u-"+id, oneTime, et0.Add(-time.Hour))
	}
	if cs, err := s.ClaimDue(ctx, store.ClaimParams{Now: et0, LeaseUntil: et0.Add(time.Minute), Owner: "slow", Max: 100, Kind: kinds,
		MarkStarts: true}); err != nil || len(cs) != lost {
		t.Fatalf("claimed %d, %v", len(cs), err)
	}
	at := et0.Add(2 * time.Minute)
	if n, err := s.RescueExpiredLeases(ctx, at, 5*time.Minute); err != nil || n != lost {
		t.Fatalf("rescued %d, %v", n, err)
	}
	for i := range live {
		id := fmt.Sprintf("v%02d", i)
		create(t, s, id, "u-"+id, oneTime, at)
		accept(t, s, "u-"+id, oneTime, et0.Add(-time.Hour))
	}
	cs, err := s.ClaimDue(ctx, store.ClaimParams{Now: at, LeaseUntil: at.Add(time.Minute), Owner: "p1", Max: 100, Kind: kinds,
		MarkStarts: true})
	if err != nil {
		t.Fatal(err)
	}
	var liveClaims []store.Claim
	for _, c := range cs {
		if c.Reminder.ID[0] == 'v' {
			liveClaims = append(liveClaims, c)
		}
	}
	if len(liveClaims) != live {
		t.Fatalf("claimed %v", claimIDs(cs))
	}
	type ask struct {
		openID, holder, reminderID string
		attempt                    int64
	}
	var asks []ask
	for i := range lost {
		id := fmt.Sprintf("l%02d", i)
		asks = append(asks, ask{"u-" + id, "slow", id, 1})
	}
	for _, c := range liveClaims {
		asks = append(asks, ask{c.Reminder.OpenID, "p1", c.Reminder.ID, c.Reminder.Attempts})
	}
	// One user asked for by two holders at once, with no claim.
	asks = append(asks, ask{"shared", "h1", "", 0}, ask{"shared", "h2", "", 0})
	got := make([]bool, len(asks))
	var wg sync.WaitGroup
	for i, a := range asks {
		wg.Go(func() {
			ok, err := s.AcquireUserSend(ctx, a.openID, a.holder, at, at.Add(5*time.Minute), a.reminderID, a.attempt)
			if err != nil {
				t.Error(err)
			}
			got[i] = ok
		})
	}
	wg.Wait()
	shared := 0
	for i, a := range asks {
		switch {
		case a.openID == "shared":
			if got[i] {
				shared++
			}
		case a.holder == "slow" && got[i]:
			t.Errorf("%s: the lease granted to a claim rescued meanwhile", a.reminderID)
		case a.holder == "p1" && !got[i]:
			t.Errorf("%s: the lease refused to a live claim", a.reminderID)
		}
	}
	if shared != 1 {
		t.Fatalf("one user asked for by two holders at once: granted %d times, want once", shared)
	}
	for _, a := range asks {
		if a.openID == "shared" {
			continue
		}
		// A refused claim's user is free; a granted one's is held.
		ok, err := s.AcquireUserSend(ctx, a.openID, "other", at.Add(time.Second), at.Add(time.Minute), "", 0)
		if err != nil {
			t.Fatal(err)
		}
		if want := a.holder == "slow"; ok != want {
			t.Errorf("%s's user taken by another holder: %v, want %v", a.reminderID, ok, want)
		}
	}
	// The live claims were marked started: a rescue after their lease
	// keeps each as an attempt of unknown outcome.
	after := at.Add(10 * time.Minute)
	if _, err := s.RescueExpiredLeases(ctx, after, 5*time.Minute); err != nil {
		t.Fatal(err)
	}
	for _, c := range liveClaims {
		if last, err := s.LastUnknownAttempt(ctx, c.Reminder.ID, at); err != nil || last.IsZero() {
			t.Errorf("%s after the rescue: last unknown attempt %v, %v; want its claim (its send started)", c.Reminder.ID, last, err)
		}
	}
}

// A claim rescued and claimed again by the same holder is a new attempt: a
// stalled worker of the old one gets no send lease for it, the new one's
// worker does.
func testUserSendLeaseNamesTheAttempt(t *testing.T, s store.EngineStore) {
	ctx := context.Background()
	create(t, s, "a", "oA", oneTime, et0)
	accept(t, s, "oA", oneTime, et0.Add(-time.Hour))
	accept(t, s, "oA", oneTime, et0.Add(-time.Hour))
	if _, err := s.ClaimDue(ctx, store.ClaimParams{Now: et0, LeaseUntil: et0.Add(time.Minute), Owner: "w", Max: 10, Kind: kinds,
		MarkStarts: true}); err != nil {
		t.Fatal(err)
	}
	at := et0.Add(2 * time.Minute)
	if n, err := s.RescueExpiredLeases(ctx, at, 5*time.Minute); err != nil || n != 1 {
		t.Fatalf("rescued %d, %v", n, err)
	}
	cs, err := s.ClaimDue(ctx, store.ClaimParams{Now: at, LeaseUntil: at.Add(time.Minute), Owner: "w", Max: 10, Kind: kinds, MarkStarts: true})
	if err != nil || len(cs) != 1 {
		t.Fatalf("claimed again %v, %v", claimIDs(cs), err)
	}
	if ok, err := s.AcquireUserSend(ctx, "oA", "w", at, at.Add(time.Minute), "a", cs[0].Reminder.Attempts-1); err != nil || ok {
		t.Fatalf("the old attempt's lease: %v, %v; want refused", ok, err)
	}
	if ok, err := s.AcquireUserSend(ctx, "oA", "w", at, at.Add(time.Minute), "a", cs[0].Reminder.Attempts); err != nil || !ok {
		t.Fatalf("the new attempt's lease: %v, %v; want granted", ok, err)
	}
}
