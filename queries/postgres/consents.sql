-- name: GetConsent :one
SELECT * FROM consents WHERE appid = @appid AND openid = @openid AND template_id = @template_id;

-- name: ListConsents :many
SELECT * FROM consents WHERE appid = @appid AND openid = @openid ORDER BY template_id;

-- name: AddCredit :exec
-- One accept: one more credit for a one-time template, the grant for a long-term one.
INSERT INTO consents (appid, openid, template_id, credits, status, long_term, updated_at)
VALUES (@appid, @openid, @template_id, @credits, 'accept', @long_term, @now)
ON CONFLICT (appid, openid, template_id) DO UPDATE SET
    credits = consents.credits + excluded.credits, status = 'accept',
    long_term = consents.long_term OR excluded.long_term, updated_at = excluded.updated_at;

-- name: SetConsentStatus :exec
-- A reject, ban or filter answer: the status changes, the credits stay.
INSERT INTO consents (appid, openid, template_id, credits, status, long_term, updated_at)
VALUES (@appid, @openid, @template_id, 0, @status, false, @now)
ON CONFLICT (appid, openid, template_id) DO UPDATE SET status = excluded.status, updated_at = excluded.updated_at;

-- name: LockGrants :exec
-- Serialises the accepts of one user and template across processes until
-- the transaction ends (the consents row may not exist yet, so no row lock
-- would do): a client report and a popup event of one accept, recorded at
-- once by two processes, still find each other.
SELECT pg_advisory_xact_lock(hashtextextended('reminderd grant ' || @appid::text || '/' || @openid::text || '/' || @template_id::text, 0));

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

-- name: DeleteGrant :exec
-- Writable's committing probe removes its row.
DELETE FROM consent_grants WHERE id = @id;

-- name: ListScheduledForPrompt :many
-- The caller's reminders still to be sent, most urgent first, for the consent prompt planner.
-- A claim holding a credit is covered (its credit has left the ledger already).
SELECT id, template_id, fire_at, alternatives FROM reminders
WHERE openid = @openid AND appid = @appid AND status IN ('scheduled', 'sending') AND NOT credit_held
ORDER BY fire_at, id
LIMIT @max_rows;

-- name: CountAheadOfReminder :one
-- How many of the user's pending reminders for the template come before the
-- given one and still need a credit from the ledger (a claim holding one does
-- not), through the user's own index.
SELECT count(*) FROM reminders
WHERE openid = @openid AND appid = @appid AND template_id = @template_id AND status IN ('scheduled', 'sending') AND NOT credit_held
  AND (fire_at, id) < (CAST(@fire_at AS BIGINT), CAST(@id AS TEXT));

-- name: AdoptConsents :execrows
-- The ledger's rows written before apps existed (migrations 9 and 10) join
-- the app their user belongs to: the app of the user's newest reminder, else
-- of their newest session, else the configured first app (@appid). The same
-- openid in two apps shared one row then, so the row goes to one app only:
-- a credit is never doubled. AdoptRows adopts reminders and sessions first.
-- A row its app has already (written since) is merged: no credit lost and
-- none doubled, so the credits add up, less those earned before the other
-- row was emptied (an unsubscribe or a 43101 after them); the newer row's
-- answer (status, long-term grant, setting) stands. DeleteUnownedConsents
-- then removes the rows adopted.
WITH users AS (SELECT DISTINCT openid FROM consents WHERE appid = ''),
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
INSERT INTO consents (appid, openid, template_id, credits, status, long_term, updated_at, zeroed_at, setting, audio)
SELECT t.appid, c.openid, c.template_id, c.credits, c.status, c.long_term, c.updated_at, c.zeroed_at, c.setting, c.audio
FROM consents c JOIN target t ON t.openid = c.openid
WHERE c.appid = ''
ON CONFLICT (appid, openid, template_id) DO UPDATE SET
    credits = CASE WHEN consents.zeroed_at > excluded.updated_at THEN 0 ELSE excluded.credits END
            + CASE WHEN excluded.zeroed_at > consents.updated_at THEN 0 ELSE consents.credits END,
    status = CASE WHEN excluded.updated_at > consents.updated_at THEN excluded.status ELSE consents.status END,
    long_term = CASE WHEN excluded.updated_at > consents.updated_at THEN excluded.long_term ELSE consents.long_term END,
    setting = CASE WHEN excluded.updated_at > consents.updated_at THEN excluded.setting ELSE consents.setting END,
    audio = CASE WHEN excluded.updated_at > consents.updated_at THEN excluded.audio ELSE consents.audio END,
    updated_at = GREATEST(consents.updated_at, excluded.updated_at),
    zeroed_at = GREATEST(consents.zeroed_at, excluded.zeroed_at);

-- name: DeleteUnownedConsents :execrows
DELETE FROM consents WHERE appid = '';

-- name: AdoptConsentSettings :execrows
-- A user's main switch joins their app as AdoptConsents decides; where the
-- app has one already, the newer report stands.
WITH users AS (SELECT DISTINCT openid FROM consent_settings WHERE appid = ''),
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
INSERT INTO consent_settings (appid, openid, main_switch, updated_at)
SELECT t.appid, c.openid, c.main_switch, c.updated_at
FROM consent_settings c JOIN target t ON t.openid = c.openid
WHERE c.appid = ''
ON CONFLICT (appid, openid) DO UPDATE SET
    main_switch = CASE WHEN excluded.updated_at > consent_settings.updated_at THEN excluded.main_switch ELSE consent_settings.main_switch END,
    updated_at = GREATEST(consent_settings.updated_at, excluded.updated_at);

-- name: DeleteUnownedConsentSettings :execrows
DELETE FROM consent_settings WHERE appid = '';

-- name: AdoptGrants :execrows
-- Accepts join their user's app as AdoptConsents decides, so that a popup
-- event pairs with the client's report in the same app.
WITH users AS (SELECT DISTINCT openid FROM consent_grants WHERE appid = ''),
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
UPDATE consent_grants g SET appid = t.appid FROM target t
WHERE g.appid = '' AND t.openid = g.openid;

-- name: AdoptSnoozes :execrows
-- A snooze key joins the app of the reminder it snoozed, else its user's app
-- as AdoptConsents decides. A key the app has already keeps its first
-- answer; DeleteUnownedSnoozes then removes the rows adopted.
WITH users AS (SELECT DISTINCT openid FROM snoozes WHERE appid = ''),
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
INSERT INTO snoozes (appid, openid, idempotency_key, request_hash, reminder_id, created_at)
SELECT coalesce((SELECT r.appid FROM reminders r WHERE r.id = z.reminder_id AND r.appid <> ''), t.appid),
       z.openid, z.idempotency_key, z.request_hash, z.reminder_id, z.created_at
FROM snoozes z JOIN target t ON t.openid = z.openid
WHERE z.appid = ''
ON CONFLICT (appid, openid, idempotency_key) DO NOTHING;

-- name: DeleteUnownedSnoozes :execrows
DELETE FROM snoozes WHERE appid = '';
