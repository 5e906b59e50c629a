package db

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"sort"
	"strconv"
	"strings"
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

// SchemaVersion returns the database's applied migration version.
func (d *DB) SchemaVersion(ctx context.Context) (int, error) {
	var v int
	err := d.W.QueryRowContext(ctx, "PRAGMA user_version").Scan(&v)
	return v, err
}

// LatestVersion is the version the embedded migrations lead to.
func LatestVersion() int {
	ms, err := Migrations()
	if err != nil || len(ms) == 0 {
		return 0
	}
	return ms[len(ms)-1].Version
}

// migrate applies pending migrations, each in its own transaction together
// with the user_version bump, and returns how many it applied. A database
// newer than this binary is refused.
func (d *DB) migrate(ctx context.Context) (int, error) {
	ms, err := Migrations()
	if err != nil {
		return 0, err
	}
	cur, err := d.SchemaVersion(ctx)
	if err != nil {
		return 0, fmt.Errorf("migrate: read version: %w", err)
	}
	if cur > len(ms) {
		return 0, fmt.Errorf("migrate: database is at version %d, newer than this binary (%d): upgrade reminderd", cur, len(ms))
	}
	applied := 0
	for _, m := range ms[cur:] {
		if err := d.apply(ctx, m); err != nil {
			return applied, fmt.Errorf("migrate %s: %w", m.Name, err)
		}
		applied++
	}
	if applied > 0 {
		// An upgrade writes schema pages to the WAL: give its space back
		// rather than leave it to the first checkpoint of the service.
		if _, err := d.W.ExecContext(ctx, "PRAGMA wal_checkpoint(TRUNCATE)"); err != nil {
			return applied, fmt.Errorf("migrate: checkpoint: %w", err)
		}
	}
	return applied, nil
}

// foreignKeysOff, as a migration's first line, marks one that rebuilds a
// table: it runs with foreign keys off (dropping the old table must not
// cascade), and they are checked before its commit.
const foreignKeysOff = "-- reminderd:foreign-keys-off"

// rebuilds reports whether sql is marked foreignKeysOff (whatever the line
// endings of the checkout it was embedded from).
func rebuilds(sql string) bool {
	first, _, _ := strings.Cut(sql, "\n")
	return strings.TrimSpace(first) == foreignKeysOff
}

// apply runs one migration and its user_version bump in one transaction.
func (d *DB) apply(ctx context.Context, m Migration) (err error) {
	// The pragma is a no-op inside a transaction, and W is a single
	// connection: set around the transaction, on that connection.
	fkOff := rebuilds(m.SQL)
	if fkOff {
		if _, err := d.W.ExecContext(ctx, "PRAGMA foreign_keys = OFF"); err != nil {
			return err
		}
		defer func() {
			ctx := context.WithoutCancel(ctx)
			// legacy_alter_table: if the migration failed before its own reset.
			_, e1 := d.W.ExecContext(ctx, "PRAGMA legacy_alter_table = OFF")
			_, e2 := d.W.ExecContext(ctx, "PRAGMA foreign_keys = ON")
			// A rebuild leaves a WAL as large as the table: give the space back.
			_, e3 := d.W.ExecContext(ctx, "PRAGMA wal_checkpoint(TRUNCATE)")
			if e := errors.Join(e1, e2, e3); e != nil {
				err = errors.Join(err, fmt.Errorf("after the migration: %w", e))
			}
		}()
	}
	tx, err := d.W.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback() }()
	if fkOff {
		// Had database/sql replaced the connection since the pragma, this
		// one would have foreign keys on, and dropping the old table would
		// cascade to the rows that refer to it.
		var on int
		if err := tx.QueryRowContext(ctx, "PRAGMA foreign_keys").Scan(&on); err != nil {
			return err
		}
		if on != 0 {
			return errors.New("foreign keys are still on: refusing to rebuild a table")
		}
	}
	if _, err := tx.ExecContext(ctx, m.SQL); err != nil {
		return err
	}
	if fkOff {
		var broken int
		if err := tx.QueryRowContext(ctx, "SELECT count(*) FROM pragma_foreign_key_check").Scan(&broken); err != nil {
			return fmt.Errorf("foreign key check: %w", err)
		}
		if broken > 0 {
			return fmt.Errorf("foreign key check: %d rows refer to missing rows", broken)
		}
	}
	if _, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", m.Version)); err != nil {
		return err
	}
	return tx.Commit()
}
