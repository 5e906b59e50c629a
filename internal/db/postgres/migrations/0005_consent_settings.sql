-- Consent settings and snooze. A consent row gains the user's saved choice
-- for its template as wx.getSetting reports it (setting: NULL when none
-- saved) and whether the last accept reported was acceptWithAudio (audio).
-- consent_settings keeps each user's main switch of subscriptions. A
-- reminder gains its snooze: snoozed is set while its current occurrence
-- is a snooze's extra one, and series_at is then the series' occurrence
-- the recurrence resumes at afterwards (NULL: the series had ended, or
-- the reminder is a one-off). snoozes remembers each snooze's
-- Idempotency-Key per user with its request's hash.
ALTER TABLE consents ADD COLUMN setting TEXT CHECK (setting IN ('accept', 'reject', 'ban'));
ALTER TABLE consents ADD COLUMN audio BOOLEAN NOT NULL DEFAULT false;
CREATE TABLE consent_settings (
    openid      TEXT    NOT NULL PRIMARY KEY CHECK (openid <> ''),
    main_switch BOOLEAN NOT NULL,
    updated_at  BIGINT NOT NULL
);
ALTER TABLE reminders ADD COLUMN snoozed BOOLEAN NOT NULL DEFAULT false;
ALTER TABLE reminders ADD COLUMN series_at BIGINT;
CREATE TABLE snoozes (
    openid          TEXT    NOT NULL,
    idempotency_key TEXT    NOT NULL,
    request_hash    TEXT    NOT NULL,
    reminder_id     TEXT    NOT NULL,
    created_at      BIGINT NOT NULL,
    PRIMARY KEY (openid, idempotency_key)
);
