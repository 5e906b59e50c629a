package postgres

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/reminderd/reminderd/internal/db/postgres/pgsqlc"
	"github.com/reminderd/reminderd/internal/store"
)

// The consent settings, whole reports and snoozes of store.ConsentSettings.

// ReportConsents records a report's answers in one transaction.
func (d *DB) ReportConsents(ctx context.Context, appID, openID string, answers []store.Answer, now time.Time) error {
	err := d.withTx(ctx, func(q *pgsqlc.Queries) error { return d.reportTx(ctx, q, appID, openID, answers, now) })
	return storeErr(err, "consent report of "+openID)
}

// reportTx is ReportConsents in the caller's transaction q, with the
// webhook events of the ledger rows it changed (consent.changed).
func (d *DB) reportTx(ctx context.Context, q *pgsqlc.Queries, appID, openID string, answers []store.Answer, now time.Time) error {
	for _, a := range answers {
		if a.Status != store.ConsentAccept {
			if err := q.SetConsentStatus(ctx, pgsqlc.SetConsentStatusParams{Appid: appID, Openid: openID, TemplateID: a.TemplateID,
				Status: string(a.Status), Now: now.UnixMilli()}); err != nil {
				return err
			}
			if err := d.outboxConsent(ctx, q, appID, openID, a.TemplateID, store.CauseReport, now); err != nil {
				return err
			}
			continue
		}
		counted, err := recordAcceptTx(ctx, q, appID, openID, a.TemplateID, a.LongTerm, store.SourceClient, now)
		if err != nil {
			return err
		}
		// The row exists now: the accept added to it or paired with an
		// accept that did.
		if err := q.SetConsentAudio(ctx, pgsqlc.SetConsentAudioParams{Audio: a.Audio, Appid: appID, Openid: openID,
			TemplateID: a.TemplateID}); err != nil {
			return err
		}
		if counted {
			if err := d.outboxConsent(ctx, q, appID, openID, a.TemplateID, store.CauseReport, now); err != nil {
				return err
			}
		}
	}
	return nil
}

// SaveConsentSettings replaces the user's saved choices and main switch.
func (d *DB) SaveConsentSettings(ctx context.Context, appID, openID string, s store.Settings, now time.Time) error {
	ms := now.UnixMilli()
	ids := make([]string, 0, len(s.Items))
	for id := range s.Items {
		ids = append(ids, id)
	}
	sort.Strings(ids) // rows written in one order: two reports do not deadlock
	err := d.withTx(ctx, func(q *pgsqlc.Queries) error {
		if err := q.SetMainSwitch(ctx, pgsqlc.SetMainSwitchParams{Appid: appID, Openid: openID, MainSwitch: s.MainSwitch, Now: ms}); err != nil {
			return err
		}
		if err := q.ClearConsentSettings(ctx, pgsqlc.ClearConsentSettingsParams{Appid: appID, Openid: openID, Now: ms}); err != nil {
			return err
		}
		for _, id := range ids {
			v := string(s.Items[id])
			if err := q.SetConsentSetting(ctx, pgsqlc.SetConsentSettingParams{Appid: appID, Openid: openID, TemplateID: id, Status: string(store.SettingStatus(s.Items[id])),
				Now: ms, Choice: v}); err != nil {
				return err
			}
		}
		return nil
	})
	return storeErr(err, "consent settings of "+openID)
}

// MainSwitch is true for a user who never reported one.
func (d *DB) MainSwitch(ctx context.Context, appID, openID string) (bool, error) {
	on, err := d.q.GetMainSwitch(ctx, pgsqlc.GetMainSwitchParams{Appid: appID, Openid: openID})
	if errors.Is(err, pgx.ErrNoRows) {
		return true, nil
	}
	if err != nil {
		return false, storeErr(err, "main switch of "+openID)
	}
	return on, nil
}

// SnoozeKey returns the hash and reminder of a snooze's key.
func (d *DB) SnoozeKey(ctx context.Context, appID, openID, key string) (string, string, error) {
	row, err := d.q.GetSnoozeKey(ctx, pgsqlc.GetSnoozeKeyParams{Appid: appID, Openid: openID, IdempotencyKey: key})
	if err != nil {
		return "", "", storeErr(err, "snooze key of "+openID)
	}
	return row.RequestHash, row.ReminderID, nil
}

// SnoozeReminder applies s in one transaction.
func (d *DB) SnoozeReminder(ctx context.Context, s store.Snooze) (store.Snoozed, error) {
	var out store.Snoozed
	err := d.withTx(ctx, func(q *pgsqlc.Queries) error {
		out = store.Snoozed{}
		if s.IdempotencyKey != "" {
			// Two snoozes with one key (a retry racing the original) take
			// turns: the second finds the first's key and replays it,
			// instead of failing the compare-and-set on the moved reminder.
			if err := q.EngineXactLock(ctx, "snooze:"+s.AppID+"\n"+s.OpenID+"\n"+s.IdempotencyKey); err != nil {
				return err
			}
			row, err := q.GetSnoozeKey(ctx, pgsqlc.GetSnoozeKeyParams{Appid: s.AppID, Openid: s.OpenID, IdempotencyKey: s.IdempotencyKey})
			switch {
			case err == nil && (row.RequestHash != s.RequestHash || row.ReminderID != s.ID):
				return fmt.Errorf("idempotency key used for another snooze: %w", store.ErrConflict)
			case err == nil:
				rem, err := q.GetReminder(ctx, s.ID)
				out = store.Snoozed{Reminder: reminderFromRow(rem), Replayed: true}
				return err
			case !errors.Is(err, pgx.ErrNoRows):
				return err
			}
		}
		n, err := q.SnoozeReminder(ctx, pgsqlc.SnoozeReminderParams{FireAt: s.FireAt.UnixMilli(), Snoozed: s.Snoozed,
			SeriesAt: msOrNull(s.SeriesAt), Now: s.Now.UnixMilli(), ID: s.ID, WasFireAt: s.WasFireAt.UnixMilli()})
		if err != nil {
			return err
		}
		rem, err := q.GetReminder(ctx, s.ID)
		if err != nil {
			return err
		}
		if n != 1 {
			return snoozeRefused(reminderFromRow(rem))
		}
		if err := d.reportTx(ctx, q, s.AppID, s.OpenID, s.Answers, s.Now); err != nil {
			return err
		}
		if s.IdempotencyKey != "" {
			if err := q.InsertSnoozeKey(ctx, pgsqlc.InsertSnoozeKeyParams{Appid: s.AppID, Openid: s.OpenID, IdempotencyKey: s.IdempotencyKey,
				RequestHash: s.RequestHash, ReminderID: s.ID, Now: s.Now.UnixMilli()}); err != nil {
				return err
			}
		}
		out.Reminder = reminderFromRow(rem)
		return nil
	})
	return out, storeErr(err, "snooze reminder "+s.ID)
}

// snoozeRefused says why a snooze's compare-and-set changed nothing: the
// status refuses it, or the reminder moved since the snooze was planned.
func snoozeRefused(r store.Reminder) error {
	switch r.Status {
	case store.StatusSent, store.StatusSkipped, store.StatusScheduled:
		return fmt.Errorf("reminder %s moved meanwhile: %w", r.ID, store.ErrConflict)
	}
	return &store.StateError{ID: r.ID, Status: r.Status}
}
