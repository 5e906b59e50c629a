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

// claimDue claims in q's transaction. The batch costs a few statements,
// not a few per reminder: the due rows, the ledger rows (one statement per
// template), the credits taken (one statement per template and per further
// credit taken from one user), and the claim.
func claimDue(ctx context.Context, q *dbsqlc.Queries, p store.ClaimParams) ([]store.Claim, error) {
	now := p.Now.UnixMilli()
	due, err := q.DueReminders(ctx, dbsqlc.DueRemindersParams{Now: now, MaxRows: int64(p.Max)})
	if err != nil || len(due) == 0 {
		return nil, err
	}
	for _, r := range due {
		// The batch statements take their keys as JSON (jsonSafe).
		if !jsonSafe(r.ID, r.Openid, r.TemplateID, r.Appid) {
			return claimEach(ctx, q, p, due)
		}
	}
	ds := make([]store.Due, len(due))
	ids := make([]string, len(due))
	alts := map[string][]store.Alternative{}
	for i, r := range due {
		ds[i] = store.Due{ID: r.ID, AppID: r.Appid, OpenID: r.Openid, TemplateID: r.TemplateID, UnknownAttempt: r.UnknownAt.Valid}
		if a := alternativesOf(r.Alternatives); len(a) > 0 {
			if !jsonSafe(store.AlternativeIDs(a)...) {
				return claimEach(ctx, q, p, due)
			}
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
	// Round k takes a (k+1)-th credit from each of its users, one
	// statement per app and template: a compare-and-set (credits > 0) per
	// user.
	for k := int64(0); ; k++ {
		round := map[appTemplate][]string{}
		var templates []appTemplate
		for _, ut := range plan.Order {
			if plan.Take[ut] > k {
				at := appTemplate{ut.AppID, ut.TemplateID}
				if round[at] == nil {
					templates = append(templates, at)
				}
				round[at] = append(round[at], ut.OpenID)
			}
		}
		if len(templates) == 0 {
			break
		}
		for _, at := range templates {
			openids := round[at]
			n, err := q.TakeCredits(ctx, dbsqlc.TakeCreditsParams{Appid: at.appID, Openids: jsonArg(openids), TemplateID: at.templateID, Now: now})
			if err != nil {
				return nil, err
			}
			if n != int64(len(openids)) {
				return nil, fmt.Errorf("reserved %d of %d %s credits of app %q: %w", n, len(openids), at.templateID, at.appID, store.ErrConflict)
			}
		}
	}
	rems, err := q.ClaimReminders(ctx, dbsqlc.ClaimRemindersParams{Ids: jsonArg(ids), Held: jsonArg(plan.Held),
		LeaseUntil: someInt(p.LeaseUntil.UnixMilli()), Owner: someStr(p.Owner), Now: now, MarkStarts: b2i(p.MarkStarts)})
	if err != nil {
		return nil, err
	}
	if len(rems) != len(due) {
		// The due rows were read in this transaction: only a bug gets here,
		// and the rollback gives the reserved credits back.
		return nil, fmt.Errorf("claimed %d of %d due reminders: %w", len(rems), len(due), store.ErrConflict)
	}
	return inDueOrder(ids, rems, plan, now), nil
}

// inDueOrder maps the claimed rows to claims, in the due rows' order.
func inDueOrder(ids []string, rems []dbsqlc.Reminder, plan store.CreditPlan, now int64) []store.Claim {
	pos := make(map[string]int, len(ids))
	for i, id := range ids {
		pos[id] = i
	}
	claimed := make([]store.Claim, len(ids))
	for _, r := range rems {
		claimed[pos[r.ID]] = store.Claim{Reminder: reminderFromRow(r), ClaimedAt: instant(now), Covered: plan.Covered[r.ID]}
	}
	return claimed
}

// appTemplate is one app's template: the ledger reads and takes per app,
// each app's users having their own rows.
type appTemplate struct{ appID, templateID string }

// ledgerFor reads the ledger rows of the due reminders' users, each in its
// reminder's app: one statement per app and template.
func ledgerFor(ctx context.Context, q *dbsqlc.Queries, due []store.Due) (map[store.UserTemplate]store.Ledger, error) {
	// The batch's users per app and template, in first-seen order.
	var templates []appTemplate
	users := make(map[appTemplate][]string)
	seen := make(map[store.UserTemplate]bool, len(due))
	for _, r := range due {
		for _, tid := range store.CandidateTemplates(r) {
			if ut := (store.UserTemplate{AppID: r.AppID, OpenID: r.OpenID, TemplateID: tid}); !seen[ut] {
				seen[ut] = true
				at := appTemplate{r.AppID, tid}
				if users[at] == nil {
					templates = append(templates, at)
				}
				users[at] = append(users[at], r.OpenID)
			}
		}
	}
	ledger := make(map[store.UserTemplate]store.Ledger, len(seen))
	for _, at := range templates {
		rows, err := q.LedgerFor(ctx, dbsqlc.LedgerForParams{Appid: at.appID, Openids: jsonArg(users[at]), TemplateID: at.templateID})
		if err != nil {
			return nil, err
		}
		for _, l := range rows {
			ledger[store.UserTemplate{AppID: at.appID, OpenID: l.Openid, TemplateID: at.templateID}] = store.Ledger{Credits: l.Credits, LongTerm: l.LongTerm == 1}
		}
	}
	return ledger, nil
}

// switchTemplates sets each reminder the plan sends through another of its
// alternatives to that template and its data, before the claim reads the
// rows back.
func switchTemplates(ctx context.Context, q *dbsqlc.Queries, chosen map[string]string, alts map[string][]store.Alternative) error {
	for id, tid := range chosen {
		for _, a := range alts[id] {
			if a.TemplateID != tid {
				continue
			}
			n, err := q.SetReminderTemplate(ctx, dbsqlc.SetReminderTemplateParams{ID: id, TemplateID: tid, Data: a.Data})
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

// claimEach claims the due rows one statement at a time: the path for keys
// that JSON cannot carry unchanged (see claimDue).
func claimEach(ctx context.Context, q *dbsqlc.Queries, p store.ClaimParams, due []dbsqlc.DueRemindersRow) ([]store.Claim, error) {
	now := p.Now.UnixMilli()
	claimed := make([]store.Claim, 0, len(due))
	for _, r := range due {
		c := store.Claim{ClaimedAt: instant(now)}
		held := int64(0)
		alts := alternativesOf(r.Alternatives)
		d := store.Due{ID: r.ID, AppID: r.Appid, OpenID: r.Openid, TemplateID: r.TemplateID, UnknownAttempt: r.UnknownAt.Valid,
			Alternatives: store.AlternativeIDs(alts)}
		if len(alts) == 0 {
			d.Alternatives = nil
		}
		for _, tid := range store.CandidateTemplates(d) {
			if d.UnknownAttempt {
				_, c.Covered = p.Kind(r.Appid, r.TemplateID) // the attempt of unknown outcome used the credit
				break
			}
			var err error
			if c.Covered, held, err = coverEach(ctx, q, p, r.Appid, r.Openid, tid, now); err != nil {
				return nil, err
			}
			if c.Covered {
				if tid != r.TemplateID {
					if err := switchTemplates(ctx, q, map[string]string{r.ID: tid}, map[string][]store.Alternative{r.ID: alts}); err != nil {
						return nil, err
					}
				}
				break
			}
		}
		row, err := q.ClaimReminder(ctx, dbsqlc.ClaimReminderParams{ID: r.ID, LeaseUntil: someInt(p.LeaseUntil.UnixMilli()),
			Owner: someStr(p.Owner), CreditHeld: held, Now: now, MarkStarts: b2i(p.MarkStarts)})
		if err != nil {
			return nil, fmt.Errorf("claim %s: %w", r.ID, err)
		}
		c.Reminder = reminderFromRow(row)
		claimed = append(claimed, c)
	}
	return claimed, nil
}

// coverEach is one template's cover of a send to openid of appID, one
// statement at a time: a one-time credit taken (held 1), or the long-term
// grant.
func coverEach(ctx context.Context, q *dbsqlc.Queries, p store.ClaimParams, appID, openid, tid string, now int64) (covered bool, held int64, err error) {
	kind, ok := p.Kind(appID, tid)
	switch {
	case !ok:
		return false, 0, nil
	case kind == store.KindOneTime:
		n, err := q.ConsumeCredit(ctx, dbsqlc.ConsumeCreditParams{Appid: appID, Openid: openid, TemplateID: tid, Now: now})
		return n == 1, n, err
	case kind == store.KindLongTerm:
		g, err := q.GetConsent(ctx, dbsqlc.GetConsentParams{Appid: appID, Openid: openid, TemplateID: tid})
		if err != nil && !isNotFound(err) {
			return false, 0, err
		}
		return g.LongTerm == 1, 0, nil
	}
	return false, 0, nil
}
