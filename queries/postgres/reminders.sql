-- name: InsertReminder :exec
INSERT INTO reminders (id, openid, template_id, status, fire_at, due_at, expires_at, window_ms, recurrence,
                       timezone, data, page, idempotency_key, request_hash, created_at, updated_at)
VALUES (@id, @openid, @template_id, 'scheduled', @fire_at, @fire_at, @expires_at, @window_ms, @recurrence,
        @timezone, @data, @page, @idempotency_key, @request_hash, @now, @now);
