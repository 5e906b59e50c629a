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

// claimDue claims in q's transaction: the due rows, the ledger rows, the
// credits taken and the claim, a statement each for the whole batch.
func claimDue(ctx context.Context, q *pgsqlc.Queries, p store.ClaimParams) ([]store.Claim, error) {
	now := p.Now.UnixMilli()
	due, err := q.DueReminders(ctx, pgsqlc.DueRemindersParams{Now: now, MaxRows: int64(p.Max)})
	if err != nil || len(due) == 0 {
		return nil, err
	}
	ds := make([]store.Due, len(due))
	ids := make([]string, len(due))
	alts := map[string][]store.Alternative{}
	for i, r := range due {
		ds[i] = store.Due{ID: r.ID, AppID: r.Appid, OpenID: r.Openid, TemplateID: r.TemplateID, UnknownAttempt: r.UnknownAt != nil}
		if a := alternativesOf(r.Alternatives); len(a) > 0 {
			alts[r.ID], ds[i].Alternatives = a, store.AlternativeIDs(a)
		}
		ids[i] = r.ID
	}
	ledger, err := ledgerFor(ctx, q, ds)
	if err != nil {
		return nil, err
	}
	plan := store.PlanCredits(ds, p.Kind, ledger)
	if err := switchTemplates(ctx, q, plan.Chosen, alts); err != nil {
		return nil, err
	}
	if len(plan.Order) > 0 {
		tp := pgsqlc.ClaimTakeCreditsParams{Now: now}
		for _, ut := range plan.Order {
			tp.Appids = append(tp.Appids, ut.AppID)
			tp.Openids = append(tp.Openids, ut.OpenID)
			tp.TemplateIds = append(tp.TemplateIds, ut.TemplateID)
			tp.Ns = append(tp.Ns, plan.Take[ut])
		}
		n, err := q.ClaimTakeCredits(ctx, tp)
		if err != nil {
			return nil, err
		}
		if n != int64(len(plan.Order)) {
			// The ledger rows are locked since they were read: only a bug
			// gets here, and the rollback gives the credits back.
			return nil, fmt.Errorf("reserved the credits of %d of %d ledger rows: %w", n, len(plan.Order), store.ErrConflict)
		}
	}
	rems, err := q.ClaimReminders(ctx, pgsqlc.ClaimRemindersParams{Ids: ids, Held: plan.Held, LeaseUntil: p.LeaseUntil.UnixMilli(),
		Owner: p.Owner, Now: now, MarkStarts: p.MarkStarts})
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
		claimed[pos[r.ID]] = store.Claim{Reminder: reminderFromRow(r), ClaimedAt: instant(now), Covered: plan.Covered[r.ID]}
	}
	return claimed, nil
}

// ledgerFor reads and locks the ledger rows of the due reminders' users,
// each in its reminder's app: one statement for the batch.
func ledgerFor(ctx context.Context, q *pgsqlc.Queries, due []store.Due) (map[store.UserTemplate]store.Ledger, error) {
	var p pgsqlc.ClaimLedgerForParams
	seen := make(map[store.UserTemplate]bool, len(due))
	for _, r := range due {
		for _, tid := range store.CandidateTemplates(r) {
			if ut := (store.UserTemplate{AppID: r.AppID, OpenID: r.OpenID, TemplateID: tid}); !seen[ut] {
				seen[ut] = true
				p.Appids = append(p.Appids, r.AppID)
				p.Openids = append(p.Openids, r.OpenID)
				p.TemplateIds = append(p.TemplateIds, tid)
			}
		}
	}
	rows, err := q.ClaimLedgerFor(ctx, p)
	if err != nil {
		return nil, err
	}
	ledger := make(map[store.UserTemplate]store.Ledger, len(rows))
	for _, l := range rows {
		ledger[store.UserTemplate{AppID: l.Appid, OpenID: l.Openid, TemplateID: l.TemplateID}] = store.Ledger{Credits: l.Credits, LongTerm: l.LongTerm}
	}
	return ledger, nil
}

// switchTemplates sets each reminder the plan sends through another of its
// alternatives to that template and its data, before the claim reads the
// rows back.
func switchTemplates(ctx context.Context, q *pgsqlc.Queries, chosen map[string]string, alts map[string][]store.Alternative) error {
	for id, tid := range chosen {
		for _, a := range alts[id] {
			if a.TemplateID != tid {
				continue
			}
			n, err := q.SetReminderTemplate(ctx, pgsqlc.SetReminderTemplateParams{ID: id, TemplateID: tid, Data: a.Data})
			if err != nil {
				return err
			}
			if n != 1 {
				return fmt.Errorf("switch %s to template %s: %w", id, tid, store.ErrConflict)
			}
			break
		}
	}
	return nil
}
