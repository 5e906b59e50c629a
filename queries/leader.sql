-- The fleet: the leader's lease and the live processes (internal/db/leader.go).
-- On SQLite the instants are the caller's (the engine's clock).

-- name: ElectLeader :execrows
-- Elect-if-expired and reelect-if-holder in one compare-and-set: the lease
-- is taken when there is none or it expired at or before now, and renewed
-- (its elected_at kept) when holder holds it. No row changed: another
-- holder's lease is live.
INSERT INTO leader (name, holder, elected_at, expires_at) VALUES (@name, @holder, @now, @expires_at)
ON CONFLICT (name) DO UPDATE SET
    elected_at = CASE WHEN leader.holder = excluded.holder AND leader.expires_at > excluded.elected_at
                      THEN leader.elected_at ELSE excluded.elected_at END,
    holder     = excluded.holder,
    expires_at = excluded.expires_at
WHERE leader.holder = excluded.holder OR leader.expires_at <= excluded.elected_at;

-- name: ResignLeader :execrows
-- Resign: the lease is given up only by its holder.
DELETE FROM leader WHERE name = @name AND holder = @holder;

-- name: HeartbeatInstance :exec
INSERT INTO instances (id, host, started_at, last_seen_at) VALUES (@id, @host, @started_at, @now)
ON CONFLICT (id) DO UPDATE SET host = excluded.host, last_seen_at = excluded.last_seen_at;

-- name: ForgetInstances :execrows
-- The cleanup of processes (but the heartbeating one) not seen since before.
DELETE FROM instances WHERE last_seen_at < @before AND id <> @id;

-- name: DeleteInstance :exec
DELETE FROM instances WHERE id = @id;

-- name: ListInstances :many
-- The processes seen since since, each with whether it holds the live
-- lease named leader_name.
SELECT i.id, i.host, i.started_at, i.last_seen_at,
       CAST(coalesce(l.holder = i.id AND l.expires_at > @now, 0) AS INTEGER) AS leader
FROM instances i LEFT JOIN leader l ON l.name = @leader_name
WHERE i.last_seen_at >= @since
ORDER BY i.started_at, i.id;

-- The sole-sender lease (store.EngineStore.SoleSender): a row of leader
-- named 'sole_sender', holder '' when free. SQLite serialises writers, so
-- the read below is already the writer's.

-- name: EnsureSoleSender :exec
INSERT INTO leader (name, holder, elected_at, expires_at) VALUES (@name, '', 0, 0) ON CONFLICT (name) DO NOTHING;

-- name: GetSoleSender :one
SELECT holder, elected_at, expires_at FROM leader WHERE name = @name;

-- name: OthersMaySend :one
-- Whether a process other than @id may be sending: seen since @since, or
-- holding a user's send lease that has not run out at @now.
SELECT CAST(EXISTS (SELECT 1 FROM instances WHERE id <> @id AND last_seen_at > @since) AS INTEGER) AS seen,
       CAST(EXISTS (SELECT 1 FROM user_sends WHERE holder <> @id AND until > @now) AS INTEGER) AS leasing;

-- name: SetSoleSender :exec
UPDATE leader SET holder = @holder, elected_at = @elected_at, expires_at = @expires_at WHERE name = @name;
