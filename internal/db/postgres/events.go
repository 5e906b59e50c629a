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

// The events' operations (store.Events) on PostgreSQL, each one
// transaction or one read.

// CreateEvent writes the event and its reminders in one transaction, after
// the key and the user's limit.
func (d *DB) CreateEvent(ctx context.Context, e store.Event, rems []store.NewReminder, opt store.CreateOptions) (store.EventCreated, error) {
	out, err := d.CreateEvents(ctx, []store.NewEvent{{Event: e, Reminders: rems}}, opt)
	if err != nil {
		return store.EventCreated{}, err
	}
	return out[0], nil
}

// CreateEvents writes the events and their reminders in one transaction:
// all of them, or none when one is refused.
func (d *DB) CreateEvents(ctx context.Context, evs []store.NewEvent, opt store.CreateOptions) ([]store.EventCreated, error) {
	var out []store.EventCreated
	var refused error
	create := func() error {
		return d.withTx(ctx, func(q *pgsqlc.Queries) error {
			out, refused = make([]store.EventCreated, len(evs)), nil
			for i, ne := range evs {
				c, ref, err := createEventIn(ctx, q, ne.Event, ne.Reminders, opt)
				if err != nil {
					return err
				}
				if ref != nil {
					refused = ref
					return errRefused // roll the others back
				}
				out[i] = c
			}
			return nil
		})
	}
	err := create()
	if err != nil && hasKey(evs) && errors.Is(storeErr(err, ""), store.ErrConflict) {
		// Another create with the key committed first: this run replays it.
		err = create()
	}
	if refused != nil {
		return nil, refused
	}
	if err != nil {
		return nil, storeErr(err, fmt.Sprintf("create %d events", len(evs)))
	}
	return out, nil
}

// errRefused rolls back a transaction a refusal ended.
var errRefused = errors.New("refused")

// hasKey reports whether an event of evs has an idempotency key.
func hasKey(evs []store.NewEvent) bool {
	for _, ne := range evs {
		if ne.Event.IdempotencyKey != "" {
			return true
		}
	}
	return false
}

// createEventIn writes one event and its reminders in q's transaction,
// after the key (a replay writes nothing) and the user's limit (refused).
// The user's creates are serialized, as CreateReminderIdempotent's.
func createEventIn(ctx context.Context, q *pgsqlc.Queries, e store.Event, rems []store.NewReminder, opt store.CreateOptions) (store.EventCreated, error, error) {
	if e.IdempotencyKey != "" || opt.MaxScheduled > 0 {
		if err := q.LockUserCreates(ctx, e.OpenID); err != nil {
			return store.EventCreated{}, nil, err
		}
	}
	if e.IdempotencyKey != "" {
		prev, err := q.GetEventByIdempotencyKey(ctx, eventByKey(e.OpenID, e.IdempotencyKey))
		if err == nil {
			out, refused := replayEvent(eventFromRow(pgsqlc.GetEventRow(prev)), e)
			return out, refused, nil
		} else if !errors.Is(err, pgx.ErrNoRows) {
			return store.EventCreated{}, nil, err
		}
	}
	if opt.MaxScheduled > 0 {
		n, err := q.CountScheduledForOwner(ctx, e.OpenID)
		if err != nil {
			return store.EventCreated{}, nil, err
		}
		if n+int64(len(rems)) > int64(opt.MaxScheduled) {
			return store.EventCreated{}, fmt.Errorf("create event for %s: %d scheduled: %w", e.OpenID, n, store.ErrLimit), nil
		}
	}
	if err := q.InsertEvent(ctx, insertEventParams(e)); err != nil {
		return store.EventCreated{}, nil, err
	}
	for _, r := range rems {
		p, _ := insertReminder(r)
		if err := q.InsertReminder(ctx, p); err != nil {
			return store.EventCreated{}, nil, err
		}
	}
	e.Pending = len(rems) > 0
	e.UpdatedAt = e.CreatedAt
	return store.EventCreated{Event: e}, nil, nil
}

