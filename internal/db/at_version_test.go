package db_test

import (
	"database/sql"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/reminderd/reminderd/internal/db"
)

// atVersion creates a database file migrated to version (as a binary of
// that version left it: its migrations applied, user_version set) and
// returns a raw connection to it and its path, for a migration test to
// fill with that version's rows before db.Open migrates the rest. next,
// when not empty, is the name the migration after version must have.
func atVersion(t *testing.T, version int, next string) (*sql.DB, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), fmt.Sprintf("v%d.db", version))
	raw, err := sql.Open("sqlite", db.DSN(path, false))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { raw.Close() })
	ms, err := db.Migrations()
	if err != nil {
		t.Fatal(err)
	}
	if ms[version-1].Version != version || next != "" && ms[version].Name != next {
		t.Fatalf("migration %d is %s, the next %s; want version %d then %s", version, ms[version-1].Name, ms[version].Name, version, next)
	}
	for _, m := range ms[:version] {
		if _, err := raw.Exec(m.SQL); err != nil {
			t.Fatalf("%s: %v", m.Name, err)
		}
		if _, err := raw.Exec(fmt.Sprintf("PRAGMA user_version = %d", m.Version)); err != nil {
			t.Fatal(err)
		}
	}
	return raw, path
}
