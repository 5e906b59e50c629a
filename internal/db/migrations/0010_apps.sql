-- Several mini-programs. Every session and reminder belongs to one app
-- (its appid); the ledger's rows belong to their openid's app, an openid
-- being WeChat's name of a user within one mini-program. Rows written
-- before apps existed get '' here, and the one configured app (the first of
-- the apps file) adopts them at start-up (store.Apps.AdoptRows), since the
-- migration cannot know the AppID the deployment runs with.
ALTER TABLE sessions ADD COLUMN appid TEXT NOT NULL DEFAULT '';
ALTER TABLE reminders ADD COLUMN appid TEXT NOT NULL DEFAULT '';
-- The per-app counts (GET /admin/v1/apps, ?appid= on the stats) and the
-- adoption of the rows without an app, from the index alone.
CREATE INDEX reminders_app ON reminders (appid, status);
