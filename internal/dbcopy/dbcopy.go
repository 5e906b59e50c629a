// Package dbcopy moves a whole reminderd deployment from its SQLite file
// onto PostgreSQL: reminderd copy --from FILE --to postgres://….
//
// What it copies is read from the databases, not listed here: every table
// of the SQLite file (but SQLite's own sqlite_*), column by column by name,
// into the table of the same name that the PostgreSQL migrations create.
// A table or a column on one side and not on the other refuses the copy,
// as does a column type it does not know how to fill, so that a table
// added to the schemas later cannot be left behind silently.
//
// The rules:
//   - The source is opened read-only (mode=ro, query_only): a missing file
//     is refused, never created, and nothing is written to it. Its schema
//     must be this binary's (PRAGMA user_version): an older file is
//     migrated first with reminderd migrate. All its rows are read in one
//     read transaction, one snapshot.
//   - The target is written in one transaction: the migrations
//     (postgres.Migrate, as savepoints of it), the copy and the checks
//     commit together or not at all. A target holding any row refuses the
//     copy and is left as it was.
//   - Values keep their meaning: a 0/1 flag becomes a BOOLEAN, integers
//     stay int64, text (the data JSON included) is copied byte for byte,
//     ids keep their values and each identity's sequence is moved past the
//     largest copied id.
//   - The foreign keys are dropped for the copy and added back before the
//     commit, which checks every row against them (a grant refers to a
//     later grant: no table order would do).
//   - The counts of both sides are compared, per table, before the commit.
//   - The target's URL is never printed: errors name host, port and
//     database only.
package dbcopy

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/reminderd/reminderd/internal/db" // the SQLite driver: its schema version, and modernc.org/sqlite registered
	"github.com/reminderd/reminderd/internal/db/postgres"
)

// Table is one table copied and its rows.
type Table struct {
	Name string
	Rows int64
}

// Result is what Copy did.
type Result struct {
	// Target names the PostgreSQL database (host:port/database, no
	// credentials).
	Target string
	// Tables are the tables copied, in the order they were, with the rows
	// of each (equal on both sides).
	Tables []Table
	// Version is the schema version of both databases.
	Version int
}

// NotEmptyError refuses a target that already holds rows.
type NotEmptyError struct {
	Target string
	Tables []Table // the tables holding rows, with their counts
}

func (e *NotEmptyError) Error() string {
	parts := make([]string, len(e.Tables))
	for i, t := range e.Tables {
		parts[i] = fmt.Sprintf("%s (%d rows)", t.Name, t.Rows)
	}
	return fmt.Sprintf("the target database %s is not empty: %s; copy only fills an empty database and changed nothing",
		e.Target, strings.Join(parts, ", "))
}

// ErrNotEmpty matches a *NotEmptyError with errors.Is.
var ErrNotEmpty = errors.New("target not empty")

func (e *NotEmptyError) Is(target error) bool { return target == ErrNotEmpty }

// LockTimeout bounds the wait for the target's tables: a process still
// writing them (the service not stopped) fails the copy instead of
// hanging. A variable for the tests.
var LockTimeout = 10 * time.Second

// Copy copies the SQLite database at from into the PostgreSQL database
// at url.
func Copy(ctx context.Context, from, url string) (Result, error) {
	src, err := openSource(ctx, from)
	if err != nil {
		return Result{}, err
	}
	defer src.Close()

	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		// pgx's message may quote the URL, password included.
		return Result{}, errors.New("the target URL does not parse (postgres://user:password@host:port/database?sslmode=…)")
	}
	target := fmt.Sprintf("%s:%d/%s", cfg.Host, cfg.Port, cfg.Database)
	if strings.HasPrefix(cfg.Host, "/") {
		target = fmt.Sprintf("%s/.s.PGSQL.%d/%s", cfg.Host, cfg.Port, cfg.Database)
	}
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return Result{}, fmt.Errorf("connect to the target %s: %w", target, err)
	}
	defer conn.Close(context.WithoutCancel(ctx))

	res, err := copyAll(ctx, src, conn, target)
	res.Target = target
	return res, err
}

// source is the SQLite database, read in one transaction.
type source struct {
	path string
	db   *sql.DB
	tx   *sql.Tx
}

func (s *source) Close() {
	if s.tx != nil {
		_ = s.tx.Rollback()
	}
	_ = s.db.Close()
}

