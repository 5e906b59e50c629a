// The engine's smaller operations (store.EngineStore) on PostgreSQL: the
// next due instant, pauses, the reads of unknown outcomes, and the
// periodic jobs' writes (retention, templates; the access token is in
// postgres.go).

package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/reminderd/reminderd/internal/db/postgres/pgsqlc"
	"github.com/reminderd/reminderd/internal/store"
)

// The driver is a whole store: the engine's half here and in engine_*.go,
// the reminders half in reminders.go, list.go, consents.go, sessions.go,
// deliveries.go, health.go and create.go.
var _ store.Store = (*DB)(nil)

// isNoRows reports whether err is a :one query finding no row.
func isNoRows(err error) bool { return errors.Is(err, pgx.ErrNoRows) }

// NextDueAt is the earliest due instant of a scheduled reminder (zero: none).
func (d *DB) NextDueAt(ctx context.Context) (time.Time, error) {
	ms, err := d.q.NextDueAt(ctx)
	if err != nil {
		return time.Time{}, storeErr(err, "next due instant")
	}
	if ms == 0 {
		return time.Time{}, nil
	}
	return instant(ms), nil
}

// SetPause stores p, replacing the pause of its name (an upsert: the last
// writer of any process wins).
func (d *DB) SetPause(ctx context.Context, p store.Pause) error {
	err := d.withTx(ctx, func(q *pgsqlc.Queries) error {
		return q.SetPause(ctx, pgsqlc.SetPauseParams{Name: p.Name, Until: p.Until.UnixMilli(), Reason: p.Reason, Now: p.Since.UnixMilli()})
	})
	return storeErr(err, "set pause "+p.Name)
}

// ClearPause deletes the pause named name, if there is one.
func (d *DB) ClearPause(ctx context.Context, name string) error {
	err := d.withTx(ctx, func(q *pgsqlc.Queries) error { return q.DeletePause(ctx, name) })
	return storeErr(err, "clear pause "+name)
}

// Pause returns the pause named name, or ErrNotFound.
func (d *DB) Pause(ctx context.Context, name string) (store.Pause, error) {
	row, err := d.q.GetPauseRow(ctx, name)
	if err != nil {
		return store.Pause{}, storeErr(err, "pause "+name)
	}
	return store.Pause{Name: row.Name, Until: instant(row.Until), Reason: row.Reason, Since: instant(row.UpdatedAt)}, nil
}

// OccurrenceSent reports whether the occurrence has a delivery recorded sent.
func (d *DB) OccurrenceSent(ctx context.Context, reminderID string, occurrence time.Time) (bool, error) {
	n, err := d.q.OccurrenceSent(ctx, pgsqlc.OccurrenceSentParams{ReminderID: reminderID, OccurrenceAt: occurrence.UnixMilli()})
	if err != nil {
		return false, storeErr(err, "occurrence of "+reminderID+" sent")
	}
	return n > 0, nil
}

// PendingSentEvent is the earliest sent event parked for the user and
// template of app appID received at or after since, or ErrNotFound.
func (d *DB) PendingSentEvent(ctx context.Context, appID, openID, templateID string, since time.Time) (store.SentEvent, error) {
	ev, err := d.q.PendingSentEventFor(ctx, pgsqlc.PendingSentEventForParams{Appid: appID, Openid: openID, TemplateID: templateID,
		Since: since.UnixMilli()})
	if err != nil {
		return store.SentEvent{}, storeErr(err, "pending sent event for "+appID+"/"+openID+"/"+templateID)
	}
	return store.SentEvent{MsgID: ev.Msgid, Delivered: ev.Delivered, Status: ev.EventStatus, TemplateID: templateID}, nil
}

// LastUnknownAttempt is when the occurrence's latest attempt of unknown
// outcome started (zero: none).
func (d *DB) LastUnknownAttempt(ctx context.Context, reminderID string, occurrence time.Time) (time.Time, error) {
	ms, err := d.q.LastUnknownAttemptAt(ctx, pgsqlc.LastUnknownAttemptAtParams{ReminderID: reminderID,
		OccurrenceAt: occurrence.UnixMilli()})
	if err != nil {
		return time.Time{}, storeErr(err, "last unknown attempt of "+reminderID)
	}
	if ms == 0 {
		return time.Time{}, nil
	}
	return instant(ms), nil
}

// OccurrenceFirstAttempt is the first attempt number recorded for the
// occurrence (0: none yet).
func (d *DB) OccurrenceFirstAttempt(ctx context.Context, reminderID string, occurrence time.Time) (int64, error) {
	n, err := d.q.OccurrenceFirstAttempt(ctx, pgsqlc.OccurrenceFirstAttemptParams{ReminderID: reminderID,
		OccurrenceAt: occurrence.UnixMilli()})
	if err != nil {
		return 0, storeErr(err, "first attempt of "+reminderID)
	}
	return n, nil
}

