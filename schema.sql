-- reminderd's database schema: the canonical, complete schema that sqlc reads.
-- The migrations in internal/db/migrations must produce exactly this (a test
-- compares them). Instants are INTEGER unix milliseconds UTC; zones are IANA
-- names in their own column.

-- Mini-program sessions. Only a SHA-256 of the bearer token is stored.
-- appid is the mini-program the user logged into (migration 12: '' until
-- the configured app adopts the rows written before apps existed).
CREATE TABLE sessions (
    token_hash TEXT    NOT NULL PRIMARY KEY CHECK (length(token_hash) = 64),
    openid     TEXT    NOT NULL CHECK (openid <> ''),
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL CHECK (expires_at > created_at)
, appid TEXT NOT NULL DEFAULT '') STRICT, WITHOUT ROWID;

CREATE INDEX sessions_expires ON sessions (expires_at);

-- Templates learned from WeChat's template list (gettemplate). A template
-- that disappears from the list stays with present = 0 so that reminders
-- referring to it can be explained. Each app has its own list (appid,
-- migration 12).
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

-- The consent ledger: one row per (app, openid, template). credits is the number
-- of sends the user's accepts still allow; it can never go below zero. A
-- claim reserves its credit (reminders.credit_held) and gives it back if it
-- ends without a send; zeroed_at is when the ledger was last emptied
-- (unsubscribe, 43101), so that a credit reserved before then is not given
-- back. appid is the user's mini-program (migration 13).
CREATE TABLE consents (
    openid      TEXT    NOT NULL CHECK (openid <> ''),
    template_id TEXT    NOT NULL CHECK (template_id <> ''),
    credits     INTEGER NOT NULL DEFAULT 0 CHECK (credits >= 0),
    status      TEXT    NOT NULL CHECK (status IN ('accept', 'reject', 'ban', 'filter', 'unsubscribed', 'refused')),
    long_term   INTEGER NOT NULL DEFAULT 0 CHECK (long_term IN (0, 1)),
    updated_at  INTEGER NOT NULL,
    zeroed_at   INTEGER NOT NULL DEFAULT 0,
    setting     TEXT CHECK (setting IN ('accept', 'reject', 'ban')),
    audio       INTEGER NOT NULL DEFAULT 0 CHECK (audio IN (0, 1)),
    appid       TEXT    NOT NULL,
    PRIMARY KEY (appid, openid, template_id)
) STRICT, WITHOUT ROWID;

-- A user's main switch of subscriptions in an app, as wx.getSetting last
-- reported it.
CREATE TABLE consent_settings (
    openid      TEXT    NOT NULL CHECK (openid <> ''),
    main_switch INTEGER NOT NULL CHECK (main_switch IN (0, 1)),
    updated_at  INTEGER NOT NULL,
    appid       TEXT    NOT NULL,
    PRIMARY KEY (appid, openid)
) STRICT, WITHOUT ROWID;

-- Every accept as reported by the mini-program (source 'client') or by
-- WeChat's popup event (source 'event'). A report and an event for the same
-- app, openid and template within 120 s describe one accept: the second to arrive
-- is paired with the first and adds no credit.
CREATE TABLE consent_grants (
    id          INTEGER NOT NULL PRIMARY KEY,
    openid      TEXT    NOT NULL,
    template_id TEXT    NOT NULL,
    source      TEXT    NOT NULL CHECK (source IN ('client', 'event')),
    received_at INTEGER NOT NULL,
    paired_with INTEGER REFERENCES consent_grants (id) ON DELETE SET NULL,
    appid       TEXT    NOT NULL
) STRICT;

CREATE INDEX consent_grants_unpaired ON consent_grants (appid, openid, template_id, source, received_at)
    WHERE paired_with IS NULL;

-- Reminders. fire_at is the scheduled instant of the current occurrence;
-- due_at is when the scanner should next pick the reminder up (fire_at, or a
-- retry time). A reminder in 'sending' holds a lease until lease_until;
-- credit_held says whether its claim reserved a consent credit.
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
    credit_held     INTEGER NOT NULL DEFAULT 0 CHECK (credit_held IN (0, 1)), unknown_at INTEGER, delivery TEXT NOT NULL DEFAULT '' CHECK (delivery IN ('', 'delivered', 'failed', 'unknown')), send_started INTEGER CHECK (send_started IN (0, 1)), snoozed INTEGER NOT NULL DEFAULT 0 CHECK (snoozed IN (0, 1)), series_at INTEGER, event_id TEXT, lead TEXT NOT NULL DEFAULT '', alternatives TEXT NOT NULL DEFAULT '' CHECK (alternatives = '' OR json_valid(alternatives)), external_ref TEXT, appid TEXT NOT NULL DEFAULT '',
    CHECK ((status IN ('failed', 'skipped')) = (reason IS NOT NULL)),
    CHECK ((status = 'sending') = (lease_until IS NOT NULL)),
    CHECK ((idempotency_key IS NULL) = (request_hash IS NULL))
) STRICT;

