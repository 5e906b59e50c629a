package service

import (
	"context"
	"github.com/reminderd/reminderd/internal/db/dbsqlc"

	"github.com/reminderd/reminderd/internal/db"
	"github.com/reminderd/reminderd/internal/wechat"
)

// Templates looks templates up by id (a *catalog.Catalog).
type Templates interface {
	Get(id string) (*wechat.Template, bool)
}

// Consents answers what the consent ledger means for a user's reminders:
// whether a pending reminder is covered, what a retry of an ended one can
// do, and which templates the next consent request should ask for.
type Consents struct {
	db        *db.DB
	templates Templates
}

// NewConsents returns the consent service over d and the known templates.
func NewConsents(d *db.DB, templates Templates) *Consents {
	return &Consents{db: d, templates: templates}
}

// List returns a user's consent rows.
func (c *Consents) List(ctx context.Context, openid string) ([]dbsqlc.Consent, error) {
	return c.db.Read.ListConsents(ctx, openid)
}

// MaxPromptIDs is how many template ids one wx.requestSubscribeMessage call
// may ask for (WeChat's documented limit is 3; newer docs say 5).
const MaxPromptIDs = 3

// Prompt plans a user's next consent request: the templates their pending
// reminders lack credit for, most urgent first, all of one kind (WeChat
// refuses one-time and long-term ids in one call), at most MaxPromptIDs.
func (c *Consents) Prompt(ctx context.Context, openid string) ([]string, error) {
	pending, err := c.db.Read.ListScheduledForPrompt(ctx, dbsqlc.ListScheduledForPromptParams{Openid: openid, MaxRows: 5000})
	if err != nil {
		return nil, err
	}
	consents, err := c.db.Read.ListConsents(ctx, openid)
	if err != nil {
		return nil, err
	}
	type have struct {
		credits  int64
		longTerm bool
	}
	held := map[string]have{}
	for _, row := range consents {
		held[row.TemplateID] = have{row.Credits, row.LongTerm == 1}
	}
	needed := map[string]int64{}
	picked := map[string]bool{}
	ids := []string{}
	var kind wechat.TemplateKind
	for _, p := range pending {
		t, ok := c.templates.Get(p.TemplateID)
		if !ok || picked[p.TemplateID] {
			continue
		}
		h := held[p.TemplateID]
		if t.Kind == wechat.LongTerm && h.longTerm {
			continue
		}
		needed[p.TemplateID]++
		if t.Kind == wechat.LongTerm || needed[p.TemplateID] > h.credits {
			if kind == "" {
				kind = t.Kind
			}
			if t.Kind != kind {
				continue
			}
			picked[p.TemplateID] = true
			ids = append(ids, p.TemplateID)
			if len(ids) == MaxPromptIDs {
				break
			}
		}
	}
	return ids, nil
}
