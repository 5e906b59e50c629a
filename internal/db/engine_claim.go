// The claim (store.EngineStore.ClaimDue): due reminders taken in batches,
// each with a lease and its consent credit, in one write transaction.

package db

import (
	"context"
	"errors"
	"fmt"

	"github.com/reminderd/reminderd/internal/db/dbsqlc"
	"github.com/reminderd/reminderd/internal/store"
)

// errAborted rolls back a claim its caller aborted (ClaimParams.Abort).
var errAborted = errors.New("claim aborted")

// ClaimDue claims up to p.Max due reminders in due order. Each gets a lease
// and, for a one-time template, reserves a consent credit if one is left:
// the credit is taken by the claim and given back if the claim ends
// without a send (RecordOutcome's CreditRefund), so that two reminders
// never count on the same credit and a send never waits on a ledger read.
func (d *DB) ClaimDue(ctx context.Context, p store.ClaimParams) ([]store.Claim, error) {
	var claimed []store.Claim
	err := d.WithTx(ctx, func(q *dbsqlc.Queries) error {
		var err error
		if claimed, err = claimDue(ctx, q, p); err != nil {
			return err
		}
		// Asked again before the commit: the wait for the writer can be
		// long under load, and sending may be paused meanwhile.
		if p.Abort != nil && p.Abort() {
			return errAborted
		}
		return nil
	})
	if errors.Is(err, errAborted) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("claim due reminders: %w", err)
	}
	return claimed, nil
}

// ClaimDueRolledBack claims as ClaimDue does, in a transaction it rolls
// back, and returns how many it claimed: for reminderd bench, which times
// the claim on the same table again and again.
func (d *DB) ClaimDueRolledBack(ctx context.Context, p store.ClaimParams) (int, error) {
	n := 0
	err := d.WithTx(ctx, func(q *dbsqlc.Queries) error {
		cs, err := claimDue(ctx, q, p)
		if err != nil {
			return err
		}
		n = len(cs)
		return errAborted // rolled back
	})
	if !errors.Is(err, errAborted) {
		return 0, fmt.Errorf("claim due reminders: %w", err)
	}
	return n, nil
}

// userTemplate is a (user, template) pair: one ledger row.
type userTemplate struct{ openid, templateID string }

// claimDue claims in q's transaction. The batch costs a few statements,
// not a few per reminder: the due rows, the ledger rows and the credits
// taken (one statement per template, and per further credit taken from one
// user), and the claim.
func claimDue(ctx context.Context, q *dbsqlc.Queries, p store.ClaimParams) ([]store.Claim, error) {
	now := p.Now.UnixMilli()
	due, err := q.DueReminders(ctx, dbsqlc.DueRemindersParams{Now: now, MaxRows: int64(p.Max)})
	if err != nil || len(due) == 0 {
		return nil, err
	}
	for _, r := range due {
		// The batch statements take their keys as JSON (jsonSafe).
		if !jsonSafe(r.ID, r.Openid, r.TemplateID) {
			return claimEach(ctx, q, p, due)
		}
	}
	credits, longTerm, err := ledgerFor(ctx, q, due)
	if err != nil {
		return nil, err
	}
	// Reserve in due order: a user's earlier reminder gets the credit first.
	// rounds[k][template] are the users a (k+1)-th credit is taken from.
	ids := make([]string, len(due))
	held := []string{}
	covered := make(map[string]bool, len(due))
	taken := make(map[userTemplate]int64)
	var rounds []map[string][]string
	for i, r := range due {
		ids[i] = r.ID
		ut := userTemplate{r.Openid, r.TemplateID}
		kind, ok := p.Kind(r.TemplateID)
		switch {
		case !ok:
		case r.UnknownAt.Valid:
			// The attempt of unknown outcome used the credit.
			covered[r.ID] = true
		case kind == store.KindOneTime && credits[ut] > taken[ut]:
			k := taken[ut]
			taken[ut]++
			if int(k) == len(rounds) {
				rounds = append(rounds, map[string][]string{})
			}
			rounds[k][r.TemplateID] = append(rounds[k][r.TemplateID], r.Openid)
			held = append(held, r.ID)
			covered[r.ID] = true
		case kind == store.KindLongTerm:
			covered[r.ID] = longTerm[ut]
		}
	}
	for _, r := range rounds {
		for tid, openids := range r {
			n, err := q.TakeCredits(ctx, dbsqlc.TakeCreditsParams{Openids: jsonArg(openids), TemplateID: tid, Now: now})
			if err != nil {
				return nil, err
			}
			if n != int64(len(openids)) {
				return nil, fmt.Errorf("reserved %d of %d %s credits: %w", n, len(openids), tid, store.ErrConflict)
			}
		}
	}
	rems, err := q.ClaimReminders(ctx, dbsqlc.ClaimRemindersParams{Ids: jsonArg(ids), Held: jsonArg(held),
		LeaseUntil: someInt(p.LeaseUntil.UnixMilli()), Owner: someStr(p.Owner), Now: now})
	if err != nil {
		return nil, err
	}
	if len(rems) != len(due) {
		// The due rows were read in this transaction: only a bug gets here,
		// and the rollback gives the reserved credits back.
		return nil, fmt.Errorf("claimed %d of %d due reminders: %w", len(rems), len(due), store.ErrConflict)
	}
	order := make(map[string]int, len(due))
	for i, id := range ids {
		order[id] = i
	}
	claimed := make([]store.Claim, len(due))
	for _, r := range rems {
		claimed[order[r.ID]] = store.Claim{Reminder: reminderFromRow(r), ClaimedAt: instant(now), Covered: covered[r.ID]}
	}
	return claimed, nil
}

