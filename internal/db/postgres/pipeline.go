package postgres

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/reminderd/reminderd/internal/db/postgres/pgsqlc"
)

// pipeline runs the statements fn makes through q in one round trip (a
// pgx.Batch on tx): fn is called twice, first on a q that only queues
// each statement (its results are the zero values and errQueued), then,
// once the batch is sent, on a q whose calls read the statements' results
// in the order they were queued. So fn must make every call whatever the
// results and errors of the others (statements no result decides), and
// keep what it reads, errors included, in variables it sets anew on each
// call; the caller looks at them after. Each statement still runs on its
// own snapshot (READ COMMITTED), after the one before it: a lock queued
// first is held when the next statement starts. A statement failing
// aborts the transaction, and the ones after it fail too.
func pipeline(ctx context.Context, tx pgx.Tx, fn func(q *pgsqlc.Queries)) error {
	b := &pgx.Batch{}
	fn(pgsqlc.New(queuer{b}))
	br := tx.SendBatch(ctx, b)
	fn(pgsqlc.New(reader{br}))
	return br.Close()
}

// errQueued is what a statement returns while pipeline queues it.
var errQueued = errors.New("statement queued, not run yet")

// queuer is pipeline's first pass: each statement is queued.
type queuer struct{ b *pgx.Batch }

func (q queuer) Exec(_ context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	q.b.Queue(sql, args...)
	return pgconn.CommandTag{}, nil
}

func (q queuer) Query(_ context.Context, sql string, args ...any) (pgx.Rows, error) {
	q.b.Queue(sql, args...)
	return nil, errQueued
}

func (q queuer) QueryRow(_ context.Context, sql string, args ...any) pgx.Row {
	q.b.Queue(sql, args...)
	return queuedRow{}
}

type queuedRow struct{}

func (queuedRow) Scan(...any) error { return errQueued }

// reader is pipeline's second pass: each statement takes the next result.
type reader struct{ br pgx.BatchResults }

func (r reader) Exec(context.Context, string, ...any) (pgconn.CommandTag, error) { return r.br.Exec() }
func (r reader) Query(context.Context, string, ...any) (pgx.Rows, error)         { return r.br.Query() }
func (r reader) QueryRow(context.Context, string, ...any) pgx.Row                { return r.br.QueryRow() }
