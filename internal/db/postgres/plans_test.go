package postgres_test

import (
	"context"
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/reminderd/reminderd/internal/db/pgtest"
	"github.com/reminderd/reminderd/internal/db/postgres"
)

// The engine's batch statements are prepared once per connection, and after
// a few runs PostgreSQL may keep a generic plan made from the statistics of
// that moment. These tests make the statistics stale the way a growing
// deployment (and the bench) does, force the generic plan, and check that
// the plan still goes by the primary key or the unique index: a plan that
// reads every scheduled reminder, or every sent delivery, costs in
// proportion to the table for each claim or record (found by the bench:
// 160 µs per claimed row at 15,000 due).

// namedQuery returns the text of the sqlc query name in file (the sqlc
// source) without its comments, with its @parameters numbered as sqlc
// numbers them: by first appearance.
func namedQuery(t *testing.T, file, name string) string {
	t.Helper()
	src, err := os.ReadFile("../../../queries/postgres/" + file)
	if err != nil {
		t.Fatal(err)
	}
	s := string(src)
	i := strings.Index(s, "-- name: "+name+" ")
	if i < 0 {
		t.Fatalf("no query %s in %s", name, file)
	}
	var code []string
	for _, line := range strings.Split(s[i:], "\n") {
		if !strings.HasPrefix(strings.TrimSpace(line), "--") {
			code = append(code, line)
		}
	}
	s = strings.Join(code, "\n")
	if j := strings.Index(s, ";"); j >= 0 {
		s = s[:j]
	}
	num := map[string]int{}
	return regexp.MustCompile(`@[a-z_]+`).ReplaceAllStringFunc(s, func(p string) string {
		if _, ok := num[p]; !ok {
			num[p] = len(num) + 1
		}
		return fmt.Sprintf("$%d", num[p])
	})
}

// genericPlan prepares query on one connection of pool with generic plans
// forced and returns EXPLAIN's text of its execution with args.
func genericPlan(t *testing.T, pool *pgxpool.Pool, query string, args ...string) string {
	t.Helper()
	ctx := context.Background()
	conn, err := pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Release()
	for _, q := range []string{"SET plan_cache_mode = force_generic_plan", "PREPARE p AS " + query} {
		if _, err := conn.Exec(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	defer conn.Exec(ctx, "DEALLOCATE p")
	tx, err := conn.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	rows, err := tx.Query(ctx, "EXPLAIN EXECUTE p("+strings.Join(args, ", ")+")")
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			t.Fatal(err)
		}
		b.WriteString(line + "\n")
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// staleTables fills the reminders and deliveries with statistics that say
// no reminder is scheduled and no delivery sent (a deployment analyzed
// after a quiet hour), then makes them all so without a new ANALYZE (a
// meeting's invitations created at once).
func staleTables(t *testing.T) *pgxpool.Pool {
	t.Helper()
	ctx := context.Background()
	url := pgtest.Database(t)
	d, err := postgres.Open(ctx, url, postgres.Options{})
	if err != nil {
		t.Fatal(err)
	}
	d.Close()
	pool, err := pgxpool.New(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	for _, q := range []string{
		`INSERT INTO reminders (id, openid, template_id, status, fire_at, due_at, timezone, data, created_at, updated_at)
		 SELECT 'rem_' || lpad(i::text, 20, '0'), 'o' || i, 'tpl', 'scheduled', 1000, 1000, 'Asia/Shanghai',
		        '{"thing1":{"value":"季度评审会"},"time2":{"value":"2026-12-01 10:00"}}', 0, 0
		 FROM generate_series(1, 15000) i`,
		`ANALYZE reminders`,
		`UPDATE reminders SET status = 'sending', lease_until = 1 WHERE id > 'rem_00000000000000010000'`,
		`UPDATE reminders SET status = 'canceled', lease_until = NULL`,
		`INSERT INTO deliveries (reminder_id, occurrence_at, attempt, status, errcode, errmsg, started_at, finished_at, latency_ms)
		 SELECT 'rem_' || lpad(i::text, 20, '0'), 1000, 1, 'failed', 0, '', 0, 0, 0 FROM generate_series(1, 15000) i`,
		`VACUUM ANALYZE reminders`,
		`VACUUM ANALYZE deliveries`,
		`UPDATE reminders SET status = 'scheduled'`,
		`UPDATE deliveries SET status = 'sent'`,
	} {
		if _, err := pool.Exec(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	return pool
}

func TestClaimPlanGoesByPrimaryKey(t *testing.T) {
	pool := staleTables(t)
	ids := "'{rem_00000000000000000200,rem_00000000000000000201,rem_00000000000000000202}'"
	plan := genericPlan(t, pool, namedQuery(t, "scheduler.sql", "ClaimReminders"), "5000", "'me'", "'{}'", "2000", "true", ids)
	if !strings.Contains(plan, "reminders_pkey") || strings.Contains(plan, "reminders_due") || strings.Contains(plan, "reminders_status") {
		t.Fatalf("the claim's generic plan does not go by the primary key alone:\n%s", plan)
	}
	plan = genericPlan(t, pool, namedQuery(t, "reminders.sql", "CancelReminders"), "2000", ids)
	if !strings.Contains(plan, "reminders_pkey") || strings.Contains(plan, "reminders_due") || strings.Contains(plan, "reminders_status") {
		t.Fatalf("the bulk cancel's generic plan does not go by the primary key alone:\n%s", plan)
	}
}

func TestSentDeliveriesPlanReadsNoDeliveries(t *testing.T) {
	pool := staleTables(t)
	plan := genericPlan(t, pool, namedQuery(t, "scheduler.sql", "InsertSentDeliveries"),
		"'sent'", "3000", "'{rem_00000000000000000300}'", "'{1000}'", "'{2}'", "'{7}'", "'{true}'", "'{2000}'", "'{5}'")
	// The insert's own conflict check goes by deliveries_once; no scan of
	// deliveries may appear in the plan.
	if strings.Contains(plan, "Scan on deliveries") || strings.Contains(plan, "SubPlan") {
		t.Fatalf("recording sent deliveries reads the deliveries table:\n%s", plan)
	}
}