// ledgerFor reads the ledger rows of the due reminders' users: one
// statement per template.
func ledgerFor(ctx context.Context, q *dbsqlc.Queries, due []dbsqlc.DueRemindersRow) (credits map[userTemplate]int64, longTerm map[userTemplate]bool, err error) {
	// The batch's users per template, in first-seen order.
	var templates []string
	users := make(map[string][]string)
	seen := make(map[userTemplate]bool, len(due))
	for _, r := range due {
		if ut := (userTemplate{r.Openid, r.TemplateID}); !seen[ut] {
			seen[ut] = true
			if users[r.TemplateID] == nil {
				templates = append(templates, r.TemplateID)
			}
			users[r.TemplateID] = append(users[r.TemplateID], r.Openid)
		}
	}
	credits = make(map[userTemplate]int64, len(seen))
	longTerm = make(map[userTemplate]bool)
	for _, tid := range templates {
		ledger, err := q.LedgerFor(ctx, dbsqlc.LedgerForParams{Openids: jsonArg(users[tid]), TemplateID: tid})
		if err != nil {
			return nil, nil, err
		}
		for _, l := range ledger {
			ut := userTemplate{l.Openid, tid}
			credits[ut] = l.Credits
			longTerm[ut] = l.LongTerm == 1
		}
	}
	return credits, longTerm, nil
}

// claimEach claims the due rows one statement at a time: the path for keys
// that JSON cannot carry unchanged (see claimDue).
func claimEach(ctx context.Context, q *dbsqlc.Queries, p store.ClaimParams, due []dbsqlc.DueRemindersRow) ([]store.Claim, error) {
	now := p.Now.UnixMilli()
	claimed := make([]store.Claim, 0, len(due))
	for _, r := range due {
		c := store.Claim{ClaimedAt: instant(now)}
		held := int64(0)
		if kind, ok := p.Kind(r.TemplateID); ok {
			switch {
			case r.UnknownAt.Valid:
				c.Covered = true // the attempt of unknown outcome used the credit
			case kind == store.KindOneTime:
				n, err := q.ConsumeCredit(ctx, dbsqlc.ConsumeCreditParams{Openid: r.Openid, TemplateID: r.TemplateID, Now: now})
				if err != nil {
					return nil, err
				}
				c.Covered, held = n == 1, n
			case kind == store.KindLongTerm:
				g, err := q.GetConsent(ctx, dbsqlc.GetConsentParams{Openid: r.Openid, TemplateID: r.TemplateID})
				if err != nil && !isNotFound(err) {
					return nil, err
				}
				c.Covered = g.LongTerm == 1
			}
		}
		row, err := q.ClaimReminder(ctx, dbsqlc.ClaimReminderParams{ID: r.ID, LeaseUntil: someInt(p.LeaseUntil.UnixMilli()),
			Owner: someStr(p.Owner), CreditHeld: held, Now: now})
		if err != nil {
			return nil, fmt.Errorf("claim %s: %w", r.ID, err)
		}
		c.Reminder = reminderFromRow(row)
		claimed = append(claimed, c)
	}
	return claimed, nil
}
