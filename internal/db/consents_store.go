package db

import (
	"context"
	"time"

	"github.com/reminderd/reminderd/internal/db/dbsqlc"
	"github.com/reminderd/reminderd/internal/store"
)

// The consent ledger's operations of store.ReminderStore.

// SetConsentStatus records a reject, ban or filter answer.
func (d *DB) SetConsentStatus(ctx context.Context, appID, openID, templateID string, status store.ConsentStatus, now time.Time) error {
	err := d.WithTx(ctx, func(q *dbsqlc.Queries) error {
		if err := q.SetConsentStatus(ctx, dbsqlc.SetConsentStatusParams{Appid: appID, Openid: openID, TemplateID: templateID,
			Status: string(status), Now: now.UnixMilli()}); err != nil {
			return err
		}
		return d.outboxConsent(ctx, q, appID, openID, templateID, store.CauseReport, now)
	})
	return storeErr(err, "set consent "+openID+"/"+templateID)
}

// GetConsent reads on the read pool.
func (d *DB) GetConsent(ctx context.Context, appID, openID, templateID string) (store.Consent, error) {
	row, err := d.Read.GetConsent(ctx, dbsqlc.GetConsentParams{Appid: appID, Openid: openID, TemplateID: templateID})
	if err != nil {
		return store.Consent{}, storeErr(err, "consent "+openID+"/"+templateID)
	}
	return consentFromRow(row), nil
}

// ListConsents reads on the read pool.
func (d *DB) ListConsents(ctx context.Context, appID, openID string) ([]store.Consent, error) {
	rows, err := d.Read.ListConsents(ctx, dbsqlc.ListConsentsParams{Appid: appID, Openid: openID})
	if err != nil {
		return nil, storeErr(err, "list consents of "+openID)
	}
	out := make([]store.Consent, len(rows))
	for i, r := range rows {
		out[i] = consentFromRow(r)
	}
	return out, nil
}

// ListPrompted reads on the read pool, through the user's own index.
func (d *DB) ListPrompted(ctx context.Context, appID, openID string, max int) ([]store.Prompted, error) {
	rows, err := d.Read.ListScheduledForPrompt(ctx, dbsqlc.ListScheduledForPromptParams{Openid: openID, Appid: appID, MaxRows: int64(max)})
	if err != nil {
		return nil, storeErr(err, "list reminders to prompt for of "+openID)
	}
	out := make([]store.Prompted, len(rows))
	for i, r := range rows {
		out[i] = store.Prompted{ID: r.ID, TemplateID: r.TemplateID, FireAt: instant(r.FireAt)}
		if alts := alternativesOf(r.Alternatives); alts != nil {
			out[i].Alternatives = store.AlternativeIDs(alts)
		}
	}
	return out, nil
}
