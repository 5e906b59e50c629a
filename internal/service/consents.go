package service

import (
	"context"
	"time"

	"github.com/reminderd/reminderd/internal/store"
	"github.com/reminderd/reminderd/internal/wechat"
)

// Templates looks an app's templates up by id: each mini-program has its
// own, and one id may be one-time in one app and long-term in another.
type Templates interface {
	GetIn(appID, id string) (*wechat.Template, bool)
}

// Consents answers what the consent ledger means for a user's reminders:
// whether a pending reminder is covered, what a retry of an ended one can
// do, and which templates the next consent request should ask for.
type Consents struct {
	store     store.ReminderStore
	templates Templates
}

// NewConsents returns the consent service over st and the known templates.
func NewConsents(st store.ReminderStore, templates Templates) *Consents {
	return &Consents{store: st, templates: templates}
}

// List returns a user's consent rows in app (each app has its own ledger).
func (c *Consents) List(ctx context.Context, app, openid string) ([]store.Consent, error) {
	return c.store.ListConsents(ctx, app, openid)
}

// MaxPromptIDs is how many template ids one wx.requestSubscribeMessage call
// may ask for (WeChat's documented limit is 3; newer docs say 5).
const MaxPromptIDs = 3

// Prompt plans a user's next consent request (PlanPrompt) from their
// pending reminders, their ledger and their main switch, all in app.
func (c *Consents) Prompt(ctx context.Context, app, openid string) (Plan, error) {
	pending, err := c.store.ListPrompted(ctx, app, openid, maxNeeds)
	if err != nil {
		return Plan{}, err
	}
	rows, err := c.store.ListConsents(ctx, app, openid)
	if err != nil {
		return Plan{}, err
	}
	on, err := c.store.MainSwitch(ctx, app, openid)
	if err != nil {
		return Plan{}, err
	}
	needs := needsOf(pending)
	infos := map[string]TemplateInfo{}
	for _, n := range needs {
		for _, id := range n.Templates {
			if t, ok := c.templates.GetIn(app, id); ok {
				infos[id] = TemplateInfo{Kind: t.Kind, Title: t.Title}
			}
		}
	}
	return PlanPrompt(needs, ledgerOf(rows), infos, on), nil
}

// SaveSettings stores what wx.getSetting reported (validated and limited
// to known templates by the caller) and returns the user's ledger in app.
func (c *Consents) SaveSettings(ctx context.Context, app, openid string, s store.Settings, now time.Time) ([]store.Consent, error) {
	if err := c.store.SaveConsentSettings(ctx, app, openid, s, now); err != nil {
		return nil, err
	}
	return c.store.ListConsents(ctx, app, openid)
}

// Report records a whole consent report, in one transaction: an accept
// is paired with WeChat's popup event of the same accept (RecordAccept) and
// keeps its variant, any other answer sets the status and keeps the credits.
func (c *Consents) Report(ctx context.Context, app, openid string, answers []store.Answer, now time.Time) error {
	return c.store.ReportConsents(ctx, app, openid, answers, now)
}
