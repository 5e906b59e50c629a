// The claim (store.EngineStore.ClaimDue) on PostgreSQL: the due rows
// locked FOR UPDATE SKIP LOCKED, their ledger rows locked FOR UPDATE, the
// credits taken and the claim written, in one transaction and a few
// statements for the whole batch.

package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/reminderd/reminderd/internal/db/postgres/pgsqlc"
	"github.com/reminderd/reminderd/internal/store"
)

// errAborted rolls back a claim its caller aborted (ClaimParams.Abort).
var errAborted = errors.New("claim aborted")

// ClaimDue claims up to p.Max due reminders in due order. Each gets a lease
// and, for a one-time template, reserves a consent credit if one is left
// (given back by RecordOutcome's CreditRefund if the claim ends without a
// send).
//
// Across processes: DueReminders locks the due rows FOR UPDATE SKIP
// LOCKED, so two claims never take one reminder and never wait on each
// other's rows; ClaimLedgerFor locks the batch's ledger rows FOR UPDATE
// (in one order), so the credits read are the credits taken, and
// ClaimTakeCredits is a compare-and-set (credits >= n) besides: a user's
// credits are never over-reserved, whatever claims run at once.
func (d *DB) ClaimDue(ctx context.Context, p store.ClaimParams) ([]store.Claim, error) {
	var claimed []store.Claim
	err := d.withTx(ctx, func(q *pgsqlc.Queries) error {
		var err error
		if claimed, err = claimDue(ctx, q, p); err != nil {
			return err
		}
		// Asked again before the commit: sending may have been paused
		// meanwhile.
		if p.Abort != nil && p.Abort() {
			return errAborted
		}
		return nil
	})
	if errors.Is(err, errAborted) {
		return nil, nil
	}
	if err != nil {
		return nil, storeErr(err, "claim due reminders")
	}
	return claimed, nil
}

// ClaimDueRolledBack claims as ClaimDue does, in a transaction it rolls
// back, and returns how many it claimed: for reminderd bench, which times
// the claim on the same table again and again.
func (d *DB) ClaimDueRolledBack(ctx context.Context, p store.ClaimParams) (int, error) {
	n := 0
	err := d.withTx(ctx, func(q *pgsqlc.Queries) error {
		cs, err := claimDue(ctx, q, p)
		if err != nil {
			return err
		}
		n = len(cs)
		return errAborted // rolled back
	})
	if !errors.Is(err, errAborted) {
		return 0, storeErr(err, "claim due reminders")
	}
	return n, nil
}

// userTemplate is a (user, template) pair: one ledger row.
type userTemplate struct{ openid, templateID string }

// claimDue claims in q's transaction.
func claimDue(ctx context.Context, q *pgsqlc.Queries, p store.ClaimParams) ([]store.Claim, error) {
	now := p.Now.UnixMilli()
	due, err := q.DueReminders(ctx, pgsqlc.DueRemindersParams{Now: now, MaxRows: int64(p.Max)})
	if err != nil || len(due) == 0 {
		return nil, err
	}
	credits, longTerm, err := ledgerFor(ctx, q, due)
	if err != nil {
		return nil, err
	}
	// Reserve in due order: a user's earlier reminder gets the credit
	// first, its k-th reminder of the batch the k-th credit.
	ids := make([]string, len(due))
	held := []string{}
	covered := make(map[string]bool, len(due))
	taken := make(map[userTemplate]int64)
	var order []userTemplate // the pairs credits are taken from, first-seen
	for i, r := range due {
		ids[i] = r.ID
		ut := userTemplate{r.Openid, r.TemplateID}
		kind, ok := p.Kind(r.TemplateID)
		switch {
		case !ok:
		case r.UnknownAt != nil:
			// The attempt of unknown outcome used the credit.
			covered[r.ID] = true
		case kind == store.KindOneTime && credits[ut] > taken[ut]:
			if taken[ut] == 0 {
				order = append(order, ut)
			}
			taken[ut]++
			held = append(held, r.ID)
			covered[r.ID] = true
		case kind == store.KindLongTerm:
			covered[r.ID] = longTerm[ut]
		}
	}
	if len(order) > 0 {
		tp := pgsqlc.ClaimTakeCreditsParams{Now: now}
		for _, ut := range order {
			tp.Openids = append(tp.Openids, ut.openid)
			tp.TemplateIds = append(tp.TemplateIds, ut.templateID)
			tp.Ns = append(tp.Ns, taken[ut])
		}
		n, err := q.ClaimTakeCredits(ctx, tp)
		if err != nil {
			return nil, err
		}
		if n != int64(len(order)) {
			// The ledger rows are locked since they were read: only a bug
			// gets here, and the rollback gives the credits back.
			return nil, fmt.Errorf("reserved the credits of %d of %d ledger rows: %w", n, len(order), store.ErrConflict)
		}
	}
	rems, err := q.ClaimReminders(ctx, pgsqlc.ClaimRemindersParams{Ids: ids, Held: held, LeaseUntil: p.LeaseUntil.UnixMilli(),
		Owner: p.Owner, Now: now})
	if err != nil {
		return nil, err
	}
	if len(rems) != len(due) {
		return nil, fmt.Errorf("claimed %d of %d due reminders: %w", len(rems), len(due), store.ErrConflict)
	}
	pos := make(map[string]int, len(due))
	for i, id := range ids {
		pos[id] = i
	}
	claimed := make([]store.Claim, len(due))
	for _, r := range rems {
		claimed[pos[r.ID]] = store.Claim{Reminder: reminderFromRow(r), ClaimedAt: instant(now), Covered: covered[r.ID]}
	}
	return claimed, nil
}

// ledgerFor reads and locks the ledger rows of the due reminders' users:
// one statement for the batch.
func ledgerFor(ctx context.Context, q *pgsqlc.Queries, due []pgsqlc.DueRemindersRow) (map[userTemplate]int64, map[userTemplate]bool, error) {
	var p pgsqlc.ClaimLedgerForParams
	seen := make(map[userTemplate]bool, len(due))
	for _, r := range due {
		if ut := (userTemplate{r.Openid, r.TemplateID}); !seen[ut] {
			seen[ut] = true
			p.Openids = append(p.Openids, r.Openid)
			p.TemplateIds = append(p.TemplateIds, r.TemplateID)
		}
	}
	rows, err := q.ClaimLedgerFor(ctx, p)
	if err != nil {
		return nil, nil, err
	}
	credits := make(map[userTemplate]int64, len(rows))
	longTerm := make(map[userTemplate]bool)
	for _, l := range rows {
		ut := userTemplate{l.Openid, l.TemplateID}
		credits[ut], longTerm[ut] = l.Credits, l.LongTerm
	}
	return credits, longTerm, nil
}
