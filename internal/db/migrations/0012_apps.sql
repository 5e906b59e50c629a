-- reminderd:foreign-keys-off
-- Several mini-programs. Every session, reminder and event belongs to one app
-- (its appid); the ledger's rows belong to their openid's app, an openid
-- being WeChat's name of a user within one mini-program. Rows written
-- before apps existed get '' here, and the one configured app (the first of
-- the apps file) adopts them at start-up (store.Apps.AdoptRows), since the
-- migration cannot know the AppID the deployment runs with.
ALTER TABLE sessions ADD COLUMN appid TEXT NOT NULL DEFAULT '';
ALTER TABLE reminders ADD COLUMN appid TEXT NOT NULL DEFAULT '';
ALTER TABLE events ADD COLUMN appid TEXT NOT NULL DEFAULT '';
-- The per-app counts (GET /admin/v1/apps, ?appid= on the stats) and the
-- adoption of the rows without an app, from the index alone.
CREATE INDEX reminders_app ON reminders (appid, status);
-- The service API cancels every attendee's event of one reference.
CREATE INDEX events_app_ref ON events (appid, external_ref) WHERE external_ref <> '';
-- Each app has its own template list and access token: both tables are
-- rebuilt keyed by appid (the rows they hold go to app '', adopted like the
-- rest). No foreign key refers to either.
ALTER TABLE templates RENAME TO templates_old;
CREATE TABLE templates (
    id        TEXT    NOT NULL CHECK (id <> ''),
    title     TEXT    NOT NULL,
    kind      TEXT    NOT NULL CHECK (kind IN ('one_time', 'long_term')),
    content   TEXT    NOT NULL,
    keywords  TEXT    NOT NULL CHECK (json_valid(keywords)), -- [{"key","type","label","enum"}]
    position  INTEGER NOT NULL,
    present   INTEGER NOT NULL DEFAULT 1 CHECK (present IN (0, 1)),
    synced_at INTEGER NOT NULL,
    appid     TEXT    NOT NULL DEFAULT '',
    PRIMARY KEY (appid, id)
) STRICT;
INSERT INTO templates (id, title, kind, content, keywords, position, present, synced_at)
    SELECT id, title, kind, content, keywords, position, present, synced_at FROM templates_old;
DROP TABLE templates_old;
ALTER TABLE wechat_token RENAME TO wechat_token_old;
CREATE TABLE wechat_token (
    value          TEXT    NOT NULL,
    expires_at     INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL,
    version        INTEGER NOT NULL DEFAULT 0,
    fetcher        TEXT    NOT NULL DEFAULT '',
    fetching_until INTEGER NOT NULL DEFAULT 0,
    appid          TEXT    NOT NULL PRIMARY KEY
) STRICT;
INSERT INTO wechat_token (value, expires_at, updated_at, version, fetcher, fetching_until, appid)
    SELECT value, expires_at, updated_at, version, fetcher, fetching_until, '' FROM wechat_token_old;
DROP TABLE wechat_token_old;
