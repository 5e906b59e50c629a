package service

import (
	"context"
	"errors"

	"github.com/reminderd/reminderd/internal/store"
	"github.com/reminderd/reminderd/internal/wechat"
)

// Coverage says, for the reminders of one answer, what the user's consent
// does for them. It memoises the consent rows it reads, so it lives for one
// answer (one request), not longer: a row may change after it.
type Coverage struct {
	c     *Consents
	rows  map[string]store.Consent
	users map[string]map[string]string // app and openid → reminder id → the template covering it (CoverWith)
}

// Coverage starts the coverage of one answer.
func (c *Consents) Coverage() *Coverage {
	return &Coverage{c: c, rows: map[string]store.Consent{}, users: map[string]map[string]string{}}
}

// Prefill takes the ledger row a create read in its transaction for the
// answer of the reminder it wrote (store.Created), instead of reading it
// again.
func (cv *Coverage) Prefill(c store.Created) {
	r := c.Reminder
	cv.rows[ledgerKey(r.AppID, r.OpenID, r.TemplateID)] = c.Consent
}

// ledgerKey names a ledger row in the memo: the ledger is per app.
func ledgerKey(app, openid, templateID string) string {
	return app + "\x00" + openid + "\x00" + templateID
}

// Consent returns the user's ledger row in app for a template (the zero
// row when the user never answered for it there).
func (cv *Coverage) Consent(ctx context.Context, app, openid, templateID string) (store.Consent, error) {
	key := ledgerKey(app, openid, templateID)
	if row, ok := cv.rows[key]; ok {
		return row, nil
	}
	row, err := cv.c.store.GetConsent(ctx, app, openid, templateID)
	if errors.Is(err, store.ErrNotFound) {
		row, err = store.Consent{}, nil
	}
	if err == nil {
		cv.rows[key] = row
	}
	return row, err
}

// Of returns the user's credits for r's template and whether they cover r:
// a pending reminder is covered when it holds a credit already, or when
// the coverage rule (Cover, over the user's pending reminders and ledger)
// serves it. A reminder no longer pending is never covered. A reminder with
// alternatives (an event's lead) is covered through any of its templates,
// and its credits are those of the template that covers it (else of its
// current template).
func (cv *Coverage) Of(ctx context.Context, r store.Reminder) (credits int64, covered bool, err error) {
	c, err := cv.Consent(ctx, r.AppID, r.OpenID, r.TemplateID)
	if err != nil {
		return 0, false, err
	}
	if !r.Status.Pending() {
		return c.Credits, false, nil
	}
	// A claim holding a credit is covered, and so is the resend after an
	// attempt of unknown outcome (which counted the credit used).
	if c.LongTerm || r.CreditHeld || !r.UnknownAt.IsZero() {
		return c.Credits, true, nil
	}
	if c.Credits == 0 && len(r.Alternatives) == 0 {
		return 0, false, nil
	}
	user, err := cv.user(ctx, r.AppID, r.OpenID)
	if err != nil {
		return c.Credits, false, err
	}
	switch tid := user[r.ID]; tid {
	case "":
		return c.Credits, false, nil
	case r.TemplateID:
		return c.Credits, true, nil
	default:
		via, err := cv.Consent(ctx, r.AppID, r.OpenID, tid)
		return via.Credits, err == nil, err
	}
}

// user applies the coverage rule to a user's pending reminders in app,
// once per answer.
func (cv *Coverage) user(ctx context.Context, app, openid string) (map[string]string, error) {
	key := app + "\x00" + openid
	if m, ok := cv.users[key]; ok {
		return m, nil
	}
	pending, err := cv.c.store.ListPrompted(ctx, app, openid, maxNeeds)
	if err != nil {
		return nil, err
	}
	rows, err := cv.c.store.ListConsents(ctx, app, openid)
	if err != nil {
		return nil, err
	}
	needs := needsOf(pending)
	via := CoverWith(needs, ledgerOf(rows))
	m := make(map[string]string, len(needs))
	for i, n := range needs {
		m[n.Key] = via[i]
	}
	cv.users[key] = m
	return m, nil
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
func (cv *Coverage) RetryOutlook(ctx context.Context, r store.Reminder) (Outlook, error) {
	if !r.Status.Ended() {
		return "", nil
	}
	c, err := cv.Consent(ctx, r.AppID, r.OpenID, r.TemplateID)
	if err != nil {
		return "", err
	}
	consent := c.Credits > 0
	if t, ok := cv.c.templates.GetIn(r.AppID, r.TemplateID); ok && t.Kind == wechat.LongTerm {
		consent = c.LongTerm
	}
	switch {
	case r.Reason.Permanent():
		return OutlookPermanent, nil
	case r.Reason.Consent() && !consent:
		return OutlookConsent, nil
	}
	return OutlookOK, nil
}
