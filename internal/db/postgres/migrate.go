// Package postgres is the seed of reminderd's PostgreSQL driver (issue 16):
// the schema, as embedded migrations, and Migrate, which applies them once
// however many processes start at the same moment. The driver proper (the
// store.Store over pgx, its sqlc queries) grows here.
//
// The canonical schema is schema_postgres.sql at the repository's root,
// which says how it translates SQLite's schema.sql; the migrations must
// produce exactly that (schema_test.go compares the catalogs).
package postgres

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// Migration is one embedded schema step; Version is its file's number.
type Migration struct {
	Version int
	Name    string
	SQL     string
}

// Migrations returns the embedded migrations in order.
func Migrations() ([]Migration, error) {
	entries, err := fs.ReadDir(migrationFS, "migrations")
	if err != nil {
		return nil, err
	}
	var out []Migration
	for _, e := range entries {
		num, _, ok := strings.Cut(e.Name(), "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil {
			return nil, fmt.Errorf("migration %s: name must start with a number and '_'", e.Name())
		}
		b, err := migrationFS.ReadFile("migrations/" + e.Name())
		if err != nil {
			return nil, err
		}
		out = append(out, Migration{Version: v, Name: e.Name(), SQL: string(b)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Version < out[j].Version })
	for i, m := range out {
		if m.Version != i+1 {
			return nil, fmt.Errorf("migration %s: versions must be 1, 2, 3, … without gaps", m.Name)
		}
	}
	return out, nil
}

// LatestVersion is the version the embedded migrations lead to.
func LatestVersion() int {
	ms, err := Migrations()
	if err != nil {
		return 0
	}
	return len(ms)
}

// Beginner is what Migrate needs of a database: a *pgxpool.Pool or a
// *pgx.Conn.
type Beginner interface {
	Begin(ctx context.Context) (pgx.Tx, error)
}

// Querier is what SchemaVersion needs: a pool, a connection or a
// transaction.
type Querier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// migrateLock is the advisory lock key ("reminder" in ASCII) that
// serializes migrations. Advisory locks are scoped to one database, so two
// deployments sharing a server do not wait on each other.
const migrateLock int64 = 0x72656d696e646572

// schemaMigrations records each applied migration; Migrate creates it
// (under the lock), so it is not in schema_postgres.sql.
const schemaMigrations = `CREATE TABLE IF NOT EXISTS schema_migrations (
    version    BIGINT NOT NULL PRIMARY KEY,
    name       TEXT   NOT NULL,
    applied_at BIGINT NOT NULL -- unix ms
)`

// Migrate applies the pending migrations and returns how many it applied.
// Each runs in its own transaction with its schema_migrations row, under a
// transaction-scoped advisory lock: processes that start together queue on
// the lock, and each sees what the one before it committed, so every
// migration runs once. The lock goes with the transaction, even when a
// process dies holding it. A database newer than this binary is refused.
//
// A migration therefore cannot hold a statement that refuses a
// transaction (CREATE INDEX CONCURRENTLY); one that needs it needs another
// way.
func Migrate(ctx context.Context, db Beginner) (int, error) {
	ms, err := Migrations()
	if err != nil {
		return 0, err
	}
	for applied := 0; ; applied++ {
		more, err := step(ctx, db, ms)
		if err != nil || !more {
			return applied, err
		}
	}
}

// step applies the first migration the database lacks, if any, and
// reports whether it applied one.
func step(ctx context.Context, db Beginner, ms []Migration) (applied bool, err error) {
	tx, err := db.Begin(ctx)
	if err != nil {
		return false, fmt.Errorf("migrate: begin: %w", err)
	}
	defer func() {
		if err != nil {
			tx.Rollback(context.WithoutCancel(ctx))
		}
	}()
	if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", migrateLock); err != nil {
		return false, fmt.Errorf("migrate: lock: %w", err)
	}
	if _, err := tx.Exec(ctx, schemaMigrations); err != nil {
		return false, fmt.Errorf("migrate: create schema_migrations: %w", err)
	}
	cur, err := appliedVersion(ctx, tx)
	if err != nil {
		return false, fmt.Errorf("migrate: read version: %w", err)
	}
	if cur > len(ms) {
		return false, fmt.Errorf("migrate: database is at version %d, newer than this binary (%d): upgrade reminderd", cur, len(ms))
	}
	if cur < len(ms) {
		m := ms[cur]
		// No arguments: pgx sends the file in the simple protocol, which
		// takes several statements.
		if _, err := tx.Exec(ctx, m.SQL); err != nil {
			return false, fmt.Errorf("migrate %s: %w", m.Name, err)
		}
		if _, err := tx.Exec(ctx, "INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)",
			m.Version, m.Name, time.Now().UnixMilli()); err != nil {
			return false, fmt.Errorf("migrate %s: record: %w", m.Name, err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return false, fmt.Errorf("migrate: commit: %w", err)
	}
	return cur < len(ms), nil
}

// SchemaVersion returns the version of the last migration applied to the
// database: 0 for one never migrated.
func SchemaVersion(ctx context.Context, q Querier) (int, error) {
	var exists bool
	if err := q.QueryRow(ctx, "SELECT to_regclass('schema_migrations') IS NOT NULL").Scan(&exists); err != nil {
		return 0, fmt.Errorf("schema version: %w", err)
	}
	if !exists {
		return 0, nil
	}
	v, err := appliedVersion(ctx, q)
	if err != nil {
		return 0, fmt.Errorf("schema version: %w", err)
	}
	return v, nil
}

// appliedVersion reads schema_migrations, which must exist.
func appliedVersion(ctx context.Context, q Querier) (int, error) {
	var v int
	err := q.QueryRow(ctx, "SELECT coalesce(max(version), 0) FROM schema_migrations").Scan(&v)
	return v, err
}
