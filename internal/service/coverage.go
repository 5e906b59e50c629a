package service

import (
	"context"
	"github.com/reminderd/reminderd/internal/db/dbsqlc"

	"github.com/reminderd/reminderd/internal/db"
	"github.com/reminderd/reminderd/internal/store"
	"github.com/reminderd/reminderd/internal/wechat"
)

// Coverage says, for the reminders of one answer, what the user's consent
// does for them. It memoises the consent rows it reads, so it lives for one
// answer (one request), not longer: a row may change after it.
type Coverage struct {
	c     *Consents
	rows  map[string]dbsqlc.Consent
	ahead map[string]int64 // reminder id → CountAheadOfReminder, when already known
}

// Coverage starts the coverage of one answer.
func (c *Consents) Coverage() *Coverage {
	return &Coverage{c: c, rows: map[string]dbsqlc.Consent{}, ahead: map[string]int64{}}
}

// Prefill reads, in q's transaction, what the coverage of the just written
// reminder r needs: a create reads it on the writer, inside its group
// commit, where the pages are warm, instead of on the read pool.
func (cv *Coverage) Prefill(ctx context.Context, q *dbsqlc.Queries, r dbsqlc.Reminder) error {
	row, err := q.GetConsent(ctx, dbsqlc.GetConsentParams{Openid: r.Openid, TemplateID: r.TemplateID})
	if err != nil && !db.IsNotFound(err) {
		return err
	}
	cv.rows[r.Openid+"\x00"+r.TemplateID] = row
	if row.LongTerm == 0 && row.Credits > 0 {
		n, err := q.CountAheadOfReminder(ctx, dbsqlc.CountAheadOfReminderParams{Openid: r.Openid, TemplateID: r.TemplateID, FireAt: r.FireAt, ID: r.ID})
		if err != nil {
			return err
		}
		cv.ahead[r.ID] = n
	}
	return nil
}

// Consent returns the user's ledger row for a template (the zero row when
// the user never answered for it).
func (cv *Coverage) Consent(ctx context.Context, openid, templateID string) (dbsqlc.Consent, error) {
	key := openid + "\x00" + templateID
	if row, ok := cv.rows[key]; ok {
		return row, nil
	}
	row, err := cv.c.db.Read.GetConsent(ctx, dbsqlc.GetConsentParams{Openid: openid, TemplateID: templateID})
	if db.IsNotFound(err) {
		err = nil
	}
	if err == nil {
		cv.rows[key] = row
	}
	return row, err
}

// Of returns the user's credits for r's template and whether they cover r:
// a pending reminder is covered when the reminders due before it leave a
// credit for it, when it holds a credit already, or when its template is
// long-term and granted. A reminder no longer pending is never covered.
func (cv *Coverage) Of(ctx context.Context, r dbsqlc.Reminder) (credits int64, covered bool, err error) {
	c, err := cv.Consent(ctx, r.Openid, r.TemplateID)
	if err != nil {
		return 0, false, err
	}
	if !store.Status(r.Status).Pending() {
		return c.Credits, false, nil
	}
	// A claim holding a credit is covered, and so is the resend after an
	// attempt of unknown outcome (which counted the credit used).
	if c.LongTerm == 1 || r.CreditHeld == 1 || r.UnknownAt.Valid {
		return c.Credits, true, nil
	}
	if c.Credits == 0 {
		return 0, false, nil
	}
	ahead, ok := cv.ahead[r.ID]
	if !ok {
		if ahead, err = cv.c.db.Read.CountAheadOfReminder(ctx, dbsqlc.CountAheadOfReminderParams{
			Openid: r.Openid, TemplateID: r.TemplateID, FireAt: r.FireAt, ID: r.ID}); err != nil {
			return c.Credits, false, err
		}
	}
	return c.Credits, ahead < c.Credits, nil
}

// Outlook is what a retry of a failed or skipped reminder can do.
type Outlook string

const (
	// OutlookOK: a retry may succeed.
	OutlookOK Outlook = "ok"
	// OutlookConsent: it lacked consent and the user still has none (no
	// credit, or no long-term grant for a long-term template): it would be
	// skipped again.
	OutlookConsent Outlook = "consent"
	// OutlookPermanent: a retry cannot fix its reason.
	OutlookPermanent Outlook = "permanent"
)

// RetryOutlook says what a retry of r can do, with consent as the engine
// checks it at a claim: a one-time template needs a credit, a long-term one
// the user's long-term grant. It is "" for a reminder not failed or skipped.
func (cv *Coverage) RetryOutlook(ctx context.Context, r dbsqlc.Reminder) (Outlook, error) {
	if !store.Status(r.Status).Ended() {
		return "", nil
	}
	c, err := cv.Consent(ctx, r.Openid, r.TemplateID)
	if err != nil {
		return "", err
	}
	consent := c.Credits > 0
	if t, ok := cv.c.templates.Get(r.TemplateID); ok && t.Kind == wechat.LongTerm {
		consent = c.LongTerm == 1
	}
	reason := store.Reason(r.Reason.String)
	switch {
	case reason.Permanent():
		return OutlookPermanent, nil
	case reason.Consent() && !consent:
		return OutlookConsent, nil
	}
	return OutlookOK, nil
}
