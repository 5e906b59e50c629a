-- name: SaveToken :exec
INSERT INTO wechat_token (appid, value, expires_at, updated_at) VALUES (@appid, @value, @expires_at, @now)
ON CONFLICT (appid) DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at, updated_at = excluded.updated_at,
    version = wechat_token.version + 1;
