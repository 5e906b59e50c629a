-- The fleet on PostgreSQL: the leader's lease and the live processes
-- (internal/db/postgres/leader.go). Every instant here is the database's
-- clock (now(), in unix ms), not the caller's: the processes of a fleet run
-- on different machines whose clocks may disagree, and a lease judged by
-- one shared clock cannot be taken early by a process whose clock runs
-- ahead (docs/engine.md, "Several processes").

-- name: ElectLeader :execrows
-- Elect-if-expired and reelect-if-holder in one compare-and-set (the
-- conflicting row is locked while its WHERE is judged): the lease is taken
-- when there is none or it expired, and renewed (its elected_at kept) when
-- holder holds it. No row changed: another holder's lease is live.
INSERT INTO leader (name, holder, elected_at, expires_at)
VALUES (@name::text, @holder::text, (extract(epoch FROM now()) * 1000)::bigint,
        (extract(epoch FROM now()) * 1000)::bigint + @ttl_ms::bigint)
ON CONFLICT (name) DO UPDATE SET
    elected_at = CASE WHEN leader.holder = excluded.holder AND leader.expires_at > excluded.elected_at
                      THEN leader.elected_at ELSE excluded.elected_at END,
    holder     = excluded.holder,
    expires_at = excluded.expires_at
WHERE leader.holder = excluded.holder OR leader.expires_at <= excluded.elected_at;

-- name: ResignLeader :execrows
-- Resign: the lease is given up only by its holder.
DELETE FROM leader WHERE name = @name::text AND holder = @holder::text;

-- name: HeartbeatInstance :exec
INSERT INTO instances (id, host, started_at, last_seen_at)
VALUES (@id::text, @host::text, (extract(epoch FROM now()) * 1000)::bigint, (extract(epoch FROM now()) * 1000)::bigint)
ON CONFLICT (id) DO UPDATE SET host = excluded.host, last_seen_at = excluded.last_seen_at;

-- name: ForgetInstances :execrows
-- The cleanup of processes (but the heartbeating one) not seen for forget_ms.
DELETE FROM instances WHERE last_seen_at < (extract(epoch FROM now()) * 1000)::bigint - @forget_ms::bigint AND id <> @id::text;

-- name: DeleteInstance :exec
DELETE FROM instances WHERE id = @id::text;

-- name: ListInstances :many
-- The processes seen within stale_ms, each with whether it holds the live
-- lease named leader_name.
SELECT i.id, i.host, i.started_at, i.last_seen_at,
       coalesce(l.holder = i.id AND l.expires_at > (extract(epoch FROM now()) * 1000)::bigint, false)::boolean AS leader
FROM instances i LEFT JOIN leader l ON l.name = @leader_name::text
WHERE i.last_seen_at >= (extract(epoch FROM now()) * 1000)::bigint - @stale_ms::bigint
ORDER BY i.started_at, i.id;

-- The sole-sender lease (store.EngineStore.SoleSender; docs/engine.md, "A
-- process alone on the database"): a row of leader named 'sole_sender',
-- holder '' when free, read and written under its row lock.

-- name: SoleSenderTimeouts :exec
-- The tick holds one row every process's tick waits for: it never waits
-- for the lock longer than @lock_ms, and a client that dies mid-tick (its
-- connection idle in the transaction) loses it after @idle_ms instead of
-- when TCP notices.
SELECT set_config('lock_timeout', @lock_ms::text, true), set_config('idle_in_transaction_session_timeout', @idle_ms::text, true);

-- name: EnsureSoleSender :exec
INSERT INTO leader (name, holder, elected_at, expires_at) VALUES (@name::text, '', 0, 0) ON CONFLICT (name) DO NOTHING;

-- name: LockSoleSender :one
-- The lease's row, locked to the commit, and the database's now() (the
-- transaction's start: every judgement below is made at an instant no
-- later than the one its writes are seen at).
SELECT holder, elected_at, expires_at, (extract(epoch FROM now()) * 1000)::bigint AS now FROM leader WHERE name = @name::text FOR UPDATE;

-- name: OthersMaySend :one
-- Whether a process other than @id may be sending: seen since @since,
-- or holding a user's send lease that has not run out. Read after
-- LockSoleSender, in a snapshot that includes every tick committed before
-- the lock was granted.
SELECT EXISTS (SELECT 1 FROM instances WHERE id <> @id::text AND last_seen_at > @since::bigint)::bool AS seen,
       EXISTS (SELECT 1 FROM user_sends WHERE holder <> @id::text AND until > @now::bigint)::bool AS leasing;

-- name: SetSoleSender :exec
UPDATE leader SET holder = @holder::text, elected_at = @elected_at::bigint, expires_at = @expires_at::bigint WHERE name = @name::text;
