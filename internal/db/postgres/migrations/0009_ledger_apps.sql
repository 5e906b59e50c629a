-- The consent ledger belongs to an app: schema.sql's migration 13
-- (internal/db/migrations/0013_ledger_apps.sql says why). The rows get app
-- '', adopted at start-up; appid then has no default: every write names its
-- app.
ALTER TABLE consents ADD COLUMN appid TEXT NOT NULL DEFAULT '';
ALTER TABLE consents ALTER COLUMN appid DROP DEFAULT;
ALTER TABLE consents DROP CONSTRAINT consents_pkey;
ALTER TABLE consents ADD PRIMARY KEY (appid, openid, template_id);
ALTER TABLE consent_settings ADD COLUMN appid TEXT NOT NULL DEFAULT '';
ALTER TABLE consent_settings ALTER COLUMN appid DROP DEFAULT;
ALTER TABLE consent_settings DROP CONSTRAINT consent_settings_pkey;
ALTER TABLE consent_settings ADD PRIMARY KEY (appid, openid);
ALTER TABLE consent_grants ADD COLUMN appid TEXT NOT NULL DEFAULT '';
ALTER TABLE consent_grants ALTER COLUMN appid DROP DEFAULT;
DROP INDEX consent_grants_unpaired;
-- A pairing looks for an unpaired accept of the same app, user and template.
CREATE INDEX consent_grants_unpaired ON consent_grants (appid, openid, template_id, source, received_at)
    WHERE paired_with IS NULL;
ALTER TABLE snoozes ADD COLUMN appid TEXT NOT NULL DEFAULT '';
ALTER TABLE snoozes ALTER COLUMN appid DROP DEFAULT;
ALTER TABLE snoozes DROP CONSTRAINT snoozes_pkey;
ALTER TABLE snoozes ADD PRIMARY KEY (appid, openid, idempotency_key);
