-- name: ClaimDue :many
-- One statement claims a batch of due reminders in due order: status
-- sending, one more attempt, a lease.
UPDATE reminders
SET status = 'sending', attempts = attempts + 1, lease_until = @lease_until, lease_owner = @owner, updated_at = @now
WHERE id IN (SELECT r.id FROM reminders r INDEXED BY reminders_due
             WHERE r.status = 'scheduled' AND r.due_at <= @now ORDER BY r.due_at, r.id LIMIT @max_rows)
RETURNING *;

-- name: NextDueAt :one
SELECT CAST(coalesce(min(due_at), 0) AS INTEGER) AS due_at FROM reminders INDEXED BY reminders_due WHERE status = 'scheduled';

-- name: InsertDelivery :one
INSERT INTO deliveries (reminder_id, occurrence_at, attempt, status, started_at)
VALUES (@reminder_id, @occurrence_at, @attempt, 'sending', @now)
RETURNING id;

-- name: FinishDelivery :execrows
-- The outcome of an attempt. An attempt the rescuer marked abandoned (its
-- outcome unknown) gets its real outcome if it arrives after all.
UPDATE deliveries
SET status = @status, errcode = @errcode, errmsg = @errmsg, msgid = @msgid, finished_at = CAST(@now AS INTEGER), latency_ms = @latency_ms
WHERE id = @id AND status IN ('sending', 'abandoned');

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
UPDATE reminders SET status = @status, reason = @reason, lease_until = NULL, lease_owner = NULL, updated_at = @now
WHERE id = @id AND status = 'sending' AND lease_owner = @owner AND attempts = @attempts AND fire_at = @claimed_fire_at;

-- name: RescheduleReminder :execrows
-- Back to scheduled: a retry, a deferral or the next occurrence. The claim
-- is identified by (owner, attempts, claimed fire_at): a stalled worker
-- cannot match a later claim of the same reminder.
UPDATE reminders
SET status = 'scheduled', reason = NULL, fire_at = @fire_at, due_at = @due_at, expires_at = @expires_at,
    attempts = @new_attempts, lease_until = NULL, lease_owner = NULL, updated_at = @now
WHERE id = @id AND status = 'sending' AND lease_owner = @owner AND attempts = @attempts AND fire_at = @claimed_fire_at;

-- name: RescueExpiredLeases :many
-- Reminders whose lease ran out (a crashed or killed process) go back to scheduled.
UPDATE reminders SET status = 'scheduled', due_at = @now, lease_until = NULL, lease_owner = NULL, updated_at = @now
WHERE status = 'sending' AND lease_until < @now
RETURNING id;

-- name: AbandonDeliveries :execrows
UPDATE deliveries SET status = 'abandoned', finished_at = CAST(@now AS INTEGER), errmsg = 'lease expired; outcome unknown'
WHERE reminder_id = @reminder_id AND status = 'sending';

-- name: DeleteOldDeliveries :execrows
DELETE FROM deliveries WHERE started_at < @before AND status <> 'sending';

-- name: CountSendingDeliveries :one
SELECT count(*) FROM deliveries WHERE status = 'sending';
