-- Several mini-programs: schema.sql's migration 12 (internal/db/migrations/
-- 0012_apps.sql says why).
ALTER TABLE sessions ADD COLUMN appid TEXT NOT NULL DEFAULT '';
ALTER TABLE reminders ADD COLUMN appid TEXT NOT NULL DEFAULT '';
ALTER TABLE events ADD COLUMN appid TEXT NOT NULL DEFAULT '';
CREATE INDEX reminders_app ON reminders (appid, status);
-- The service API cancels every attendee's event of one reference.
CREATE INDEX events_app_ref ON events (appid, external_ref) WHERE external_ref <> '';
-- Each app has its own template list and access token, keyed by appid.
ALTER TABLE templates ADD COLUMN appid TEXT NOT NULL DEFAULT '';
ALTER TABLE templates DROP CONSTRAINT templates_pkey;
ALTER TABLE templates ADD PRIMARY KEY (appid, id);
ALTER TABLE wechat_token ADD COLUMN appid TEXT NOT NULL DEFAULT '';
ALTER TABLE wechat_token DROP CONSTRAINT wechat_token_pkey;
ALTER TABLE wechat_token DROP COLUMN id;
ALTER TABLE wechat_token ADD PRIMARY KEY (appid);
ALTER TABLE wechat_token ALTER COLUMN appid DROP DEFAULT;
