package service

import (
	"context"

	"github.com/reminderd/reminderd/internal/store"
	"github.com/reminderd/reminderd/internal/wechat"
)

// maxPlanned bounds the scheduled reminders of one user that the coverage
// of an event's reminder reads (the per-user limit is 500 by default).
const maxPlanned = 2000

// ofAlternatives is Of for a scheduled reminder with alternatives (an
// event's lead): the claim's own rule (store.PlanCredits) run over the
// user's scheduled reminders in order, so that a lead counts as covered
// when the first of its templates with a credit left by the reminders
// before it covers it. credits is the balance of the template it would be
// sent through.
func (cv *Coverage) ofAlternatives(ctx context.Context, r store.Reminder) (credits int64, covered bool, err error) {
	p, ok := cv.plans[r.OpenID]
	if !ok {
		if p, err = cv.planFor(ctx, r.OpenID); err != nil {
			return 0, false, err
		}
		cv.plans[r.OpenID] = p
	}
	tid := r.TemplateID
	if c := p.Chosen[r.ID]; c != "" {
		tid = c
	}
	row, err := cv.Consent(ctx, r.OpenID, tid)
	return row.Credits, p.Covered[r.ID], err
}

// planFor plans the credits of openid's scheduled reminders (those sending
// hold theirs already) against the ledger.
func (cv *Coverage) planFor(ctx context.Context, openid string) (store.CreditPlan, error) {
	q := store.ListQuery{OpenID: openid, Status: store.StatusScheduled, Limit: 500}
	var due []store.Due
	for len(due) < maxPlanned {
		page, err := cv.c.store.ListReminders(ctx, q)
		if err != nil {
			return store.CreditPlan{}, err
		}
		for _, rem := range page.Reminders {
			d := store.Due{ID: rem.ID, OpenID: rem.OpenID, TemplateID: rem.TemplateID, UnknownAttempt: !rem.UnknownAt.IsZero()}
			if len(rem.Alternatives) > 0 {
				d.Alternatives = store.AlternativeIDs(rem.Alternatives)
			}
			due = append(due, d)
		}
		if page.Next == nil {
			break
		}
		q.After = page.Next
	}
	ledger := map[store.UserTemplate]store.Ledger{}
	for _, d := range due {
		for _, tid := range store.CandidateTemplates(d) {
			ut := store.UserTemplate{OpenID: openid, TemplateID: tid}
			if _, ok := ledger[ut]; ok {
				continue
			}
			row, err := cv.Consent(ctx, openid, tid)
			if err != nil {
				return store.CreditPlan{}, err
			}
			ledger[ut] = store.Ledger{Credits: row.Credits, LongTerm: row.LongTerm}
		}
	}
	return store.PlanCredits(due, cv.kind, ledger), nil
}

// kind is a template's kind as the claim sees it (false: not known).
func (cv *Coverage) kind(id string) (store.TemplateKind, bool) {
	t, ok := cv.c.templates.Get(id)
	switch {
	case !ok:
		return "", false
	case t.Kind == wechat.LongTerm:
		return store.KindLongTerm, true
	}
	return store.KindOneTime, true
}
