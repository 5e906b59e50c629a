-- name: GetConsent :one
SELECT * FROM consents WHERE appid = @appid AND openid = @openid AND template_id = @template_id;

-- name: ListConsents :many
SELECT * FROM consents WHERE appid = @appid AND openid = @openid ORDER BY template_id;

-- name: AddCredit :exec
-- One accept: one more credit for a one-time template, the grant for a long-term one.
INSERT INTO consents (appid, openid, template_id, credits, status, long_term, updated_at)
VALUES (@appid, @openid, @template_id, @credits, 'accept', @long_term, @now)
ON CONFLICT (appid, openid, template_id) DO UPDATE SET
    credits = credits + excluded.credits, status = 'accept',
    long_term = max(long_term, excluded.long_term), updated_at = excluded.updated_at;

-- name: SetConsentStatus :exec
-- A reject, ban or filter answer: the status changes, the credits stay.
INSERT INTO consents (appid, openid, template_id, credits, status, long_term, updated_at)
VALUES (@appid, @openid, @template_id, 0, @status, 0, @now)
ON CONFLICT (appid, openid, template_id) DO UPDATE SET status = excluded.status, updated_at = excluded.updated_at;

-- name: ZeroConsent :exec
-- The user unsubscribed (change event) or WeChat answered 43101: nothing is left.
INSERT INTO consents (appid, openid, template_id, credits, status, long_term, updated_at, zeroed_at)
VALUES (@appid, @openid, @template_id, 0, @status, 0, @now, @now)
ON CONFLICT (appid, openid, template_id) DO UPDATE SET
    credits = 0, long_term = 0, status = excluded.status, updated_at = excluded.updated_at, zeroed_at = excluded.updated_at;

-- name: ConsumeCredit :execrows
-- Compare-and-set: takes one credit only if there is one.
UPDATE consents SET credits = credits - 1, updated_at = @now
WHERE appid = @appid AND openid = @openid AND template_id = @template_id AND credits > 0;

-- name: RefundCredit :execrows
-- Gives back a credit reserved at claimed_at by a claim that ended without a
-- send, unless the ledger was emptied since (an unsubscribe, a 43101).
UPDATE consents SET credits = credits + 1, updated_at = @now
WHERE appid = @appid AND openid = @openid AND template_id = @template_id AND zeroed_at < @claimed_at;

-- name: FindUnpairedGrant :one
-- The earliest unpaired accept from the other source within the pairing window.
SELECT id FROM consent_grants
WHERE appid = @appid AND openid = @openid AND template_id = @template_id AND source = @source
  AND paired_with IS NULL AND received_at >= @since
ORDER BY received_at, id
LIMIT 1;

-- name: InsertGrant :one
INSERT INTO consent_grants (appid, openid, template_id, source, received_at, paired_with)
VALUES (@appid, @openid, @template_id, @source, @received_at, @paired_with)
RETURNING id;

-- name: PairGrant :execrows
UPDATE consent_grants SET paired_with = @paired_with WHERE id = @id AND paired_with IS NULL;

-- name: DeleteOldGrants :execrows
DELETE FROM consent_grants WHERE received_at < @before;

-- name: ListScheduledForPrompt :many
-- The caller's reminders still to be sent, most urgent first, for the consent prompt planner.
-- A claim holding a credit is covered (its credit has left the ledger already).
SELECT id, template_id, fire_at, alternatives FROM reminders INDEXED BY reminders_owner
WHERE openid = @openid AND appid = @appid AND status IN ('scheduled', 'sending') AND credit_held = 0
ORDER BY fire_at, id
LIMIT @max_rows;

-- name: CountAheadOfReminder :one
-- How many of the user's pending reminders for the template come before the
-- given one and still need a credit from the ledger (a claim holding one does
-- not), through the user's own index.
SELECT count(*) FROM reminders INDEXED BY reminders_owner
WHERE openid = @openid AND appid = @appid AND template_id = @template_id AND status IN ('scheduled', 'sending') AND credit_held = 0
  AND (fire_at < @fire_at OR (fire_at = @fire_at AND id < @id));

