// The engine's smaller operations (store.EngineStore): the next due
// instant, pauses, the reads of unknown outcomes, and the periodic jobs'
// writes (retention, templates, the access token).

package db

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/reminderd/reminderd/internal/db/dbsqlc"
	"github.com/reminderd/reminderd/internal/store"
)

// NextDueAt is the earliest due instant of a scheduled reminder (zero: none).
func (d *DB) NextDueAt(ctx context.Context) (time.Time, error) {
	ms, err := d.Read.NextDueAt(ctx)
	if err != nil || ms == 0 {
		return time.Time{}, err
	}
	return instant(ms), nil
}

// SetPause stores p, replacing the pause of its name.
func (d *DB) SetPause(ctx context.Context, p store.Pause) error {
	err := d.WithTx(ctx, func(q *dbsqlc.Queries) error {
		return q.SetPause(ctx, dbsqlc.SetPauseParams{Name: p.Name, Until: p.Until.UnixMilli(), Reason: p.Reason, Now: p.Since.UnixMilli()})
	})
	if err != nil {
		return fmt.Errorf("set pause %s: %w", p.Name, err)
	}
	return nil
}

// ClearPause deletes the pause named name, if there is one.
func (d *DB) ClearPause(ctx context.Context, name string) error {
	if err := d.WithTx(ctx, func(q *dbsqlc.Queries) error { return q.DeletePause(ctx, name) }); err != nil {
		return fmt.Errorf("clear pause %s: %w", name, err)
	}
	return nil
}

// Pause returns the pause named name, or ErrNotFound.
func (d *DB) Pause(ctx context.Context, name string) (store.Pause, error) {
	row, err := d.Read.GetPauseRow(ctx, name)
	if err != nil {
		return store.Pause{}, notFound(err, "pause "+name)
	}
	return store.Pause{Name: row.Name, Until: instant(row.Until), Reason: row.Reason, Since: instant(row.UpdatedAt)}, nil
}

// OccurrenceSent reports whether the occurrence has a delivery recorded sent.
func (d *DB) OccurrenceSent(ctx context.Context, reminderID string, occurrence time.Time) (bool, error) {
	n, err := d.Read.OccurrenceSent(ctx, dbsqlc.OccurrenceSentParams{ReminderID: reminderID, OccurrenceAt: occurrence.UnixMilli()})
	if err != nil {
		return false, fmt.Errorf("occurrence of %s sent: %w", reminderID, err)
	}
	return n > 0, nil
}

// PendingSentEvent is the earliest sent event parked for the user and
// template of app appID received at or after since, or ErrNotFound.
func (d *DB) PendingSentEvent(ctx context.Context, appID, openID, templateID string, since time.Time) (store.SentEvent, error) {
	ev, err := d.Read.PendingSentEventFor(ctx, dbsqlc.PendingSentEventForParams{Appid: appID, Openid: openID, TemplateID: templateID,
		Since: since.UnixMilli()})
	if err != nil {
		return store.SentEvent{}, notFound(err, "pending sent event for "+appID+"/"+openID+"/"+templateID)
	}
	return store.SentEvent{MsgID: ev.Msgid, Delivered: ev.Delivered == 1, Status: ev.EventStatus, TemplateID: templateID}, nil
}

// LastUnknownAttempt is when the occurrence's latest attempt of unknown
// outcome started (zero: none).
func (d *DB) LastUnknownAttempt(ctx context.Context, reminderID string, occurrence time.Time) (time.Time, error) {
	ms, err := d.Read.LastUnknownAttemptAt(ctx, dbsqlc.LastUnknownAttemptAtParams{ReminderID: reminderID, OccurrenceAt: occurrence.UnixMilli()})
	if err != nil {
		return time.Time{}, fmt.Errorf("last unknown attempt of %s: %w", reminderID, err)
	}
	if ms == 0 {
		return time.Time{}, nil
	}
	return instant(ms), nil
}

// OccurrenceFirstAttempt is the first attempt number recorded for the
// occurrence (0: none yet).
func (d *DB) OccurrenceFirstAttempt(ctx context.Context, reminderID string, occurrence time.Time) (int64, error) {
	n, err := d.Read.OccurrenceFirstAttempt(ctx, dbsqlc.OccurrenceFirstAttemptParams{ReminderID: reminderID, OccurrenceAt: occurrence.UnixMilli()})
	if err != nil {
		return 0, fmt.Errorf("first attempt of %s: %w", reminderID, err)
	}
	return n, nil
}

