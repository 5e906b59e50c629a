package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/reminderd/reminderd/internal/db/pgtest"
	"github.com/reminderd/reminderd/internal/db/postgres"
	"github.com/reminderd/reminderd/internal/store"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

func schemaFile(t *testing.T) string {
	t.Helper()
	src, err := os.ReadFile("../../../schema_postgres.sql")
	if err != nil {
		t.Fatal(err)
	}
	return string(src)
}

// schemaCheck returns the values of the CHECK (column IN (…)) on table's
// column in schema_postgres.sql, in their order.
func schemaCheck(t *testing.T, table, column string) []string {
	t.Helper()
	s := schemaFile(t)
	i := strings.Index(s, "CREATE TABLE "+table+" (")
	if i < 0 {
		t.Fatalf("schema_postgres.sql has no table %s", table)
	}
	body := s[i:]
	body = body[:strings.Index(body, "\n);")]
	m := regexp.MustCompile(`(?s)\n\s+` + column + `\s[^\n]*?CHECK \(` + column + ` IN \(([^)]*)\)`).FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("schema_postgres.sql: no CHECK on %s.%s", table, column)
	}
	var out []string
	for _, v := range regexp.MustCompile(`'([^']*)'`).FindAllStringSubmatch(m[1], -1) {
		out = append(out, v[1])
	}
	return out
}

// The PostgreSQL schema restricts its columns to the typed vocabulary: the
// same values, in the same order, as SQLite's.
func TestVocabularyIsTheSchemas(t *testing.T) {
	for _, c := range []struct {
		table, column string
		want          []string
	}{
		{"reminders", "status", store.Strings(store.Statuses())},
		{"reminders", "reason", store.Strings(store.Reasons())},
		{"deliveries", "status", store.Strings(store.DeliveryStatuses())},
		{"reminders", "delivery", append([]string{""}, store.Strings(store.Reports())...)},
		{"consents", "status", store.Strings(store.ConsentStatuses())},
	} {
		if got := schemaCheck(t, c.table, c.column); !slices.Equal(got, c.want) {
			t.Errorf("%s.%s: schema_postgres.sql lists %q, internal/store %q", c.table, c.column, got, c.want)
		}
	}
}

func connect(t *testing.T, url string) *pgx.Conn {
	t.Helper()
	c, err := pgx.Connect(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(context.Background()) })
	return c
}

// migrated returns a connection to a fresh database the migrations ran on.
func migrated(t *testing.T) *pgx.Conn {
	t.Helper()
	c := connect(t, pgtest.Database(t))
	if n, err := postgres.Migrate(context.Background(), c); err != nil || n != postgres.LatestVersion() {
		t.Fatalf("migrate applied %d (%v), want %d", n, err, postgres.LatestVersion())
	}
	return c
}

// catalog describes every column (type, nullability, default, identity,
// rank in its table), constraint and index of the current schema but
// schema_migrations, keyed by kind and name.
const catalog = `
SELECT 'column ' || table_name || '.' || column_name,
       format('#%s %s null=%s default=%s identity=%s',
              row_number() OVER (PARTITION BY table_name ORDER BY ordinal_position),
              data_type, is_nullable, coalesce(column_default, ''), coalesce(identity_generation, ''))
FROM information_schema.columns
WHERE table_schema = current_schema() AND table_name <> 'schema_migrations'
UNION ALL
SELECT 'constraint ' || conrelid::regclass::text || '.' || conname, contype::text || ' ' || pg_get_constraintdef(oid)
FROM pg_constraint
WHERE connamespace = current_schema()::regnamespace AND conrelid::regclass::text <> 'schema_migrations'
UNION ALL
SELECT 'index ' || indexname, indexdef
FROM pg_indexes
WHERE schemaname = current_schema() AND tablename <> 'schema_migrations'
UNION ALL
SELECT 'relation ' || relname, relkind::text
FROM pg_class
WHERE relnamespace = current_schema()::regnamespace AND relname NOT LIKE 'schema_migrations%'`

