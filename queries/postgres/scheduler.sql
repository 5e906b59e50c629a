-- The engine's queries (store.EngineStore): claims, outcomes, the rescuer,
-- unknown outcomes, pauses and retention. PostgreSQL dialect; READ
-- COMMITTED. The locks each statement relies on are named beside it.

-- name: DueReminders :many
-- The due reminders in due order, locked for the claim. SKIP LOCKED: a row
-- another process is claiming (or recording) is passed over, not waited
-- for, so two claims never take one reminder and never queue on each
-- other; LIMIT counts only the rows this claim locked and that are still
-- scheduled when locked.
SELECT r.id, r.openid, r.template_id, r.unknown_at, r.alternatives, r.appid FROM reminders r
WHERE r.status = 'scheduled' AND r.due_at <= @now::bigint
ORDER BY r.due_at, r.id
LIMIT @max_rows::bigint
FOR UPDATE SKIP LOCKED;

-- name: ClaimLedgerFor :many
-- The ledger rows of a claim batch's (app, user, template) triples (parallel
-- arrays), locked FOR UPDATE in (app, template, user) order until the claim
-- commits: the credits read stay the credits the claim takes from, in any
-- process, and two claims lock shared rows in one order.
SELECT c.appid, c.openid, c.template_id, c.credits, c.long_term FROM consents c
WHERE (c.appid, c.openid, c.template_id) IN (SELECT unnest(@appids::text[]), unnest(@openids::text[]), unnest(@template_ids::text[]))
ORDER BY c.appid, c.template_id, c.openid
FOR UPDATE OF c;

-- name: ClaimTakeCredits :execrows
-- Takes n credits of an app's template from each given user of the app,
-- compare-and-set on credits >= n (a user's k-th reminder of the batch takes
-- a k-th credit): one statement for the batch. The rows are locked by
-- ClaimLedgerFor.
UPDATE consents c SET credits = c.credits - t.n, updated_at = @now::bigint
FROM (SELECT unnest(@appids::text[]) AS appid, unnest(@openids::text[]) AS openid, unnest(@template_ids::text[]) AS template_id,
             unnest(@ns::bigint[]) AS n) t
WHERE c.appid = t.appid AND c.openid = t.openid AND c.template_id = t.template_id AND c.credits >= t.n;

-- name: ClaimReminders :many
-- Claims a batch of due reminders: status sending, one more attempt, a
-- lease, and credit_held for the ids in held. The rows were locked
-- scheduled by DueReminders in this transaction, so no status is checked
-- here: a condition on status would let the generic plan scan
-- reminders_due or reminders_status (whose statistics may say that nothing
-- is scheduled) instead of going by the primary key, a cost that grows with
-- the backlog (found by the bench: 160 µs per claimed row at 15k due).
UPDATE reminders
SET status = 'sending', attempts = attempts + 1, lease_until = @lease_until::bigint, lease_owner = @owner::text,
    credit_held = (id = ANY(@held::text[])), updated_at = @now::bigint,
    send_started = CASE WHEN @mark_starts::boolean THEN false END
WHERE id = ANY(@ids::text[])
RETURNING *;

-- name: NextDueAt :one
SELECT coalesce(min(due_at), 0)::bigint AS due_at FROM reminders WHERE status = 'scheduled';

-- name: CompleteReminder :execrows
-- A terminal outcome (sent, failed, skipped) for the lease holder's attempt:
-- compare-and-set on the claim (owner, attempts, claimed fire_at). The
-- UPDATE locks the row until the record commits.
UPDATE reminders SET status = @status::text, reason = @reason, lease_until = NULL, lease_owner = NULL, credit_held = false,
    updated_at = @now::bigint, unknown_at = NULL,
    delivery = CASE WHEN @delivery::text <> '' THEN @delivery::text ELSE delivery END
WHERE id = @id::text AND status = 'sending' AND lease_owner = @owner::text AND attempts = @attempts::bigint
  AND fire_at = @claimed_fire_at::bigint;

-- name: RescheduleReminder :execrows
-- Back to scheduled: a retry, a deferral or the next occurrence, with the
-- compare-and-set of CompleteReminder. A next occurrence starts with no
-- unknown attempt and no report; within one occurrence the first unknown
-- attempt's instant is kept.
UPDATE reminders
SET status = 'scheduled', reason = NULL, due_at = @due_at::bigint, expires_at = @expires_at,
    attempts = @new_attempts::bigint, lease_until = NULL, lease_owner = NULL, credit_held = false, updated_at = @now::bigint,
    unknown_at = CASE WHEN fire_at <> @fire_at::bigint THEN NULL ELSE coalesce(unknown_at, @unknown_at) END,
    delivery = CASE WHEN fire_at <> @fire_at::bigint THEN '' ELSE delivery END,
    snoozed = CASE WHEN fire_at <> @fire_at::bigint THEN false ELSE snoozed END,
    series_at = CASE WHEN fire_at <> @fire_at::bigint THEN NULL ELSE series_at END,
    fire_at = @fire_at::bigint
