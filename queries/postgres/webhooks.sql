-- The service API's listing by external reference, and the webhook outbox
-- (migration 7).

-- name: ListExternalRefReminders :many
-- The reminders of one external reference (the service API's listing), in
-- (fire_at, id) order after a cursor, through reminders_external_ref; an
-- empty @appid, @openid or @status matches every one.
SELECT * FROM reminders
WHERE external_ref = @external_ref
  AND (CAST(@appid AS TEXT) = '' OR appid = CAST(@appid AS TEXT))
  AND (CAST(@openid AS TEXT) = '' OR openid = CAST(@openid AS TEXT))
  AND (CAST(@status AS TEXT) = '' OR status = CAST(@status AS TEXT))
  AND (fire_at, id) > (CAST(@after_fire_at AS BIGINT), CAST(@after_id AS TEXT))
ORDER BY fire_at, id
LIMIT @max_rows;

-- name: InsertWebhook :exec
INSERT INTO webhook_outbox (id, appid, type, reminder_id, openid, payload, state, next_at, created_at, updated_at)
VALUES (@id, @appid, @type, @reminder_id, @openid, @payload, 'pending', @now, @now, @now);

-- name: DueWebhook :one
-- Whether a row is due for a post (read before a claim, so that an idle
-- outbox costs no write).
SELECT count(*) FROM (SELECT 1 FROM webhook_outbox
  WHERE state IN ('pending', 'failing') AND next_at <= @now AND lease_until <= @now LIMIT 1) AS due;

-- name: ClaimWebhooks :many
-- Leases up to @max due rows to @owner until @lease_until, in due order.
UPDATE webhook_outbox SET lease_owner = @owner, lease_until = @lease_until
WHERE id IN (SELECT w.id FROM webhook_outbox w
             WHERE w.state IN ('pending', 'failing') AND w.next_at <= @now AND w.lease_until <= @now
             ORDER BY w.next_at, w.id LIMIT @max FOR UPDATE SKIP LOCKED)
RETURNING *;

-- name: FinishWebhook :execrows
-- The result of one post, a compare-and-set on the lease.
UPDATE webhook_outbox SET state = CAST(@state AS TEXT), attempts = attempts + 1, next_at = @next_at, body = @body,
  last_status = @last_status, last_error = @last_error, lease_owner = '', lease_until = 0, updated_at = @now,
  delivered_at = CASE WHEN CAST(@state AS TEXT) = 'delivered' THEN @now ELSE delivered_at END
WHERE id = @id AND lease_owner = @owner;

-- name: GetWebhook :one
SELECT * FROM webhook_outbox WHERE id = $1;

-- name: ListWebhooks :many
-- The admin's listing, newest first; an empty @state matches every state.
SELECT * FROM webhook_outbox
WHERE (CAST(@state AS TEXT) = '' OR state = CAST(@state AS TEXT))
  AND (created_at, id) < (CAST(@before_created_at AS BIGINT), CAST(@before_id AS TEXT))
ORDER BY created_at DESC, id DESC
LIMIT @max_rows;

-- name: RetryWebhook :execrows
-- An admin's retry: a failing or dead row is due now.
UPDATE webhook_outbox SET state = 'failing', next_at = @now, lease_owner = '', lease_until = 0, updated_at = @now
WHERE id = @id AND state IN ('failing', 'dead');

-- name: WebhookDepth :one
-- The rows not yet delivered nor dead (the outbox depth gauge).
SELECT count(*) FROM webhook_outbox WHERE state IN ('pending', 'failing');

-- name: DeliveryByID :one
SELECT * FROM deliveries WHERE id = $1;

-- name: DeliveryByMsgid :one
SELECT * FROM deliveries WHERE msgid = $1 ORDER BY id DESC LIMIT 1;

-- name: DeleteOldWebhooks :execrows
-- Retention: delivered events once their receiver has long had them, dead
-- ones once nobody will retry them.
DELETE FROM webhook_outbox
WHERE (state = 'delivered' AND delivered_at < CAST(@delivered_before AS BIGINT)) OR (state = 'dead' AND updated_at < CAST(@dead_before AS BIGINT));
