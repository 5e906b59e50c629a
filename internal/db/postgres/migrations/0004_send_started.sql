-- Whether a claim's send has started: NULL when claims are not marked, false
-- from a marked claim (every claim of a fleet) until its worker takes the
-- user's send lease, true from then on. The lease rescuer gives a rescued
-- claim with false back as never sent (no attempt used, its credit
-- returned) instead of as an attempt of unknown outcome.
ALTER TABLE reminders ADD COLUMN send_started BOOLEAN;
