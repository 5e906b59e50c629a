-- reminderd:foreign-keys-off
-- The consent ledger belongs to an app: an openid is WeChat's name of a user
-- within one mini-program, and two apps may well see the same string (the
-- sandbox's apps do), so an accept in one app must not give a credit to the
-- other's reminder. consents, consent_settings, consent_grants and snoozes
-- are rebuilt with appid in their keys; the rows they hold go to app '',
-- which the configured app adopts at start-up as migration 12's rows
-- (store.Apps.AdoptRows). appid has no default: every write names its app.
ALTER TABLE consents RENAME TO consents_old;
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
INSERT INTO consents (openid, template_id, credits, status, long_term, updated_at, zeroed_at, setting, audio, appid)
    SELECT openid, template_id, credits, status, long_term, updated_at, zeroed_at, setting, audio, '' FROM consents_old;
DROP TABLE consents_old;

ALTER TABLE consent_settings RENAME TO consent_settings_old;
CREATE TABLE consent_settings (
    openid      TEXT    NOT NULL CHECK (openid <> ''),
    main_switch INTEGER NOT NULL CHECK (main_switch IN (0, 1)),
    updated_at  INTEGER NOT NULL,
    appid       TEXT    NOT NULL,
    PRIMARY KEY (appid, openid)
) STRICT, WITHOUT ROWID;
INSERT INTO consent_settings (openid, main_switch, updated_at, appid)
    SELECT openid, main_switch, updated_at, '' FROM consent_settings_old;
DROP TABLE consent_settings_old;

-- The grants keep their ids: paired_with refers to them.
ALTER TABLE consent_grants RENAME TO consent_grants_old;
CREATE TABLE consent_grants (
    id          INTEGER NOT NULL PRIMARY KEY,
    openid      TEXT    NOT NULL,
    template_id TEXT    NOT NULL,
    source      TEXT    NOT NULL CHECK (source IN ('client', 'event')),
    received_at INTEGER NOT NULL,
    paired_with INTEGER REFERENCES consent_grants (id) ON DELETE SET NULL,
    appid       TEXT    NOT NULL
) STRICT;
INSERT INTO consent_grants (id, openid, template_id, source, received_at, paired_with, appid)
    SELECT id, openid, template_id, source, received_at, paired_with, '' FROM consent_grants_old;
DROP TABLE consent_grants_old;
-- A pairing looks for an unpaired accept of the same app, user and template.
CREATE INDEX consent_grants_unpaired ON consent_grants (appid, openid, template_id, source, received_at)
    WHERE paired_with IS NULL;

ALTER TABLE snoozes RENAME TO snoozes_old;
CREATE TABLE snoozes (
    openid          TEXT    NOT NULL,
    idempotency_key TEXT    NOT NULL,
    request_hash    TEXT    NOT NULL,
    reminder_id     TEXT    NOT NULL,
    created_at      INTEGER NOT NULL,
    appid           TEXT    NOT NULL,
    PRIMARY KEY (appid, openid, idempotency_key)
) STRICT, WITHOUT ROWID;
INSERT INTO snoozes (openid, idempotency_key, request_hash, reminder_id, created_at, appid)
    SELECT openid, idempotency_key, request_hash, reminder_id, created_at, '' FROM snoozes_old;
DROP TABLE snoozes_old;
