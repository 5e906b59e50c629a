-- Events (store.Events): a meeting with several reminders.

-- name: InsertEvent :exec
INSERT INTO events (id, openid, title, location, start_at, end_at, expires_at, timezone, page, external_ref,
                    leads, templates, idempotency_key, request_hash, created_at, updated_at, appid)
VALUES (@id, @openid, @title, @location, @start_at, @end_at, @expires_at, @timezone, @page, @external_ref,
        @leads, @templates, @idempotency_key, @request_hash, @now, @now, @appid);

-- name: GetEvent :one
-- The event and whether a reminder of it is pending (its status).
SELECT e.*, CAST(EXISTS (SELECT 1 FROM reminders r WHERE r.event_id = e.id AND r.status IN ('scheduled', 'sending'))
                 AS INTEGER) AS pending
FROM events e WHERE e.id = @id;

-- name: GetEventByIdempotencyKey :one
SELECT e.*, CAST(EXISTS (SELECT 1 FROM reminders r WHERE r.event_id = e.id AND r.status IN ('scheduled', 'sending'))
                 AS INTEGER) AS pending
FROM events e WHERE e.openid = @openid AND e.idempotency_key = @idempotency_key;

-- name: ListUserEvents :many
-- One user's events in (start_at, id) order after a cursor (of app @appid;
-- '' any).
SELECT e.*, CAST(EXISTS (SELECT 1 FROM reminders r WHERE r.event_id = e.id AND r.status IN ('scheduled', 'sending'))
                 AS INTEGER) AS pending
FROM events e INDEXED BY events_owner
WHERE e.openid = @openid AND (CAST(@appid AS TEXT) = '' OR e.appid = CAST(@appid AS TEXT))
  AND (e.start_at > @after_start_at OR (e.start_at = @after_start_at AND e.id > @after_id))
ORDER BY e.start_at, e.id LIMIT @max_rows;

-- name: ListAllEvents :many
-- Everyone's events in (start_at, id) order after a cursor (the admin's),
-- of app @appid ('' any).
SELECT e.*, CAST(EXISTS (SELECT 1 FROM reminders r WHERE r.event_id = e.id AND r.status IN ('scheduled', 'sending'))
                 AS INTEGER) AS pending
FROM events e INDEXED BY events_start
WHERE (CAST(@appid AS TEXT) = '' OR e.appid = CAST(@appid AS TEXT))
  AND (e.start_at > @after_start_at OR (e.start_at = @after_start_at AND e.id > @after_id))
ORDER BY e.start_at, e.id LIMIT @max_rows;

-- name: EventReminders :many
SELECT * FROM reminders INDEXED BY reminders_event WHERE event_id = @event_id ORDER BY fire_at, id;

-- name: UpdateEvent :execrows
-- A re-plan's new values of the event, while it is not canceled.
UPDATE events SET title = @title, location = @location, start_at = @start_at, end_at = @end_at,
    expires_at = @expires_at, timezone = @timezone, page = @page, external_ref = @external_ref,
    leads = @leads, templates = @templates, updated_at = @now
WHERE id = @id AND canceled_at IS NULL;

-- name: CancelEvent :execrows
UPDATE events SET canceled_at = @now, updated_at = @now WHERE id = @id AND canceled_at IS NULL;

-- name: CancelEventReminders :execrows
UPDATE reminders SET status = 'canceled', updated_at = @now WHERE event_id = @event_id AND status = 'scheduled';

-- name: UpdateEventReminder :execrows
-- A re-planned reminder of an event, while scheduled (compare-and-set). A
-- new fire_at is a new occurrence, as for UpdateScheduledReminder.
UPDATE reminders SET fire_at = @fire_at, due_at = @fire_at, expires_at = @expires_at, window_ms = @window_ms,
    lead = @lead, template_id = @template_id, data = @data, page = @page, alternatives = @alternatives,
    updated_at = @now,
    unknown_at = CASE WHEN fire_at <> @fire_at THEN NULL ELSE unknown_at END,
    delivery = CASE WHEN fire_at <> @fire_at THEN '' ELSE delivery END
WHERE id = @id AND status = 'scheduled';

-- name: SetReminderTemplate :execrows
-- The claim's choice among a reminder's alternatives: the template it is
-- sent through and that template's data.
UPDATE reminders SET template_id = @template_id, data = @data WHERE id = @id AND status = 'scheduled';

-- name: EventIDsByExternalRef :many
-- The events of app @appid not canceled with the backend's reference
-- (every attendee's), through events_app_ref.
SELECT id FROM events INDEXED BY events_app_ref
WHERE appid = @appid AND external_ref = @external_ref AND external_ref <> '' AND canceled_at IS NULL
ORDER BY id;

-- name: AdoptEvents :execrows
-- Events written before apps existed join the configured app.
UPDATE events SET appid = @appid WHERE appid = '';
