package bench

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/reminderd/reminderd/internal/app"
	"github.com/reminderd/reminderd/internal/db/postgres"
	"github.com/reminderd/reminderd/internal/db/postgres/pgsqlc"
	"github.com/reminderd/reminderd/internal/wechat/wechattest"
)

// On PostgreSQL (Options.DB a postgres:// URL) each run of the bench gets
// a schema of its own in that database, made for it and dropped after it
// (so the bench's user needs CREATE on the database): the application,
// migrated there as serve migrates, finds it through search_path, and the
// bench reads the same tables through a pool of its own.

// pgScratch is one run's schema: its URL (the base URL with search_path
// set to it) and the bench's own pool on it.
type pgScratch struct {
	url    string
	pool   *pgxpool.Pool
	schema string
	base   string
}

// newPGScratch makes a fresh schema named for the run in the database at
// base.
func newPGScratch(ctx context.Context, base, name string) (*pgScratch, error) {
	var b [4]byte
	_, _ = rand.Read(b[:])
	schema := "reminderd_bench_" + name + "_" + hex.EncodeToString(b[:])
	if err := pgExec(ctx, base, "CREATE SCHEMA "+pgx.Identifier{schema}.Sanitize()); err != nil {
		return nil, fmt.Errorf("create schema %s: %w", schema, err)
	}
	p, err := url.Parse(base)
	if err != nil {
		return nil, fmt.Errorf("the database URL does not parse")
	}
	q := p.Query()
	q.Set("search_path", schema) // a run-time parameter of every connection
	p.RawQuery = q.Encode()
	s := &pgScratch{url: p.String(), schema: schema, base: base}
	if s.pool, err = pgxpool.New(ctx, s.url); err != nil {
		s.drop(ctx)
		return nil, app.ScrubError(err, base)
	}
	return s, nil
}

// drop closes the pool and drops the schema with everything in it.
func (s *pgScratch) drop(ctx context.Context) {
	if s.pool != nil {
		s.pool.Close()
	}
	_ = pgExec(context.WithoutCancel(ctx), s.base, "DROP SCHEMA IF EXISTS "+pgx.Identifier{s.schema}.Sanitize()+" CASCADE")
}

// pgExec runs one statement on a connection of its own.
func pgExec(ctx context.Context, u, sql string) error {
	c, err := pgx.Connect(ctx, u)
	if err != nil {
		return app.ScrubError(err, u)
	}
	defer c.Close(context.WithoutCancel(ctx))
	_, err = c.Exec(ctx, sql)
	return err
}

// pgSeed inserts reminders and credits as seed does on SQLite, 5,000 per
// statement.
func pgSeed(ctx context.Context, pool *pgxpool.Pool, n int, fire func(i int) time.Time) error {
	now := time.Now().UnixMilli()
	for start := 0; start < n; start += 5000 {
		var ids, users []string
		var fires []int64
		for i := start; i < min(n, start+5000); i++ {
			ids, users = append(ids, fmt.Sprintf("rem_bench_%06d", i)), append(users, fmt.Sprintf("bench-user-%06d", i))
			fires = append(fires, fire(i).UnixMilli())
		}
		if _, err := pool.Exec(ctx, `INSERT INTO reminders (id, openid, template_id, status, fire_at, due_at, timezone, data, page, created_at, updated_at)
			SELECT id, openid, $4, 'scheduled', fire, fire, 'Asia/Shanghai', $5, '', $6, $6
			FROM unnest($1::text[], $2::text[], $3::bigint[]) AS r(id, openid, fire)`,
			ids, users, fires, wechattest.MeetingTemplateID, meetingData, now); err != nil {
			return fmt.Errorf("seed reminders: %w", err)
		}
		// The reminders' app ('', the column's default) is their credits' too.
		if _, err := pool.Exec(ctx, `INSERT INTO consents (appid, openid, template_id, credits, status, updated_at)
			SELECT '', openid, $2, 1, 'accept', $3 FROM unnest($1::text[]) AS u(openid)
			ON CONFLICT (appid, openid, template_id) DO UPDATE SET credits = consents.credits + 1, status = 'accept'`,
			users, wechattest.MeetingTemplateID, now); err != nil {
			return fmt.Errorf("seed credits: %w", err)
		}
	}
	return nil
}

