-- reminderd:foreign-keys-off
-- Idempotency keys are unique per user through a partial index: the table's
-- UNIQUE (openid, idempotency_key) constraint kept an entry for every
-- reminder, most of which have no key, and each create wrote that entry to a
-- page of its own (the user's). A constraint cannot be dropped, so the table
-- is rebuilt: renamed (legacy_alter_table, so that the deliveries' foreign
-- key keeps naming "reminders"), created anew with the same columns, filled,
-- and the old one dropped with its indexes. Foreign keys are off meanwhile,
-- so that dropping the old table does not cascade to the deliveries;
-- Migrate checks them before the commit.
PRAGMA legacy_alter_table = ON;
ALTER TABLE reminders RENAME TO reminders_old;
CREATE TABLE reminders (
    id              TEXT    NOT NULL PRIMARY KEY,
    openid          TEXT    NOT NULL CHECK (openid <> ''),
    template_id     TEXT    NOT NULL CHECK (template_id <> ''),
    status          TEXT    NOT NULL CHECK (status IN ('scheduled', 'sending', 'sent', 'failed', 'skipped', 'canceled')),
    reason          TEXT CHECK (reason IN ('no_consent', 'expired', 'user_refused', 'invalid_data', 'template_invalid',
                                           'openid_invalid', 'page_invalid', 'content_rejected', 'banned',
                                           'retries_exhausted')),
    fire_at         INTEGER NOT NULL,
    due_at          INTEGER NOT NULL,
    expires_at      INTEGER CHECK (expires_at IS NULL OR expires_at >= fire_at),
    window_ms       INTEGER CHECK (window_ms IS NULL OR window_ms >= 0), -- expires_at - fire_at, kept for each occurrence
    recurrence      TEXT,
    timezone        TEXT    NOT NULL CHECK (timezone <> ''),
    data            TEXT    NOT NULL CHECK (json_valid(data)),
    page            TEXT    NOT NULL DEFAULT '',
    attempts        INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    lease_until     INTEGER,
    lease_owner     TEXT,
    idempotency_key TEXT,
    request_hash    TEXT,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    credit_held     INTEGER NOT NULL DEFAULT 0 CHECK (credit_held IN (0, 1)),
    CHECK ((status IN ('failed', 'skipped')) = (reason IS NOT NULL)),
    CHECK ((status = 'sending') = (lease_until IS NOT NULL)),
    CHECK ((idempotency_key IS NULL) = (request_hash IS NULL))
) STRICT;
INSERT INTO reminders SELECT * FROM reminders_old;
DROP TABLE reminders_old;
PRAGMA legacy_alter_table = OFF;
CREATE INDEX reminders_due ON reminders (due_at, id) WHERE status = 'scheduled';
CREATE INDEX reminders_lease ON reminders (lease_until) WHERE status = 'sending';
CREATE INDEX reminders_owner ON reminders (openid, fire_at, id);
CREATE INDEX reminders_status ON reminders (status, fire_at, id);
CREATE INDEX reminders_fire ON reminders (fire_at, id);
CREATE UNIQUE INDEX reminders_idempotency ON reminders (openid, idempotency_key) WHERE idempotency_key IS NOT NULL;