WHERE id = @id::text AND status = 'sending' AND lease_owner = @owner::text AND attempts = @attempts::bigint
  AND fire_at = @claimed_fire_at::bigint;

-- name: LockReminder :one
-- The row lock every writer of an occurrence's sent delivery row holds (a
-- record whose transition matched holds it already): a lost claim's record
-- takes it before it decides sent or duplicate.
SELECT id FROM reminders WHERE id = @id::text FOR UPDATE;

-- name: InsertDelivery :one
-- The record of one processed claim, written with its outcome.
INSERT INTO deliveries (reminder_id, occurrence_at, attempt, status, errcode, errmsg, msgid, started_at, finished_at, latency_ms,
                        possible_duplicate)
VALUES (@reminder_id::text, @occurrence_at::bigint, @attempt::bigint, @status::text, @errcode, @errmsg::text, @msgid,
        @started_at::bigint, @now::bigint, @latency_ms, @possible_duplicate::boolean)
RETURNING id;

-- name: FinishAbandonedDelivery :one
-- The real outcome of an attempt the rescuer marked abandoned, when it
-- arrives after all.
UPDATE deliveries
SET status = @status::text, errcode = @errcode, errmsg = @errmsg::text, msgid = @msgid, finished_at = @now::bigint,
    latency_ms = @latency_ms, possible_duplicate = @possible_duplicate::boolean
WHERE id = (SELECT d.id FROM deliveries d WHERE d.reminder_id = @reminder_id::text AND d.occurrence_at = @occurrence_at::bigint
            AND d.attempt = @attempt::bigint AND d.started_at = @started_at::bigint AND d.status = 'abandoned'
            ORDER BY d.id DESC LIMIT 1)
RETURNING id;

-- name: OccurrenceSent :one
SELECT count(*) FROM deliveries WHERE reminder_id = @reminder_id::text AND occurrence_at = @occurrence_at::bigint AND status = 'sent';

