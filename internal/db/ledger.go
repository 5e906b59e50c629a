package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/reminderd/reminderd/internal/db/dbsqlc"
	"github.com/reminderd/reminderd/internal/store"
)

// Grant sources (store.SourceClient, store.SourceEvent), untyped:
// recordAcceptTx takes them as strings, RecordAccept as GrantSource.
const (
	sourceClient = "client"
	sourceEvent  = "event"
)

// RecordAccept records one accept of (openid, template) reported by source.
// If the other source reported an accept within store.PairWindow that is not yet
// paired, the two describe one accept: they are paired and no credit is
// added. Otherwise one credit is added (one-time) or the template granted
// (long-term). It reports whether the accept added to the ledger.
func (d *DB) RecordAccept(ctx context.Context, appID, openID, templateID string, longTerm bool, source store.GrantSource, now time.Time) (counted bool, err error) {
	err = d.WithTx(ctx, func(q *dbsqlc.Queries) error {
		counted, err = recordAcceptTx(ctx, q, appID, openID, templateID, longTerm, string(source), now)
		if err != nil || !counted {
			return err
		}
		return d.outboxConsent(ctx, q, appID, openID, templateID, causeOf(source), now)
	})
	return counted, storeErr(err, "consent ledger")
}

// recordAcceptTx is RecordAccept in the caller's transaction q: it pairs
// only with an accept of the same app.
func recordAcceptTx(ctx context.Context, q *dbsqlc.Queries, appID, openID, templateID string, longTerm bool, source string, now time.Time) (counted bool, err error) {
	other := sourceEvent
	if source == sourceEvent {
		other = sourceClient
	} else if source != sourceClient {
		return false, fmt.Errorf("record accept: unknown source %q", source)
	}
	ms := now.UnixMilli()
	err = func() error {
		match, err := q.FindUnpairedGrant(ctx, dbsqlc.FindUnpairedGrantParams{
			Appid: appID, Openid: openID, TemplateID: templateID, Source: other, Since: ms - store.PairWindow.Milliseconds(),
		})
		switch {
		case err == nil:
			id, err := q.InsertGrant(ctx, dbsqlc.InsertGrantParams{Appid: appID, Openid: openID, TemplateID: templateID, Source: source,
				ReceivedAt: ms, PairedWith: sql.NullInt64{Int64: match, Valid: true}})
			if err != nil {
				return err
			}
			n, err := q.PairGrant(ctx, dbsqlc.PairGrantParams{ID: match, PairedWith: sql.NullInt64{Int64: id, Valid: true}})
			if err != nil {
				return err
			}
			if n != 1 {
				return fmt.Errorf("pair grant %d: %w", match, store.ErrConflict)
			}
			counted = false
			return nil
		case !errors.Is(err, sql.ErrNoRows):
			return err
		}
		if _, err := q.InsertGrant(ctx, dbsqlc.InsertGrantParams{Appid: appID, Openid: openID, TemplateID: templateID, Source: source,
			ReceivedAt: ms}); err != nil {
			return err
		}
		p := dbsqlc.AddCreditParams{Appid: appID, Openid: openID, TemplateID: templateID, Credits: 1, Now: ms}
		if longTerm {
			p.Credits, p.LongTerm = 0, 1
		}
		counted = true
		return q.AddCredit(ctx, p)
	}()
	if err != nil {
		return false, fmt.Errorf("record accept %s/%s: %w", openID, templateID, err)
	}
	return counted, nil
}

// causeOf is the consent.changed cause of an accept from source.
func causeOf(source store.GrantSource) string {
	if source == store.SourceEvent {
		return store.CausePopup
	}
	return store.CauseReport
}
