package postgres_test

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/reminderd/reminderd/internal/db/pgtest"
	"github.com/reminderd/reminderd/internal/db/postgres"
)

// atVersion creates a database migrated to version (as a binary of that
// version left it: its migrations applied and recorded) and returns its
// URL and a connection to it, for a migration test to fill with that
// version's rows before postgres.Open migrates the rest. next, when not
// empty, is the name the migration after version must have.
func atVersion(t *testing.T, version int, next string) (string, *pgx.Conn) {
	t.Helper()
	ctx := context.Background()
	url := pgtest.Database(t)
	c := connect(t, url)
	ms, err := postgres.Migrations()
	if err != nil {
		t.Fatal(err)
	}
	if ms[version-1].Version != version || next != "" && ms[version].Name != next {
		t.Fatalf("migration %d is %s, the next %s; want version %d then %s", version, ms[version-1].Name, ms[version].Name, version, next)
	}
	if _, err := c.Exec(ctx, `CREATE TABLE schema_migrations (version BIGINT NOT NULL PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	for _, m := range ms[:version] {
		if _, err := c.Exec(ctx, m.SQL); err != nil {
			t.Fatalf("%s: %v", m.Name, err)
		}
		if _, err := c.Exec(ctx, "INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, 0)", m.Version, m.Name); err != nil {
			t.Fatal(err)
		}
	}
	return url, c
}
