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
	ahead map[string]int64            // reminder id → CountAhead, when already known
	plans map[string]store.CreditPlan // openid → the claim's rule over their scheduled reminders
}

// Coverage starts the coverage of one answer.
func (c *Consents) Coverage() *Coverage {
	return &Coverage{c: c, rows: map[string]store.Consent{}, ahead: map[string]int64{}, plans: map[string]store.CreditPlan{}}
}

// Prefill takes what a create read in its transaction for the coverage of
// the reminder it wrote (store.Created), instead of reading it again.
func (cv *Coverage) Prefill(c store.Created) {
	r := c.Reminder
	cv.rows[r.OpenID+"\x00"+r.TemplateID] = c.Consent
	if !c.Consent.LongTerm && c.Consent.Credits > 0 {
		cv.ahead[r.ID] = c.Ahead
	}
}

// Consent returns the user's ledger row for a template (the zero row when
// the user never answered for it).
func (cv *Coverage) Consent(ctx context.Context, openid, templateID string) (store.Consent, error) {
	key := openid + "\x00" + templateID
	if row, ok := cv.rows[key]; ok {
		return row, nil
	}
	row, err := cv.c.store.GetConsent(ctx, openid, templateID)
	if errors.Is(err, store.ErrNotFound) {
		row, err = store.Consent{}, nil
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
//
// A reminder with alternatives (an event's) is covered when any of its
// templates covers it, and its credits are that template's (else its
// current template's).
func (cv *Coverage) Of(ctx context.Context, r store.Reminder) (credits int64, covered bool, err error) {
	if len(r.Alternatives) > 0 && r.Status == store.StatusScheduled && r.UnknownAt.IsZero() {
		return cv.ofAlternatives(ctx, r) // coverage_events.go
	}
	return cv.of(ctx, r)
}

// of is Of through r's current template alone.
func (cv *Coverage) of(ctx context.Context, r store.Reminder) (credits int64, covered bool, err error) {
	c, err := cv.Consent(ctx, r.OpenID, r.TemplateID)
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
	if c.Credits == 0 {
		return 0, false, nil
	}
	ahead, ok := cv.ahead[r.ID]
	if !ok {
		if ahead, err = cv.c.store.CountAhead(ctx, r); err != nil {
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
func (cv *Coverage) RetryOutlook(ctx context.Context, r store.Reminder) (Outlook, error) {
	if !r.Status.Ended() {
		return "", nil
	}
	c, err := cv.Consent(ctx, r.OpenID, r.TemplateID)
	if err != nil {
		return "", err
	}
	consent := c.Credits > 0
	if t, ok := cv.c.templates.Get(r.TemplateID); ok && t.Kind == wechat.LongTerm {
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
