// The claim: due reminders taken in batches, each with a lease and its
// consent credit, in the scan's write transaction (engine.go's scanBatch,
// scanMu held). It waits on the writer only: never on WeChat, a send slot or
// a user's lock.

package scheduler

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"github.com/reminderd/reminderd/internal/db/dbsqlc"
	"time"

	"github.com/reminderd/reminderd/internal/db"
	"github.com/reminderd/reminderd/internal/wechat"
)

// claim is a reminder this process holds the lease of.
type claim struct {
	rem       dbsqlc.Reminder
	claimedAt int64 // unix ms: the claim's instant, the delivery's started_at
	covered   bool  // a consent covered the send when claimed (for a one-time template: a credit is held)
}

// held reports whether the claim reserved a one-time credit.
func (c claim) held() bool { return c.rem.CreditHeld == 1 }

// claimDue claims up to max due reminders in due order, in q's transaction.
// Each gets a lease and, for a one-time template, reserves a consent credit
// if one is left: the credit is taken by the claim and given back if the
// claim ends without a send, so that two reminders never count on the same
// credit and a send never waits on a ledger read.
//
// The batch costs a few statements, not a few per reminder: the due rows,
// the ledger rows and the credits taken (one statement per template, and
// per further credit taken from one user), and the claim.
func claimDue(ctx context.Context, q *dbsqlc.Queries, tpl Templates, owner string, now, leaseUntil time.Time, max int) ([]claim, error) {
	due, err := q.DueReminders(ctx, dbsqlc.DueRemindersParams{Now: now.UnixMilli(), MaxRows: int64(max)})
	if err != nil || len(due) == 0 {
		return nil, err
	}
	for _, d := range due {
		// The batch statements take their keys as JSON (db.JSONSafe).
		if !db.JSONSafe(d.ID, d.Openid, d.TemplateID) {
			return claimEach(ctx, q, tpl, owner, due, now, leaseUntil)
		}
	}
	// The batch's users per template, in first-seen order.
	var templates []string
	users := make(map[string][]string)
	type pair struct{ openid, templateID string }
	seen := make(map[pair]bool, len(due))
	for _, d := range due {
		if p := (pair{d.Openid, d.TemplateID}); !seen[p] {
			seen[p] = true
			if users[d.TemplateID] == nil {
				templates = append(templates, d.TemplateID)
			}
			users[d.TemplateID] = append(users[d.TemplateID], d.Openid)
		}
	}
	credits := make(map[pair]int64, len(seen))
	longTerm := make(map[pair]bool)
	for _, tid := range templates {
		ledger, err := q.LedgerFor(ctx, dbsqlc.LedgerForParams{Openids: db.JSONArg(users[tid]), TemplateID: tid})
		if err != nil {
			return nil, err
		}
		for _, l := range ledger {
			p := pair{l.Openid, tid}
			credits[p] = l.Credits
			longTerm[p] = l.LongTerm == 1
		}
	}
	// Reserve in due order: a user's earlier reminder gets the credit first.
	// rounds[k][template] are the users a (k+1)-th credit is taken from.
	ids := make([]string, len(due))
	held := []string{}
	covered := make(map[string]bool, len(due))
	taken := make(map[pair]int64)
	var rounds []map[string][]string
	for i, d := range due {
		ids[i] = d.ID
		p := pair{d.Openid, d.TemplateID}
		t, ok := tpl.Get(d.TemplateID)
		switch {
		case !ok:
		case d.UnknownAt.Valid:
			// The attempt of unknown outcome used the credit (see attempt).
			covered[d.ID] = true
		case t.Kind == wechat.OneTime && credits[p] > taken[p]:
			k := taken[p]
			taken[p]++
			if int(k) == len(rounds) {
				rounds = append(rounds, map[string][]string{})
			}
			rounds[k][d.TemplateID] = append(rounds[k][d.TemplateID], d.Openid)
			held = append(held, d.ID)
			covered[d.ID] = true
		case t.Kind == wechat.LongTerm:
			covered[d.ID] = longTerm[p]
		}
	}
	for _, r := range rounds {
		for tid, openids := range r {
			n, err := q.TakeCredits(ctx, dbsqlc.TakeCreditsParams{Openids: db.JSONArg(openids), TemplateID: tid, Now: now.UnixMilli()})
			if err != nil {
				return nil, err
			}
			if n != int64(len(openids)) {
				return nil, fmt.Errorf("claim: reserved %d of %d %s credits: %w", n, len(openids), tid, db.ErrConflict)
			}
		}
	}
	rems, err := q.ClaimReminders(ctx, dbsqlc.ClaimRemindersParams{Ids: db.JSONArg(ids), Held: db.JSONArg(held),
		LeaseUntil: sqlInt(leaseUntil.UnixMilli()), Owner: sqlStr(owner), Now: now.UnixMilli()})
	if err != nil {
		return nil, err
	}
	if len(rems) != len(due) {
		// The due rows were read in this transaction: only a bug gets here,
		// and the rollback gives the reserved credits back.
		return nil, fmt.Errorf("claim: claimed %d of %d due reminders: %w", len(rems), len(due), db.ErrConflict)
	}
	order := make(map[string]int, len(due))
	for i, id := range ids {
		order[id] = i
	}
	claimed := make([]claim, len(due))
	for _, r := range rems {
		claimed[order[r.ID]] = claim{rem: r, claimedAt: now.UnixMilli(), covered: covered[r.ID]}
	}
	return claimed, nil
}

// claimEach claims the due rows one statement at a time: the path for keys
// that JSON cannot carry unchanged (see claimDue).
func claimEach(ctx context.Context, q *dbsqlc.Queries, tpl Templates, owner string, due []dbsqlc.DueRemindersRow, now, leaseUntil time.Time) ([]claim, error) {
	var err error
	claimed := make([]claim, 0, len(due))
	for _, d := range due {
		c := claim{claimedAt: now.UnixMilli()}
		held := int64(0)
		if t, ok := tpl.Get(d.TemplateID); ok {
			switch {
			case d.UnknownAt.Valid:
				c.covered = true // the attempt of unknown outcome used the credit
			case t.Kind == wechat.OneTime:
				n, err := q.ConsumeCredit(ctx, dbsqlc.ConsumeCreditParams{Openid: d.Openid, TemplateID: d.TemplateID, Now: c.claimedAt})
				if err != nil {
					return nil, err
				}
				c.covered, held = n == 1, n
			case t.Kind == wechat.LongTerm:
				g, err := q.GetConsent(ctx, dbsqlc.GetConsentParams{Openid: d.Openid, TemplateID: d.TemplateID})
				if err != nil && !errors.Is(err, sql.ErrNoRows) {
					return nil, err
				}
				c.covered = g.LongTerm == 1
			}
		}
		c.rem, err = q.ClaimReminder(ctx, dbsqlc.ClaimReminderParams{ID: d.ID, LeaseUntil: sqlInt(leaseUntil.UnixMilli()),
			Owner: sqlStr(owner), CreditHeld: held, Now: c.claimedAt})
		if err != nil {
			return nil, fmt.Errorf("claim %s: %w", d.ID, err)
		}
		claimed = append(claimed, c)
	}
	return claimed, nil
}

// ClaimDue claims up to max due reminders in q's transaction as the engine
// does, and returns how many it claimed (for reminderd bench, which times
// it in a transaction it rolls back).
func ClaimDue(ctx context.Context, q *dbsqlc.Queries, tpl Templates, owner string, now, leaseUntil time.Time, max int) (int, error) {
	cs, err := claimDue(ctx, q, tpl, owner, now, leaseUntil, max)
	return len(cs), err
}
