-- name: InsertReminder :exec
INSERT INTO reminders (id, openid, template_id, status, fire_at, due_at, expires_at, window_ms, recurrence, external_ref,
                       timezone, data, page, idempotency_key, request_hash, created_at, updated_at,
                       event_id, lead, alternatives, appid)
VALUES (@id, @openid, @template_id, 'scheduled', @fire_at, @fire_at, @expires_at, @window_ms, @recurrence, @external_ref,
        @timezone, @data, @page, @idempotency_key, @request_hash, @now, @now,
        @event_id, @lead, @alternatives, @appid);

-- name: GetReminder :one
SELECT * FROM reminders WHERE id = @id;

-- name: LockReminderStatus :one
-- The status of a reminder, its row locked for the rest of the
-- transaction: a compare-and-set that follows sees the same status, so a
-- refusal names the status that refused it.
SELECT status FROM reminders WHERE id = @id FOR UPDATE;

-- name: LockReminders :many
-- The statuses and reasons of the reminders among @ids, their rows locked
-- in id order (two bulk changes lock in one order and do not deadlock).
SELECT id, status, reason FROM reminders WHERE id = ANY(@ids::text[]) ORDER BY id FOR UPDATE;

-- name: GetReminderByIdempotencyKey :one
SELECT * FROM reminders WHERE openid = @openid AND idempotency_key = @idempotency_key;

-- name: ListReminders :many
-- Every user's reminders in (fire_at, id) order after a cursor and up to
-- (@until_fire_at, @until_id) inclusive; an empty template filter matches
-- every template, an empty @text every data (else the data JSON must contain
-- it, as stored). (ListUserReminders serves one user, ListStatusReminders
-- one status, ListDeliveryReminders one delivery report.)
SELECT * FROM reminders
WHERE fire_at >= @from_ms AND fire_at < @to_ms
  AND (CAST(@template_id AS TEXT) = '' OR template_id = CAST(@template_id AS TEXT))
  AND (CAST(@appid AS TEXT) = '' OR appid = CAST(@appid AS TEXT))
  AND (CAST(@text AS TEXT) = '' OR strpos(data, CAST(@text AS TEXT)) > 0)
  AND (fire_at, id) > (CAST(@after_fire_at AS BIGINT), CAST(@after_id AS TEXT))
  AND (fire_at, id) <= (CAST(@until_fire_at AS BIGINT), CAST(@until_id AS TEXT))
ORDER BY fire_at, id
LIMIT @max_rows;

-- name: ListRemindersWalkEnd :many
-- Where a template- or text-filtered ListReminders page stops reading: the
-- (fire_at, id) @skip entries after the first one past the cursor, and the
-- one after it, from the index alone. Fewer than two rows: the range ends
-- there or sooner.
SELECT fire_at, id FROM reminders
WHERE fire_at >= @from_ms AND fire_at < @to_ms
  AND (fire_at, id) > (CAST(@after_fire_at AS BIGINT), CAST(@after_id AS TEXT))
ORDER BY fire_at, id
LIMIT 2 OFFSET @skip;

-- name: ListStatusReminders :many
-- Every user's reminders in one status, in (fire_at, id) order after a
-- cursor and up to (@until_fire_at, @until_id) inclusive, through the
-- status index: a page of a rare status never walks the others.
SELECT * FROM reminders
WHERE status = @status AND fire_at >= @from_ms AND fire_at < @to_ms
  AND (CAST(@template_id AS TEXT) = '' OR template_id = CAST(@template_id AS TEXT))
  AND (CAST(@appid AS TEXT) = '' OR appid = CAST(@appid AS TEXT))
  AND (CAST(@text AS TEXT) = '' OR strpos(data, CAST(@text AS TEXT)) > 0)
  AND (fire_at, id) > (CAST(@after_fire_at AS BIGINT), CAST(@after_id AS TEXT))
  AND (fire_at, id) <= (CAST(@until_fire_at AS BIGINT), CAST(@until_id AS TEXT))
ORDER BY fire_at, id
LIMIT @max_rows;

-- name: ListStatusRemindersWalkEnd :many
-- ListRemindersWalkEnd for ListStatusReminders.
SELECT fire_at, id FROM reminders
WHERE status = @status AND fire_at >= @from_ms AND fire_at < @to_ms
  AND (fire_at, id) > (CAST(@after_fire_at AS BIGINT), CAST(@after_id AS TEXT))
