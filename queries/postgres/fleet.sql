-- Several processes on one database: the shared access token's fetch lease
-- and compare-and-set version, and the per-openid send lease.

-- name: LoadFleetToken :one
SELECT value, expires_at, version FROM wechat_token WHERE appid = @appid;

-- name: AcquireTokenFetch :execrows
INSERT INTO wechat_token (appid, value, expires_at, updated_at, fetcher, fetching_until)
VALUES (@appid, '', 0, @now, @holder, @until)
ON CONFLICT (appid) DO UPDATE SET fetcher = excluded.fetcher, fetching_until = excluded.fetching_until
WHERE wechat_token.fetching_until <= excluded.updated_at OR wechat_token.fetcher = excluded.fetcher;

-- name: ReleaseTokenFetch :exec
UPDATE wechat_token SET fetcher = '', fetching_until = 0 WHERE appid = @appid AND fetcher = @holder;

-- name: SaveFetchedToken :one
INSERT INTO wechat_token (appid, value, expires_at, updated_at, version, fetcher, fetching_until)
VALUES (@appid, @value, @expires_at, @now, 1, @holder, 0)
ON CONFLICT (appid) DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at,
    updated_at = excluded.updated_at, version = wechat_token.version + 1,
    fetcher = CASE WHEN wechat_token.fetcher = excluded.fetcher THEN '' ELSE wechat_token.fetcher END,
    fetching_until = CASE WHEN wechat_token.fetcher = excluded.fetcher THEN 0 ELSE wechat_token.fetching_until END
RETURNING version;

-- name: InvalidateToken :execrows
UPDATE wechat_token SET value = '', expires_at = 0, updated_at = @now
WHERE appid = @appid AND version = @version AND value <> '';

-- name: AcquireUserSends :many
-- AcquireUserSend for several sends at once (parallel arrays, one openid
-- at most once): each user's send lease for its holder, unless another
-- holder has it past @now; with it, each holder's claim of its reminder is
-- marked started (send_starts) if it is still the holder's at its attempt.
-- One statement, so one commit for the sends of a whole batch. The claim is
-- matched by its owner, attempt and lease_until, not by status, so that no
-- plan can take a partial index of status instead of the primary key (a
-- claim's lease_until is set exactly while it is sending:
-- reminders_lease_iff_sending), and its row is locked (FOR KEY SHARE): a
-- rescue under way (ExpiredLeases holds the row FOR UPDATE) is waited for
-- and its result read, so that a claim the rescuer gives back is never
-- marked, and a rescuer that comes after the mark skips the row.
WITH req AS (
    SELECT unnest(@openids::text[]) AS openid, unnest(@holders::text[]) AS holder,
           unnest(@untils::bigint[]) AS until, unnest(@reminder_ids::text[]) AS reminder_id,
           unnest(@attempts::bigint[]) AS attempt
), lease AS (
    INSERT INTO user_sends (openid, holder, until) SELECT req.openid, req.holder, req.until FROM req
    ON CONFLICT (openid) DO UPDATE SET holder = excluded.holder, until = excluded.until
    WHERE user_sends.until <= @now OR user_sends.holder = excluded.holder
    RETURNING user_sends.openid
), mark AS (
    INSERT INTO send_starts (reminder_id, attempt)
    SELECT m.id, m.attempts FROM reminders m JOIN req ON m.id = req.reminder_id
    WHERE m.lease_until IS NOT NULL AND m.lease_owner = req.holder AND m.attempts = req.attempt
      AND req.openid IN (SELECT lease.openid FROM lease)
    FOR KEY SHARE OF m
    ON CONFLICT (reminder_id) DO UPDATE SET attempt = excluded.attempt
    RETURNING send_starts.reminder_id
)
SELECT req.openid::text AS openid,
       (req.openid IN (SELECT lease.openid FROM lease))::bool AS leased,
       (req.reminder_id IN (SELECT mark.reminder_id FROM mark))::bool AS marked
FROM req;

-- name: ReleaseUserSend :exec
DELETE FROM user_sends WHERE openid = @openid AND holder = @holder;


-- name: ReleaseUserSends :exec
-- The send leases given up with the outcomes of a batch (parallel arrays),
-- and the start marks of the batch's claims (@reminder_ids at @attempts),
-- whose records make them moot: only the recorded attempt's, never a later
-- claim's that a stale record would otherwise wipe.
WITH starts AS (
    DELETE FROM send_starts s USING (SELECT unnest(@reminder_ids::text[]) AS id, unnest(@attempts::bigint[]) AS attempt) c
    WHERE s.reminder_id = c.id AND s.attempt = c.attempt
)
DELETE FROM user_sends u USING (SELECT unnest(@openids::text[]) AS openid, unnest(@holders::text[]) AS holder) r
WHERE u.openid = r.openid AND u.holder = r.holder;