// openSource opens the SQLite file read-only, checks its schema version
// and starts the read transaction.
func openSource(ctx context.Context, path string) (*source, error) {
	if path == "" || strings.ContainsAny(path, "?#") {
		return nil, fmt.Errorf("source %q: the path must be non-empty and contain no '?' or '#'", path)
	}
	fi, err := os.Stat(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("source %s does not exist (copy reads an existing SQLite database and never creates one)", path)
		}
		return nil, fmt.Errorf("source %s: %w", path, err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("source %s is not a file", path)
	}
	dsn := "file:" + path + fmt.Sprintf("?mode=ro&_pragma=query_only(1)&_pragma=busy_timeout(%d)", db.BusyTimeoutMS)
	d, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("open source %s: %w", path, err)
	}
	d.SetMaxOpenConns(1)
	s := &source{path: path, db: d}
	var qo int
	if err := d.QueryRowContext(ctx, "PRAGMA query_only").Scan(&qo); err != nil {
		s.Close()
		return nil, fmt.Errorf("open source %s: %w", path, err)
	}
	if qo != 1 {
		s.Close()
		return nil, fmt.Errorf("open source %s: query_only is %d, not 1", path, qo)
	}
	// One read transaction: every table from the same snapshot, and the
	// counts compared against it.
	if s.tx, err = d.BeginTx(ctx, &sql.TxOptions{ReadOnly: true}); err != nil {
		s.Close()
		return nil, fmt.Errorf("open source %s: %w", path, err)
	}
	var v int
	if err := s.tx.QueryRowContext(ctx, "PRAGMA user_version").Scan(&v); err != nil {
		s.Close()
		return nil, fmt.Errorf("source %s: read its schema version: %w", path, err)
	}
	switch latest := db.LatestVersion(); {
	case v == 0:
		s.Close()
		return nil, fmt.Errorf("source %s is not a reminderd database (schema version 0)", path)
	case v < latest:
		s.Close()
		return nil, fmt.Errorf("source %s is at schema version %d, older than this binary's %d: with the service stopped, run \"reminderd migrate --db %s\" with this binary first, then copy again",
			path, v, latest, path)
	case v > latest:
		s.Close()
		return nil, fmt.Errorf("source %s is at schema version %d, newer than this binary's %d: copy with the reminderd that wrote it (or a newer one)",
			path, v, latest)
	}
	return s, nil
}

// column is one column of a table: its name and, on the target, its type.
type column struct {
	name, typ string
	pk        int // position in the primary key (SQLite's table_info), 0 if none
}

// sourceTables lists the source's tables (but SQLite's own) in the order
// they were created, with their columns.
func (s *source) tables(ctx context.Context) (map[string][]column, []string, error) {
	rows, err := s.tx.QueryContext(ctx, `SELECT name FROM sqlite_schema
		WHERE type = 'table' AND name NOT LIKE 'sqlite\_%' ESCAPE '\' ORDER BY rowid`)
	if err != nil {
		return nil, nil, fmt.Errorf("source %s: list tables: %w", s.path, err)
	}
	var names []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			rows.Close()
			return nil, nil, err
		}
		names = append(names, n)
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return nil, nil, fmt.Errorf("source %s: list tables: %w", s.path, err)
	}
	cols := make(map[string][]column, len(names))
	for _, n := range names {
		rows, err := s.tx.QueryContext(ctx, "SELECT name, type, pk FROM pragma_table_info(?) ORDER BY cid", n)
		if err != nil {
			return nil, nil, fmt.Errorf("source %s: columns of %s: %w", s.path, n, err)
		}
		for rows.Next() {
			var c column
			if err := rows.Scan(&c.name, &c.typ, &c.pk); err != nil {
				rows.Close()
				return nil, nil, err
			}
			cols[n] = append(cols[n], c)
		}
		if err := errors.Join(rows.Err(), rows.Close()); err != nil {
			return nil, nil, fmt.Errorf("source %s: columns of %s: %w", s.path, n, err)
		}
	}
	return cols, names, nil
}

