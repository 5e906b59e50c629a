-- name: CreateSession :exec
INSERT INTO sessions (token_hash, openid, created_at, expires_at, appid) VALUES (@token_hash, @openid, @created_at, @expires_at, @appid);

-- name: GetSession :one
SELECT * FROM sessions WHERE token_hash = @token_hash AND expires_at > @now;

-- name: DeleteExpiredSessions :execrows
DELETE FROM sessions WHERE expires_at <= @now;
