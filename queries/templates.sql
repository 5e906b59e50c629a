-- name: UpsertTemplate :exec
INSERT INTO templates (appid, id, title, kind, content, keywords, position, present, synced_at)
VALUES (@appid, @id, @title, @kind, @content, @keywords, @position, 1, @synced_at)
ON CONFLICT (appid, id) DO UPDATE SET
    title = excluded.title, kind = excluded.kind, content = excluded.content,
    keywords = excluded.keywords, position = excluded.position, present = 1, synced_at = excluded.synced_at;

-- name: MarkTemplatesAbsent :execrows
-- The first statement of a sync's transaction: every template is absent
-- until the sync's UpsertTemplate names it again (present = 1). Marking by
-- membership in the list, not by synced_at, also holds for two syncs within
-- one millisecond.
UPDATE templates SET present = 0 WHERE appid = @appid AND present = 1;

-- name: ListTemplates :many
SELECT * FROM templates WHERE appid = @appid AND present = 1 ORDER BY position, id;

-- name: GetTemplate :one
SELECT * FROM templates WHERE appid = @appid AND id = @id;
