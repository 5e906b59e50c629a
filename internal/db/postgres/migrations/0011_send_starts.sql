-- A fleet's start marks (docs/engine.md, "A claim that never started"): one
-- row per claim whose worker took the user's send lease, written in the
-- lease's statement and deleted with the claim's record. They were
-- reminders.send_started = true: an insert into this narrow table costs far
-- less than a second update of the reminder's row and its indexes on every
-- send (docs/performance.md). A claim marked true by a process of an earlier
-- version still counts as started.
CREATE TABLE send_starts (
    reminder_id TEXT   NOT NULL PRIMARY KEY REFERENCES reminders (id) ON DELETE CASCADE,
    attempt     BIGINT NOT NULL
);
