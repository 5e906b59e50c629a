-- Several processes on one database. The access token row gains a version
-- (bumped by every save: the compare-and-set of an invalidation on 40001)
-- and a fetch lease (fetcher until fetching_until, unix ms): the one process
-- that holds it fetches the token for the fleet while the others wait for
-- its save. user_sends is the per-openid send lease: at most one send to a
-- user in flight across the processes (WeChat answers 43108 to concurrent
-- sends to one user).
ALTER TABLE wechat_token ADD COLUMN version BIGINT NOT NULL DEFAULT 0;
ALTER TABLE wechat_token ADD COLUMN fetcher TEXT NOT NULL DEFAULT '';
ALTER TABLE wechat_token ADD COLUMN fetching_until BIGINT NOT NULL DEFAULT 0;
CREATE TABLE user_sends (
    openid TEXT    NOT NULL PRIMARY KEY,
    holder TEXT    NOT NULL,
    until  BIGINT NOT NULL
);
