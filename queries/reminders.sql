-- name: InsertReminder :exec
INSERT INTO reminders (id, openid, template_id, status, fire_at, due_at, expires_at, window_ms, recurrence, external_ref,
                       timezone, data, page, idempotency_key, request_hash, created_at, updated_at,
                       event_id, lead, alternatives, appid)
VALUES (@id, @openid, @template_id, 'scheduled', @fire_at, @fire_at, @expires_at, @window_ms, @recurrence, @external_ref,
        @timezone, @data, @page, @idempotency_key, @request_hash, @now, @now,
        @event_id, @lead, @alternatives, @appid);

-- name: GetReminder :one
SELECT * FROM reminders WHERE id = ?;

-- name: GetReminderByIdempotencyKey :one
SELECT * FROM reminders WHERE openid = ? AND idempotency_key = ?;

-- name: ListReminders :many
-- Every user's reminders in (fire_at, id) order after a cursor and up to
-- (@until_fire_at, @until_id) inclusive; an empty template filter matches
-- every template, an empty @text every data (else the data JSON must contain
-- it: the admin's search, bounded like the template filter by the walk).
-- (ListUserReminders serves one user, ListStatusReminders one status.)
SELECT * FROM reminders INDEXED BY reminders_fire
WHERE fire_at >= @from_ms AND fire_at < @to_ms
  AND (CAST(@template_id AS TEXT) = '' OR template_id = CAST(@template_id AS TEXT))
  AND (CAST(@appid AS TEXT) = '' OR appid = CAST(@appid AS TEXT))
  AND (CAST(@text AS TEXT) = '' OR instr(data, CAST(@text AS TEXT)) > 0)
  AND (fire_at > @after_fire_at OR (fire_at = @after_fire_at AND id > @after_id))
  AND (fire_at < @until_fire_at OR (fire_at = @until_fire_at AND id <= @until_id))
ORDER BY fire_at, id
LIMIT @max_rows;

-- name: ListRemindersWalkEnd :many
-- Where a template-filtered ListReminders page stops reading: the
-- (fire_at, id) @skip entries after the first one past the cursor, and the
-- one after it, from the index alone. Fewer than two rows: the range ends
-- there or sooner.
SELECT fire_at, id FROM reminders INDEXED BY reminders_fire
WHERE fire_at >= @from_ms AND fire_at < @to_ms
  AND (fire_at > @after_fire_at OR (fire_at = @after_fire_at AND id > @after_id))
ORDER BY fire_at, id
LIMIT 2 OFFSET @skip;

-- name: ListStatusReminders :many
-- Every user's reminders in one status, in (fire_at, id) order after a
-- cursor and up to (@until_fire_at, @until_id) inclusive, through the
-- status index: a page of a rare status never walks the others.
SELECT * FROM reminders INDEXED BY reminders_status
WHERE status = @status AND fire_at >= @from_ms AND fire_at < @to_ms
  AND (CAST(@template_id AS TEXT) = '' OR template_id = CAST(@template_id AS TEXT))
  AND (CAST(@appid AS TEXT) = '' OR appid = CAST(@appid AS TEXT))
  AND (CAST(@text AS TEXT) = '' OR instr(data, CAST(@text AS TEXT)) > 0)
  AND (fire_at > @after_fire_at OR (fire_at = @after_fire_at AND id > @after_id))
  AND (fire_at < @until_fire_at OR (fire_at = @until_fire_at AND id <= @until_id))
ORDER BY fire_at, id
LIMIT @max_rows;

-- name: ListStatusRemindersWalkEnd :many
-- ListRemindersWalkEnd for ListStatusReminders.
SELECT fire_at, id FROM reminders INDEXED BY reminders_status
WHERE status = @status AND fire_at >= @from_ms AND fire_at < @to_ms
  AND (fire_at > @after_fire_at OR (fire_at = @after_fire_at AND id > @after_id))
ORDER BY fire_at, id
LIMIT 2 OFFSET @skip;

-- name: ListUserReminders :many
-- One user's reminders in (fire_at, id) order after a cursor, through the
-- user's own index: a page never reads other users' rows.
SELECT * FROM reminders INDEXED BY reminders_owner
WHERE openid = @openid
  AND (CAST(@status AS TEXT) = '' OR status = CAST(@status AS TEXT))
  AND (CAST(@template_id AS TEXT) = '' OR template_id = CAST(@template_id AS TEXT))
  AND (CAST(@appid AS TEXT) = '' OR appid = CAST(@appid AS TEXT))
  AND (CAST(@text AS TEXT) = '' OR instr(data, CAST(@text AS TEXT)) > 0)
  AND fire_at >= @from_ms AND fire_at < @to_ms
  AND (fire_at > @after_fire_at OR (fire_at = @after_fire_at AND id > @after_id))
ORDER BY fire_at, id
LIMIT @max_rows;

-- name: UpdateScheduledReminder :execrows
-- PATCH: only while scheduled (compare-and-set). A new fire_at is a new
-- occurrence: an attempt of unknown outcome of the old one no longer holds
-- it back (SQLite evaluates every SET expression on the old row).
UPDATE reminders SET fire_at = @fire_at, due_at = @fire_at, expires_at = @expires_at, window_ms = @window_ms,
    data = @data, page = @page, updated_at = @now,
    unknown_at = CASE WHEN fire_at <> @fire_at THEN NULL ELSE unknown_at END,
    delivery = CASE WHEN fire_at <> @fire_at THEN '' ELSE delivery END
WHERE id = @id AND status = 'scheduled';

-- name: CancelReminder :execrows
UPDATE reminders SET status = 'canceled', updated_at = @now WHERE id = @id AND status = 'scheduled';

-- name: RetryReminder :execrows
-- Admin retry of a failed or skipped reminder: scheduled now, as a new
-- occurrence (fire_at = now). attempts is kept: delivery attempt numbers
-- continue across the retry (the engine counts the retry's attempt budget
-- from the occurrence's first attempt, OccurrenceFirstAttempt).
UPDATE reminders SET status = 'scheduled', reason = NULL, fire_at = @now, due_at = @now,
    expires_at = CASE WHEN window_ms IS NULL THEN NULL ELSE @now + window_ms END,
    updated_at = @now, snoozed = 0, series_at = NULL
WHERE id = @id AND status IN ('failed', 'skipped');

-- name: CountRemindersByStatus :many
SELECT status, count(*) AS n FROM reminders GROUP BY status;

-- name: DueBacklog :one
SELECT count(*) AS n, CAST(coalesce(min(due_at), 0) AS INTEGER) AS oldest_due_at
FROM reminders INDEXED BY reminders_due WHERE status = 'scheduled' AND due_at <= @now;

-- name: ListDeliveries :many
SELECT * FROM deliveries WHERE reminder_id = ? ORDER BY id;

-- name: MarkDelivered :execrows
-- The sent event for a msgid: delivered or not, once.
UPDATE deliveries SET delivered = @delivered, event_status = @event_status
WHERE msgid = @msgid AND status = 'sent' AND delivered IS NULL;

-- name: SavePendingSentEvent :exec
INSERT INTO pending_sent_events (msgid, delivered, event_status, received_at, openid, template_id, appid)
VALUES (@msgid, @delivered, @event_status, @now, @openid, @template_id, @appid)
ON CONFLICT (msgid) DO NOTHING;

-- name: SetDeliveryByMsgid :exec
-- The reminder of the send a sent event reports on learns whether it was
-- delivered.
UPDATE reminders SET delivery = @delivery
WHERE id IN (SELECT d.reminder_id FROM deliveries d WHERE d.msgid = @msgid AND d.status = 'sent'
             AND d.occurrence_at = reminders.fire_at);

-- name: WakeUnknownReminders :execrows
-- A sent event that matched no delivery may settle a reminder of this app,
-- user and template waiting out an unknown outcome: it is due now.
UPDATE reminders SET due_at = @now
WHERE openid = @openid AND template_id = @template_id AND appid = @appid AND unknown_at IS NOT NULL
  AND status = 'scheduled' AND due_at > @now;

-- name: RememberPush :execrows
-- A push applied: 1 if key is new, 0 if it was seen before.
INSERT INTO push_seen (key, body_hash, seen_at) VALUES (@key, @body_hash, @now) ON CONFLICT (key) DO NOTHING;

-- name: PushSeenBody :one
SELECT body_hash FROM push_seen WHERE key = ?;

-- name: DeleteOldPushSeen :execrows
DELETE FROM push_seen WHERE seen_at < @before;

-- name: CountScheduledForOwner :one
-- How many of the user's reminders are scheduled, from the partial index of
-- scheduled reminders by user alone; run in the create's write transaction, so that concurrent creates
-- cannot both pass the per-user limit.
SELECT count(*) FROM reminders INDEXED BY reminders_user_scheduled
WHERE openid = @openid AND status = 'scheduled';

-- name: ListDeliveryReminders :many
-- The admin's listing by what WeChat's sent events said (delivery), through
-- its partial index; the other filters apply on the way.
SELECT * FROM reminders INDEXED BY reminders_delivery
WHERE delivery = @delivery AND delivery <> ''
  AND (CAST(@openid AS TEXT) = '' OR openid = CAST(@openid AS TEXT))
  AND (CAST(@status AS TEXT) = '' OR status = CAST(@status AS TEXT))
  AND (CAST(@template_id AS TEXT) = '' OR template_id = CAST(@template_id AS TEXT))
  AND (CAST(@appid AS TEXT) = '' OR appid = CAST(@appid AS TEXT))
  AND (CAST(@text AS TEXT) = '' OR instr(data, CAST(@text AS TEXT)) > 0)
  AND fire_at >= @from_ms AND fire_at < @to_ms
  AND (fire_at > @after_fire_at OR (fire_at = @after_fire_at AND id > @after_id))
ORDER BY fire_at, id
LIMIT @max_rows;

-- name: DeliveryAtOrAfter :one
-- The first delivery from id @id on, with its start: the trend chart finds
-- where the last day begins by bisecting the primary key (ids follow the
-- outcomes, which follow the starts within a lease), without an index on
-- the instants.
SELECT id, started_at FROM deliveries WHERE id >= @id ORDER BY id LIMIT 1;

-- name: DeliveryIDRange :one
SELECT CAST(coalesce(min(id), 0) AS INTEGER) AS lo, CAST(coalesce(max(id), 0) AS INTEGER) AS hi FROM deliveries;

-- name: DeliveriesPerHour :many
-- Outcomes per hour since @since (the hour a delivery finished, or started
-- when it has not), read from @from_id on (DeliveryAtOrAfter).
SELECT CAST((coalesce(finished_at, started_at) - CAST(@since AS INTEGER)) / 3600000 AS INTEGER) AS hour, status, count(*) AS n
FROM deliveries
WHERE id >= @from_id AND coalesce(finished_at, started_at) >= CAST(@since AS INTEGER)
GROUP BY 1, 2
ORDER BY 1, 2;

-- name: DeliveryWithMsgid :one
-- Whether any delivery has this msgid (a sent event for it is not parked).
SELECT count(*) FROM deliveries WHERE msgid = @msgid;

-- name: CountRemindersByApp :many
-- The counts by status of every app (GET /admin/v1/apps), from the index.
SELECT appid, status, count(*) AS n FROM reminders INDEXED BY reminders_app GROUP BY appid, status;

-- name: CountAppRemindersByStatus :many
SELECT status, count(*) AS n FROM reminders INDEXED BY reminders_app WHERE appid = @appid GROUP BY status;

-- name: AppDueBacklog :one
SELECT count(*) AS n, CAST(coalesce(min(due_at), 0) AS INTEGER) AS oldest_due_at
FROM reminders WHERE appid = @appid AND status = 'scheduled' AND due_at <= @now;

-- name: AdoptReminders :execrows
-- Reminders written before apps existed join the configured app.
UPDATE reminders SET appid = @appid WHERE appid = '';

-- name: AdoptSessions :execrows
UPDATE sessions SET appid = @appid WHERE appid = '';

-- name: AdoptTemplates :execrows
UPDATE templates SET appid = @appid WHERE appid = '';

-- name: AdoptPendingSentEvents :execrows
-- Parked sent events pushed before they carried their app join their user's
-- app as AdoptConsents decides (one without an openid: the first app), so
-- they settle that app's unknown outcomes.
UPDATE pending_sent_events SET appid = (
    SELECT t.appid FROM (
        SELECT u.openid, coalesce(r.appid, s.appid, CAST(@appid AS TEXT)) AS appid
        FROM (SELECT DISTINCT openid FROM pending_sent_events WHERE appid = '') u
        LEFT JOIN (
            SELECT openid, appid FROM (
                SELECT openid, appid, row_number() OVER (PARTITION BY openid ORDER BY created_at DESC, id DESC) AS n
                FROM reminders WHERE appid <> '' AND openid IN (SELECT openid FROM pending_sent_events WHERE appid = '')) newest
            WHERE n = 1) r ON r.openid = u.openid
        LEFT JOIN (
            SELECT openid, appid FROM (
                SELECT openid, appid, row_number() OVER (PARTITION BY openid ORDER BY created_at DESC, token_hash DESC) AS n
                FROM sessions WHERE appid <> '' AND openid IN (SELECT openid FROM pending_sent_events WHERE appid = '')) newest
            WHERE n = 1) s ON s.openid = u.openid) t
    WHERE t.openid = pending_sent_events.openid)
WHERE appid = '';

-- name: AdoptToken :execrows
-- The token of the app the deployment ran with; a second adoption (there
-- is a row of the app already) leaves the unowned row alone.
UPDATE wechat_token SET appid = @appid WHERE appid = ''
  AND NOT EXISTS (SELECT 1 FROM wechat_token w WHERE w.appid = @appid);
