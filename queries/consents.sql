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
-- The ledger's rows written before apps existed join the configured app; a
-- row the app has already (a second adoption) leaves the unowned one alone.
UPDATE consents SET appid = @appid WHERE appid = ''
  AND NOT EXISTS (SELECT 1 FROM consents c WHERE c.appid = @appid AND c.openid = consents.openid AND c.template_id = consents.template_id);

-- name: AdoptConsentSettings :execrows
UPDATE consent_settings SET appid = @appid WHERE appid = ''
  AND NOT EXISTS (SELECT 1 FROM consent_settings c WHERE c.appid = @appid AND c.openid = consent_settings.openid);

-- name: AdoptGrants :execrows
UPDATE consent_grants SET appid = @appid WHERE appid = '';

-- name: AdoptSnoozes :execrows
UPDATE snoozes SET appid = @appid WHERE appid = ''
  AND NOT EXISTS (SELECT 1 FROM snoozes s WHERE s.appid = @appid AND s.openid = snoozes.openid
                  AND s.idempotency_key = snoozes.idempotency_key);
