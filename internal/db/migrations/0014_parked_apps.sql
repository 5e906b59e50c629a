-- A parked sent event belongs to the app it was pushed to
-- (/wechat/push/{appid}): it settles or wakes only that app's reminders of
-- its user and template, since two apps may see the same openid and
-- template id strings (the sandbox's apps do). The table is rebuilt with
-- appid in its user index; the rows it holds go to app '', which the
-- configured app adopts at start-up as migration 13's rows
-- (store.Apps.AdoptRows). appid has no default: every write names its app.
ALTER TABLE pending_sent_events RENAME TO pending_sent_events_old;
CREATE TABLE pending_sent_events (
    msgid        INTEGER NOT NULL PRIMARY KEY,
    delivered    INTEGER NOT NULL CHECK (delivered IN (0, 1)),
    event_status TEXT    NOT NULL,
    received_at  INTEGER NOT NULL,
    openid       TEXT    NOT NULL DEFAULT '',
    template_id  TEXT    NOT NULL DEFAULT '',
    appid        TEXT    NOT NULL
) STRICT;
INSERT INTO pending_sent_events (msgid, delivered, event_status, received_at, openid, template_id, appid)
    SELECT msgid, delivered, event_status, received_at, openid, template_id, '' FROM pending_sent_events_old;
DROP TABLE pending_sent_events_old;
-- A claim of an attempt of unknown outcome looks for its app's, user's and
-- template's earliest event since the attempt.
CREATE INDEX pending_sent_events_user ON pending_sent_events (appid, openid, template_id, received_at) WHERE openid <> '';