func eventByKey(openID, key string) pgsqlc.GetEventByIdempotencyKeyParams {
	return pgsqlc.GetEventByIdempotencyKeyParams{Openid: openID, IdempotencyKey: strOrNull(key)}
}

// replayEvent answers a create whose key was used before.
func replayEvent(prev, e store.Event) (store.EventCreated, error) {
	if prev.RequestHash != e.RequestHash {
		return store.EventCreated{}, fmt.Errorf("idempotency key %q was used with a different request: %w", e.IdempotencyKey, store.ErrConflict)
	}
	return store.EventCreated{Event: prev, Replayed: true}, nil
}

func insertEventParams(e store.Event) pgsqlc.InsertEventParams {
	p := pgsqlc.InsertEventParams{ID: e.ID, Openid: e.OpenID, Appid: e.AppID, Title: e.Title, Location: e.Location,
		StartAt: e.StartAt.UnixMilli(), EndAt: msOrNull(e.EndAt), ExpiresAt: msOrNull(e.ExpiresAt), Timezone: e.Timezone,
		Page: e.Page, ExternalRef: e.ExternalRef, Leads: jsonText(nonNil(e.Leads)), Templates: jsonText(nonNil(e.Templates)),
		IdempotencyKey: strOrNull(e.IdempotencyKey), RequestHash: strOrNull(e.RequestHash), Now: e.CreatedAt.UnixMilli()}
	if e.IdempotencyKey != "" && p.RequestHash == nil {
		h := ""
		p.RequestHash = &h
	}
	return p
}

// nonNil is s, or an empty slice for nil (stored as [], not null).
func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// eventFromRow maps an events row (with its pending flag) to the domain's
// Event. The JSON columns are valid by their CHECKs.
func eventFromRow(r pgsqlc.GetEventRow) store.Event {
	e := store.Event{ID: r.ID, OpenID: r.Openid, AppID: r.Appid, Title: r.Title, Location: r.Location, StartAt: instant(r.StartAt),
		EndAt: nullInstant(r.EndAt), ExpiresAt: nullInstant(r.ExpiresAt), Timezone: r.Timezone, Page: r.Page,
		ExternalRef: r.ExternalRef, CanceledAt: nullInstant(r.CanceledAt), IdempotencyKey: deref(r.IdempotencyKey),
		RequestHash: deref(r.RequestHash), CreatedAt: instant(r.CreatedAt), UpdatedAt: instant(r.UpdatedAt),
		Pending: r.Pending}
	_ = json.Unmarshal([]byte(r.Leads), &e.Leads)
	_ = json.Unmarshal([]byte(r.Templates), &e.Templates)
	return e
}

// EventByIdempotencyKey reads on the writer: the key's create may have
// committed a moment ago.
func (d *DB) EventByIdempotencyKey(ctx context.Context, openID, key string) (store.Event, error) {
	row, err := d.q.GetEventByIdempotencyKey(ctx, eventByKey(openID, key))
	if err != nil {
		return store.Event{}, storeErr(err, "event of idempotency key "+key)
	}
	return eventFromRow(pgsqlc.GetEventRow(row)), nil
}

// GetEvent reads on the read pool.
func (d *DB) GetEvent(ctx context.Context, id string) (store.Event, error) {
	row, err := d.q.GetEvent(ctx, id)
	if err != nil {
		return store.Event{}, storeErr(err, "event "+id)
	}
	return eventFromRow(row), nil
}

// EventReminders reads on the read pool.
func (d *DB) EventReminders(ctx context.Context, id string) ([]store.Reminder, error) {
	return eventReminders(ctx, d.q, id)
}

func eventReminders(ctx context.Context, q *pgsqlc.Queries, id string) ([]store.Reminder, error) {
	rows, err := q.EventReminders(ctx, strOrNull(id))
	if err != nil {
		return nil, storeErr(err, "reminders of event "+id)
	}
	out := make([]store.Reminder, len(rows))
	for i, r := range rows {
		out[i] = reminderFromRow(r)
	}
	return out, nil
}