-- The due scan: scheduled reminders in due order.
CREATE INDEX reminders_due ON reminders (due_at, id) WHERE status = 'scheduled';
-- The lease rescuer: sending reminders by lease expiry.
CREATE INDEX reminders_lease ON reminders (lease_until) WHERE status = 'sending';
-- A user's reminders in (fire_at, id) order: their listing, the consent
-- prompt planner and the coverage counts.
CREATE INDEX reminders_owner ON reminders (openid, fire_at, id);
-- Listings of every user in one status, and the counts by status (metrics,
-- the admin page) from the index alone.
CREATE INDEX reminders_status ON reminders (status, fire_at, id);
-- Listings of every user in (fire_at, id) order (the admin's; a template
-- filter is applied while walking it).
CREATE INDEX reminders_fire ON reminders (fire_at, id);
-- Idempotency keys, unique per user. Partial: most reminders have no key,
-- and an entry for each would cost every create a write to its user's page.
CREATE UNIQUE INDEX reminders_idempotency ON reminders (openid, idempotency_key) WHERE idempotency_key IS NOT NULL;
-- Reminders whose current occurrence has an attempt of unknown outcome
-- (unknown_at), found by the sent event of their user and template.
CREATE INDEX reminders_unknown ON reminders (openid, template_id, unknown_at) WHERE unknown_at IS NOT NULL;
-- The admin's listing by delivery report (?delivery=failed): a few rows.
CREATE INDEX reminders_delivery ON reminders (delivery, fire_at, id) WHERE delivery <> '';
-- The per-user limit of scheduled reminders counts them from this index
-- alone (reminders_owner also holds their history, and not their status).
CREATE INDEX reminders_user_scheduled ON reminders (openid) WHERE status = 'scheduled';
-- A reminder's mini-program (appid, migration 12): the per-app counts and
-- the adoption of rows written before apps existed.
CREATE INDEX reminders_app ON reminders (appid, status);

-- One row per processing of a claimed reminder, in id order. occurrence_at is
-- the scheduled instant it belongs to; an occurrence is sent at most once
-- (deliveries_once). status: sending (in flight), sent, failed (permanent),
-- retry (transient, retried later), deferred (not counted as an attempt:
-- breaker open, quota, the user busy, shutdown), skipped (no consent,
-- expired), abandoned (lease expired with the outcome unknown: WeChat may
-- have accepted it), unknown (the request may have reached WeChat but no
-- valid answer came back), duplicate (WeChat accepted an occurrence already
-- sent). possible_duplicate marks a send made after an unknown or abandoned
-- attempt of the same occurrence.
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

CREATE INDEX deliveries_reminder ON deliveries (reminder_id, id);

CREATE UNIQUE INDEX deliveries_once ON deliveries (reminder_id, occurrence_at) WHERE status = 'sent';
CREATE INDEX deliveries_msgid ON deliveries (msgid) WHERE msgid IS NOT NULL;

-- Sent events (subscribe_msg_sent_event) that arrived before the outcome of
-- their send was recorded: applied to the delivery when it is. An event is
-- the app's it was pushed to (migration 14): it settles or wakes only that
-- app's reminders.
CREATE TABLE pending_sent_events (
    msgid        INTEGER NOT NULL PRIMARY KEY,
    delivered    INTEGER NOT NULL CHECK (delivered IN (0, 1)),
    event_status TEXT    NOT NULL,
    received_at  INTEGER NOT NULL,
    openid       TEXT    NOT NULL DEFAULT '',
    template_id  TEXT    NOT NULL DEFAULT '',
    appid        TEXT    NOT NULL
) STRICT;

CREATE INDEX pending_sent_events_user ON pending_sent_events (appid, openid, template_id, received_at) WHERE openid <> '';

-- The cached WeChat access token, one row per app (migration 12), so a
-- restart does not refetch.
CREATE TABLE wechat_token (
    value          TEXT    NOT NULL,
    expires_at     INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL,
    version        INTEGER NOT NULL DEFAULT 0,
    fetcher        TEXT    NOT NULL DEFAULT '',
    fetching_until INTEGER NOT NULL DEFAULT 0,
    appid          TEXT    NOT NULL PRIMARY KEY
) STRICT;

