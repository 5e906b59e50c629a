package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/reminderd/reminderd/internal/db/postgres/pgsqlc"
	"github.com/reminderd/reminderd/internal/store"
)

// The database's health for readiness: Ping, the schema's version, and a
// rate-limited write probe that tells a server out of space apart.

// ProbeEvery bounds how often Writable really probes: readiness checks in
// between get the last result.
const ProbeEvery = time.Second

// probeTimeout bounds one probe (a server that cannot take a write may
// hang rather than fail).
const probeTimeout = 2 * time.Second

// Ping reports whether the server answers.
func (d *DB) Ping(ctx context.Context) error {
	return storeErr(d.pool.Ping(ctx), "ping postgres")
}

// Schema returns the schema's version and the latest migration's.
func (d *DB) Schema(ctx context.Context) (version, latest int, err error) {
	version, err = SchemaVersion(ctx, d.pool)
	return version, LatestVersion(), err
}

// Integrity: PostgreSQL checks its own pages; the driver runs no check at
// open.
func (d *DB) Integrity() store.Integrity { return store.IntegrityNotRun }

// isFull reports whether err is a write refused for want of space: the
// store's ErrFull, or the server's disk_full (53100) or out_of_memory
// (53200), which storeErr maps to it.
func isFull(err error) bool {
	var pe *pgconn.PgError
	return errors.Is(err, store.ErrFull) || (errors.As(err, &pe) && (pe.Code == "53100" || pe.Code == "53200"))
}

// NoteWriteError records a write's failure if it was for want of space, so
// that Writable fails until a write succeeds again. Other errors are
// ignored.
func (d *DB) NoteWriteError(err error) {
	if err != nil && isFull(err) {
		d.health.NoteFull()
	}
}

// Writable reports whether the database accepts writes: nil, or why not.
// It probes at most once per ProbeEvery (per process) and returns the
// cached result in between, so readiness checks cannot amplify writes.
//
// The probe inserts a row into consent_grants and rolls it back: a server
// that is read-only (a standby, default_transaction_read_only), refuses
// the connection or cannot take the row fails it, and nothing is kept.
// After a write failed for want of space (NoteWriteError) the probe
// deletes its row and commits instead: a commit flushes the WAL to disk,
// so readiness comes back only once a real write reached it.
func (d *DB) Writable(ctx context.Context) error {
	return d.health.Check(d.now, ProbeEvery, func(commit bool) error { return d.probe(ctx, commit) }, isFull)
}

// errProbeRollback ends the probe's transaction without a commit.
var errProbeRollback = errors.New("probe: roll back")

func (d *DB) probe(ctx context.Context, commit bool) error {
	ctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	err := d.withTx(ctx, func(q *pgsqlc.Queries) error {
		id, err := q.InsertGrant(ctx, pgsqlc.InsertGrantParams{Openid: "reminderd-write-probe", TemplateID: "reminderd-write-probe",
			Source: string(store.SourceClient)})
		if err != nil {
			return err
		}
		if !commit {
			return errProbeRollback
		}
		return q.DeleteGrant(ctx, id)
	})
	if errors.Is(err, errProbeRollback) {
		return nil
	}
	return storeErr(err, "write probe")
}