// Retain deletes what is older than r's cutoffs, each kind in a
// transaction of its own: one that fails does not keep the others.
func (d *DB) Retain(ctx context.Context, r store.Retention) error {
	del := func(what string, f func(q *dbsqlc.Queries) (int64, error)) error {
		if err := d.WithTx(ctx, func(q *dbsqlc.Queries) error { _, err := f(q); return err }); err != nil {
			return fmt.Errorf("retention: %s: %w", what, err)
		}
		return nil
	}
	return errors.Join(
		del("sessions", func(q *dbsqlc.Queries) (int64, error) { return q.DeleteExpiredSessions(ctx, r.Sessions.UnixMilli()) }),
		del("grants", func(q *dbsqlc.Queries) (int64, error) { return q.DeleteOldGrants(ctx, r.Grants.UnixMilli()) }),
		del("deliveries", func(q *dbsqlc.Queries) (int64, error) { return q.DeleteOldDeliveries(ctx, r.Deliveries.UnixMilli()) }),
		del("sent events", func(q *dbsqlc.Queries) (int64, error) {
			return q.DeleteOldPendingSentEvents(ctx, r.SentEvents.UnixMilli())
		}),
		del("pushes", func(q *dbsqlc.Queries) (int64, error) { return q.DeleteOldPushSeen(ctx, r.Pushes.UnixMilli()) }),
		del("snooze keys", func(q *dbsqlc.Queries) (int64, error) { return q.DeleteOldSnoozeKeys(ctx, r.Deliveries.UnixMilli()) }),
		del("webhooks", func(q *dbsqlc.Queries) (int64, error) {
			return q.DeleteOldWebhooks(ctx, dbsqlc.DeleteOldWebhooksParams{DeliveredBefore: someInt(cutoff(r.WebhooksDelivered)),
				DeadBefore: cutoff(r.WebhooksDead)})
		}),
	)
}

// storedKeyword is a keyword as stored in templates.keywords (JSON).
type storedKeyword struct {
	Key   string   `json:"key"`
	Type  string   `json:"type"`
	Label string   `json:"label"`
	Enum  []string `json:"enum,omitempty"`
}

// Templates returns the templates of the last sync, in its order.
func (a appView) Templates(ctx context.Context) ([]store.Template, error) {
	d := a.d
	rows, err := d.Read.ListTemplates(ctx, a.appID)
	if err != nil {
		return nil, fmt.Errorf("load templates: %w", err)
	}
	list := make([]store.Template, 0, len(rows))
	for _, r := range rows {
		var kws []storedKeyword
		if err := json.Unmarshal([]byte(r.Keywords), &kws); err != nil {
			return nil, fmt.Errorf("load template %s: keywords: %w", r.ID, err)
		}
		t := store.Template{ID: r.ID, Title: r.Title, Kind: store.TemplateKind(r.Kind), Content: r.Content}
		for _, k := range kws {
			t.Keywords = append(t.Keywords, store.Keyword{Key: k.Key, Type: k.Type, Label: k.Label, Enum: k.Enum})
		}
		list = append(list, t)
	}
	return list, nil
}

// SyncTemplates replaces the templates with list: those it does not name
// are marked absent, in the same transaction.
func (a appView) SyncTemplates(ctx context.Context, list []store.Template, at time.Time) error {
	d := a.d
	err := d.WithTx(ctx, func(q *dbsqlc.Queries) error {
		// Absent unless this list names it; readers see the whole change.
		if _, err := q.MarkTemplatesAbsent(ctx, a.appID); err != nil {
			return err
		}
		for i, t := range list {
			kws := make([]storedKeyword, len(t.Keywords))
			for j, k := range t.Keywords {
				kws[j] = storedKeyword{Key: k.Key, Type: k.Type, Label: k.Label, Enum: k.Enum}
			}
			b, err := json.Marshal(kws)
			if err != nil {
				return err
			}
			if err := q.UpsertTemplate(ctx, dbsqlc.UpsertTemplateParams{Appid: a.appID, ID: t.ID, Title: t.Title, Kind: string(t.Kind),
				Content: t.Content, Keywords: string(b), Position: int64(i), SyncedAt: at.UnixMilli()}); err != nil {
				return fmt.Errorf("store template %s: %w", t.ID, err)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("sync templates: %w", err)
	}
	return nil
}

// LoadToken returns the stored access token, or ErrNotFound.
func (a appView) LoadToken(ctx context.Context) (store.Token, error) {
	d := a.d
	row, err := d.Read.LoadFleetToken(ctx, a.appID)
	if err != nil {
		return store.Token{}, notFound(err, "access token")
	}
	if row.Value == "" { // a fetch lease taken before any token, or an invalidated one
		return store.Token{}, store.ErrNotFound
	}
	return store.Token{Value: row.Value, ExpiresAt: instant(row.ExpiresAt), Version: row.Version}, nil
}

// SaveToken stores the access token, replacing the last.
func (a appView) SaveToken(ctx context.Context, t store.Token, at time.Time) error {
	d := a.d
	err := d.WithTx(ctx, func(q *dbsqlc.Queries) error {
		return q.SaveToken(ctx, dbsqlc.SaveTokenParams{Appid: a.appID, Value: t.Value, ExpiresAt: t.ExpiresAt.UnixMilli(), Now: at.UnixMilli()})
	})
	if err != nil {
		return fmt.Errorf("save access token: %w", err)
	}
	return nil
}

// cutoff is a retention cutoff in unix ms; the zero time keeps everything.
func cutoff(t time.Time) int64 {
	if t.IsZero() {
		return math.MinInt64
	}
	return t.UnixMilli()
}
