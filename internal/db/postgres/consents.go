package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/reminderd/reminderd/internal/db/postgres/pgsqlc"
	"github.com/reminderd/reminderd/internal/store"
)

// The consent ledger's operations of store.ReminderStore.

// RecordAccept records one accept of (openID, templateID) reported by
// source, in one transaction (recordAcceptTx).
func (d *DB) RecordAccept(ctx context.Context, appID, openID, templateID string, longTerm bool, source store.GrantSource, now time.Time) (counted bool, err error) {
	err = d.withTx(ctx, func(q *pgsqlc.Queries) error {
		counted, err = recordAcceptTx(ctx, q, appID, openID, templateID, longTerm, source, now)
		if err != nil || !counted {
			return err
		}
		cause := store.CauseReport
		if source == store.SourceEvent {
			cause = store.CausePopup
		}
		return d.outboxConsent(ctx, q, appID, openID, templateID, cause, now)
	})
	return counted, storeErr(err, "consent ledger")
}

// recordAcceptTx is RecordAccept in the caller's transaction q. It first
// takes the advisory lock of (appID, openID, templateID) (LockGrants,
// pg_advisory_xact_lock): accepts of one app's user and template are recorded one
// after the other across processes, and under READ COMMITTED each sees the
// grants the ones before it committed, so a client report and a popup event
// of one accept pair whichever process records them. If the other source
// reported an accept of the app within PairWindow not yet paired, the two are paired
// and nothing is added; otherwise one credit is added (one-time) or the
// template granted (long-term).
func recordAcceptTx(ctx context.Context, q *pgsqlc.Queries, appID, openID, templateID string, longTerm bool, source store.GrantSource, now time.Time) (counted bool, err error) {
	other := store.SourceEvent
	if source == store.SourceEvent {
		other = store.SourceClient
	} else if source != store.SourceClient {
		return false, fmt.Errorf("record accept: unknown source %q", source)
	}
	ms := now.UnixMilli()
	err = func() error {
		if err := q.LockGrants(ctx, pgsqlc.LockGrantsParams{Appid: appID, Openid: openID, TemplateID: templateID}); err != nil {
			return err
		}
		match, err := q.FindUnpairedGrant(ctx, pgsqlc.FindUnpairedGrantParams{
			Appid: appID, Openid: openID, TemplateID: templateID, Source: string(other), Since: ms - store.PairWindow.Milliseconds(),
		})
		switch {
		case err == nil:
			id, err := q.InsertGrant(ctx, pgsqlc.InsertGrantParams{Appid: appID, Openid: openID, TemplateID: templateID, Source: string(source),
				ReceivedAt: ms, PairedWith: &match})
			if err != nil {
				return err
			}
			n, err := q.PairGrant(ctx, pgsqlc.PairGrantParams{ID: match, PairedWith: &id})
			if err != nil {
				return err
			}
			if n != 1 {
				return fmt.Errorf("pair grant %d: %w", match, store.ErrConflict)
			}
			counted = false
			return nil
		case !errors.Is(err, pgx.ErrNoRows):
			return err
		}
		if _, err := q.InsertGrant(ctx, pgsqlc.InsertGrantParams{Appid: appID, Openid: openID, TemplateID: templateID, Source: string(source),
			ReceivedAt: ms}); err != nil {
			return err
		}
		p := pgsqlc.AddCreditParams{Appid: appID, Openid: openID, TemplateID: templateID, Credits: 1, Now: ms}
		if longTerm {
			p.Credits, p.LongTerm = 0, true
		}
		counted = true
		return q.AddCredit(ctx, p)
	}()
	if err != nil {
		return false, fmt.Errorf("record accept %s/%s: %w", openID, templateID, err)
	}
	return counted, nil
}

// SetConsentStatus records a reject, ban or filter answer.
func (d *DB) SetConsentStatus(ctx context.Context, appID, openID, templateID string, status store.ConsentStatus, now time.Time) error {
	err := d.withTx(ctx, func(q *pgsqlc.Queries) error {
		if err := q.SetConsentStatus(ctx, pgsqlc.SetConsentStatusParams{Appid: appID, Openid: openID, TemplateID: templateID,
			Status: string(status), Now: now.UnixMilli()}); err != nil {
			return err
		}
		return d.outboxConsent(ctx, q, appID, openID, templateID, store.CauseReport, now)
	})
	return storeErr(err, "set consent "+openID+"/"+templateID)
}

// GetConsent returns the user's row for a template.
func (d *DB) GetConsent(ctx context.Context, appID, openID, templateID string) (store.Consent, error) {
	row, err := d.q.GetConsent(ctx, pgsqlc.GetConsentParams{Appid: appID, Openid: openID, TemplateID: templateID})
	if err != nil {
		return store.Consent{}, storeErr(err, "consent "+openID+"/"+templateID)
	}
	return consentFromRow(row), nil
}

// ListConsents returns the user's rows, by template id.
func (d *DB) ListConsents(ctx context.Context, appID, openID string) ([]store.Consent, error) {
	rows, err := d.q.ListConsents(ctx, pgsqlc.ListConsentsParams{Appid: appID, Openid: openID})
	if err != nil {
		return nil, storeErr(err, "list consents of "+openID)
	}
	out := make([]store.Consent, len(rows))
	for i, r := range rows {
		out[i] = consentFromRow(r)
	}
	return out, nil
}

// ListPrompted returns up to max of the user's pending reminders that hold
// no credit, most urgent first, through the user's index.
func (d *DB) ListPrompted(ctx context.Context, appID, openID string, max int) ([]store.Prompted, error) {
	if max <= 0 {
		return []store.Prompted{}, nil
	}
	rows, err := d.q.ListScheduledForPrompt(ctx, pgsqlc.ListScheduledForPromptParams{Openid: openID, Appid: appID, MaxRows: int32(min(max, 1<<30))})
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