// targetTables lists the target's tables in its current schema (but the
// migrations' own schema_migrations) with their columns and types.
func targetTables(ctx context.Context, tx pgx.Tx) (map[string][]column, error) {
	rows, err := tx.Query(ctx, `SELECT c.table_name, c.column_name, c.data_type
		FROM information_schema.columns c
		JOIN information_schema.tables t ON t.table_schema = c.table_schema AND t.table_name = c.table_name
		WHERE c.table_schema = current_schema() AND t.table_type = 'BASE TABLE' AND c.table_name <> 'schema_migrations'
		ORDER BY c.table_name, c.ordinal_position`)
	if err != nil {
		return nil, fmt.Errorf("list the target's tables: %w", err)
	}
	defer rows.Close()
	out := map[string][]column{}
	for rows.Next() {
		var t string
		var c column
		if err := rows.Scan(&t, &c.name, &c.typ); err != nil {
			return nil, err
		}
		out[t] = append(out[t], c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list the target's tables: %w", err)
	}
	return out, nil
}

// ident quotes a table or column name, for PostgreSQL and SQLite alike.
func ident(name string) string { return pgx.Identifier{name}.Sanitize() }

// copyAll runs the copy in one transaction of conn.
func copyAll(ctx context.Context, src *source, conn *pgx.Conn, target string) (res Result, err error) {
	srcCols, order, err := src.tables(ctx)
	if err != nil {
		return res, err
	}
	tx, err := conn.Begin(ctx)
	if err != nil {
		return res, fmt.Errorf("target %s: begin: %w", target, err)
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback(context.WithoutCancel(ctx))
		}
	}()
	if _, err := tx.Exec(ctx, fmt.Sprintf("SET LOCAL lock_timeout = %d", LockTimeout.Milliseconds())); err != nil {
		return res, fmt.Errorf("target %s: %w", target, err)
	}
	// The migrations run as savepoints of this transaction: a refused or
	// failed copy leaves no schema behind either.
	if _, err := postgres.Migrate(ctx, tx); err != nil {
		return res, fmt.Errorf("target %s: %w", target, lockHint(err))
	}
	if res.Version, err = postgres.SchemaVersion(ctx, tx); err != nil {
		return res, fmt.Errorf("target %s: %w", target, err)
	}
	if want := db.LatestVersion(); res.Version != postgres.LatestVersion() {
		return res, fmt.Errorf("target %s: at schema version %d after its migrations, want %d (the SQLite schema's is %d)",
			target, res.Version, postgres.LatestVersion(), want)
	}
	dstCols, err := targetTables(ctx, tx)
	if err != nil {
		return res, fmt.Errorf("target %s: %w", target, err)
	}
	if err := sameTables(srcCols, dstCols); err != nil {
		return res, err
	}
	// Nothing else writes the tables until the commit (the service should
	// be stopped; a process that is not waits, or the lock times out).
	var list []string
	for _, t := range order {
		list = append(list, ident(t))
	}
	if _, err := tx.Exec(ctx, "LOCK TABLE "+strings.Join(list, ", ")+" IN EXCLUSIVE MODE"); err != nil {
		return res, fmt.Errorf("target %s: lock its tables: %w", target, lockHint(err))
	}
	if err := checkEmpty(ctx, tx, order, target); err != nil {
		return res, err
	}
	fks, err := dropForeignKeys(ctx, tx)
	if err != nil {
		return res, fmt.Errorf("target %s: %w", target, err)
	}
	for _, t := range order {
		n, err := copyTable(ctx, src, tx, t, srcCols[t], dstCols[t])
		if err != nil {
			return res, err
		}
		res.Tables = append(res.Tables, Table{Name: t, Rows: n})
	}
	if err := resetSequences(ctx, tx, order, dstCols); err != nil {
		return res, fmt.Errorf("target %s: %w", target, err)
	}
	for _, fk := range fks {
		if _, err := tx.Exec(ctx, "ALTER TABLE "+ident(fk.table)+" ADD CONSTRAINT "+ident(fk.name)+" "+fk.def); err != nil {
			return res, fmt.Errorf("target %s: restore the foreign key %s on %s: %w", target, fk.name, fk.table, err)
		}
	}
	if err := compareCounts(ctx, src, tx, res.Tables); err != nil {
		return res, err
	}
	if err := tx.Commit(ctx); err != nil {
		return res, fmt.Errorf("target %s: commit: %w", target, err)
	}
	return res, nil
}

// lockHint adds what a lock timeout most likely means.
func lockHint(err error) error {
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == "55P03" { // lock_not_available
		return fmt.Errorf("%w (another process is using the target database: stop every reminderd serve on it)", err)
	}
	return err
}

// fleetOnly are the tables only PostgreSQL has: the fleet's start marks of
// claims in flight (docs/engine.md), which one SQLite process never writes.
// A copy leaves them empty.
var fleetOnly = map[string]bool{"send_starts": true}

