package postgres

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/reminderd/reminderd/internal/batch"
	"github.com/reminderd/reminderd/internal/db/postgres/pgsqlc"
	"github.com/reminderd/reminderd/internal/probe"
	"github.com/reminderd/reminderd/internal/store"
)

// Invariants (the SQLite driver's, on a server shared by several
// processes):
//   - Every operation is one transaction (the outcomes of concurrent sends
//     share one: group commit, engine_outcome.go), run by withTx at READ
//     COMMITTED, which retries a transaction the server aborted to break a
//     deadlock (40P01) (or, should a server still raise one, a
//     serialization failure, 40001).
//   - Every state change is a compare-and-set whose rows affected is
//     checked; claims lock their rows with FOR UPDATE SKIP LOCKED, so
//     processes never claim the same reminder and never wait on each
//     other's rows.
//   - No transaction is held across a call to WeChat.
//   - Instants are BIGINT unix milliseconds, returned as time.UnixMilli.

// DB is an open PostgreSQL store.
type DB struct {
	pool *pgxpool.Pool
	q    *pgsqlc.Queries // on the pool: reads outside a transaction
	now  func() time.Time
	// health is Writable's cached probe (health.go).
	health probe.Cache
	// outcomes group-commits RecordOutcome (engine_outcome.go).
	outcomes *batch.Batcher[*outcomeReq]
	// leases group-commits AcquireUserSend (fleet.go).
	leases *batch.Batcher[*leaseReq]
	// outbox is the app whose webhook events are written (webhooks.go);
	// nil: none are.
	outbox atomic.Pointer[store.WebhookApps]
}

// Options tune Open; the zero value is fine.
type Options struct {
	// MaxConns bounds the pool (default pgx's: max(4, CPUs)).
	MaxConns int32
	// Now is the driver's clock where an operation takes none (default
	// time.Now).
	Now func() time.Time
}

// Open connects to the database at url (postgres://…), applies pending
// migrations and returns the store.
func Open(ctx context.Context, url string, opt Options) (*DB, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		// pgx's message may quote the URL, password included.
		return nil, errors.New("open postgres: the database URL does not parse (postgres://user:password@host:port/database?sslmode=…)")
	}
	if opt.MaxConns > 0 {
		cfg.MaxConns = opt.MaxConns
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open postgres %s: %w", cfg.ConnConfig.Host, err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("open postgres %s:%d/%s: %w", cfg.ConnConfig.Host, cfg.ConnConfig.Port, cfg.ConnConfig.Database, err)
	}
	if _, err := Migrate(ctx, pool); err != nil {
		pool.Close()
		return nil, fmt.Errorf("open postgres: %w", err)
	}
	d := &DB{pool: pool, q: pgsqlc.New(pool), now: opt.Now}
	if d.now == nil {
		d.now = time.Now
	}
	d.outcomes = batch.New(maxOutcomes, d.recordBatch)
	d.leases = batch.New(maxLeases, d.acquireBatch)
	return d, nil
}

// Close releases the pool.
func (d *DB) Close() error {
	d.pool.Close()
	return nil
}

// maxTxAttempts bounds withTx's retries of a transaction the server
// aborted (serialization failure, deadlock).
const maxTxAttempts = 5

// withTx runs fn in a transaction and commits it: the driver's one way of
// writing. A transaction the server aborted to keep serializability or to
// break a deadlock is run again, so fn must be safe to run again (it
// writes only through q and keeps its results in variables it sets anew).
func (d *DB) withTx(ctx context.Context, fn func(q *pgsqlc.Queries) error) error {
	var err error
	for range maxTxAttempts {
		// READ COMMITTED whatever the server's default_transaction_isolation:
		// the statements' locks are reasoned for it (a statement after a row
		// lock wait sees what committed before the lock was granted), and a
		// startup parameter would not pass PgBouncer.
		err = pgx.BeginTxFunc(ctx, d.pool, pgx.TxOptions{IsoLevel: pgx.ReadCommitted}, func(tx pgx.Tx) error { return fn(d.q.WithTx(tx)) })
		if !retryable(err) {
			return err
		}
	}
	return err
}

// retryable reports whether err is the server aborting a transaction that
// may succeed when run again.
func retryable(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && (pe.Code == "40001" || pe.Code == "40P01")
}

// storeErr maps a driver error to the store's, once, wrapped with what
// was done: no rows is ErrNotFound, a unique violation ErrConflict, a
// server out of disk space ErrFull (the pgx error stays reachable).
func storeErr(err error, what string) error {
	var pe *pgconn.PgError
	switch {
	case err == nil:
		return nil
	case errors.Is(err, store.ErrNotFound), errors.Is(err, store.ErrConflict), errors.Is(err, store.ErrFull):
	case errors.Is(err, pgx.ErrNoRows):
		return fmt.Errorf("%s: %w", what, store.ErrNotFound)
	case errors.As(err, &pe) && pe.Code == "23505": // unique_violation
		return fmt.Errorf("%s: %w: %w", what, store.ErrConflict, err)
	case errors.As(err, &pe) && (pe.Code == "53100" || pe.Code == "53200"): // disk_full, out_of_memory
		return fmt.Errorf("%s: %w: %w", what, store.ErrFull, err)
	}
	return fmt.Errorf("%s: %w", what, err)
}

// instant is the time of a unix-millisecond column.
func instant(ms int64) time.Time { return time.UnixMilli(ms) }

// nullInstant is the time of a nullable unix-millisecond column: the zero
// time for NULL.
func nullInstant(v *int64) time.Time {
	if v == nil {
		return time.Time{}
	}
	return time.UnixMilli(*v)
}

// msOrNull is the column value of an optional instant: NULL for the zero
// time.
func msOrNull(t time.Time) *int64 {
	if t.IsZero() {
		return nil
	}
	ms := t.UnixMilli()
	return &ms
}

// strOrNull is the column value of an optional string: NULL for "".
func strOrNull(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// LoadToken returns the stored access token, or ErrNotFound.
func (a appView) LoadToken(ctx context.Context) (store.Token, error) {
	d := a.d
	row, err := d.q.LoadFleetToken(ctx, a.appID)
	if err != nil {
		return store.Token{}, storeErr(err, "load access token")
	}
	if row.Value == "" { // a fetch lease taken before any token, or an invalidated one
		return store.Token{}, store.ErrNotFound
	}
	return store.Token{Value: row.Value, ExpiresAt: instant(row.ExpiresAt), Version: row.Version}, nil
}

// SaveToken stores the access token, replacing the last.
func (a appView) SaveToken(ctx context.Context, t store.Token, at time.Time) error {
	d := a.d
	err := d.withTx(ctx, func(q *pgsqlc.Queries) error {
		return q.SaveToken(ctx, pgsqlc.SaveTokenParams{Appid: a.appID, Value: t.Value, ExpiresAt: t.ExpiresAt.UnixMilli(), Now: at.UnixMilli()})
	})
	return storeErr(err, "save access token")
}
