-- name: DueReminders :many
-- The due reminders in due order, through the partial index (it holds only
-- scheduled rows, so this does not grow with the table).
SELECT r.id, r.openid, r.template_id, r.unknown_at, r.alternatives, r.appid FROM reminders r INDEXED BY reminders_due
WHERE r.status = 'scheduled' AND r.due_at <= @now ORDER BY r.due_at, r.id LIMIT @max_rows;

-- name: ClaimReminder :one
-- Claims one due reminder: status sending, one more attempt, a lease, and
-- whether the claim reserved a consent credit. Compare-and-set on scheduled.
UPDATE reminders
SET status = 'sending', attempts = attempts + 1, lease_until = @lease_until, lease_owner = @owner,
    credit_held = @credit_held, updated_at = @now, send_started = CASE WHEN CAST(@mark_starts AS INTEGER) THEN 0 END
WHERE id = @id AND status = 'scheduled'
RETURNING *;

-- name: NextDueAt :one
SELECT CAST(coalesce(min(due_at), 0) AS INTEGER) AS due_at FROM reminders INDEXED BY reminders_due WHERE status = 'scheduled';

-- name: InsertDelivery :one
-- The record of one processed claim, written with its outcome.
INSERT INTO deliveries (reminder_id, occurrence_at, attempt, status, errcode, errmsg, msgid, started_at, finished_at, latency_ms,
                        possible_duplicate)
VALUES (@reminder_id, @occurrence_at, @attempt, @status, @errcode, @errmsg, @msgid, @started_at, CAST(@now AS INTEGER), @latency_ms,
        @possible_duplicate)
RETURNING id;

-- name: FinishAbandonedDelivery :one
-- The real outcome of an attempt the rescuer marked abandoned (its outcome
-- unknown), when it arrives after all.
UPDATE deliveries
SET status = @status, errcode = @errcode, errmsg = @errmsg, msgid = @msgid, finished_at = CAST(@now AS INTEGER), latency_ms = @latency_ms,
    possible_duplicate = @possible_duplicate
WHERE id = (SELECT d.id FROM deliveries d WHERE d.reminder_id = @reminder_id AND d.occurrence_at = @occurrence_at
            AND d.attempt = @attempt AND d.started_at = @started_at AND d.status = 'abandoned' ORDER BY d.id DESC LIMIT 1)
RETURNING id;

-- name: InsertAbandonedDelivery :exec
-- A claim whose lease ran out: WeChat may or may not have its send. A claim
-- made after an attempt of unknown outcome was a possible duplicate.
INSERT INTO deliveries (reminder_id, occurrence_at, attempt, status, errmsg, started_at, finished_at, possible_duplicate)
VALUES (@reminder_id, @occurrence_at, @attempt, 'abandoned', 'lease expired; outcome unknown', @started_at, CAST(@now AS INTEGER),
        @possible_duplicate);

-- name: ApplyPendingSentEvent :execrows
-- A sent event that arrived before this delivery's outcome was recorded.
UPDATE deliveries
SET delivered = (SELECT p.delivered FROM pending_sent_events p WHERE p.msgid = @msgid),
    event_status = (SELECT p.event_status FROM pending_sent_events p WHERE p.msgid = @msgid)
WHERE id = @id AND EXISTS (SELECT 1 FROM pending_sent_events p WHERE p.msgid = @msgid);

-- name: DeletePendingSentEvent :exec
DELETE FROM pending_sent_events WHERE msgid = ?;

-- name: DeleteOldPendingSentEvents :execrows
DELETE FROM pending_sent_events WHERE received_at < @before;