-- name: ApplyPendingSentEvent :execrows
-- A sent event that arrived before this delivery's outcome was recorded
-- (the record holds the msgid's advisory lock, as ApplyPushEvent does).
UPDATE deliveries d SET delivered = p.delivered, event_status = p.event_status
FROM pending_sent_events p
WHERE d.id = @id::bigint AND p.msgid = @msgid::bigint;

-- name: SyncReminderDelivery :exec
-- The reminder learns what a sent event applied to its delivery said.
UPDATE reminders SET delivery = coalesce((SELECT CASE d.delivered WHEN true THEN 'delivered' WHEN false THEN 'failed' END
                                          FROM deliveries d WHERE d.id = @delivery_id::bigint AND d.occurrence_at = reminders.fire_at),
                                         delivery)
WHERE reminders.id = @reminder_id::text;

-- name: DeletePendingSentEvent :exec
DELETE FROM pending_sent_events WHERE msgid = @msgid::bigint;

-- name: SettleUnknownDelivery :execrows
-- The occurrence's first attempt of unknown outcome turns out sent, unless
-- the occurrence is recorded sent already (a late outcome). The record
-- holds the reminder's row lock (LockReminder).
UPDATE deliveries SET status = 'sent', errcode = 0, errmsg = @errmsg::text, msgid = @msgid, delivered = @delivered,
    event_status = @event_status::text
WHERE id = (SELECT d.id FROM deliveries d WHERE d.reminder_id = @reminder_id::text AND d.occurrence_at = @occurrence_at::bigint
            AND d.status IN ('unknown', 'abandoned') ORDER BY d.id LIMIT 1)
  AND NOT EXISTS (SELECT 1 FROM deliveries s WHERE s.reminder_id = @reminder_id::text AND s.occurrence_at = @occurrence_at::bigint
                  AND s.status = 'sent');

-- name: OutcomeConsumeCredit :execrows
-- Compare-and-set: takes one credit only if there is one (the row lock of
-- the UPDATE re-checks credits > 0 against a concurrent writer's commit).
UPDATE consents SET credits = credits - 1, updated_at = @now::bigint
WHERE appid = @appid::text AND openid = @openid::text AND template_id = @template_id::text AND credits > 0;

-- name: OutcomeRefundCredit :execrows
-- Gives back a credit reserved at claimed_at by a claim that ended without a
-- send, unless the ledger was emptied since (an unsubscribe, a 43101).
UPDATE consents SET credits = credits + 1, updated_at = @now::bigint
WHERE appid = @appid::text AND openid = @openid::text AND template_id = @template_id::text AND zeroed_at < @claimed_at::bigint;

-- name: LedgerZero :exec
-- The user unsubscribed (change event) or WeChat answered 43101: nothing is left.
INSERT INTO consents (appid, openid, template_id, credits, status, long_term, updated_at, zeroed_at)
VALUES (@appid::text, @openid::text, @template_id::text, 0, @status::text, false, @now::bigint, @now::bigint)
ON CONFLICT (appid, openid, template_id) DO UPDATE SET
    credits = 0, long_term = false, status = excluded.status, updated_at = excluded.updated_at, zeroed_at = excluded.updated_at;

-- name: SetPause :exec
INSERT INTO pauses (name, until, reason, updated_at) VALUES (@name::text, @until::bigint, @reason::text, @now::bigint)
ON CONFLICT (name) DO UPDATE SET until = excluded.until, reason = excluded.reason, updated_at = excluded.updated_at;

-- name: GetPauseRow :one
SELECT name, until, reason, updated_at FROM pauses WHERE name = @name::text;

-- name: DeletePause :exec
DELETE FROM pauses WHERE name = @name::text;

-- name: ExpiredLeases :many
-- Reminders whose lease ran out, with their claim, locked for the rescue.
-- SKIP LOCKED: a row another process's rescuer (or a record) holds is
-- passed over, so two rescuers never rescue one claim twice.
-- start_marked: its worker took the user's send lease (send_starts).
SELECT id, appid, openid, template_id, fire_at, attempts, credit_held, updated_at AS claimed_at, unknown_at, send_started,
       EXISTS (SELECT 1 FROM send_starts s WHERE s.reminder_id = reminders.id AND s.attempt = reminders.attempts)::bool AS start_marked
FROM reminders
WHERE status = 'sending' AND lease_until < @now::bigint
ORDER BY lease_until
FOR UPDATE SKIP LOCKED;

-- name: RescueReminder :execrows
-- Back to scheduled; compare-and-set on the expired claim (locked by
-- ExpiredLeases). The attempt's outcome is unknown.
UPDATE reminders SET status = 'scheduled', due_at = @due_at::bigint, lease_until = NULL, lease_owner = NULL, credit_held = false,
    unknown_at = coalesce(unknown_at, updated_at), updated_at = @now::bigint
WHERE id = @id::text AND status = 'sending' AND lease_until < @now::bigint AND attempts = @attempts::bigint;

-- name: AbandonDeliveries :execrows
-- A claim recorded as a 'sending' delivery row (as a database copied from
-- an older SQLite deployment may hold): it becomes the abandoned record.
UPDATE deliveries SET status = 'abandoned', finished_at = @now::bigint, errmsg = 'lease expired; outcome unknown'
WHERE reminder_id = @reminder_id::text AND status = 'sending';

-- name: InsertAbandonedDelivery :exec
INSERT INTO deliveries (reminder_id, occurrence_at, attempt, status, errmsg, started_at, finished_at, possible_duplicate)
VALUES (@reminder_id::text, @occurrence_at::bigint, @attempt::bigint, 'abandoned', 'lease expired; outcome unknown',
        @started_at::bigint, @now::bigint, @possible_duplicate::boolean);

-- name: PendingSentEventFor :one
-- The earliest parked sent event for an app's user and template received
-- at or after @since.
SELECT msgid, delivered, event_status FROM pending_sent_events
WHERE appid = @appid::text AND openid = @openid::text AND template_id = @template_id::text AND openid <> ''
  AND received_at >= @since::bigint
ORDER BY received_at, msgid LIMIT 1;

-- name: OccurrenceFirstAttempt :one
SELECT coalesce(min(attempt), 0)::bigint AS attempt FROM deliveries
WHERE reminder_id = @reminder_id::text AND occurrence_at = @occurrence_at::bigint;

-- name: LastUnknownAttemptAt :one
SELECT coalesce(max(started_at), 0)::bigint AS started_at FROM deliveries
WHERE reminder_id = @reminder_id::text AND occurrence_at = @occurrence_at::bigint AND status IN ('unknown', 'abandoned');

-- name: DeleteOldDeliveries :execrows
-- Retention. Delivery ids grow with time, so the rows older than the cutoff
-- lead the table in id order: the first row at or after the cutoff bounds
-- the delete without an index on started_at.
DELETE FROM deliveries
WHERE id < coalesce((SELECT d.id FROM deliveries d WHERE d.started_at >= @before::bigint ORDER BY d.id LIMIT 1),
                    (SELECT max(d.id) + 1 FROM deliveries d), 0)
  AND started_at < @before::bigint AND status <> 'sending';

-- name: DeleteOldPendingSentEvents :execrows
DELETE FROM pending_sent_events WHERE received_at < @before::bigint;

-- name: RetainSessions :execrows
DELETE FROM sessions WHERE expires_at <= @now::bigint;

-- name: RetainGrants :execrows
DELETE FROM consent_grants WHERE received_at < @before::bigint;

-- name: EngineXactLock :exec
-- A transaction-scoped lock on a key (per-key serialisation across
-- processes; released at commit or rollback).
SELECT pg_advisory_xact_lock(hashtextextended(@key::text, 0));

-- name: LockMsgids :exec
-- EngineXactLock on each msgid of @msgids, in msgid order (two batches of
-- one process or of two never take them in opposite orders).
SELECT pg_advisory_xact_lock(hashtextextended('msgid:' || m::text, 0))
FROM (SELECT DISTINCT m FROM unnest(@msgids::bigint[]) AS u(m) ORDER BY m) AS s;

-- name: PendingSentEvents :many
-- The msgids, of those in @msgids, whose sent event arrived before the
-- outcome of their send was recorded (the record holds their advisory
-- locks: LockMsgids).
SELECT msgid FROM pending_sent_events WHERE msgid = ANY(@msgids::bigint[]);

-- name: CompleteSentReminders :many
-- CompleteReminder for a batch of sends WeChat accepted, one claim per
-- element of the arrays (id, owner, attempts, claimed fire_at: arrays of
-- one length, zipped). Returns the ids completed; a claim missing from
-- them lost its lease.
UPDATE reminders r SET status = 'sent', reason = NULL, lease_until = NULL, lease_owner = NULL, credit_held = false,
    updated_at = @now::bigint, unknown_at = NULL
FROM (SELECT unnest(@ids::text[]) AS id, unnest(@owners::text[]) AS owner, unnest(@attempts::bigint[]) AS attempts,
             unnest(@fire_ats::bigint[]) AS fire_at) AS c
WHERE r.id = c.id AND r.status = 'sending' AND r.lease_owner = c.owner AND r.attempts = c.attempts AND r.fire_at = c.fire_at
  AND r.unknown_at IS NULL
RETURNING r.id;

-- name: InsertSentDeliveries :many
-- InsertDelivery for a batch of sends WeChat accepted whose claims
-- CompleteSentReminders completed (it holds their row locks): one row of
-- @status per element of the arrays. Written sent, a row whose occurrence
-- has a sent row already (deliveries_once) is left out, and the caller
-- writes it again as duplicate (a duplicate row conflicts with nothing). A
-- msgid is NULL where @has_msgids is false. Returns the reminders written.
-- The conflict goes by the unique index itself: no subquery whose plan
-- could scan every sent row (a generic plan made while the table was small
-- did, per batch).
INSERT INTO deliveries (reminder_id, occurrence_at, attempt, status, errcode, errmsg, msgid, started_at, finished_at, latency_ms,
                        possible_duplicate)
SELECT c.id, c.occurrence_at, c.attempt, @status::text, 0, '', CASE WHEN c.has_msgid THEN c.msgid END, c.started_at, @now::bigint,
       c.latency_ms, false
FROM (SELECT unnest(@ids::text[]) AS id, unnest(@occurrence_ats::bigint[]) AS occurrence_at, unnest(@attempts::bigint[]) AS attempt,
             unnest(@msgids::bigint[]) AS msgid, unnest(@has_msgids::boolean[]) AS has_msgid,
             unnest(@started_ats::bigint[]) AS started_at, unnest(@latency_ms::bigint[]) AS latency_ms) AS c
ON CONFLICT (reminder_id, occurrence_at) WHERE status = 'sent' DO NOTHING
RETURNING reminder_id;

-- name: SentEventParked :one
-- Whether the sent event of @msgid is still parked (a settle checks it in
-- its record's transaction, under the msgid's advisory lock: the event may
-- have been taken meanwhile by the send it belongs to).
SELECT count(*) FROM pending_sent_events WHERE msgid = @msgid::bigint;

-- name: RescueUnstarted :execrows
-- Back to scheduled, due now, as if never claimed (the attempt counter goes
-- back): an expired claim marked unstarted (send_started false) with no
-- start mark (send_starts), whose worker never took the user's send lease,
-- so WeChat cannot have its send. Compare-and-set on the expired claim
-- (locked by ExpiredLeases).
UPDATE reminders SET status = 'scheduled', due_at = @now::bigint, lease_until = NULL, lease_owner = NULL, credit_held = false,
    attempts = attempts - 1, send_started = NULL, updated_at = @now::bigint
WHERE id = @id::text AND status = 'sending' AND lease_until < @now::bigint AND attempts = @attempts::bigint AND send_started = false
  AND NOT EXISTS (SELECT 1 FROM send_starts s WHERE s.reminder_id = @id::text AND s.attempt = @attempts::bigint);

-- name: DeleteSendStart :exec
-- A rescued claim's start mark (of its attempt only).
DELETE FROM send_starts WHERE reminder_id = @reminder_id::text AND attempt = @attempt::bigint;