// sameTables refuses schemas that differ: a table or a column on one side
// only (but the fleet's own tables).
func sameTables(src, dst map[string][]column) error {
	var problems []string
	for t, cols := range src {
		dc, ok := dst[t]
		if !ok {
			problems = append(problems, fmt.Sprintf("table %s is not in the PostgreSQL schema", t))
			continue
		}
		for _, c := range cols {
			if !slices.ContainsFunc(dc, func(d column) bool { return d.name == c.name }) {
				problems = append(problems, fmt.Sprintf("column %s.%s is not in the PostgreSQL schema", t, c.name))
			}
		}
		for _, d := range dc {
			if !slices.ContainsFunc(cols, func(c column) bool { return c.name == d.name }) {
				problems = append(problems, fmt.Sprintf("column %s.%s is not in the SQLite schema", t, d.name))
			}
		}
	}
	for t := range dst {
		if _, ok := src[t]; !ok && !fleetOnly[t] {
			problems = append(problems, fmt.Sprintf("table %s is not in the SQLite schema", t))
		}
	}
	if len(problems) > 0 {
		slices.Sort(problems)
		return fmt.Errorf("the two schemas differ, nothing was copied: %s", strings.Join(problems, "; "))
	}
	return nil
}

// checkEmpty refuses a target table that holds a row.
func checkEmpty(ctx context.Context, tx pgx.Tx, tables []string, target string) error {
	var full []Table
	for _, t := range tables {
		var n int64
		if err := tx.QueryRow(ctx, "SELECT count(*) FROM "+ident(t)).Scan(&n); err != nil {
			return fmt.Errorf("target %s: count %s: %w", target, t, err)
		}
		if n > 0 {
			full = append(full, Table{Name: t, Rows: n})
		}
	}
	if len(full) > 0 {
		return &NotEmptyError{Target: target, Tables: full}
	}
	return nil
}

type foreignKey struct{ table, name, def string }

// dropForeignKeys drops the foreign keys of the current schema and returns
// them for adding back.
func dropForeignKeys(ctx context.Context, tx pgx.Tx) ([]foreignKey, error) {
	rows, err := tx.Query(ctx, `SELECT c.relname, k.conname, pg_get_constraintdef(k.oid)
		FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid
		WHERE k.contype = 'f' AND k.connamespace = current_schema()::regnamespace
		ORDER BY c.relname, k.conname`)
	if err != nil {
		return nil, fmt.Errorf("list foreign keys: %w", err)
	}
	fks, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (foreignKey, error) {
		var fk foreignKey
		err := r.Scan(&fk.table, &fk.name, &fk.def)
		return fk, err
	})
	if err != nil {
		return nil, fmt.Errorf("list foreign keys: %w", err)
	}
	for _, fk := range fks {
		if _, err := tx.Exec(ctx, "ALTER TABLE "+ident(fk.table)+" DROP CONSTRAINT "+ident(fk.name)); err != nil {
			return nil, fmt.Errorf("drop the foreign key %s for the copy: %w", fk.name, err)
		}
	}
	return fks, nil
}

// converter turns a SQLite value into the value for a target column.
type converter func(v any) (any, error)

// convert returns the converter for a target column of type typ.
func convert(table string, c column) (converter, error) {
	where := table + "." + c.name
	switch c.typ {
	case "bigint", "integer", "smallint":
		return func(v any) (any, error) {
			switch x := v.(type) {
			case nil, int64:
				return x, nil
			}
			return nil, fmt.Errorf("%s: %T %v is not an integer", where, v, v)
		}, nil
	case "boolean":
		return func(v any) (any, error) {
			switch v {
			case nil:
				return nil, nil
			case int64(0):
				return false, nil
			case int64(1):
				return true, nil
			}
			return nil, fmt.Errorf("%s: %T %v is not a 0/1 flag", where, v, v)
		}, nil
	case "text":
		return func(v any) (any, error) {
			switch x := v.(type) {
			case nil, string:
				return x, nil
			}
			return nil, fmt.Errorf("%s: %T %v is not text", where, v, v)
		}, nil
	case "bytea":
		return func(v any) (any, error) {
			switch x := v.(type) {
			case nil, []byte:
				return x, nil
			}
			return nil, fmt.Errorf("%s: %T is not a blob", where, v)
		}, nil
	case "double precision":
		return func(v any) (any, error) {
			switch x := v.(type) {
			case nil, float64:
				return x, nil
			case int64:
				return float64(x), nil
			}
			return nil, fmt.Errorf("%s: %T %v is not a number", where, v, v)
		}, nil
	}
	return nil, fmt.Errorf("%s has the PostgreSQL type %q, which reminderd copy does not know how to fill (teach internal/dbcopy)", where, c.typ)
}

