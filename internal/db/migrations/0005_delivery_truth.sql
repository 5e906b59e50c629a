-- reminderd:foreign-keys-off
-- Delivery truth. A send whose answer was lost after the request may have
-- reached WeChat is recorded 'unknown' (the deliveries' status CHECK gains
-- it, so the table is rebuilt, foreign keys off as in migration 4), and a
-- resend after one is marked possible_duplicate.
PRAGMA legacy_alter_table = ON;
ALTER TABLE deliveries RENAME TO deliveries_old;
CREATE TABLE deliveries (
    id                 INTEGER NOT NULL PRIMARY KEY,
    reminder_id        TEXT    NOT NULL REFERENCES reminders (id) ON DELETE CASCADE,
    occurrence_at      INTEGER NOT NULL,
    attempt            INTEGER NOT NULL CHECK (attempt >= 1),
    status             TEXT    NOT NULL CHECK (status IN ('sending', 'sent', 'failed', 'retry', 'deferred', 'skipped',
                                                          'abandoned', 'unknown', 'duplicate')),
    errcode            INTEGER,
    errmsg             TEXT    NOT NULL DEFAULT '',
    msgid              INTEGER,
    started_at         INTEGER NOT NULL,
    finished_at        INTEGER,
    latency_ms         INTEGER,
    delivered          INTEGER CHECK (delivered IN (0, 1)),
    event_status       TEXT    NOT NULL DEFAULT '',
    possible_duplicate INTEGER NOT NULL DEFAULT 0 CHECK (possible_duplicate IN (0, 1))
) STRICT;
INSERT INTO deliveries (id, reminder_id, occurrence_at, attempt, status, errcode, errmsg, msgid, started_at, finished_at,
                        latency_ms, delivered, event_status)
SELECT id, reminder_id, occurrence_at, attempt, status, errcode, errmsg, msgid, started_at, finished_at,
       latency_ms, delivered, event_status FROM deliveries_old;
DROP TABLE deliveries_old;
PRAGMA legacy_alter_table = OFF;
CREATE INDEX deliveries_reminder ON deliveries (reminder_id, id);
CREATE UNIQUE INDEX deliveries_once ON deliveries (reminder_id, occurrence_at) WHERE status = 'sent';
CREATE INDEX deliveries_msgid ON deliveries (msgid) WHERE msgid IS NOT NULL;

-- unknown_at: the instant of the current occurrence's attempt whose outcome
-- is unknown, until a sent event settles it or a resend ends it. delivery:
-- what WeChat's sent event said of the occurrence's send ('' until one came;
-- 'unknown' when its window closed with no answer and no event).
ALTER TABLE reminders ADD COLUMN unknown_at INTEGER;
ALTER TABLE reminders ADD COLUMN delivery TEXT NOT NULL DEFAULT '' CHECK (delivery IN ('', 'delivered', 'failed', 'unknown'));
CREATE INDEX reminders_unknown ON reminders (openid, template_id, unknown_at) WHERE unknown_at IS NOT NULL;
-- The admin's listing by delivery report (?delivery=failed): few rows.
CREATE INDEX reminders_delivery ON reminders (delivery, fire_at, id) WHERE delivery <> '';
-- The per-user limit counts a user's scheduled reminders from this index
-- alone (reminders_owner also holds their history, and not their status).
CREATE INDEX reminders_user_scheduled ON reminders (openid) WHERE status = 'scheduled';

-- A sent event parked before its send's outcome is recorded keeps its user
-- and template, so that an unknown outcome recorded later can be settled by it.
ALTER TABLE pending_sent_events ADD COLUMN openid TEXT NOT NULL DEFAULT '';
ALTER TABLE pending_sent_events ADD COLUMN template_id TEXT NOT NULL DEFAULT '';
CREATE INDEX pending_sent_events_user ON pending_sent_events (openid, template_id, received_at) WHERE openid <> '';

-- Pushes already applied, durably: key is the SHA-256 of the plaintext
-- message (WeChat's retries re-encrypt the same message), or for a
-- plaintext push 'q:' and its timestamp and nonce, whose signature covers no
-- body: body_hash is the message the query was first seen with.
CREATE TABLE push_seen (
    key       TEXT    NOT NULL PRIMARY KEY,
    body_hash TEXT    NOT NULL DEFAULT '',
    seen_at   INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
CREATE INDEX push_seen_at ON push_seen (seen_at);

-- Pauses of sending that must survive a restart (the daily quota).
CREATE TABLE pauses (
    name       TEXT    NOT NULL PRIMARY KEY CHECK (name <> ''),
    until      INTEGER NOT NULL,
    reason     TEXT    NOT NULL DEFAULT '',
    updated_at INTEGER NOT NULL
) STRICT;
