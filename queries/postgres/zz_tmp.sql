-- Temporary fixtures of the pgb branch (the lead deletes this file at the
-- merge: the other half's InsertReminder replaces them).

-- name: TmpInsertReminder :one
INSERT INTO reminders (id, openid, template_id, status, fire_at, due_at, expires_at, window_ms, recurrence, timezone, data, page,
                       idempotency_key, request_hash, created_at, updated_at)
VALUES (@id::text, @openid::text, @template_id::text, 'scheduled', @fire_at::bigint, @fire_at::bigint, @expires_at, @window_ms,
        @recurrence, @timezone::text, @data::text, @page::text, @idempotency_key, @request_hash, @now::bigint, @now::bigint)
RETURNING *;

-- name: TmpGetReminder :one
SELECT * FROM reminders WHERE id = @id::text;