// copyTable streams one table from the source into the target with COPY.
func copyTable(ctx context.Context, src *source, tx pgx.Tx, table string, scols, dcols []column) (int64, error) {
	names := make([]string, len(scols))
	conv := make([]converter, len(scols))
	var pk []string
	pkCols := slices.Clone(scols)
	slices.SortFunc(pkCols, func(a, b column) int { return a.pk - b.pk })
	for _, c := range pkCols {
		if c.pk > 0 {
			pk = append(pk, ident(c.name))
		}
	}
	for i, c := range scols {
		names[i] = c.name
		j := slices.IndexFunc(dcols, func(d column) bool { return d.name == c.name })
		var err error
		if conv[i], err = convert(table, dcols[j]); err != nil {
			return 0, err
		}
	}
	quoted := make([]string, len(names))
	for i, n := range names {
		quoted[i] = ident(n)
	}
	q := "SELECT " + strings.Join(quoted, ", ") + " FROM " + ident(table)
	if len(pk) > 0 {
		q += " ORDER BY " + strings.Join(pk, ", ")
	}
	rows, err := src.tx.QueryContext(ctx, q)
	if err != nil {
		return 0, fmt.Errorf("source %s: read %s: %w", src.path, table, err)
	}
	defer rows.Close()
	vals := make([]any, len(names))
	ptrs := make([]any, len(names))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	var read int64
	var convErr error
	n, err := tx.CopyFrom(ctx, pgx.Identifier{table}, names, pgx.CopyFromFunc(func() ([]any, error) {
		if !rows.Next() {
			return nil, rows.Err()
		}
		if err := rows.Scan(ptrs...); err != nil {
			return nil, err
		}
		out := make([]any, len(vals))
		for i, v := range vals {
			if out[i], convErr = conv[i](v); convErr != nil {
				return nil, convErr
			}
		}
		read++
		return out, nil
	}))
	if err != nil {
		return 0, fmt.Errorf("copy %s (after %d rows): %w", table, read, err)
	}
	if n != read {
		return 0, fmt.Errorf("copy %s: read %d rows, the target took %d", table, read, n)
	}
	return n, nil
}

// resetSequences moves each identity's sequence past the largest id
// copied, so that the next row the service inserts gets a new id.
func resetSequences(ctx context.Context, tx pgx.Tx, tables []string, cols map[string][]column) error {
	for _, t := range tables {
		for _, c := range cols[t] {
			var seq *string
			if err := tx.QueryRow(ctx, "SELECT pg_get_serial_sequence($1, $2)", ident(t), c.name).Scan(&seq); err != nil {
				return fmt.Errorf("sequence of %s.%s: %w", t, c.name, err)
			}
			if seq == nil {
				continue
			}
			q := fmt.Sprintf("SELECT setval($1::regclass, max(%s)) FROM %s HAVING max(%s) IS NOT NULL", ident(c.name), ident(t), ident(c.name))
			if _, err := tx.Exec(ctx, q, *seq); err != nil {
				return fmt.Errorf("reset the sequence of %s.%s: %w", t, c.name, err)
			}
		}
	}
	return nil
}

// compareCounts counts every table on both sides and refuses a difference
// (or a difference from what was copied).
func compareCounts(ctx context.Context, src *source, tx pgx.Tx, tables []Table) error {
	var diff []string
	for _, t := range tables {
		var s, d int64
		if err := src.tx.QueryRowContext(ctx, "SELECT count(*) FROM "+ident(t.Name)).Scan(&s); err != nil {
			return fmt.Errorf("source %s: count %s: %w", src.path, t.Name, err)
		}
		if err := tx.QueryRow(ctx, "SELECT count(*) FROM "+ident(t.Name)).Scan(&d); err != nil {
			return fmt.Errorf("target: count %s: %w", t.Name, err)
		}
		if s != d || s != t.Rows {
			diff = append(diff, fmt.Sprintf("%s: SQLite %d, PostgreSQL %d, copied %d", t.Name, s, d, t.Rows))
		}
	}
	if len(diff) > 0 {
		return fmt.Errorf("the counts differ, nothing was committed: %s", strings.Join(diff, "; "))
	}
	return nil
}