// ListEvents reads one row more than the limit to know whether a next page
// follows.
func (d *DB) ListEvents(ctx context.Context, q store.EventQuery) (store.EventPage, error) {
	limit := max(q.Limit, 1)
	afterStart, afterID := int64(math.MinInt64), ""
	if q.After != nil {
		afterStart, afterID = q.After.FireAt.UnixMilli(), q.After.ID
	}
	var rows []pgsqlc.GetEventRow
	if q.OpenID != "" {
		rs, err := d.q.ListUserEvents(ctx, pgsqlc.ListUserEventsParams{Openid: q.OpenID, Appid: q.AppID, AfterStartAt: afterStart,
			AfterID: afterID, MaxRows: int32(limit) + 1})
		if err != nil {
			return store.EventPage{}, storeErr(err, "list events")
		}
		for _, r := range rs {
			rows = append(rows, pgsqlc.GetEventRow(r))
		}
	} else {
		rs, err := d.q.ListAllEvents(ctx, pgsqlc.ListAllEventsParams{Appid: q.AppID, AfterStartAt: afterStart, AfterID: afterID,
			MaxRows: int32(limit) + 1})
		if err != nil {
			return store.EventPage{}, storeErr(err, "list events")
		}
		for _, r := range rs {
			rows = append(rows, pgsqlc.GetEventRow(r))
		}
	}
	page := store.EventPage{Events: []store.Event{}}
	for i, r := range rows {
		if i == limit {
			last := page.Events[limit-1]
			page.Next = &store.Cursor{FireAt: last.StartAt, ID: last.ID}
			break
		}
		page.Events = append(page.Events, eventFromRow(r))
	}
	return page, nil
}

// ReplanEvent runs plan on the event and its reminders as the write
// transaction reads them, and writes the plan in it.
func (d *DB) ReplanEvent(ctx context.Context, id string, now time.Time, plan func(store.Event, []store.Reminder) (store.EventPlan, error)) (store.Event, error) {
	var out store.Event
	var planErr error
	err := d.withTx(ctx, func(q *pgsqlc.Queries) error {
		planErr = nil
		if _, err := q.LockEvent(ctx, id); err != nil {
			return storeErr(err, "event "+id)
		}
		row, err := q.GetEvent(ctx, id)
		if err != nil {
			return storeErr(err, "event "+id)
		}
		rems, err := eventReminders(ctx, q, id)
		if err != nil {
			return err
		}
		p, err := plan(eventFromRow(row), rems)
		if err != nil {
			planErr = err
			return err
		}
		if err := writeEventPlan(ctx, q, id, p, now); err != nil {
			return err
		}
		row, err = q.GetEvent(ctx, id)
		out = eventFromRow(row)
		return err
	})
	if planErr != nil {
		return store.Event{}, planErr
	}
	if err != nil {
		return store.Event{}, storeErr(err, "re-plan event "+id)
	}
	return out, nil
}

