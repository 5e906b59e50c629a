package service

import (
	"context"
	"time"

	"github.com/reminderd/reminderd/internal/store"
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
	store     store.ReminderStore
	templates Templates
}

// NewConsents returns the consent service over st and the known templates.
func NewConsents(st store.ReminderStore, templates Templates) *Consents {
	return &Consents{store: st, templates: templates}
}

// List returns a user's consent rows.
func (c *Consents) List(ctx context.Context, openid string) ([]store.Consent, error) {
	return c.store.ListConsents(ctx, openid)
}

// MaxPromptIDs is how many template ids one wx.requestSubscribeMessage call
// may ask for (WeChat's documented limit is 3; newer docs say 5).
const MaxPromptIDs = 3

// Prompt plans a user's next consent request: the templates their pending
// reminders lack credit for, most urgent first, all of one kind (WeChat
// refuses one-time and long-term ids in one call), at most MaxPromptIDs.
func (c *Consents) Prompt(ctx context.Context, openid string) ([]string, error) {
	pending, err := c.store.ListPrompted(ctx, openid, 5000)
	if err != nil {
		return nil, err
	}
	consents, err := c.store.ListConsents(ctx, openid)
	if err != nil {
		return nil, err
	}
	type have struct {
		credits  int64
		longTerm bool
	}
	held := map[string]have{}
	for _, row := range consents {
		held[row.TemplateID] = have{row.Credits, row.LongTerm}
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

// Report records one answer of a client's consent report: an accept is
// paired with WeChat's popup event of the same accept (RecordAccept), any
// other answer sets the status and keeps the credits.
func (c *Consents) Report(ctx context.Context, openid string, t *wechat.Template, status store.ConsentStatus, now time.Time) error {
	if status == store.ConsentAccept {
		_, err := c.store.RecordAccept(ctx, openid, t.ID, t.Kind == wechat.LongTerm, store.SourceClient, now)
		return err
	}
	return c.store.SetConsentStatus(ctx, openid, t.ID, status, now)
}
