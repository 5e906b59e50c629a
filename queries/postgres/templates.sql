-- name: UpsertTemplate :exec
INSERT INTO templates (appid, id, title, kind, content, keywords, position, present, synced_at)
VALUES (@appid::text, @id::text, @title::text, @kind::text, @content::text, @keywords::text, @position::bigint, true, @synced_at::bigint)
ON CONFLICT (appid, id) DO UPDATE SET
    title = excluded.title, kind = excluded.kind, content = excluded.content,
    keywords = excluded.keywords, position = excluded.position, present = true, synced_at = excluded.synced_at;

-- name: MarkTemplatesAbsent :execrows
-- The first statement of a sync's transaction: every template is absent
-- until the sync's UpsertTemplate names it again.
UPDATE templates SET present = false WHERE appid = @appid AND present;

-- name: ListTemplates :many
SELECT * FROM templates WHERE appid = @appid AND present ORDER BY position, id;
