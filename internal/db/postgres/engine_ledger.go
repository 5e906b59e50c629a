// The consent ledger's accept in a caller's transaction: ApplyPushEvent's
// popup answers (and, after the merge, ReminderStore's RecordAccept).

package postgres

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/reminderd/reminderd/internal/db/postgres/pgsqlc"
	"github.com/reminderd/reminderd/internal/store"
)

// grantKey is the advisory lock of a (user, template)'s pairing.
// The openid's length keeps the key unambiguous (PostgreSQL text holds no
// NUL to separate the two).
func grantKey(openid, templateID string) string {
	return "grant:" + strconv.Itoa(len(openid)) + ":" + openid + templateID
}

// recordAcceptTx records one accept of (openID, templateID) reported by
// source in q's transaction: paired with an unpaired accept of the other
// source within store.PairWindow (nothing added), or counted (one credit,
// or the long-term grant). It reports whether the accept added to the
// ledger.
//
// Across processes: the pair's advisory lock (pg_advisory_xact_lock on
// "grant:" openid, template) serialises the find-then-insert, so a client
// report and a popup event of one accept, applied by two processes at
// once, are paired rather than both counted.
func recordAcceptTx(ctx context.Context, q *pgsqlc.Queries, openID, templateID string, longTerm bool, source store.GrantSource, now time.Time) (counted bool, err error) {
	other := store.SourceEvent
	if source == store.SourceEvent {
		other = store.SourceClient
	} else if source != store.SourceClient {
		return false, fmt.Errorf("record accept: unknown source %q", source)
	}
	ms := now.UnixMilli()
	err = func() error {
		if err := q.EngineXactLock(ctx, grantKey(openID, templateID)); err != nil {
			return err
		}
		match, err := q.LedgerFindUnpairedGrant(ctx, pgsqlc.LedgerFindUnpairedGrantParams{Openid: openID, TemplateID: templateID,
			Source: string(other), Since: ms - store.PairWindow.Milliseconds()})
		switch {
		case err == nil:
			id, err := q.LedgerInsertGrant(ctx, pgsqlc.LedgerInsertGrantParams{Openid: openID, TemplateID: templateID,
				Source: string(source), ReceivedAt: ms, PairedWith: &match})
			if err != nil {
				return err
			}
			n, err := q.LedgerPairGrant(ctx, pgsqlc.LedgerPairGrantParams{ID: match, PairedWith: id})
			if err != nil {
				return err
			}
			if n != 1 {
				return fmt.Errorf("pair grant %d: %w", match, store.ErrConflict)
			}
			counted = false
			return nil
		case !isNoRows(err):
			return err
		}
		if _, err := q.LedgerInsertGrant(ctx, pgsqlc.LedgerInsertGrantParams{Openid: openID, TemplateID: templateID,
			Source: string(source), ReceivedAt: ms}); err != nil {
			return err
		}
		p := pgsqlc.LedgerAddCreditParams{Openid: openID, TemplateID: templateID, Credits: 1, Now: ms}
		if longTerm {
			p.Credits, p.LongTerm = 0, true
		}
		counted = true
		return q.LedgerAddCredit(ctx, p)
	}()
	if err != nil {
		return false, fmt.Errorf("record accept %s/%s: %w", openID, templateID, err)
	}
	return counted, nil
}