// writeEventPlan writes a re-plan: the event, then its reminders changed,
// canceled and created, each change a compare-and-set on scheduled.
func writeEventPlan(ctx context.Context, q *pgsqlc.Queries, id string, p store.EventPlan, now time.Time) error {
	if p.MaxScheduled > 0 && len(p.Create) > len(p.Cancel) {
		n, err := q.CountScheduledForOwner(ctx, p.Event.OpenID)
		if err != nil {
			return err
		}
		if err := store.EventPlanOverLimit(p, n); err != nil {
			return err
		}
	}
	e := p.Event
	n, err := q.UpdateEvent(ctx, pgsqlc.UpdateEventParams{ID: id, Title: e.Title, Location: e.Location,
		StartAt: e.StartAt.UnixMilli(), EndAt: msOrNull(e.EndAt), ExpiresAt: msOrNull(e.ExpiresAt), Timezone: e.Timezone,
		Page: e.Page, ExternalRef: e.ExternalRef, Leads: jsonText(nonNil(e.Leads)), Templates: jsonText(nonNil(e.Templates)),
		Now: now.UnixMilli()})
	if err != nil {
		return err
	}
	if n == 0 {
		return fmt.Errorf("event %s is canceled: %w", id, store.ErrConflict)
	}
	for _, u := range p.Update {
		n, err := q.UpdateEventReminder(ctx, pgsqlc.UpdateEventReminderParams{ID: u.ID, FireAt: u.FireAt.UnixMilli(),
			ExpiresAt: msOrNull(u.ExpiresAt), WindowMs: windowOf(u.FireAt, u.ExpiresAt), Lead: u.Lead,
			TemplateID: u.TemplateID, Data: u.Data, Page: u.Page, Alternatives: store.EncodeAlternatives(u.Alternatives),
			Now: now.UnixMilli()})
		if err != nil {
			return err
		}
		if n == 0 {
			return notScheduled(ctx, q, u.ID)
		}
	}
	for _, rid := range p.Cancel {
		n, err := q.CancelReminder(ctx, pgsqlc.CancelReminderParams{ID: rid, Now: now.UnixMilli()})
		if err != nil {
			return err
		}
		if n == 0 {
			return notScheduled(ctx, q, rid)
		}
	}
	for _, r := range p.Create {
		pr, _ := insertReminder(r)
		if err := q.InsertReminder(ctx, pr); err != nil {
			return err
		}
	}
	return nil
}

// windowOf is the window_ms of a reminder at fireAt expiring at expiresAt
// (NULL: no expiry).
func windowOf(fireAt, expiresAt time.Time) *int64 {
	if expiresAt.IsZero() {
		return nil
	}
	ms := expiresAt.Sub(fireAt).Milliseconds()
	return &ms
}

// notScheduled is the *StateError of a reminder a compare-and-set on
// scheduled missed.
func notScheduled(ctx context.Context, q *pgsqlc.Queries, id string) error {
	r, err := q.GetReminder(ctx, id)
	if err != nil {
		return storeErr(err, "reminder "+id)
	}
	return &store.StateError{ID: id, Status: store.Status(r.Status)}
}

// CancelEvent marks the event canceled and cancels its scheduled reminders.
func (d *DB) CancelEvent(ctx context.Context, id string, now time.Time) (int, error) {
	var canceled int64
	err := d.withTx(ctx, func(q *pgsqlc.Queries) error {
		n, err := q.CancelEvent(ctx, pgsqlc.CancelEventParams{ID: id, Now: msOrNull(now)})
		if err != nil {
			return err
		}
		if n == 0 {
			if _, err := q.GetEvent(ctx, id); err != nil {
				return storeErr(err, "event "+id)
			}
			return fmt.Errorf("event %s is canceled already: %w", id, store.ErrConflict)
		}
		canceled, err = q.CancelEventReminders(ctx, pgsqlc.CancelEventRemindersParams{EventID: strOrNull(id), Now: now.UnixMilli()})
		return err
	})
	if err != nil {
		return 0, storeErr(err, "cancel event "+id)
	}
	return int(canceled), nil
}

// jsonText is v as JSON text (the leads and templates columns).
func jsonText(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic("postgres: jsonText: " + err.Error()) // only a non-encodable type gets here: a bug
	}
	return string(b)
}

// EventIDsByExternalRef reads on the pool.
func (d *DB) EventIDsByExternalRef(ctx context.Context, appID, ref string) ([]string, error) {
	ids, err := d.q.EventIDsByExternalRef(ctx, pgsqlc.EventIDsByExternalRefParams{Appid: appID, ExternalRef: ref})
	if err != nil {
		return nil, storeErr(err, "events of external_ref "+ref)
	}
	return ids, nil
}
