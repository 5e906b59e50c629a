package storetest

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/reminderd/reminderd/internal/store"
)

// An upgraded deployment of apps A and B: each ledger row written before
// apps existed goes to its user's app (that of the openid's newest
// reminder, else of its newest session, else the first app), so each app's
// reminder is covered by its own user's credit, and an openid of both apps
// keeps its one credit, in the app of its newest reminder.
func testLedgerAppsAdoptPerUser(t *testing.T, s store.Store) {
	ctx := context.Background()
	createIn(t, s, "ra", ledgerA, "oa", oneTime, et0.Add(-3*time.Minute))
	createIn(t, s, "rb", ledgerB, "ob", oneTime, et0.Add(-3*time.Minute))
	createIn(t, s, "rsa", ledgerA, "os", oneTime, et0.Add(-2*time.Minute))
	createIn(t, s, "rsb", ledgerB, "os", oneTime, et0.Add(-time.Minute)) // os's newest
	if err := s.CreateSession(ctx, store.Session{TokenHash: strings.Repeat("b", 64), OpenID: "oss", AppID: ledgerB,
		CreatedAt: et0.Add(-time.Hour), ExpiresAt: et0.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	for _, o := range []string{"oa", "ob", "os", "oss", "on"} {
		accept(t, s, o, oneTime, et0.Add(-2*time.Hour))
	}
	// ob also accepted in B since: the unowned credit joins that row.
	acceptIn(t, s, ledgerB, "ob", oneTime, et0.Add(-time.Hour))
	if _, err := s.AdoptRows(ctx, ledgerA); err != nil {
		t.Fatal(err)
	}
	for _, w := range []struct {
		app, openid string
		credits     int64 // -1: no row
	}{
		{ledgerA, "oa", 1}, {ledgerB, "oa", -1},
		{ledgerB, "ob", 2}, {ledgerA, "ob", -1},
		{ledgerB, "os", 1}, {ledgerA, "os", -1},
		{ledgerB, "oss", 1}, {ledgerA, "oss", -1},
		{ledgerA, "on", 1}, {ledgerB, "on", -1},
		{"", "oa", -1}, {"", "ob", -1},
	} {
		got := int64(-1)
		if c, found := consentIn(t, s, w.app, w.openid, oneTime); found {
			got = c.Credits
		}
		if got != w.credits {
			t.Errorf("credits of %s in %q: %d, want %d (-1: no row)", w.openid, w.app, got, w.credits)
		}
	}
	cs := claimAt(t, s, "w", et0, 10)
	for id, want := range map[string]bool{"ra": true, "rb": true, "rsb": true, "rsa": false} {
		if c := byID(t, cs, id); c.Covered != want {
			t.Errorf("%s covered %v, want %v", id, c.Covered, want)
		}
	}
}
