-- Credits are reserved when a reminder is claimed (one send, one credit) and
-- given back if the claim ends without a send. credit_held marks a claim
-- holding a credit, so that the lease rescuer can give it back; zeroed_at is
-- when the ledger was last emptied (unsubscribe, 43101), so that a credit
-- reserved before that is not given back after it.
ALTER TABLE reminders ADD COLUMN credit_held INTEGER NOT NULL DEFAULT 0 CHECK (credit_held IN (0, 1));
ALTER TABLE consents ADD COLUMN zeroed_at INTEGER NOT NULL DEFAULT 0;
-- Retention finds old deliveries by id (ids grow with time): the index on
-- started_at cost every send an index insert for a daily job.
DROP INDEX deliveries_started;