ORDER BY fire_at, id
LIMIT 2 OFFSET @skip;

-- name: ListUserReminders :many
-- One user's reminders in (fire_at, id) order after a cursor, through the
-- user's own index: a page never reads other users' rows.
SELECT * FROM reminders
WHERE openid = @openid
  AND (CAST(@status AS TEXT) = '' OR status = CAST(@status AS TEXT))
  AND (CAST(@template_id AS TEXT) = '' OR template_id = CAST(@template_id AS TEXT))
  AND (CAST(@appid AS TEXT) = '' OR appid = CAST(@appid AS TEXT))
  AND (CAST(@text AS TEXT) = '' OR strpos(data, CAST(@text AS TEXT)) > 0)
  AND fire_at >= @from_ms AND fire_at < @to_ms
  AND (fire_at, id) > (CAST(@after_fire_at AS BIGINT), CAST(@after_id AS TEXT))
ORDER BY fire_at, id
LIMIT @max_rows;

-- name: ListDeliveryReminders :many
-- The admin's listing by what WeChat's sent events said (delivery), through
-- its partial index; the other filters apply on the way.
SELECT * FROM reminders
WHERE delivery = @delivery AND delivery <> ''
  AND (CAST(@openid AS TEXT) = '' OR openid = CAST(@openid AS TEXT))
  AND (CAST(@status AS TEXT) = '' OR status = CAST(@status AS TEXT))
  AND (CAST(@template_id AS TEXT) = '' OR template_id = CAST(@template_id AS TEXT))
  AND (CAST(@appid AS TEXT) = '' OR appid = CAST(@appid AS TEXT))
  AND (CAST(@text AS TEXT) = '' OR strpos(data, CAST(@text AS TEXT)) > 0)
  AND fire_at >= @from_ms AND fire_at < @to_ms
  AND (fire_at, id) > (CAST(@after_fire_at AS BIGINT), CAST(@after_id AS TEXT))
ORDER BY fire_at, id
LIMIT @max_rows;

-- name: UpdateScheduledReminder :execrows
-- PATCH: only while scheduled (compare-and-set). A new fire_at is a new
-- occurrence: an attempt of unknown outcome of the old one no longer holds
-- it back (PostgreSQL evaluates every SET expression on the old row).
UPDATE reminders SET fire_at = @fire_at, due_at = @fire_at, expires_at = @expires_at, window_ms = @window_ms,
    data = @data, page = @page, updated_at = @now,
    unknown_at = CASE WHEN fire_at <> @fire_at THEN NULL ELSE unknown_at END,
    delivery = CASE WHEN fire_at <> @fire_at THEN '' ELSE delivery END
WHERE id = @id AND status = 'scheduled';

-- name: CancelReminder :execrows
UPDATE reminders SET status = 'canceled', updated_at = @now WHERE id = @id AND status = 'scheduled';

-- name: CancelReminders :many
-- Cancels @ids, which the caller locked (LockReminders) and found
-- scheduled: the ids it canceled. No status is checked here, for the
-- reason ClaimReminders gives.
UPDATE reminders SET status = 'canceled', updated_at = @now
WHERE id = ANY(@ids::text[])
RETURNING id;