func catalogOf(t *testing.T, c *pgx.Conn) map[string]string {
	t.Helper()
	rows, err := c.Query(context.Background(), catalog)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for rows.Next() {
		var k, v string
		if err := rows.Scan(&k, &v); err != nil {
			t.Fatal(err)
		}
		out[k] = v
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// The migrations give exactly schema_postgres.sql's catalog.
func TestMigratedDatabaseMatchesSchemaFile(t *testing.T) {
	ctx := context.Background()
	got := catalogOf(t, migrated(t))
	ref := connect(t, pgtest.Database(t))
	if _, err := ref.Exec(ctx, schemaFile(t)); err != nil {
		t.Fatalf("schema_postgres.sql does not apply: %v", err)
	}
	want := catalogOf(t, ref)
	if len(want) < 150 {
		t.Fatalf("the reference catalog has only %d entries", len(want))
	}
	for name, def := range want {
		if got[name] != def {
			t.Errorf("%s differs:\nmigrated: %s\nschema_postgres.sql: %s", name, got[name], def)
		}
	}
	for name := range got {
		if _, ok := want[name]; !ok {
			t.Errorf("the migrations make %s, which schema_postgres.sql lacks", name)
		}
	}
}

// The PostgreSQL schema has SQLite's tables, columns and indexes (and the
// fleet's start marks).
func TestSameTablesColumnsAndIndexesAsSQLite(t *testing.T) {
	names := func(src, re string) []string {
		var out []string
		table := ""
		for _, line := range strings.Split(src, "\n") {
			if m := regexp.MustCompile(`^CREATE TABLE (\w+) \(`).FindStringSubmatch(line); m != nil {
				table = m[1]
				continue
			}
			// Columns, one or more a line (SQLite's migrations appended some).
			for _, m := range regexp.MustCompile(re).FindAllStringSubmatch(line, -1) {
				out = append(out, table+"."+m[1])
			}
			if m := regexp.MustCompile(`^CREATE (?:UNIQUE )?INDEX (\w+) ON (\w+) (.*?);?$`).FindStringSubmatch(line); m != nil {
				out = append(out, "index "+m[1]+" "+m[2]+" "+strings.TrimSuffix(m[3], ";"))
			}
		}
		return out
	}
	sqliteSrc, err := os.ReadFile("../../../schema.sql")
	if err != nil {
		t.Fatal(err)
	}
	// A column: a name at a line's start or after a comma, then a type.
	col := `(?:^\s+|,\s*)([a-z_]+)\s+(?:TEXT|INTEGER|BIGINT|BOOLEAN)\b`
	sq, pg := names(string(sqliteSrc), col), names(schemaFile(t), col)
	// send_starts is the fleet's alone: one SQLite process takes no send
	// lease, so it marks no start (docs/engine.md).
	pg = slices.DeleteFunc(pg, func(n string) bool { return strings.HasPrefix(n, "send_starts.") })
	if len(sq) < 60 {
		t.Fatalf("found only %d columns and indexes in schema.sql", len(sq))
	}
	for i := range max(len(sq), len(pg)) {
		if i >= len(sq) || i >= len(pg) || sq[i] != pg[i] {
			t.Fatalf("column or index %d: SQLite's schema has %q, PostgreSQL's %q", i+1, sq[i:min(i+1, len(sq))], pg[i:min(i+1, len(pg))])
		}
	}
}

// The CHECKs bite: each of these changes to a good reminder is refused,
// and a good change taken.
func TestConstraints(t *testing.T) {
	ctx := context.Background()
	c := migrated(t)
	for _, bad := range []string{
		"status = 'paused'",
		"status = 'failed'",     // without a reason
		"reason = 'expired'",    // scheduled with a reason
		"status = 'sending'",    // without a lease
		"idempotency_key = 'k'", // without a request hash
		"delivery = 'lost'",     // not a report
		"data = '{\"a\":'",      // not JSON
		"openid = ''",           // no user
		"status = 'skipped', reason = 'no_such_reason'", // not a reason
		"expires_at = 0", // before fire_at
	} {
		if err := update(ctx, c, bad); err == nil {
			t.Errorf("accepted a reminder with %s", bad)
		}
	}
	if err := update(ctx, c, "status = 'sending', lease_until = 5"); err != nil {
		t.Fatalf("refused a good reminder: %v", err)
	}
	_, err := c.Exec(ctx, `INSERT INTO consents (appid, openid, template_id, credits, status, updated_at) VALUES ('', 'o', 't', -1, 'accept', 1)`)
	var pe *pgconn.PgError
	if !errors.As(err, &pe) || pe.Code != "23514" || pe.ConstraintName != "consents_credits_check" {
		t.Errorf("a negative credit: %v", err)
	}
}

// update inserts a good scheduled reminder, applies set to it and deletes
// it, all in one transaction that is rolled back: it returns the error the
// schema gave set.
func update(ctx context.Context, c *pgx.Conn, set string) error {
	tx, err := c.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, `INSERT INTO reminders (id, openid, template_id, status, fire_at, due_at, timezone, data, created_at, updated_at)
		VALUES ('r', 'o', 't', 'scheduled', 1, 1, 'UTC', '{"a": {"value": "b"}}', 1, 1)`); err != nil {
		return fmt.Errorf("the good reminder: %w", err)
	}
	_, err = tx.Exec(ctx, "UPDATE reminders SET "+set)
	return err
}

// The JSON columns keep their text byte for byte (jsonb would not).
func TestJSONIsKeptAsWritten(t *testing.T) {
	ctx := context.Background()
	c := migrated(t)
	data := `{"thing1":{"value":"会议"},  "a": {"value":"x"}, "a": {"value":"y"}}`
	if _, err := c.Exec(ctx, `INSERT INTO reminders (id, openid, template_id, status, fire_at, due_at, timezone, data, created_at, updated_at)
		VALUES ('r', 'o', 't', 'scheduled', 1, 1, 'UTC', $1, 1, 1)`, data); err != nil {
		t.Fatal(err)
	}
	var got string
	if err := c.QueryRow(ctx, "SELECT data FROM reminders WHERE id = 'r'").Scan(&got); err != nil || got != data {
		t.Fatalf("data came back as %q (%v), want %q", got, err, data)
	}
}

// Several processes starting at once on one database migrate it once.
func TestConcurrentMigrationsApplyOnce(t *testing.T) {
	ctx := context.Background()
	url := pgtest.Database(t)
	const n = 8
	pools := make([]*pgxpool.Pool, n)
	for i := range pools {
		p, err := pgxpool.New(ctx, url)
		if err != nil {
			t.Fatal(err)
		}
		defer p.Close()
		if err := p.Ping(ctx); err != nil { // connected before the start
			t.Fatal(err)
		}
		pools[i] = p
	}
	var wg sync.WaitGroup
	start := make(chan struct{})
	applied, errs := make([]int, n), make([]error, n)
	for i, p := range pools {
		wg.Go(func() {
			<-start
			applied[i], errs[i] = postgres.Migrate(ctx, p)
		})
	}
	close(start)
	wg.Wait()
	total := 0
	for i := range n {
		if errs[i] != nil {
			t.Errorf("process %d: %v", i, errs[i])
		}
		total += applied[i]
	}
	if total != postgres.LatestVersion() {
		t.Fatalf("the processes applied %v migrations, %d in all, want %d", applied, total, postgres.LatestVersion())
	}
	var rows int
	if err := pools[0].QueryRow(ctx, "SELECT count(*) FROM schema_migrations").Scan(&rows); err != nil || rows != postgres.LatestVersion() {
		t.Fatalf("schema_migrations has %d rows (%v)", rows, err)
	}
}

func TestMigrateIsIdempotentAndRefusesANewerDatabase(t *testing.T) {
	ctx := context.Background()
	c := connect(t, pgtest.Database(t))
	if v, err := postgres.SchemaVersion(ctx, c); err != nil || v != 0 {
		t.Fatalf("a new database is at version %d (%v)", v, err)
	}
	if _, err := postgres.Migrate(ctx, c); err != nil {
		t.Fatal(err)
	}
	if v, err := postgres.SchemaVersion(ctx, c); err != nil || v != postgres.LatestVersion() || v < 1 {
		t.Fatalf("version %d (%v), want %d", v, err, postgres.LatestVersion())
	}
	if n, err := postgres.Migrate(ctx, c); err != nil || n != 0 {
		t.Fatalf("the second migrate applied %d (%v), want 0", n, err)
	}
	if _, err := c.Exec(ctx, "INSERT INTO schema_migrations VALUES (999, '0999_future.sql', 0)"); err != nil {
		t.Fatal(err)
	}
	if _, err := postgres.Migrate(ctx, c); err == nil || !strings.Contains(err.Error(), "newer than this binary") {
		t.Fatalf("a database newer than the binary: %v", err)
	}
}
