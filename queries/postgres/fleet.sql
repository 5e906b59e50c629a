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

-- name: AcquireUserSend :one
-- The user's send lease for holder, unless another holder has it past
-- @now; with it, in the same statement, holder's claim of @reminder_id is
-- marked started if it is still holder's (a claim rescued meanwhile is
-- not: marked 0, and the caller gives the lease back and does not send).
WITH lease AS (
    INSERT INTO user_sends (openid, holder, until) VALUES (@openid, @holder, @until)
    ON CONFLICT (openid) DO UPDATE SET holder = excluded.holder, until = excluded.until
    WHERE user_sends.until <= @now OR user_sends.holder = excluded.holder
    RETURNING 1
), mark AS (
    UPDATE reminders SET send_started = true
    WHERE id = @reminder_id::text AND status = 'sending' AND lease_owner = @holder
      AND EXISTS (SELECT 1 FROM lease)
    RETURNING 1
)
SELECT (SELECT count(*) FROM lease)::bigint AS leased, (SELECT count(*) FROM mark)::bigint AS marked;

-- name: ReleaseUserSend :exec
DELETE FROM user_sends WHERE openid = @openid AND holder = @holder;


-- name: ReleaseUserSends :exec
-- The send leases given up with the outcomes of a batch (parallel arrays).
DELETE FROM user_sends u USING (SELECT unnest(@openids::text[]) AS openid, unnest(@holders::text[]) AS holder) r
WHERE u.openid = r.openid AND u.holder = r.holder;