-- name: RetryReminder :execrows
-- Admin retry of a failed or skipped reminder: scheduled now, as a new
-- occurrence (fire_at = now). attempts is kept: delivery attempt numbers
-- continue across the retry (the engine counts the retry's attempt budget
-- from the occurrence's first attempt).
UPDATE reminders SET status = 'scheduled', reason = NULL, fire_at = @now, due_at = @now,
    expires_at = CASE WHEN window_ms IS NULL THEN NULL ELSE window_ms + @now END,
    updated_at = @now, snoozed = false, series_at = NULL
WHERE id = @id AND status IN ('failed', 'skipped');

-- name: RetryReminders :many
-- RetryReminder for every id among @ids: the ids it retried.
UPDATE reminders SET status = 'scheduled', reason = NULL, fire_at = @now, due_at = @now,
    expires_at = CASE WHEN window_ms IS NULL THEN NULL ELSE window_ms + @now END,
    updated_at = @now, snoozed = false, series_at = NULL
WHERE id = ANY(@ids::text[]) AND status IN ('failed', 'skipped')
RETURNING id;

-- name: CountRemindersByStatus :many
SELECT status, count(*) AS n FROM reminders GROUP BY status;

-- name: DueBacklog :one
SELECT count(*) AS n, CAST(coalesce(min(due_at), 0) AS BIGINT) AS oldest_due_at
FROM reminders WHERE status = 'scheduled' AND due_at <= @now;

-- name: LockUserCreates :exec
-- Serialises the creates of one user across processes until the
-- transaction ends: the idempotency key's lookup and the count of the
-- user's scheduled reminders then see every create of the user that
-- committed before, so two creates cannot both pass the limit nor both
-- miss the key.
SELECT pg_advisory_xact_lock(hashtextextended('reminderd create ' || @openid::text, 0));

-- name: CountScheduledForOwner :one
-- How many of the user's reminders are scheduled, from the partial index of
-- scheduled reminders by user; run in the create's transaction under
-- LockUserCreates.
SELECT count(*) FROM reminders WHERE openid = @openid AND status = 'scheduled';

-- name: ListDeliveries :many
SELECT * FROM deliveries WHERE reminder_id = @reminder_id ORDER BY id;

-- name: DeliveryAtOrAfter :one
-- The first delivery from id @id on, with its start: the trend chart finds
-- where the last day begins by bisecting the primary key (ids follow the
-- outcomes, which follow the starts within a lease), without an index on
-- the instants.
SELECT id, started_at FROM deliveries WHERE id >= @id ORDER BY id LIMIT 1;

-- name: DeliveryIDRange :one
SELECT CAST(coalesce(min(id), 0) AS BIGINT) AS lo, CAST(coalesce(max(id), 0) AS BIGINT) AS hi FROM deliveries;

-- name: DeliveriesPerHour :many
-- Outcomes per hour since @since (the hour a delivery finished, or started
-- when it has not), read from @from_id on (DeliveryAtOrAfter).
SELECT CAST((coalesce(finished_at, started_at) - CAST(@since AS BIGINT)) / 3600000 AS BIGINT) AS hour, status, count(*) AS n
FROM deliveries
WHERE id >= @from_id AND coalesce(finished_at, started_at) >= CAST(@since AS BIGINT)
GROUP BY 1, 2
ORDER BY 1, 2;

-- name: CountRemindersByApp :many
-- The counts by status of every app (GET /admin/v1/apps), from the index.
SELECT appid, status, count(*) AS n FROM reminders GROUP BY appid, status;

-- name: CountAppRemindersByStatus :many
SELECT status, count(*) AS n FROM reminders WHERE appid = @appid GROUP BY status;

-- name: AppDueBacklog :one
SELECT count(*) AS n, CAST(coalesce(min(due_at), 0) AS BIGINT) AS oldest_due_at
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
WITH users AS (SELECT DISTINCT openid FROM pending_sent_events WHERE appid = ''),
by_reminder AS (
    SELECT openid, appid FROM (
        SELECT openid, appid, row_number() OVER (PARTITION BY openid ORDER BY created_at DESC, id DESC) AS n
        FROM reminders WHERE appid <> '' AND openid IN (SELECT openid FROM users)) newest
    WHERE n = 1),
by_session AS (
    SELECT openid, appid FROM (
        SELECT openid, appid, row_number() OVER (PARTITION BY openid ORDER BY created_at DESC, token_hash DESC) AS n
        FROM sessions WHERE appid <> '' AND openid IN (SELECT openid FROM users)) newest
    WHERE n = 1),
target AS (
    SELECT u.openid, coalesce(r.appid, s.appid, CAST(@appid AS TEXT)) AS appid
    FROM users u LEFT JOIN by_reminder r ON r.openid = u.openid LEFT JOIN by_session s ON s.openid = u.openid)
UPDATE pending_sent_events p SET appid = t.appid FROM target t
WHERE p.appid = '' AND t.openid = p.openid;

-- name: AdoptToken :execrows
-- The token of the app the deployment ran with; a second adoption (there
-- is a row of the app already) leaves the unowned row alone.
UPDATE wechat_token SET appid = @appid WHERE appid = ''
  AND NOT EXISTS (SELECT 1 FROM wechat_token w WHERE w.appid = @appid);
