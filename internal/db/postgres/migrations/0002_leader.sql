-- One of each across the fleet: the leader's lease (one row per name,
-- taken and renewed by compare-and-sets on the database's clock) and the
-- live processes, each heartbeating its row (docs/engine.md, "Several
-- processes").
CREATE TABLE leader (
    name       TEXT   NOT NULL PRIMARY KEY CHECK (name <> ''),
    holder     TEXT   NOT NULL,
    elected_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);

CREATE TABLE instances (
    id           TEXT   NOT NULL PRIMARY KEY CHECK (id <> ''),
    host         TEXT   NOT NULL DEFAULT '',
    started_at   BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL
);
CREATE INDEX instances_last_seen ON instances (last_seen_at);
