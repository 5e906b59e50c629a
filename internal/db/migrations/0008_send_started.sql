-- Whether a claim's send has started: NULL when claims are not marked (one
-- process, SQLite's engine takes no send lease), 0 from a marked claim until
-- its worker takes the user's send lease, 1 from then on. The lease rescuer
-- gives a rescued claim with 0 back as never sent (no attempt used, its
-- credit returned) instead of as an attempt of unknown outcome.
ALTER TABLE reminders ADD COLUMN send_started INTEGER CHECK (send_started IN (0, 1));
