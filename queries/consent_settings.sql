-- name: SetConsentAudio :exec
-- Which variant of accept the client reported last (acceptWithAudio).
UPDATE consents SET audio = @audio WHERE appid = @appid AND openid = @openid AND template_id = @template_id;

-- name: ClearConsentSettings :exec
-- A settings report replaces the saved choices of the user: a template it does
-- not list has none any more.
UPDATE consents SET setting = NULL, updated_at = @now WHERE appid = @appid AND openid = @openid AND setting IS NOT NULL;

-- name: SetConsentSetting :exec
-- The saved choice of the user for a template. A template never answered gets a
-- row with no credit whose status is the choice.
INSERT INTO consents (appid, openid, template_id, credits, status, long_term, updated_at, setting)
VALUES (@appid, @openid, @template_id, 0, @status, 0, @now, @setting)
ON CONFLICT (appid, openid, template_id) DO UPDATE SET setting = excluded.setting, updated_at = excluded.updated_at;

-- name: SetMainSwitch :exec
INSERT INTO consent_settings (appid, openid, main_switch, updated_at) VALUES (@appid, @openid, @main_switch, @now)
ON CONFLICT (appid, openid) DO UPDATE SET main_switch = excluded.main_switch, updated_at = excluded.updated_at;

-- name: GetMainSwitch :one
SELECT main_switch FROM consent_settings WHERE appid = @appid AND openid = @openid;

-- name: SnoozeReminder :execrows
-- Due again at fire_at as a new occurrence (its window moves with it; no
-- unknown attempt nor delivery report of the old one holds it back), from
-- sent, skipped or scheduled: a compare-and-set. attempts is kept, as for a
-- retry. snoozed and series_at say where a series resumes afterwards.
UPDATE reminders SET status = 'scheduled', reason = NULL, fire_at = @fire_at, due_at = @fire_at,
    expires_at = CASE WHEN window_ms IS NULL THEN NULL ELSE @fire_at + window_ms END,
    unknown_at = NULL, delivery = '', snoozed = @snoozed, series_at = @series_at, updated_at = @now
WHERE id = @id AND status IN ('sent', 'skipped', 'scheduled') AND fire_at = @was_fire_at;

-- name: GetSnoozeKey :one
SELECT request_hash, reminder_id FROM snoozes WHERE appid = @appid AND openid = @openid AND idempotency_key = @idempotency_key;

-- name: InsertSnoozeKey :exec
INSERT INTO snoozes (appid, openid, idempotency_key, request_hash, reminder_id, created_at)
VALUES (@appid, @openid, @idempotency_key, @request_hash, @reminder_id, @now);

-- name: DeleteOldSnoozeKeys :execrows
-- Retention: a snooze's key is kept as long as the delivery records.
DELETE FROM snoozes WHERE created_at < @before;