// pgSendWindow is BenchSendWindow's reading on PostgreSQL: the first start
// and the last finish of the sent deliveries, in unix ms.
func pgSendWindow(ctx context.Context, pool *pgxpool.Pool) (first, last int64, err error) {
	err = pool.QueryRow(ctx, `SELECT coalesce(min(started_at), 0), coalesce(max(finished_at), 0) FROM deliveries WHERE status = 'sent'`).Scan(&first, &last)
	return first, last, err
}

// pgLateness is BenchLateness's reading on PostgreSQL: finished minus
// scheduled of every sent delivery, in ms, sorted.
func pgLateness(ctx context.Context, pool *pgxpool.Pool) ([]int64, error) {
	rows, err := pool.Query(ctx, `SELECT finished_at - occurrence_at FROM deliveries WHERE status = 'sent' ORDER BY 1`)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[int64])
}

// newPGScanTable is newScanTable on PostgreSQL: the same table, made by
// one generating statement in a schema of its own, measured with the
// driver's due query (on the bench's pool), its claim (rolled back) and
// its next-due lookup.
func newPGScanTable(ctx context.Context, base string, rows int) (*scanTable, error) {
	s, err := newPGScratch(ctx, base, fmt.Sprintf("scan%d", rows))
	if err != nil {
		return nil, err
	}
	d, err := postgres.Open(ctx, s.url, postgres.Options{})
	if err != nil {
		s.drop(ctx)
		return nil, app.ScrubError(err, base)
	}
	t := &scanTable{rows: rows, now: time.Now()}
	t.close = func() { d.Close(); s.drop(ctx) }
	now := t.now.UnixMilli()
	for _, stmt := range []struct {
		sql  string
		args []any
	}{
		// 100 rows are due; the rest fire within 1,000 hours.
		{`INSERT INTO reminders (id, openid, template_id, status, fire_at, due_at, timezone, data, page, created_at, updated_at)
		  SELECT format('rem_scan_%s', lpad(i::text, 7, '0')), 'u' || (i % 50000), $2, 'scheduled',
		         CASE WHEN i < 100 THEN $3 ELSE $4 + (i % 1000 + 1) * 3600000 END,
		         CASE WHEN i < 100 THEN $3 ELSE $4 + (i % 1000 + 1) * 3600000 END,
		         'Asia/Shanghai', $5, '', $4, $4 FROM generate_series(0, $1::bigint - 1) AS i`,
			[]any{rows, wechattest.MeetingTemplateID, t.now.Add(-time.Minute).UnixMilli(), now, meetingData}},
		// The due reminders' users have a credit each, which the claim reserves.
		{`INSERT INTO consents (appid, openid, template_id, credits, status, updated_at)
		  SELECT DISTINCT appid, openid, template_id, 1, 'accept', $1::bigint FROM reminders WHERE due_at <= $1::bigint`, []any{now}},
		// Half of the rest are finished: the due scan must not read them.
		{`UPDATE reminders SET status = 'sent' WHERE right(id, 1)::int % 2 = 0 AND fire_at > $1`, []any{now}},
		{`ANALYZE`, nil},
	} {
		if _, err := s.pool.Exec(ctx, stmt.sql, stmt.args...); err != nil {
			t.close()
			return nil, fmt.Errorf("scan table: %w", err)
		}
	}
	q := pgsqlc.New(s.pool)
	t.due = func(ctx context.Context) (int, error) {
		ids, err := q.DueReminders(ctx, pgsqlc.DueRemindersParams{Now: now, MaxRows: 256})
		return len(ids), err
	}
	t.claimDue = d.ClaimDueRolledBack
	t.nextDue = func(ctx context.Context) error { _, err := d.NextDueAt(ctx); return err }
	return t, nil
}
