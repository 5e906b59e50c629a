-- Message push (ApplyPushEvent): the record of the pushes applied, the
-- sent events, and the consent changes a push makes.

-- name: RememberPush :execrows
-- A push applied: 1 if key is new, 0 if it was seen before. ON CONFLICT DO
-- NOTHING waits for a concurrent insert of the key (another process
-- applying the same push) and counts 0 once it commits.
INSERT INTO push_seen (key, body_hash, seen_at) VALUES (@key::text, @body_hash::text, @now::bigint) ON CONFLICT (key) DO NOTHING;

-- name: PushSeenBody :one
SELECT body_hash FROM push_seen WHERE key = @key::text;

-- name: DeleteOldPushSeen :execrows
DELETE FROM push_seen WHERE seen_at < @before::bigint;

-- name: MarkDelivered :execrows
-- The sent event for a msgid: delivered or not, once.
UPDATE deliveries SET delivered = @delivered::boolean, event_status = @event_status::text
WHERE msgid = @msgid::bigint AND status = 'sent' AND delivered IS NULL;

-- name: SetDeliveryByMsgid :exec
UPDATE reminders SET delivery = @delivery::text
WHERE id IN (SELECT d.reminder_id FROM deliveries d WHERE d.msgid = @msgid::bigint AND d.status = 'sent'
             AND d.occurrence_at = reminders.fire_at);

-- name: DeliveryWithMsgid :one
SELECT count(*) FROM deliveries WHERE msgid = @msgid::bigint;

-- name: SavePendingSentEvent :exec
INSERT INTO pending_sent_events (msgid, delivered, event_status, received_at, openid, template_id, appid)
VALUES (@msgid::bigint, @delivered::boolean, @event_status::text, @now::bigint, @openid::text, @template_id::text, @appid::text)
ON CONFLICT (msgid) DO NOTHING;

-- name: WakeUnknownReminders :execrows
-- A reminder of the event's app, user and template waiting out an unknown
-- outcome is due now.
UPDATE reminders SET due_at = @now::bigint
WHERE openid = @openid::text AND template_id = @template_id::text AND appid = @appid::text AND unknown_at IS NOT NULL
  AND status = 'scheduled' AND due_at > @now::bigint;

-- name: PushSetConsentStatus :exec
-- A reject answer: the status changes, the credits stay.
INSERT INTO consents (appid, openid, template_id, credits, status, long_term, updated_at)
VALUES (@appid::text, @openid::text, @template_id::text, 0, @status::text, false, @now::bigint)
ON CONFLICT (appid, openid, template_id) DO UPDATE SET status = excluded.status, updated_at = excluded.updated_at;
