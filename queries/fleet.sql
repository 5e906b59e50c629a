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

-- AcquireUserSend is two statements in one transaction on SQLite (sqlc's
-- SQLite parser takes no parameter in an upsert's WHERE): an expired lease
-- is dropped, then the lease is inserted or, when this holder already has
-- it, extended.

-- name: DropExpiredUserSend :exec
DELETE FROM user_sends WHERE openid = @openid AND until <= @now;

-- name: AcquireUserSend :execrows
INSERT INTO user_sends (openid, holder, until) VALUES (@openid, @holder, @until)
ON CONFLICT (openid) DO UPDATE SET until = excluded.until WHERE user_sends.holder = excluded.holder;

-- name: ReleaseUserSend :exec
DELETE FROM user_sends WHERE openid = @openid AND holder = @holder;

-- name: MarkSendStarted :execrows
-- The send of holder's claim of the reminder starts (taken with the user's
-- send lease): 0 rows when the claim is no longer holder's at that attempt
-- (rescued, or rescued and claimed again).
UPDATE reminders SET send_started = 1
WHERE id = @id AND status = 'sending' AND lease_owner = @holder AND attempts = @attempts;
