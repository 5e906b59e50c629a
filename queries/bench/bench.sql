-- name: BenchLateness :many
-- Lateness (finished - scheduled) of every sent delivery, in ms, sorted.
SELECT CAST(finished_at - occurrence_at AS INTEGER) AS lateness_ms FROM deliveries WHERE status = 'sent' ORDER BY 1;

-- name: BenchSendWindow :one
SELECT CAST(coalesce(min(started_at), 0) AS INTEGER) AS first_start, CAST(coalesce(max(finished_at), 0) AS INTEGER) AS last_finish,
       count(*) AS sent
FROM deliveries WHERE status = 'sent';