-- name: CompleteReminder :execrows
-- A terminal outcome (sent, failed, skipped) for the lease holder's attempt.
-- A non-empty @delivery sets what is known of the delivery ('unknown': the
-- window closed with the send's outcome unknown).
UPDATE reminders SET status = @status, reason = @reason, lease_until = NULL, lease_owner = NULL, credit_held = 0, updated_at = @now,
    unknown_at = NULL, delivery = CASE WHEN CAST(@delivery AS TEXT) <> '' THEN CAST(@delivery AS TEXT) ELSE delivery END
WHERE id = @id AND status = 'sending' AND lease_owner = @owner AND attempts = @attempts AND fire_at = @claimed_fire_at;

-- name: CompleteSentReminders :many
-- CompleteReminder for a batch of sends WeChat accepted: @claims is a JSON
-- array of claims, each [id, attempts, claimed fire_at]. Returns the ids
-- completed; a claim missing from them lost its lease.
UPDATE reminders SET status = 'sent', reason = NULL, lease_until = NULL, lease_owner = NULL, credit_held = 0, updated_at = @now
WHERE (id, attempts, fire_at) IN (SELECT json_extract(c.value, '$[0]'), json_extract(c.value, '$[1]'), json_extract(c.value, '$[2]')
                                  FROM json_each(CAST(@claims AS TEXT)) c)
  AND +status = 'sending' AND lease_owner = @owner AND unknown_at IS NULL
RETURNING id;

-- name: InsertSentDeliveries :exec
-- InsertDelivery for a batch of sends WeChat accepted: @rows is a JSON array
-- of [reminder_id, occurrence_at, attempt, msgid (or null), started_at,
-- finished_at, latency_ms].
INSERT INTO deliveries (reminder_id, occurrence_at, attempt, status, errcode, errmsg, msgid, started_at, finished_at, latency_ms)
SELECT json_extract(r.value, '$[0]'), json_extract(r.value, '$[1]'), json_extract(r.value, '$[2]'), 'sent', 0, '',
       json_extract(r.value, '$[3]'), json_extract(r.value, '$[4]'), json_extract(r.value, '$[5]'), json_extract(r.value, '$[6]')
FROM json_each(CAST(@rows AS TEXT)) r;

-- name: PendingSentEvents :many
-- The msgids, of those in @msgids (a JSON array), whose sent event arrived
-- before the outcome of their send was recorded.
SELECT msgid FROM pending_sent_events WHERE msgid IN (SELECT m.value FROM json_each(CAST(@msgids AS TEXT)) m);

-- name: RescheduleReminder :execrows
-- Back to scheduled: a retry, a deferral or the next occurrence. The claim
-- is identified by (owner, attempts, claimed fire_at): a stalled worker
-- cannot match a later claim of the same reminder. A next occurrence starts
-- with no unknown attempt and no delivery report; within one occurrence the
-- first unknown attempt's instant is kept (@unknown_at sets it if none).
UPDATE reminders
SET status = 'scheduled', reason = NULL, due_at = @due_at, expires_at = @expires_at,
    attempts = @new_attempts, lease_until = NULL, lease_owner = NULL, credit_held = 0, updated_at = @now,
    unknown_at = CASE WHEN fire_at <> @fire_at THEN NULL ELSE coalesce(unknown_at, @unknown_at) END,
    delivery = CASE WHEN fire_at <> @fire_at THEN '' ELSE delivery END,
    snoozed = CASE WHEN fire_at <> @fire_at THEN 0 ELSE snoozed END,
    series_at = CASE WHEN fire_at <> @fire_at THEN NULL ELSE series_at END,
    fire_at = @fire_at
WHERE id = @id AND status = 'sending' AND lease_owner = @owner AND attempts = @attempts AND fire_at = @claimed_fire_at;

-- name: ExpiredLeases :many
-- Reminders whose lease ran out (a crashed or killed process), with their claim.
SELECT id, appid, openid, template_id, fire_at, attempts, credit_held, updated_at AS claimed_at, unknown_at, send_started
FROM reminders INDEXED BY reminders_lease
WHERE status = 'sending' AND lease_until < @now
ORDER BY lease_until;

-- name: RescueReminder :execrows
-- Back to scheduled; compare-and-set on the expired claim. The attempt's
-- outcome is unknown (WeChat may have its send): unknown_at is set to the
-- claim's instant, and the reminder is due once the unknown wait since then
-- is over (@due_at).
UPDATE reminders SET status = 'scheduled', due_at = @due_at, lease_until = NULL, lease_owner = NULL, credit_held = 0,
    unknown_at = coalesce(unknown_at, updated_at), updated_at = @now
WHERE id = @id AND status = 'sending' AND lease_until < @now AND attempts = @attempts;

-- name: AbandonDeliveries :execrows
-- A claim recorded as a 'sending' delivery row, as binaries that wrote the
-- row at the claim left them in the database: it becomes the abandoned
-- record of the attempt.
UPDATE deliveries SET status = 'abandoned', finished_at = CAST(@now AS INTEGER), errmsg = 'lease expired; outcome unknown'
WHERE reminder_id = @reminder_id AND status = 'sending';

-- name: DeleteOldDeliveries :execrows
-- Retention. Delivery ids grow with time (ids follow outcomes, started_at
-- the claims: at most a lease apart), so the rows older than the cutoff lead
-- the table in id order: the first row at or after the cutoff bounds the
-- delete without an index on started_at. An old row recorded after a newer
-- one waits until that one is old too.
DELETE FROM deliveries
WHERE id < coalesce((SELECT d.id FROM deliveries d WHERE d.started_at >= @before ORDER BY d.id LIMIT 1),
                    (SELECT max(d.id) + 1 FROM deliveries d), 0)
  AND started_at < @before AND status <> 'sending';

-- name: CountSendingDeliveries :one
SELECT count(*) FROM deliveries WHERE status = 'sending';

-- name: LedgerFor :many
-- The ledger rows of one app's template for a claim batch's users of that
-- app (a JSON array of openids): one read per app and template in the batch.
SELECT c.openid, c.credits, c.long_term FROM consents c
WHERE c.appid = @appid AND c.openid IN (SELECT j.value FROM json_each(CAST(@openids AS TEXT)) j) AND c.template_id = @template_id;

-- name: TakeCredits :execrows
-- Takes one credit of an app's template from each of the given users of
-- that app (a JSON array of openids) that has one: a claim batch's
-- reservations, one statement per app and template and per credit taken from
-- the same user.
UPDATE consents SET credits = credits - 1, updated_at = @now
WHERE appid = @appid AND openid IN (SELECT j.value FROM json_each(CAST(@openids AS TEXT)) j) AND template_id = @template_id
  AND credits > 0;

-- name: ClaimReminders :many
-- Claims a batch of due reminders (a JSON array of ids): status sending, one
-- more attempt, a lease, and credit_held for the ids in held (a JSON array).
-- Compare-and-set on scheduled; +status keeps the planner on the id index
-- (the status index holds every scheduled reminder).
UPDATE reminders
SET status = 'sending', attempts = attempts + 1, lease_until = @lease_until, lease_owner = @owner,
    credit_held = (id IN (SELECT h.value FROM json_each(CAST(@held AS TEXT)) h)), updated_at = @now,
    send_started = CASE WHEN CAST(@mark_starts AS INTEGER) THEN 0 END
WHERE id IN (SELECT j.value FROM json_each(CAST(@ids AS TEXT)) j) AND +status = 'scheduled'
RETURNING *;

-- name: PendingSentEventFor :one
-- The earliest parked sent event for an app's user and template received
-- at or after @since: it settles an attempt of unknown outcome made at
-- @since.
SELECT msgid, delivered, event_status FROM pending_sent_events INDEXED BY pending_sent_events_user
WHERE appid = @appid AND openid = @openid AND template_id = @template_id AND openid <> '' AND received_at >= @since
ORDER BY received_at, msgid LIMIT 1;

-- name: SettleUnknownDelivery :execrows
-- The occurrence's first attempt of unknown outcome turns out sent (its sent
-- event came, or WeChat answered 43101 to the resend), unless the
-- occurrence is recorded sent already (a late outcome).
UPDATE deliveries SET status = 'sent', errcode = 0, errmsg = @errmsg, msgid = @msgid, delivered = @delivered,
    event_status = @event_status
