-- The service API and webhooks. A reminder the app's backend created may
-- carry the backend's own reference (external_ref), listed by it.
-- webhook_outbox is the durable outbox of webhook events: a row is written
-- in the transaction of the change it reports (an outcome, a push event, a
-- consent change) and posted at least once by the dispatcher, which leases
-- due rows (lease_owner until lease_until), then marks them delivered, or
-- failing with the next attempt's instant (next_at), or dead after a day.
-- body is the request body as first posted, kept so that every retry posts
-- the same bytes.
ALTER TABLE reminders ADD COLUMN external_ref TEXT;
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
