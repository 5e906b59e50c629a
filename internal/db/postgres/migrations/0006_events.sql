-- Events: a meeting with several reminders (its leads), as SQLite's 0009.
-- Each lead is one reminder of the event (event_id, lead); a reminder's
-- alternatives are the templates it may be sent through, in order, with
-- their rendered data ('' for an ordinary reminder).
CREATE TABLE events (
    id              TEXT    NOT NULL PRIMARY KEY,
    openid          TEXT    NOT NULL CHECK (openid <> ''),
    title           TEXT    NOT NULL,
    location        TEXT    NOT NULL DEFAULT '',
    start_at        BIGINT  NOT NULL,
    end_at          BIGINT,
    expires_at      BIGINT,
    timezone        TEXT    NOT NULL CHECK (timezone <> ''),
    page            TEXT    NOT NULL DEFAULT '',
    external_ref    TEXT    NOT NULL DEFAULT '',
    leads           TEXT    NOT NULL CHECK (leads::json IS NOT NULL),
    templates       TEXT    NOT NULL CHECK (templates::json IS NOT NULL),
    canceled_at     BIGINT,
    idempotency_key TEXT,
    request_hash    TEXT,
    created_at      BIGINT  NOT NULL,
    updated_at      BIGINT  NOT NULL,
    CONSTRAINT events_key_with_hash CHECK ((idempotency_key IS NULL) = (request_hash IS NULL))
);

CREATE INDEX events_owner ON events (openid, start_at, id);
CREATE INDEX events_start ON events (start_at, id);
CREATE INDEX events_external_ref ON events (openid, external_ref) WHERE external_ref <> '';
CREATE UNIQUE INDEX events_idempotency ON events (openid, idempotency_key) WHERE idempotency_key IS NOT NULL;

ALTER TABLE reminders ADD COLUMN event_id TEXT;
ALTER TABLE reminders ADD COLUMN lead TEXT NOT NULL DEFAULT '';
ALTER TABLE reminders ADD COLUMN alternatives TEXT NOT NULL DEFAULT '' CHECK (alternatives = '' OR alternatives::json IS NOT NULL);

CREATE INDEX reminders_event ON reminders (event_id, fire_at, id) WHERE event_id IS NOT NULL;