WHERE id = (SELECT d.id FROM deliveries d WHERE d.reminder_id = @reminder_id AND d.occurrence_at = @occurrence_at
            AND d.status IN ('unknown', 'abandoned') ORDER BY d.id LIMIT 1)
  AND NOT EXISTS (SELECT 1 FROM deliveries s WHERE s.reminder_id = @reminder_id AND s.occurrence_at = @occurrence_at
                  AND s.status = 'sent');

-- name: SetReminderDelivery :exec
UPDATE reminders SET delivery = @delivery WHERE id = @id;

-- name: SetPause :exec
INSERT INTO pauses (name, until, reason, updated_at) VALUES (@name, @until, @reason, @now)
ON CONFLICT (name) DO UPDATE SET until = excluded.until, reason = excluded.reason, updated_at = excluded.updated_at;

-- name: GetPause :one
SELECT until FROM pauses WHERE name = ?;

-- name: SyncReminderDelivery :exec
-- The reminder learns what a sent event applied to its delivery said.
UPDATE reminders SET delivery = coalesce((SELECT CASE d.delivered WHEN 1 THEN 'delivered' WHEN 0 THEN 'failed' END
                                          FROM deliveries d WHERE d.id = @delivery_id AND d.occurrence_at = reminders.fire_at),
                                         delivery)
