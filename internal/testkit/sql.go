package testkit

import (
	"context"
	"strconv"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/reminderd/reminderd/internal/db"
	"github.com/reminderd/reminderd/internal/store"
)

// Row is one row of QueryRow's answer.
type Row interface{ Scan(dest ...any) error }

// Exec runs a statement on the database under s (from Store, StoreWith or
// SQLiteAt), underneath the store's operations: for a test that puts the
// database in a state no operation makes. The SQL must be valid on both
// schemas: ? placeholders (PostgreSQL's $n are written for them), TRUE and
// FALSE for booleans, times in Unix milliseconds.
func Exec(t testing.TB, s store.Store, query string, args ...any) {
	t.Helper()
	ctx := context.Background()
	if d, ok := s.(*db.DB); ok {
		if _, err := d.W.ExecContext(ctx, query, args...); err != nil {
			t.Fatalf("exec %s: %v", query, err)
		}
		return
	}
	if _, err := pool(t, s).Exec(ctx, dollars(query), args...); err != nil {
		t.Fatalf("exec %s: %v", query, err)
	}
}

// QueryRow runs a query of one row on the database under s, as Exec does.
func QueryRow(t testing.TB, s store.Store, query string, args ...any) Row {
	t.Helper()
	ctx := context.Background()
	if d, ok := s.(*db.DB); ok {
		return d.W.QueryRowContext(ctx, query, args...)
	}
	return pool(t, s).QueryRow(ctx, dollars(query), args...)
}

// pool is a small pool of its own on the PostgreSQL database under s,
// closed when the test that opened s ends.
func pool(t testing.TB, s store.Store) *pgxpool.Pool {
	t.Helper()
	mu.Lock()
	defer mu.Unlock()
	where, ok := origin[s]
	if !ok || where.url == "" {
		t.Fatal("testkit: the store was not opened by testkit.Store on PostgreSQL")
	}
	if where.pool != nil {
		return where.pool
	}
	p, err := pgxpool.New(context.Background(), where.url)
	if err != nil {
		t.Fatal(err)
	}
	where.pool = p
	origin[s] = where
	return p
}

// dollars writes PostgreSQL's $1, $2, … for the ? placeholders of query
// (none of the tests' queries has a ? in a string literal).
func dollars(query string) string {
	var b strings.Builder
	n := 0
	for _, r := range query {
		if r == '?' {
			n++
			b.WriteString("$" + strconv.Itoa(n))
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// Column runs a query of one text column on the database under s, as Exec
// does, and returns its values.
func Column(t testing.TB, s store.Store, query string, args ...any) []string {
	t.Helper()
	ctx := context.Background()
	var out []string
	if d, ok := s.(*db.DB); ok {
		rows, err := d.W.QueryContext(ctx, query, args...)
		if err != nil {
			t.Fatalf("query %s: %v", query, err)
		}
		defer rows.Close()
		for rows.Next() {
			var v string
			if err := rows.Scan(&v); err != nil {
				t.Fatal(err)
			}
			out = append(out, v)
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		return out
	}
	rows, err := pool(t, s).Query(ctx, dollars(query), args...)
	if err != nil {
		t.Fatalf("query %s: %v", query, err)
	}
	defer rows.Close()
	for rows.Next() {
		var v string
		if err := rows.Scan(&v); err != nil {
			t.Fatal(err)
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}
