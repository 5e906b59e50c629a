-- name: SaveToken :exec
INSERT INTO wechat_token (id, value, expires_at, updated_at) VALUES (1, @value, @expires_at, @now)
ON CONFLICT (id) DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at, updated_at = excluded.updated_at,
    version = wechat_token.version + 1;
