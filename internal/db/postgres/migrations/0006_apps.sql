-- Several mini-programs: schema.sql's migration 10 (internal/db/migrations/
-- 0010_apps.sql says why).
ALTER TABLE sessions ADD COLUMN appid TEXT NOT NULL DEFAULT '';
ALTER TABLE reminders ADD COLUMN appid TEXT NOT NULL DEFAULT '';
CREATE INDEX reminders_app ON reminders (appid, status);