-- name: AdoptConsents :execrows
-- The ledger's rows written before apps existed (migrations 13 and 14) join
-- the app their user belongs to: the app of the user's newest reminder, else
-- of their newest session, else the configured first app (@appid). The same
-- openid in two apps shared one row then, so the row goes to one app only:
-- a credit is never doubled. AdoptRows adopts reminders and sessions first.
-- A row its app has already (written since) is merged: no credit lost and
-- none doubled, so the credits add up, less those earned before the other
-- row was emptied (an unsubscribe or a 43101 after them); the newer row's
-- answer (status, long-term grant, setting) stands. DeleteUnownedConsents
-- then removes the rows adopted.
INSERT INTO consents (appid, openid, template_id, credits, status, long_term, updated_at, zeroed_at, setting, audio)
SELECT t.appid, c.openid, c.template_id, c.credits, c.status, c.long_term, c.updated_at, c.zeroed_at, c.setting, c.audio
FROM consents c JOIN (
    SELECT u.openid, coalesce(r.appid, s.appid, CAST(@appid AS TEXT)) AS appid
    FROM (SELECT DISTINCT openid FROM consents WHERE appid = '') u
    LEFT JOIN (
        SELECT openid, appid FROM (
            SELECT openid, appid, row_number() OVER (PARTITION BY openid ORDER BY created_at DESC, id DESC) AS n
            FROM reminders WHERE appid <> '' AND openid IN (SELECT openid FROM consents WHERE appid = '')) newest
        WHERE n = 1) r ON r.openid = u.openid
    LEFT JOIN (
        SELECT openid, appid FROM (
            SELECT openid, appid, row_number() OVER (PARTITION BY openid ORDER BY created_at DESC, token_hash DESC) AS n
            FROM sessions WHERE appid <> '' AND openid IN (SELECT openid FROM consents WHERE appid = '')) newest
        WHERE n = 1) s ON s.openid = u.openid) t ON t.openid = c.openid
WHERE c.appid = ''
ON CONFLICT (appid, openid, template_id) DO UPDATE SET
    credits = CASE WHEN consents.zeroed_at > excluded.updated_at THEN 0 ELSE excluded.credits END
            + CASE WHEN excluded.zeroed_at > consents.updated_at THEN 0 ELSE consents.credits END,
    status = CASE WHEN excluded.updated_at > consents.updated_at THEN excluded.status ELSE consents.status END,
    long_term = CASE WHEN excluded.updated_at > consents.updated_at THEN excluded.long_term ELSE consents.long_term END,
    setting = CASE WHEN excluded.updated_at > consents.updated_at THEN excluded.setting ELSE consents.setting END,
    audio = CASE WHEN excluded.updated_at > consents.updated_at THEN excluded.audio ELSE consents.audio END,
    updated_at = max(consents.updated_at, excluded.updated_at),
    zeroed_at = max(consents.zeroed_at, excluded.zeroed_at);

-- name: DeleteUnownedConsents :execrows
DELETE FROM consents WHERE appid = '';

-- name: AdoptConsentSettings :execrows
-- A user's main switch joins their app as AdoptConsents decides; where the
-- app has one already, the newer report stands.
INSERT INTO consent_settings (appid, openid, main_switch, updated_at)
SELECT t.appid, c.openid, c.main_switch, c.updated_at
FROM consent_settings c JOIN (
    SELECT u.openid, coalesce(r.appid, s.appid, CAST(@appid AS TEXT)) AS appid
    FROM (SELECT DISTINCT openid FROM consent_settings WHERE appid = '') u
    LEFT JOIN (
        SELECT openid, appid FROM (
            SELECT openid, appid, row_number() OVER (PARTITION BY openid ORDER BY created_at DESC, id DESC) AS n
            FROM reminders WHERE appid <> '' AND openid IN (SELECT openid FROM consent_settings WHERE appid = '')) newest
        WHERE n = 1) r ON r.openid = u.openid
    LEFT JOIN (
        SELECT openid, appid FROM (
            SELECT openid, appid, row_number() OVER (PARTITION BY openid ORDER BY created_at DESC, token_hash DESC) AS n
            FROM sessions WHERE appid <> '' AND openid IN (SELECT openid FROM consent_settings WHERE appid = '')) newest
        WHERE n = 1) s ON s.openid = u.openid) t ON t.openid = c.openid