WHERE reminders.id = @reminder_id;

-- name: OccurrenceSent :one
SELECT count(*) FROM deliveries WHERE reminder_id = @reminder_id AND occurrence_at = @occurrence_at AND status = 'sent';

-- name: GetPauseRow :one
-- A pause with what it says: the admin pause shows its reason and since when.
SELECT name, until, reason, updated_at FROM pauses WHERE name = ?;

-- name: DeletePause :exec
DELETE FROM pauses WHERE name = ?;

-- name: OccurrenceFirstAttempt :one
-- The first attempt number recorded for an occurrence (0: none yet). The
-- attempt numbers of a reminder continue across an admin retry, so the
-- attempt budget of an occurrence counts from its first attempt.
SELECT CAST(coalesce(min(attempt), 0) AS INTEGER) AS attempt FROM deliveries
WHERE reminder_id = @reminder_id AND occurrence_at = @occurrence_at;

-- name: LastUnknownAttemptAt :one
-- When the occurrence's latest attempt of unknown outcome started: the
-- unknown wait counts from it.
SELECT CAST(coalesce(max(started_at), 0) AS INTEGER) FROM deliveries
WHERE reminder_id = @reminder_id AND occurrence_at = @occurrence_at AND status IN ('unknown', 'abandoned');

-- name: SentEventParked :one
-- Whether the sent event of @msgid is still parked (a settle checks it in
-- its record's transaction: the event may have been taken meanwhile by the
-- send it belongs to).
SELECT count(*) FROM pending_sent_events WHERE msgid = @msgid;

-- name: RescueUnstarted :execrows
-- Back to scheduled, due now, as if never claimed (the attempt counter goes
-- back): an expired claim marked unstarted (send_started = 0), whose worker
-- never took the user's send lease, so WeChat cannot have its send.
-- Compare-and-set on the expired claim.
UPDATE reminders SET status = 'scheduled', due_at = @now, lease_until = NULL, lease_owner = NULL, credit_held = 0,
    attempts = attempts - 1, send_started = NULL, updated_at = @now
WHERE id = @id AND status = 'sending' AND lease_until < @now AND attempts = @attempts AND send_started = 0;