// Retain deletes what is older than r's cutoffs, each kind in a
// transaction of its own: one that fails does not keep the others. The
// deletes are idempotent, so two processes retaining at once are harmless.
func (d *DB) Retain(ctx context.Context, r store.Retention) error {
	del := func(what string, f func(q *pgsqlc.Queries) (int64, error)) error {
		err := d.withTx(ctx, func(q *pgsqlc.Queries) error { _, err := f(q); return err })
		return storeErr(err, "retention: "+what)
	}
	return errors.Join(
		del("sessions", func(q *pgsqlc.Queries) (int64, error) { return q.RetainSessions(ctx, r.Sessions.UnixMilli()) }),
		del("grants", func(q *pgsqlc.Queries) (int64, error) { return q.RetainGrants(ctx, r.Grants.UnixMilli()) }),
		del("deliveries", func(q *pgsqlc.Queries) (int64, error) { return q.DeleteOldDeliveries(ctx, r.Deliveries.UnixMilli()) }),
		del("sent events", func(q *pgsqlc.Queries) (int64, error) {
			return q.DeleteOldPendingSentEvents(ctx, r.SentEvents.UnixMilli())
		}),
		del("pushes", func(q *pgsqlc.Queries) (int64, error) { return q.DeleteOldPushSeen(ctx, r.Pushes.UnixMilli()) }),
		del("snooze keys", func(q *pgsqlc.Queries) (int64, error) { return q.DeleteOldSnoozeKeys(ctx, r.Deliveries.UnixMilli()) }),
		del("webhooks", func(q *pgsqlc.Queries) (int64, error) {
			return q.DeleteOldWebhooks(ctx, pgsqlc.DeleteOldWebhooksParams{DeliveredBefore: cutoff(r.WebhooksDelivered),
				DeadBefore: cutoff(r.WebhooksDead)})
		}),
	)
}

// storedKeyword is a keyword as stored in templates.keywords (JSON), as
// the SQLite driver stores it.
type storedKeyword struct {
	Key   string   `json:"key"`
	Type  string   `json:"type"`
	Label string   `json:"label"`
	Enum  []string `json:"enum,omitempty"`
}

// templateFromRow maps a templates row.
func templateFromRow(r pgsqlc.Template) (store.Template, error) {
	var kws []storedKeyword
	if err := json.Unmarshal([]byte(r.Keywords), &kws); err != nil {
		return store.Template{}, fmt.Errorf("template %s: keywords: %w", r.ID, err)
	}
	t := store.Template{ID: r.ID, Title: r.Title, Kind: store.TemplateKind(r.Kind), Content: r.Content}
	for _, k := range kws {
		t.Keywords = append(t.Keywords, store.Keyword{Key: k.Key, Type: k.Type, Label: k.Label, Enum: k.Enum})
	}
	return t, nil
}

// Templates returns the templates of the last sync, in its order.
func (a appView) Templates(ctx context.Context) ([]store.Template, error) {
	d := a.d
	rows, err := d.q.ListTemplates(ctx, a.appID)
	if err != nil {
		return nil, storeErr(err, "load templates")
	}
	list := make([]store.Template, 0, len(rows))
	for _, r := range rows {
		t, err := templateFromRow(r)
		if err != nil {
			return nil, fmt.Errorf("load templates: %w", err)
		}
		list = append(list, t)
	}
	return list, nil
}

// templatesKey is the advisory lock of a sync: two syncs (of two
// processes) run one after the other, each replacing the list whole.
const templatesKey = "templates:sync"

// SyncTemplates replaces the templates with list: those it does not name
// are marked absent, in the same transaction (readers see the whole
// change: MVCC).
func (a appView) SyncTemplates(ctx context.Context, list []store.Template, at time.Time) error {
	d := a.d
	params := make([]pgsqlc.UpsertTemplateParams, len(list))
	for i, t := range list {
		kws := make([]storedKeyword, len(t.Keywords))
		for j, k := range t.Keywords {
			kws[j] = storedKeyword{Key: k.Key, Type: k.Type, Label: k.Label, Enum: k.Enum}
		}
		b, err := json.Marshal(kws)
		if err != nil {
			return fmt.Errorf("sync templates: %s: %w", t.ID, err)
		}
		params[i] = pgsqlc.UpsertTemplateParams{Appid: a.appID, ID: t.ID, Title: t.Title, Kind: string(t.Kind), Content: t.Content,
			Keywords: string(b), Position: int64(i), SyncedAt: at.UnixMilli()}
	}
	err := d.withTx(ctx, func(q *pgsqlc.Queries) error {
		if err := q.EngineXactLock(ctx, templatesKey); err != nil {
			return err
		}
		if _, err := q.MarkTemplatesAbsent(ctx, a.appID); err != nil {
			return err
		}
		for _, p := range params {
			if err := q.UpsertTemplate(ctx, p); err != nil {
				return fmt.Errorf("store template %s: %w", p.ID, err)
			}
		}
		return nil
	})
	return storeErr(err, "sync templates")
}

// cutoff is a retention cutoff in unix ms; the zero time keeps everything.
func cutoff(t time.Time) int64 {
	if t.IsZero() {
		return math.MinInt64
	}
	return t.UnixMilli()
}