-- The per-openid send lease across processes (migration 7).
CREATE TABLE user_sends (
    openid TEXT    NOT NULL PRIMARY KEY,
    holder TEXT    NOT NULL,
    until  INTEGER NOT NULL
) STRICT;

-- Pushes already applied, durably: key is the SHA-256 of the plaintext
-- message (WeChat's retries re-encrypt the same message), or for a plaintext
-- push 'q:' with its timestamp and nonce, whose signature covers no body:
-- body_hash is the message that query was first seen with.
CREATE TABLE push_seen (
    key       TEXT    NOT NULL PRIMARY KEY,
    body_hash TEXT    NOT NULL DEFAULT '',
    seen_at   INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
CREATE INDEX push_seen_at ON push_seen (seen_at);

-- Pauses of sending that survive a restart (the daily quota).
CREATE TABLE pauses (
    name       TEXT    NOT NULL PRIMARY KEY CHECK (name <> ''),
    until      INTEGER NOT NULL,
    reason     TEXT    NOT NULL DEFAULT '',
    updated_at INTEGER NOT NULL
) STRICT;

-- The leader's lease: one row per name, held by holder until expires_at;
-- taken when expired, renewed by its holder, given up on shutdown, each
-- a compare-and-set (queries/leader.sql).
CREATE TABLE leader (
    name       TEXT    NOT NULL PRIMARY KEY CHECK (name <> ''),
    holder     TEXT    NOT NULL,
    elected_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
) STRICT;

-- The live processes (GET /admin/v1/instances): each heartbeats its row;
-- rows not seen for a while are deleted.
CREATE TABLE instances (
    id           TEXT    NOT NULL PRIMARY KEY CHECK (id <> ''),
    host         TEXT    NOT NULL DEFAULT '',
    started_at   INTEGER NOT NULL,
    last_seen_at INTEGER NOT NULL
) STRICT;
CREATE INDEX instances_last_seen ON instances (last_seen_at);

-- The Idempotency-Keys of snoozes, per app and user, with their request's
-- hash.
CREATE TABLE snoozes (
    openid          TEXT    NOT NULL,
    idempotency_key TEXT    NOT NULL,
    request_hash    TEXT    NOT NULL,
    reminder_id     TEXT    NOT NULL,
    created_at      INTEGER NOT NULL,
    appid           TEXT    NOT NULL,
    PRIMARY KEY (appid, openid, idempotency_key)
) STRICT, WITHOUT ROWID;

-- Events: a meeting with several reminders (its leads), as given; each
-- lead is one reminder of the event (reminders.event_id, lead), whose
-- alternatives are the templates it may be sent through (docs/events.md).
-- appid is the event's mini-program (migration 12).
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
    updated_at      INTEGER NOT NULL, appid TEXT NOT NULL DEFAULT '',
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
-- The service API cancels every attendee's event of one reference.
CREATE INDEX events_app_ref ON events (appid, external_ref) WHERE external_ref <> '';

-- An event's reminders in (fire_at, id) order.
CREATE INDEX reminders_event ON reminders (event_id, fire_at, id) WHERE event_id IS NOT NULL;
-- The service API's references and the webhook outbox (migration 11).
CREATE INDEX reminders_external_ref ON reminders (external_ref, fire_at, id) WHERE external_ref IS NOT NULL;
CREATE TABLE webhook_outbox (
    id          TEXT    NOT NULL PRIMARY KEY CHECK (id <> ''),
    appid       TEXT    NOT NULL,
    type        TEXT    NOT NULL CHECK (type IN ('reminder.sent', 'reminder.delivered', 'reminder.undelivered', 'reminder.failed', 'reminder.skipped', 'consent.changed')),
    reminder_id TEXT    NOT NULL DEFAULT '',
    openid      TEXT    NOT NULL DEFAULT '',
    payload     TEXT    NOT NULL CHECK (json_valid(payload)),
    body        TEXT    NOT NULL DEFAULT '',
    state       TEXT    NOT NULL CHECK (state IN ('pending', 'failing', 'delivered', 'dead')),
    attempts    INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    next_at     INTEGER NOT NULL,
    lease_owner TEXT    NOT NULL DEFAULT '',
    lease_until INTEGER NOT NULL DEFAULT 0,
    last_status INTEGER NOT NULL DEFAULT 0,
    last_error  TEXT    NOT NULL DEFAULT '',
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL,
    delivered_at INTEGER
) STRICT;
CREATE INDEX webhook_outbox_due ON webhook_outbox (next_at) WHERE state IN ('pending', 'failing');
CREATE INDEX webhook_outbox_state ON webhook_outbox (state, created_at, id);