WHERE c.appid = ''
ON CONFLICT (appid, openid) DO UPDATE SET
    main_switch = CASE WHEN excluded.updated_at > consent_settings.updated_at THEN excluded.main_switch ELSE consent_settings.main_switch END,
    updated_at = max(consent_settings.updated_at, excluded.updated_at);

-- name: DeleteUnownedConsentSettings :execrows
DELETE FROM consent_settings WHERE appid = '';

-- name: AdoptGrants :execrows
-- Accepts join their user's app as AdoptConsents decides, so that a popup
-- event pairs with the client's report in the same app.
UPDATE consent_grants SET appid = (
    SELECT t.appid FROM (
        SELECT u.openid, coalesce(r.appid, s.appid, CAST(@appid AS TEXT)) AS appid
        FROM (SELECT DISTINCT openid FROM consent_grants WHERE appid = '') u
        LEFT JOIN (
            SELECT openid, appid FROM (
                SELECT openid, appid, row_number() OVER (PARTITION BY openid ORDER BY created_at DESC, id DESC) AS n
                FROM reminders WHERE appid <> '' AND openid IN (SELECT openid FROM consent_grants WHERE appid = '')) newest
            WHERE n = 1) r ON r.openid = u.openid
        LEFT JOIN (
            SELECT openid, appid FROM (
                SELECT openid, appid, row_number() OVER (PARTITION BY openid ORDER BY created_at DESC, token_hash DESC) AS n
                FROM sessions WHERE appid <> '' AND openid IN (SELECT openid FROM consent_grants WHERE appid = '')) newest
            WHERE n = 1) s ON s.openid = u.openid) t
    WHERE t.openid = consent_grants.openid)
WHERE appid = '';

-- name: AdoptSnoozes :execrows
-- A snooze key joins the app of the reminder it snoozed, else its user's app
-- as AdoptConsents decides. A key the app has already keeps its first
-- answer; DeleteUnownedSnoozes then removes the rows adopted.
INSERT INTO snoozes (appid, openid, idempotency_key, request_hash, reminder_id, created_at)
SELECT coalesce((SELECT r.appid FROM reminders r WHERE r.id = z.reminder_id AND r.appid <> ''), t.appid),
       z.openid, z.idempotency_key, z.request_hash, z.reminder_id, z.created_at
FROM snoozes z JOIN (
    SELECT u.openid, coalesce(r.appid, s.appid, CAST(@appid AS TEXT)) AS appid
    FROM (SELECT DISTINCT openid FROM snoozes WHERE appid = '') u
    LEFT JOIN (
        SELECT openid, appid FROM (
            SELECT openid, appid, row_number() OVER (PARTITION BY openid ORDER BY created_at DESC, id DESC) AS n
            FROM reminders WHERE appid <> '' AND openid IN (SELECT openid FROM snoozes WHERE appid = '')) newest
        WHERE n = 1) r ON r.openid = u.openid
    LEFT JOIN (
        SELECT openid, appid FROM (
            SELECT openid, appid, row_number() OVER (PARTITION BY openid ORDER BY created_at DESC, token_hash DESC) AS n
            FROM sessions WHERE appid <> '' AND openid IN (SELECT openid FROM snoozes WHERE appid = '')) newest
        WHERE n = 1) s ON s.openid = u.openid) t ON t.openid = z.openid
WHERE z.appid = ''
ON CONFLICT (appid, openid, idempotency_key) DO NOTHING;

-- name: DeleteUnownedSnoozes :execrows
DELETE FROM snoozes WHERE appid = '';
