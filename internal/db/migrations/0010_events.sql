-- Events: a meeting with several reminders (its leads). An event keeps what
-- it was given (leads as ISO 8601 durations, templates with their data and
-- placeholders, JSON); each lead is one reminder of the event (event_id,
-- lead). A reminder's alternatives are the templates it may be sent through,
-- in order, each with its rendered data ('' for an ordinary reminder): the
-- claim sends it through the first the user holds a credit for and sets
-- template_id and data to it.
CREATE TABLE events (
    id              TEXT    NOT NULL PRIMARY KEY,
    openid          TEXT    NOT NULL CHECK (openid <> ''),
    title           TEXT    NOT NULL,
    location        TEXT    NOT NULL DEFAULT '',
    start_at        INTEGER NOT NULL,
    end_at          INTEGER,
    expires_at      INTEGER,
    timezone        TEXT    NOT NULL CHECK (timezone <> ''),
    page            TEXT    NOT NULL DEFAULT '',
    external_ref    TEXT    NOT NULL DEFAULT '',
    leads           TEXT    NOT NULL CHECK (json_valid(leads)),
    templates       TEXT    NOT NULL CHECK (json_valid(templates)),
    canceled_at     INTEGER,
    idempotency_key TEXT,
    request_hash    TEXT,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    CHECK ((idempotency_key IS NULL) = (request_hash IS NULL))
) STRICT;

-- A user's events in (start_at, id) order: their listing.
CREATE INDEX events_owner ON events (openid, start_at, id);
-- Everyone's events in (start_at, id) order: the admin's listing.
CREATE INDEX events_start ON events (start_at, id);
-- The service API finds a user's events by its own reference.
CREATE INDEX events_external_ref ON events (openid, external_ref) WHERE external_ref <> '';
-- Idempotency keys, unique per user.
CREATE UNIQUE INDEX events_idempotency ON events (openid, idempotency_key) WHERE idempotency_key IS NOT NULL;

ALTER TABLE reminders ADD COLUMN event_id TEXT;
ALTER TABLE reminders ADD COLUMN lead TEXT NOT NULL DEFAULT '';
ALTER TABLE reminders ADD COLUMN alternatives TEXT NOT NULL DEFAULT '' CHECK (alternatives = '' OR json_valid(alternatives));

-- An event's reminders in (fire_at, id) order.
CREATE INDEX reminders_event ON reminders (event_id, fire_at, id) WHERE event_id IS NOT NULL;
