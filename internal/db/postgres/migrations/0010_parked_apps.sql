-- A parked sent event belongs to the app it was pushed to: schema.sql's
-- migration 14 (internal/db/migrations/0014_parked_apps.sql says why). The
-- rows get app '', adopted at start-up; appid then has no default: every
-- write names its app.
ALTER TABLE pending_sent_events ADD COLUMN appid TEXT NOT NULL DEFAULT '';
ALTER TABLE pending_sent_events ALTER COLUMN appid DROP DEFAULT;
DROP INDEX pending_sent_events_user;
CREATE INDEX pending_sent_events_user ON pending_sent_events (appid, openid, template_id, received_at) WHERE openid <> '';
